# Kernel death: a killed executor and a stopped kernel are reported, and the
# session comes back on a fresh kernel that says its state was lost.
source "$(dirname "$0")/lib.sh"
start_broker --heartbeat-ivl-ms 300 --heartbeat-liveness 3 || exit 1

kmq exec -s victim 'before = 1' > /dev/null
kpid=$(kernel_pid_of victim)
epid=$(executor_pid_of "$kpid")
check "executor is a child of the kernel monitor" test -n "$epid"

kmq exec -s victim 'import time; time.sleep(30)' > "$T/o" 2> "$T/e" &
cli=$!
sleep 1
kill -KILL "$epid"
wait "$cli"; rc=$?
expect_eq "killed executor: exit status 3" 3 "$rc"
expect_contains "killed executor: KERNEL_DIED" "KERNEL_DIED" "$(cat "$T/e")"
expect_contains "killed executor: names the signal" "signal 9" "$(cat "$T/e")"

run_kmq exec -s victim '1 + 1'
expect_eq "next request runs on a fresh kernel" "0:2" "$RC:$OUT"
expect_contains "next reply says state was lost" "lost" "$ERR"
run_kmq exec -s victim 'before'
expect_eq "the old variable is gone" 1 "$RC"

# A stopped kernel stops heartbeating: the broker declares it dead.
kmq exec -s frozen 'y = 2' > /dev/null
kpid=$(kernel_pid_of frozen)
kmq exec -s frozen 'import time; time.sleep(30)' > "$T/o" 2> "$T/e" &
cli=$!
sleep 0.5
kill -STOP "$kpid"
# Bounded wait: 300 ms x 3 plus a generous margin; the client must be answered.
for _ in $(seq 1 100); do kill -0 "$cli" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$cli" 2>/dev/null; then
    fail "stopped kernel: waiting client answered within 10 s"; kill "$cli"
else
    wait "$cli"; rc=$?
    expect_eq "stopped kernel: exit status 3" 3 "$rc"
    expect_contains "stopped kernel: KERNEL_DIED" "KERNEL_DIED" "$(cat "$T/e")"
    expect_contains "stopped kernel: says heartbeats" "heartbeat" "$(cat "$T/e")"
fi
kill -CONT "$kpid" 2>/dev/null
for _ in $(seq 1 50); do kill -0 "$kpid" 2>/dev/null || break; sleep 0.1; done
check "stopped kernel was killed by the broker" bash -c "! kill -0 $kpid 2>/dev/null"
run_kmq exec -s frozen '3 * 3'
expect_eq "frozen session answers again on a fresh kernel" "0:9" "$RC:$OUT"

run_kmq exec -s other '5'
expect_eq "other sessions unaffected" "0:5" "$RC:$OUT"
