# Streaming, rich display, interrupt, timeouts, output limits, stdin,
# complete and inspect (issue 4), through the real broker, kernel and CLI.
source "$(dirname "$0")/lib.sh"
start_broker --kill-grace-ms 1000 --max-output 1M || exit 1
PY=/usr/bin/python3

# The state of SESSION per `kmq stats --json` ("" when unknown).
session_state() {
    kmq stats --json | /usr/bin/python3 -c '
import json, sys
for e in json.load(sys.stdin).get("session_list", []):
    if e["session"] == sys.argv[1]:
        print(e["state"])' "$1"
}

# wait_busy SESSION: until its state is busy, at most ~20 s.
wait_busy() {
    for _ in $(seq 1 200); do
        [ "$(session_state "$1")" == busy ] && return 0
        sleep 0.1
    done
    return 1
}

# wait_exit PID: waits (at most ~30 s) for a background kmq; sets BG_RC to
# its status, or 124 after killing it when it did not end.
wait_exit() {
    for _ in $(seq 1 300); do
        kill -0 "$1" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$1" 2>/dev/null; then
        kill -KILL "$1" 2>/dev/null; wait "$1" 2>/dev/null; BG_RC=124
    else
        wait "$1"; BG_RC=$?
    fi
}

# --- streaming ----------------------------------------------------------------
"$KMQ_BIN/kmq" -e "$ENDPOINT" exec -s stream $'import time\nfor i in range(10):\n    print("line", i)\n    time.sleep(0.2)' \
    > "$T/stream.out" 2> "$T/stream.err" &
pid=$!
seen=no
for _ in $(seq 1 300); do
    if grep -q '^line 0$' "$T/stream.out"; then seen=yes; break; fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.02
done
if [ "$seen" == yes ] && kill -0 "$pid" 2>/dev/null; then
    ok "first streamed line reaches the client before the reply"
else
    fail "first streamed line reaches the client before the reply" \
        "seen=$seen; output so far: $(head -c 200 "$T/stream.out")"
fi
wait_exit "$pid"
expect_eq "streaming cell exits 0" 0 "$BG_RC"
expect_eq "streamed lines arrive complete and in order" \
    "$(for i in $(seq 0 9); do echo "line $i"; done)" "$(cat "$T/stream.out")"

run_kmq exec -s stream $'import os, ctypes\nos.write(1, b"x\\n")\n_ = ctypes.CDLL(None).printf(b"c-level\\n")'
expect_eq "os.write and C printf output are captured, in order" $'0:x\nc-level' "$RC:$OUT"

# --- rich display ---------------------------------------------------------------
mkdir -p "$T/d1"
run_kmq exec -s rich --save-display "$T/d1" $'import pandas as pd\ndf = pd.DataFrame({"A": [1, 2], "B": [4, 5]})\ndf'
expect_eq "DataFrame result exits 0" 0 "$RC"
expect_contains "DataFrame result prints its text/plain" "A  B" "$OUT"
html=$(ls "$T"/d1/out-*-1.html 2>/dev/null | head -1)
if [ -n "$html" ] && grep -q '<table' "$html"; then ok "DataFrame result saved as HTML with a <table>"
else fail "DataFrame result saved as HTML with a <table>" "files: $(ls "$T/d1")"; fi
expect_contains "--save-display says where the file went" \
    "kmq: saved text/html to $T/d1/out-" "$ERR"
expect_eq "--save-display adds one stderr line per file" 1 "$(printf '%s\n' "$ERR" | grep -c .)"

mkdir -p "$T/d2"
run_kmq exec -s rich --save-display "$T/d2" $'import matplotlib.pyplot as plt\nplt.plot([1, 2, 3])'
expect_eq "matplotlib cell exits 0" 0 "$RC"
png=$(ls "$T"/d2/out-*.png 2>/dev/null | head -1)
if [ -n "$png" ] && $PY -c '
import sys
data = open(sys.argv[1], "rb").read()
sys.exit(0 if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 1000 else 1)' "$png"; then
    ok "matplotlib figure saved as a valid PNG"
else
    fail "matplotlib figure saved as a valid PNG" "files: $(ls -l "$T/d2")"
fi
expect_contains "matplotlib figure's text/plain is printed" "<Figure" "$OUT"

mkdir -p "$T/d3"
run_kmq exec -s rich --save-display "$T/d3" $'import plotly.graph_objects as go\ngo.Figure(data=[go.Bar(y=[1, 2])])'
expect_eq "plotly cell exits 0" 0 "$RC"
json=$(ls "$T"/d3/out-*.json 2>/dev/null | head -1)
if [ -n "$json" ] && $PY -c '
import json, sys
sys.exit(0 if "data" in json.load(open(sys.argv[1])) else 1)' "$json"; then
    ok "plotly figure saved as JSON with data"
else
    fail "plotly figure saved as JSON with data" "files: $(ls -l "$T/d3")"
fi

mkdir -p "$T/d4"
run_kmq exec -s rich --save-display "$T/d4" $'display("first")\ndisplay(pd.DataFrame({"alpha": [1]}))\ndisplay(pd.DataFrame({"beta": [2]}))\ndisplay("last")'
expect_eq "display() outputs print in order" "0:'first'" "$RC:$(printf '%s\n' "$OUT" | head -1)"
expect_eq "display() ends with the last call" "'last'" "$(printf '%s\n' "$OUT" | tail -1)"
first=$(ls "$T"/d4/out-*-1.html 2>/dev/null | head -1)
second=$(ls "$T"/d4/out-*-2.html 2>/dev/null | head -1)
if [ -n "$first" ] && [ -n "$second" ] && grep -q alpha "$first" && grep -q beta "$second"; then
    ok "two display() calls give two files in order"
