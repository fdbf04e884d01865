# Defects found by reading the code (issue "A close reading found leaks,
# races ..."), each with the case that would have caught it: a leak per
# cell, output order under a stalled monitor, a monitor that must never
# block on its executor or the zygote, wire integers that must not wrap,
# a pid that must never be signalled by anyone but its parent, and a
# broker that must not take garbage for a heartbeat nor nest its loop.
# Faults no real peer can be made to show come from the test-only kernel
# (bin/kmq-kernel-testsw, KMQ_TEST_FAULTS, kernel/test_faults.h).
source "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3

# session_value SESSION FIELD: a field of SESSION's entry in stats.
session_value() {
    kmq stats --json | $PY -c '
import json, sys
for e in json.load(sys.stdin).get("session_list", []):
    if e["session"] == sys.argv[1]:
        print(e.get(sys.argv[2], ""))' "$1" "$2"
}
threads_of() { ls "/proc/$1/task" 2>/dev/null | wc -l; }
rss_of() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

# --- 1. every execute leaked its code string ---------------------------
start_broker || exit 1
kmq exec -s leak 'import linecache, sys' > /dev/null
# 1000 lines of 100 bytes: the linecache keeps its own copies of the lines
$PY -c 'print("".join("x = \"%s\"\n" % ("a" * 93) for _ in range(1000)), end="")' > "$T/big.py"
kmq exec -s leak -f "$T/big.py" > /dev/null
epid=$(session_executor_pid leak)
before=$(rss_of "$epid")
for _ in $(seq 1 300); do kmq exec -s leak -f "$T/big.py" > /dev/null || break; done
after=$(rss_of "$epid")
cache=$(kmq exec -s leak 'sum(sys.getsizeof(l) for e in linecache.cache.values() if len(e) == 4 for l in e[2]) // 1024')
growth=$((after - before))
if [ -n "$cache" ] && [ "$growth" -le $((cache + 16384)) ]; then
    ok "300 cells of 100 KB: the executor grows by the linecache only ($growth KiB, linecache $cache KiB)"
else
    fail "300 cells of 100 KB: the executor grows by the linecache only" \
         "grew $growth KiB, linecache holds ${cache:-?} KiB"
fi

# --- 2. output order kept by a handshake, not by sleeping ----------------
# The monitor is stopped while the cell prints, displays and prints again.
# The old executor waited at most 1 s for the monitor, then sent anyway,
# and "after" overtook the display.
stop_broker
start_broker --heartbeat-liveness 20 || exit 1
kmq exec -s order 'x = 1' > /dev/null
mpid=$(kernel_pid_of order)
kmq exec -s order 'import time; time.sleep(1); print("before"); display("DISPLAYED"); print("after")' \
    > "$T/order.out" 2>&1 &
bg=$!
sleep 0.5
kill -STOP "$mpid"
sleep 4
kill -CONT "$mpid"
wait "$bg"
expect_eq "a stalled monitor keeps stdout, display, stdout in order" \
    "before
'DISPLAYED'
after" "$(cat "$T/order.out")"

# --- 3. the monitor writes requests from its loop, with no thread --------
# The executor is stopped, so a 16 MiB upload cannot be read: the monitor
# must neither start a thread for it nor stop heartbeating.
kmq exec -s writer 'x = 1' > /dev/null
mpid=$(kernel_pid_of writer)
epid=$(session_executor_pid writer)
idle_threads=$(threads_of "$mpid")
head -c 16777216 /dev/zero > "$T/zeros"
kill -STOP "$epid"
kmq upload -s writer blob "$T/zeros" --format file > "$T/up.out" 2>&1 &
bg=$!
wait_until 100 '[ "$(session_value writer state)" == busy ]'
sleep 0.5
busy_threads=$(threads_of "$mpid")
expect_eq "writing a request the executor does not read adds no thread ($idle_threads)" \
    "$idle_threads" "$busy_threads"
kill -CONT "$epid"
wait "$bg"; rc=$?
expect_eq "the upload completes once the executor reads" "0" "$rc"
run_kmq exec -s writer 'import os; os.path.getsize("blob")'
expect_eq "the executor got every byte" "16777216" "$OUT"

# --- 4. a wire timeout of 2^64 - 1 is capped, not wrapped ---------------
out=$("$KMQ_BIN/kmq-testpeer" "$ENDPOINT" huge-timeout huge 2>&1)
expect_eq "execute with timeout_ms 2^64-1 runs to its result" "ok 42" "$out"
stop_broker

# --- 5. a lost `exited` does not stall the monitor's heartbeats ----------
TESTSW="$KMQ_BIN/kmq-kernel-testsw"
KMQ_TEST_FAULTS=drop_exited start_broker --kernel-path "$TESTSW" || exit 1
kmq exec -s lost 'x = 1' > /dev/null
run_kmq exec -s lost 'import os; os._exit(3)'
expect_eq "an executor whose exited is lost: KERNEL_DIED" "3" "$RC"
if [[ "$ERR" == *KERNEL_DIED* && "$ERR" != *heartbeats* ]]; then
    ok "... from the monitor, not a heartbeat timeout"
else
    fail "... from the monitor, not a heartbeat timeout" "$ERR"
fi
run_kmq exec -s lost 'x'
expect_contains "the next request says the state was lost" "state" "$ERR$OUT"
stop_broker

# --- 6. no pidfd: the executor is never signalled by a bare pid ----------
KMQ_TEST_FAULTS=no_pidfd start_broker --kernel-path "$TESTSW" || exit 1
kmq exec -s nopidfd 'x = 1' > /dev/null
mpid=$(kernel_pid_of nopidfd)
epid=$(session_executor_pid nopidfd)
ppid_of_exec=$(awk '/^PPid:/ {print $2}' "/proc/$epid/status")
expect_eq "without a pidfd the zygote's executor is refused; the monitor forks its own" \
    "$mpid" "$ppid_of_exec"
check "... and says why in the log" grep -q "pidfd" "$T/broker.log"
kmq exec -s nopidfd 'import time; print("running", flush=True); time.sleep(30)' \
    > "$T/int.out" 2>&1 &
bg=$!
wait_for 100 grep -q running "$T/int.out"
kmq interrupt -s nopidfd > /dev/null
wait "$bg"
expect_contains "... and interrupt still reaches it" "INTERRUPTED" "$(cat "$T/int.out")"
stop_broker

# --- 7. garbage is not a sign of life -------------------------------------
KMQ_TEST_FAULTS=garbage_heartbeats start_broker --kernel-path "$TESTSW" \
    --heartbeat-ivl-ms 200 --heartbeat-idle-ivl-ms 200 || exit 1
run_kmq exec -s garbage 'x = 5'
if wait_for 100 grep -q "session garbage: kernel .* died: stopped answering heartbeats" \
        "$T/broker.log"; then
    ok "a kernel that sends only garbage is declared dead"
else
    fail "a kernel that sends only garbage is declared dead" "$(tail -5 "$T/broker.log")"
fi
stop_broker

# --- 8. a kernel that exits busy: a timed state, not a nested loop --------
KMQ_TEST_FAULTS=exit_busy start_broker --kernel-path "$TESTSW" || exit 1
run_kmq exec -s exitbusy 'import time; time.sleep(5)'
expect_contains "a kernel that exits mid-request without a reply: KERNEL_DIED" \
    "KERNEL_DIED" "$ERR"
expect_contains "... naming the executor's end" "exit status 0" "$ERR"
stats=$(kmq stats --json)
expect_contains "the broker answers meanwhile and after" '"sessions"' "$stats"
stop_broker
exit 0
