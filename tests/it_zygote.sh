# The zygote and its warm pool (issue 5): sessions started from the pool
# share nothing, the pool refills after it is drained, a killed zygote comes
# back while sessions keep starting, and a zygote-forked executor is as
# contained as a freshly started one (battery cases from it_sandbox.sh).
# Functional only: every wait is bounded, nothing is timed.
source "$(dirname "$0")/lib.sh"

start_broker --zygote true --pool-size 2 --memory-limit 1G --request-timeout-s 20 \
    --kill-grace-ms 1000 || exit 1

# Live (non-zombie) children of a process.
children() { ps --ppid "$1" -o stat= 2>/dev/null | grep -vc '^Z'; }
children_are() { [ "$(children "$1")" = "$2" ]; }
ppid_of() { awk '/^PPid:/ {print $2}' "/proc/$1/status" 2>/dev/null; }
# The executor of SESSION is a child of ZYGOTE.
from_zygote() {
    local epid; epid=$(session_executor_pid "$1")
    [ -n "$epid" ] && [ "$epid" != 0 ] && [ "$(ppid_of "$epid")" = "$2" ]
}
zygote_up() { zpid=$(zygote_pid); [ -n "$zpid" ] && kill -0 "$zpid" 2>/dev/null; }

zpid=""
wait_for 100 zygote_up
check "the broker started a zygote" test -n "$zpid"
[ -z "$zpid" ] && exit 1
expect_contains "the broker logs the zygote's start" "zygote $zpid started (pool 2)" \
    "$(cat "$T/broker.log")"
# Startup imports pandas before the pool is forked: a generous bound
wait_for 600 children_are "$zpid" 2
expect_eq "idle: the zygote keeps 2 pool executors" 2 "$(children "$zpid")"

# --- the pool refills after it is drained
for s in p1 p2 p3; do
    run_kmq exec -s "$s" "'$s'"
    expect_eq "drain: session $s answers" "0:'$s'" "$RC:$OUT"
done
for s in p1 p2 p3; do
    check "drain: session $s runs an executor forked by the zygote" from_zygote "$s" "$zpid"
done
wait_for 600 children_are "$zpid" 5
expect_eq "drain: the pool refills (3 executors + 2 pool)" 5 "$(children "$zpid")"
for s in p1 p2 p3; do kmq close -s "$s" > /dev/null; done
wait_for 100 children_are "$zpid" 2
expect_eq "closed sessions' executors are gone, the pool stays" 2 "$(children "$zpid")"

# --- two sessions from the pool share nothing
kmq exec -s za 'secret_a = 41' > /dev/null
kmq exec -s zb 'secret_b = 42' > /dev/null
run_kmq exec -s zb 'secret_a'
expect_eq "namespaces: a's variable is not in b" 1 "$RC"
expect_contains "namespaces: NameError in b" "NameError" "$OUT$ERR"
run_kmq exec -s za 'secret_b'
expect_contains "namespaces: b's variable is not in a" "NameError" "$OUT$ERR"
run_kmq exec -s za 'secret_a'
expect_eq "namespaces: a keeps its own" "0:41" "$RC:$OUT"

# Each pool child reseeds numpy after its fork (the prewarm's renewal, or
# the hand-over's): two sessions do not draw the zygote's numbers alike
wait_for 600 children_are "$zpid" 4
run_kmq exec -s zr1 'import numpy; repr(numpy.random.random())'; draw1=$OUT
run_kmq exec -s zr2 'import numpy; repr(numpy.random.random())'; draw2=$OUT
check "numpy: zr1 and zr2 answer" bash -c \
    "[ -n '$draw1' ] && [ -n '$draw2' ]"
check "numpy: two pool sessions draw different numbers" test "$draw1" != "$draw2"
kmq close -s zr1 > /dev/null; kmq close -s zr2 > /dev/null

run_kmq exec -s za 'open("/work/only_a", "w").write("a"); import os; os.path.exists("/work/only_a")'
expect_eq "/work: a writes a file" "0:True" "$RC:$OUT"
run_kmq exec -s zb 'import os; os.path.exists("/work/only_a")'
expect_eq "/work: b does not see it" "0:False" "$RC:$OUT"
run_kmq exec -s za 'open("/tmp/only_a", "w").write("a")'
run_kmq exec -s zb 'import os; os.path.exists("/tmp/only_a")'
expect_eq "/tmp: b does not see a's" "0:False" "$RC:$OUT"

# Its own processes only: pid 1 (itself) and perhaps a few of its own.
PROCS=$'import os\npids = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())\n"own" if 1 in pids and len(pids) <= 4 and max(pids) < 100 else pids'
for s in za zb; do
    run_kmq exec -s "$s" "$PROCS"
    expect_eq "processes: $s sees only its own" "0:'own'" "$RC:$OUT"
done
ea=$(session_executor_pid za); eb=$(session_executor_pid zb)
check "processes: stats reports both executor pids" test "${ea:-0}" != 0 -a "${eb:-0}" != 0
check "processes: the executors are different processes" test "$ea" != "$eb"
run_kmq exec -s za "import os; os.kill($eb, 0)"
expect_eq "processes: a cannot signal b's executor" 1 "$RC"
check "processes: b's executor is alive" kill -0 "$eb"
check "share nothing: both executors are the zygote's children" \
    bash -c "[ \"\$(awk '/^PPid:/ {print \$2}' /proc/$ea/status)\" = $zpid ] && \
             [ \"\$(awk '/^PPid:/ {print \$2}' /proc/$eb/status)\" = $zpid ]"
