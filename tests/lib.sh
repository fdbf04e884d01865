# Shared helpers for the integration tests. Each test script sources this,
# starts a real broker (which starts real kernels), drives it with the real
# `kmq` CLI or kmq-testpeer, and reports cases as "ok   NAME" / "FAIL NAME".
# No test asserts a wall-clock time; waits are bounded so a hang fails.
set -u
KMQ_BIN=${KMQ_BIN:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../bin" && pwd)}
T=$(mktemp -d /tmp/kmq-test.XXXXXX)
# Each test its own CURVE keys (the broker makes them on first start; every
# client finds them here): tests never share, nor touch the user's.
export KMQ_CONFIG_DIR="$T/config"
BROKER_PID=""
ENDPOINT=""
RT="$T/rt"
CASES_FAILED=0

ok()   { echo "ok   $1"; }
fail() { echo "FAIL $1${2:+: $2}"; CASES_FAILED=$((CASES_FAILED + 1)); }

# check NAME COMMAND...: passes when COMMAND exits 0.
check() {
    local name=$1; shift
    if "$@"; then ok "$name"; else fail "$name"; fi
}

# expect_eq NAME EXPECTED ACTUAL
expect_eq() {
    if [ "$2" == "$3" ]; then ok "$1"
    else fail "$1" "expected [$2], got [$3]"; fi
}

# expect_contains NAME NEEDLE HAYSTACK
expect_contains() {
    if [[ "$3" == *"$2"* ]]; then ok "$1"
    else fail "$1" "expected to contain [$2], got [${3:0:600}]"; fi
}

# kmq ARGS...: the real CLI against this test's broker.
kmq() { "$KMQ_BIN/kmq" -e "$ENDPOINT" "$@"; }

# run_kmq ARGS...: runs kmq, leaving stdout in $OUT, stderr in $ERR, status in $RC.
run_kmq() {
    kmq "$@" > "$T/out" 2> "$T/err"
    RC=$?
    OUT=$(cat "$T/out"); ERR=$(cat "$T/err")
}

free_port() {
    /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# start_broker [FLAGS...]: starts kmq-broker on a free loopback port with a
# private runtime directory and waits (bounded) until it answers stats.
start_broker() {
    ENDPOINT="tcp://127.0.0.1:$(free_port)"
    mkdir -p "$T"
    restart_broker "$@"
}

# restart_broker [FLAGS...]: starts kmq-broker again on this test's endpoint
# and runtime dir (after stop_broker_only or a kill), bounded wait as above.
restart_broker() {
    mkdir -p "$T"
    "$KMQ_BIN/kmq-broker" --frontend "$ENDPOINT" --runtime-dir "$RT" "$@" \
        >> "$T/broker.log" 2>&1 &
    BROKER_PID=$!
    for _ in $(seq 1 100); do
        if kmq stats > /dev/null 2>&1; then return 0; fi
        if ! kill -0 "$BROKER_PID" 2>/dev/null; then break; fi
        sleep 0.1
    done
    echo "broker did not start; log:"; cat "$T/broker.log"
    return 1
}

# Kernel processes of this test's runtime dir: its kernel host, the host's
# monitors, executors and zygote. Their command lines name a path in $RT.
kernel_pids() { pgrep -f "kmq-(kernel|host).*$RT" || true; }

# The kernel host serving $RT (its pid), empty when none runs.
host_pid() { pgrep -f "kmq-host.*$RT" | head -1; }

# wait_gone PID TRIES: waits (0.1 s steps) until PID has exited.
wait_gone() {
    for _ in $(seq 1 "$2"); do
        kill -0 "$1" 2>/dev/null || return 0
        sleep 0.1
    done
    ! kill -0 "$1" 2>/dev/null
}

# stop_broker_only: SIGTERM the broker only (its kernel host and
# sessions stay with it, for a next broker on the same runtime dir).
stop_broker_only() {
    [ -z "$BROKER_PID" ] && return 0
    kill -TERM "$BROKER_PID" 2>/dev/null
    wait_gone "$BROKER_PID" 100 || { fail "broker exits on SIGTERM"; kill -KILL "$BROKER_PID"; }
    wait "$BROKER_PID" 2>/dev/null
    BROKER_PID=""
}

# stop_broker: ends the broker and its sessions the way an operator does
# (`kmq shutdown --sessions`), bounded; the broker and the kernel host must
# exit. Falls back to signals so a failing test still cleans up.
stop_broker() {
    [ -z "$BROKER_PID" ] && return 0
    local host; host=$(host_pid)
    timeout 10 "$KMQ_BIN/kmq" -e "$ENDPOINT" shutdown --sessions > /dev/null 2>&1 \
        || kill -TERM "$BROKER_PID" 2>/dev/null
    if ! wait_gone "$BROKER_PID" 100; then
        fail "broker exits on shutdown"; kill -KILL "$BROKER_PID"
    fi
    wait "$BROKER_PID" 2>/dev/null
    BROKER_PID=""
    [ -z "$host" ] && host=$(host_pid)
    if [ -n "$host" ] && ! wait_gone "$host" 100; then
        fail "kernel host exits on shutdown --sessions" "$(tail -20 "$T/broker.log")"
        kill -KILL "$host"
    fi
}

# The pid of SESSION's kernel monitor, from `kmq stats --json`.
kernel_pid_of() {
    kmq stats --json | /usr/bin/python3 -c '
import json, sys
s = json.load(sys.stdin)
for e in s.get("session_list", []):
    if e["session"] == sys.argv[1]:
        print(e["pid"])' "$1"
}

# The executor of a kernel monitor (its pid): the `executor_pid` that stats
# reports for that kernel when there is one (an executor from the zygote is
# the zygote's child), else the monitor's child process.
executor_pid_of() {
    local epid
    epid=$(kmq stats --json 2>/dev/null | /usr/bin/python3 -c '
import json, sys
try: s = json.load(sys.stdin)
except ValueError: sys.exit(0)
for e in s.get("session_list", []):
    if str(e.get("pid")) == sys.argv[1] and e.get("executor_pid"):
        print(e["executor_pid"])' "$1")
    if [ -n "$epid" ]; then echo "$epid"; else pgrep -P "$1" | head -1; fi
}

# The executor of SESSION (its host pid), from stats' `executor_pid`.
session_executor_pid() {
    kmq stats --json | /usr/bin/python3 -c '
import json, sys
s = json.load(sys.stdin)
for e in s.get("session_list", []):
    if e["session"] == sys.argv[1]:
        print(e.get("executor_pid", 0))' "$1"
}

# The pid of this broker's zygote: stats' `zygote.pid` when the reply has it,
# else the host's child started as `kmq-kernel --zygote $RT/...`. Empty
# when none runs.
zygote_pid() {
    local zpid
    zpid=$(kmq stats --json 2>/dev/null | /usr/bin/python3 -c '
import json, sys
try: z = json.load(sys.stdin).get("zygote") or {}
except ValueError: z = {}
if z.get("pid"): print(z["pid"])')
    if [ -z "$zpid" ]; then
        zpid=$(pgrep -f "kmq-kernel --zygote $RT/" | head -1)
    fi
    echo "$zpid"
}

# wait_for TRIES COMMAND...: runs COMMAND every 0.1 s until it succeeds, at
# most TRIES times. Returns its last status.
wait_for() {
    local tries=$1; shift
    for _ in $(seq 1 "$tries"); do
        if "$@"; then return 0; fi
        sleep 0.1
    done
    "$@"
}

# wait_until TRIES 'SHELL CONDITION': like wait_for, but the condition is
# evaluated afresh each time (wait_for's arguments are expanded once, so a
# "$(...)" in them would be read only at the start).
wait_until() {
    local tries=$1; shift
    for _ in $(seq 1 "$tries"); do
        if eval "$1"; then return 0; fi
        sleep 0.1
    done
    eval "$1"
}

# RSS of a process in KiB.
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

cleanup() {
    stop_broker
    local left
    for _ in $(seq 1 30); do
        left=$(kernel_pids); [ -z "$left" ] && break; sleep 0.1
    done
    if [ -n "$left" ]; then
        fail "no kernel process left behind" "$(ps -o pid=,ppid=,args= -p "$(echo $left | tr ' ' ,)")"
        kill -KILL $left 2>/dev/null
    fi
    if [ "$CASES_FAILED" -gt 0 ] && [ -f "$T/broker.log" ]; then
        echo "--- broker log (last 40 lines)"; tail -40 "$T/broker.log"
    fi
    [ -n "${KMQ_KEEP_T:-}" ] || rm -rf "$T"
}
trap cleanup EXIT