else
    fail "two display() calls give two files in order" "files: $(ls "$T/d4")"
fi

# --- interrupt ----------------------------------------------------------------
for kind in sleep loop; do
    if [ "$kind" == sleep ]; then code=$'import time\ntime.sleep(60)'
    else code=$'while True:\n    pass'; fi
    kmq exec -s "int_$kind" 'keep = [1, 2, 3]' > /dev/null
    "$KMQ_BIN/kmq" -e "$ENDPOINT" exec -s "int_$kind" "$code" > "$T/int.out" 2> "$T/int.err" &
    pid=$!
    if wait_busy "int_$kind"; then
        run_kmq interrupt -s "int_$kind"
        expect_eq "interrupt ($kind) is answered" 0 "$RC"
    else
        fail "interrupt ($kind): the session becomes busy"
    fi
    wait_exit "$pid"
    expect_eq "interrupted exec ($kind) exits 3" 3 "$BG_RC"
    expect_contains "interrupted exec ($kind) says INTERRUPTED" "INTERRUPTED" "$(cat "$T/int.err")"
    run_kmq exec -s "int_$kind" keep
    expect_eq "namespace survives the interrupt ($kind)" "0:[1, 2, 3]" "$RC:$OUT"
done

# A request queued behind the interrupted one is not touched: it runs next.
"$KMQ_BIN/kmq" -e "$ENDPOINT" exec -s int_queue $'import time\ntime.sleep(60)' \
    > /dev/null 2> "$T/q1.err" &
first=$!
wait_busy int_queue || fail "queued: the session becomes busy"
"$KMQ_BIN/kmq" -e "$ENDPOINT" exec -s int_queue '"queued ran"' > "$T/q2.out" 2>&1 &
second=$!
for _ in $(seq 1 100); do
    [ "$(kmq stats --json | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["queued"])')" == 1 ] && break
    sleep 0.1
done
run_kmq interrupt -s int_queue
wait_exit "$first"
expect_contains "queued: the running request is INTERRUPTED" "INTERRUPTED" "$(cat "$T/q1.err")"
wait_exit "$second"
expect_eq "queued: the request behind it runs afterwards" "0:'queued ran'" "$BG_RC:$(cat "$T/q2.out")"

# Display payloads count towards the output cap like stream bytes.
run_kmq exec -s bigdisplay $'class Big:\n    def _repr_html_(self): return "x" * (2 << 20)\ndisplay(Big())\n"after"'
expect_eq "an oversize display is dropped, the cell finishes" "0:'after'" "$RC:$(echo "$OUT" | tail -1)"
expect_contains "an oversize display gives the truncation notice" "dropped" "$ERR"

# --- timeout with SIGINT ignored ------------------------------------------------
run_kmq exec -s stubborn --timeout 2 $'import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass'
expect_eq "timeout with SIGINT ignored exits 3" 3 "$RC"
expect_contains "timeout says TIMEOUT" "TIMEOUT" "$ERR"
if [[ "$ERR" == *lost* || "$ERR" == *killed* ]]; then ok "timeout says the kernel was killed / state lost"
else fail "timeout says the kernel was killed / state lost" "stderr: $ERR"; fi
run_kmq exec -s stubborn '6 * 7'
expect_eq "the next request after a kill works" "0:42" "$RC:$OUT"

# --- output limit ---------------------------------------------------------------
kmq exec -s flood $'import sys\nchunk = "x" * 1048575 + "\\n"\nfor _ in range(100):\n    sys.stdout.write(chunk)\n"done"' \
    > "$T/flood.out" 2> "$T/flood.err"
RC=$?
expect_eq "a 100 MiB flood still finishes" 0 "$RC"
size=$(stat -c %s "$T/flood.out")
if [ "$size" -ge $((1024 * 1024 - 65536)) ] && [ "$size" -le $((1024 * 1024 + 65536)) ]; then
    ok "flood truncated at about the 1 MiB cap"
else
    fail "flood truncated at about the 1 MiB cap" "got $size bytes"
fi
expect_eq "exactly one truncation notice" 1 "$(grep -c 'passed .* bytes' "$T/flood.err")"
run_kmq exec -s flood '1 + 1'
expect_eq "the session answers after a flood" "0:2" "$RC:$OUT"

# --- stdin --------------------------------------------------------------------
run_kmq exec -s stdin --timeout 30 'input()'
expect_eq "input() fails with a Python error" 1 "$RC"
expect_contains "input() error mentions stdin" "stdin" "$ERR"

# --- complete and inspect -----------------------------------------------------
printf 'A,B\n1,4\n2,5\n' > "$T/df.csv"
kmq upload -s comp df "$T/df.csv" > /dev/null
run_kmq complete -s comp df.gro
expect_eq "complete df.gro exits 0" 0 "$RC"
check "complete df.gro offers groupby" grep -qx groupby <<< "$OUT"
kmq exec -s comp 'import pandas as pd' > /dev/null
run_kmq complete -s comp pd.read_c
check "complete pd.read_c offers read_csv" grep -qx read_csv <<< "$OUT"
run_kmq complete -s comp 'pd.read_c + 1' --cursor 9
check "complete at a --cursor offers read_csv" grep -qx read_csv <<< "$OUT"
run_kmq inspect -s comp pd.read_csv
expect_eq "inspect pd.read_csv exits 0" 0 "$RC"
expect_contains "inspect pd.read_csv shows its signature" "filepath_or_buffer" "$OUT"
run_kmq complete -s nosuchsession x
expect_eq "complete on an unknown session is a service error" 3 "$RC"
expect_contains "complete on an unknown session says NO_SUCH_SESSION" "NO_SUCH_SESSION" "$ERR"
