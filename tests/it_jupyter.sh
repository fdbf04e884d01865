# kmq-jupyter against real Jupyter software (issue "Jupyter frontends",
# section 3): the Jupyter project's conformance suite (jupyter_kernel_test),
# failure cases through jupyter_client, and `jupyter console` in tmux.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/jupyter/lib_jupyter.sh"
PY=/usr/bin/python3
start_broker || exit 1
jupyter_env || { fail "kmq-jupyter install writes the kernelspecs"; exit 1; }

spec="$JUPYTER_PATH/kernels/kernelmq"
kernel_json=$(cat "$spec/kernel.json")
expect_contains "kernelspec: display name" '"display_name": "Python 3 (kernelmq sandbox)"' "$kernel_json"
expect_contains "kernelspec: interrupts as messages" '"interrupt_mode": "message"' "$kernel_json"
expect_contains "kernelspec: argv starts this kmq-jupyter with the connection file" \
    "\"$KMQ_BIN/kmq-jupyter\",
    \"-f\",
    \"{connection_file}\"" "$kernel_json"
check "kernelspec: a 64x64 PNG logo" $PY -c '
import struct, sys
d = open(sys.argv[1], "rb").read()
sys.exit(not (d[:8] == b"\x89PNG\r\n\x1a\n" and struct.unpack(">II", d[16:24]) == (64, 64)))' \
    "$spec/logo-64x64.png"
check "kernelspec: jupyter_client finds it" $PY -c '
import sys
from jupyter_client.kernelspec import KernelSpecManager
spec = KernelSpecManager().get_kernel_spec("kernelmq")
sys.exit(spec.display_name != "Python 3 (kernelmq sandbox)" or spec.language != "python")'

# --- jupyter_kernel_test, every test -------------------------------------------------
timeout 200 $PY tests/jupyter/kernel_test.py "$T/jkt.txt" > "$T/jkt.out" 2> "$T/jkt.log"
jkt_rc=$?
cat "$T/jkt.out"
if [ "$jkt_rc" -ne 0 ] && ! grep -q '^FAIL' "$T/jkt.out"; then
    fail "jupyter_kernel_test runs" "status $jkt_rc; $(tail -20 "$T/jkt.log")"
fi

# --- jupyter console in tmux: a cell, TAB completion, Ctrl-C -----------------------------
tmx() { tmux -L "kmq-it-$$" "$@"; }
screen() { tmx capture-pane -p -t console -S -60; }
wait_screen() {     # wait_screen TEXT [TRIES]: until the screen shows TEXT
    for _ in $(seq 1 "${2:-300}"); do
        screen | grep -qF -- "$1" && return 0
        sleep 0.1
    done
    return 1
}
tmx new-session -d -s console -x 160 -y 50 \
    "env JUPYTER_PATH='$JUPYTER_PATH' JUPYTER_RUNTIME_DIR='$JUPYTER_RUNTIME_DIR' \
     JUPYTER_CONFIG_DIR='$JUPYTER_CONFIG_DIR' JUPYTER_DATA_DIR='$JUPYTER_DATA_DIR' \
     IPYTHONDIR='$IPYTHONDIR' /usr/bin/python3 tests/jupyter/console.py --kernel kernelmq 2> '$T/console.err'"
if wait_screen "In [1]:" 300; then ok "console: starts on the kernelmq kernel"
else fail "console: starts on the kernelmq kernel" "$(screen | tail -15)"; fi
check "console: shows the kernel's banner" wait_screen "kernelmq sandbox" 10
tmx send-keys -t console "kmq_answer_value = 6 * 7" Enter
wait_screen "In [2]:" 300
tmx send-keys -t console "print(kmq_answer_value)" Enter
if wait_screen "42" 300; then ok "console: a cell runs and prints"
else fail "console: a cell runs and prints" "$(screen | tail -15)"; fi
wait_screen "In [3]:" 100
tmx send-keys -t console "kmq_answer_v" Tab
sleep 1
tmx send-keys -t console Enter
if wait_screen "Out[3]: 42" 300; then ok "console: TAB completes a name from the sandbox"
else fail "console: TAB completes a name from the sandbox" "$(screen | tail -15)"; fi
tmx send-keys -t console "import time; time.sleep(60)" Enter
sleep 2
tmx send-keys -t console C-c
wait_for 100 grep -q KeyboardInterrupt "$T/console.err"
wait_screen "In [5]:" 100
tmx send-keys -t console "print('after', kmq_answer_value)" Enter
if wait_screen "after 42" 300; then ok "console: Ctrl-C interrupts the running cell, the namespace is kept"
else fail "console: Ctrl-C interrupts the running cell, the namespace is kept" "$(screen | tail -15)"; fi
check "console: the cell ended with KeyboardInterrupt" grep -q KeyboardInterrupt "$T/console.err"
tmx send-keys -t console C-d
sleep 0.5
tmx send-keys -t console y Enter
for _ in $(seq 1 150); do tmx has-session -t console 2>/dev/null || break; sleep 0.1; done
if tmx has-session -t console 2>/dev/null; then
    fail "console: Ctrl-D exits and shuts its kernel down" "$(screen | tail -5)"
    tmx kill-server
else ok "console: Ctrl-D exits and shuts its kernel down"; fi
no_kernels_left "no kmq-jupyter process left behind"

# --- failures, stdin (last: it kills the broker) ---------------------------------------------------------------
down_port=$(free_port)
"$KMQ_BIN/kmq-jupyter" install --prefix "$T/jupyter/prefix" --name kernelmq-down \
    --endpoint "tcp://127.0.0.1:$down_port" > /dev/null
timeout 200 $PY tests/jupyter/misc_test.py kernelmq kernelmq-down "tcp://127.0.0.1:$down_port" \
    "$BROKER_PID" \
    > "$T/misc.out" 2> "$T/misc.err"
misc_rc=$?
cat "$T/misc.out"
grep -q "message dropped: wrong HMAC-SHA256 signature" "$T/misc.err" \
    && ok "the dropped message is logged with its reason" \
    || fail "the dropped message is logged with its reason" "$(tail -5 "$T/misc.err")"
[ "$misc_rc" -eq 0 ] || fail "misc_test.py exits 0" "status $misc_rc: $(tail -15 "$T/misc.err")"

# misc_test.py killed the broker; its kernel host and kernels outlive it by
# design (protocol.md 12.2). A broker again on the same runtime dir lets
# cleanup end them as an operator would (kmq shutdown --sessions).
wait "$BROKER_PID" 2>/dev/null
BROKER_PID=""
restart_broker || exit 1
exit 0
