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

# expect_found_dead LABEL KPID CLIENT: the kernel KPID, stopped (SIGSTOP),
# is declared dead for its silence: the waiting CLIENT (a background kmq
# exec writing $T/e) gets KERNEL_DIED naming the heartbeats within a
# generous 10 s, and the broker has the kernel killed.
expect_found_dead() {
    local label=$1 kpid=$2 cli=$3 rc
    for _ in $(seq 1 100); do kill -0 "$cli" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$cli" 2>/dev/null; then
        fail "$label: waiting client answered within 10 s"; kill "$cli"
    else
        wait "$cli"; rc=$?
        expect_eq "$label: exit status 3" 3 "$rc"
        expect_contains "$label: KERNEL_DIED" "KERNEL_DIED" "$(cat "$T/e")"
        expect_contains "$label: says heartbeats" "heartbeat" "$(cat "$T/e")"
    fi
    kill -CONT "$kpid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$kpid" 2>/dev/null || break; sleep 0.1; done
    check "$label: killed by the broker" bash -c "! kill -0 $kpid 2>/dev/null"
}

# A stopped kernel stops heartbeating: the broker declares it dead
# (300 ms x 3 here).
kmq exec -s frozen 'y = 2' > /dev/null
kpid=$(kernel_pid_of frozen)
kmq exec -s frozen 'import time; time.sleep(30)' > "$T/o" 2> "$T/e" &
cli=$!
sleep 0.5
kill -STOP "$kpid"
expect_found_dead "stopped kernel" "$kpid" "$cli"
run_kmq exec -s frozen '3 * 3'
expect_eq "frozen session answers again on a fresh kernel" "0:9" "$RC:$OUT"

run_kmq exec -s other '5'
expect_eq "other sessions unaffected" "0:5" "$RC:$OUT"

# Idle kernels beat every heartbeat_idle_ivl (10 s by default), not every
# 300 ms: one idle for several busy limits (0.9 s) is alive and kept.
kmq exec -s slowbeat 'a = 7' > /dev/null
spid=$(kernel_pid_of slowbeat)
sleep 3
# ... and a request to it runs for more than a busy limit: the kernel's
# silence counts from the request, not from its last idle beat 3 s ago
run_kmq exec -s slowbeat 'import time; time.sleep(1.5); a'
expect_eq "an idle kernel that beats slowly is not declared dead" "0:7" "$RC:$OUT"
expect_eq "... it is the same kernel" "$spid" "$(kernel_pid_of slowbeat)"

# An idle kernel that froze is found by the next request: from the moment
# the request goes to it, it owes beats at the busy rate (0.9 s here), not
# at the idle rate (30 s).
kmq exec -s idlefrozen 'z = 1' > /dev/null
ipid=$(kernel_pid_of idlefrozen)
kill -STOP "$ipid"
kmq exec -s idlefrozen 'z' > "$T/o" 2> "$T/e" &
expect_found_dead "frozen idle kernel" "$ipid" "$!"
exit 0