kmq close -s za > /dev/null; kmq close -s zb > /dev/null

# --- battery cases on zygote-forked executors (expectations of it_sandbox.sh)
PWNED=/tmp/kmq-pwned-zygote-$$
n=0
# attack NAME EXPECT CODE: as in it_sandbox.sh ("err:TEXT" or "ok:TEXT"),
# in a fresh session whose executor must be the zygote's child.
attack() {
    local name=$1 expect=$2 code=$3
    n=$((n + 1))
    local s="zattack$n"
    kmq exec -s "$s" '0' > /dev/null
    check "$name: executor forked by the zygote" from_zygote "$s" "$zpid"
    run_kmq exec -s "$s" "$code"
    local want_rc
    case "${expect%%:*}" in err) want_rc=1 ;; ok) want_rc=0 ;; esac
    local text="${expect#*:}"
    if [ "$RC" -eq "$want_rc" ] && [[ "$OUT$ERR" == *"$text"* ]]; then
        ok "$name"
    else
        fail "$name" "expected exit $want_rc with [$text], got exit $RC: ${OUT:0:300} ${ERR: -400}"
    fi
    run_kmq exec -s "$s" '1+1'
    expect_eq "$name: session still answers" "0:2" "$RC:$OUT"
    check "$name: nothing written to the host" test ! -e "$PWNED"
    kmq close -s "$s" > /dev/null 2>&1
}
attack "zygote exec: os.system" "ok:refused" 'import os; "refused" if os.system("id > '"$PWNED"'") != 0 else "ran"'
attack "zygote exec: subprocess.run" "err:PermissionError" 'import subprocess; subprocess.run(["ls"])'
attack "zygote fork: os.fork" "err:PermissionError" 'import os; os.fork()'
attack "zygote net: netlink socket" "err:PermissionError" 'import socket; socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)'
attack "zygote net: packet socket" "err:PermissionError" 'import socket; socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)'
attack "zygote files: /etc/shadow" "err:Error" 'open("/etc/shadow").read()'
attack "zygote files: /root" "err:Error" 'import os; os.listdir("/root")'
if [[ "$KMQ_BIN" == */asan ]]; then
    echo "skip zygote memory bomb: no address-space limit in ASan builds"
else
    attack "zygote memory: growing bytearray" "err:MemoryError" $'b = []\nwhile True: b.append(bytearray(256 << 20))'
fi
attack "zygote work: pandas in a pool executor" "ok:6" 'import pandas as pd; int(pd.DataFrame({"a": [1, 2, 3]}).a.sum())'

# --- killing the zygote: sessions still start, and it comes back
kmq exec -s survivor 's = 1' > /dev/null
old=$zpid
kill -KILL "$old"
run_kmq exec -s after_kill '1+1'
expect_eq "zygote killed: the next session still starts" "0:2" "$RC:$OUT"
new_zygote() { zygote_up && [ "$zpid" != "$old" ]; }
wait_for 100 new_zygote
check "zygote killed: a new zygote runs" new_zygote
check "zygote killed: the old one is gone" bash -c "! kill -0 $old 2>/dev/null"
expect_contains "zygote killed: the broker logs its death" "zygote $old exited (signal 9" \
    "$(cat "$T/broker.log")"
restarts=$(kmq stats --json | /usr/bin/python3 -c '
import json, sys; print((json.load(sys.stdin).get("zygote") or {}).get("restarts", "n/a"))')
if [ "$restarts" != "n/a" ]; then
    check "zygote killed: stats counts the restart" test "$restarts" -ge 1
    spid=$(kmq stats --json | /usr/bin/python3 -c 'import json, sys; print(json.load(sys.stdin)["zygote"]["pid"])')
    expect_eq "zygote killed: stats reports the new zygote" "$zpid" "$spid"
fi
run_kmq exec -s survivor '1+1'
expect_eq "zygote killed: an older session answers again" "0:2" "$RC:$OUT"
kmq close -s survivor > /dev/null; kmq close -s after_kill > /dev/null
wait_for 600 children_are "$zpid" 2
run_kmq exec -s after_restart '2+2'
expect_eq "restarted zygote: a session starts" "0:4" "$RC:$OUT"
check "restarted zygote: its executor is the new zygote's child" from_zygote after_restart "$zpid"

# --- a kernel the zygote refuses (its sandbox settings differ) forks its
# own executor. Its ZeroMQ started, and its DEALER connected, while the
# zygote was asked; both are stopped before that fork (main.c), and the
# executor forked after it comes up as usual.
refused_log="$T/refused.err"
timeout -k 1 60 "$KMQ_BIN/kmq-kernel" --endpoint "ipc://$RT/backend" --session zrefused \
    --kernel-id kz-refused --work-dir "$RT/work/kz-refused" --zygote "$RT/zygote.sock" \
    --memory-limit 512M > /dev/null 2> "$refused_log" &
refused_pid=$!
refused_ready() { grep -q "executor [0-9]* ready" "$refused_log"; }
wait_for 600 refused_ready
expect_contains "refused by the zygote: the kernel says why it forks here" \
    "zygote unavailable" "$(cat "$refused_log")"
check "refused by the zygote: its own executor gets ready" refused_ready
kill -TERM "$refused_pid" 2> /dev/null
wait "$refused_pid" 2> /dev/null
