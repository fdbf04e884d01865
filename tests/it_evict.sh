# Idle eviction: an idle session goes, a busy one stays.
source "$(dirname "$0")/lib.sh"
# Without snapshots (--snapshot false): eviction ends the state, and says
# so. it_snapshot.sh covers eviction with snapshots (the default).
start_broker --idle-timeout-s 2 --snapshot false || exit 1

kmq exec -s idle 'v = 1' > /dev/null
kpid=$(kernel_pid_of idle)
kmq attach -s idle > "$T/attach.out" 2>&1 &
watcher=$!
sleep 0.5
# A 5 s request on another session must not be evicted while it runs.
run_kmq exec -s busy 'import time; time.sleep(5); "survived"'
expect_eq "a session running a 5 s request is not evicted" "0:'survived'" "$RC:$OUT"
check "idle session's kernel is gone" bash -c "! kill -0 $kpid 2>/dev/null"
sleep 0.5
kill "$watcher" 2>/dev/null; wait "$watcher" 2>/dev/null
expect_contains "attached client is told of the eviction" "evicted" "$(cat "$T/attach.out")"
run_kmq exec -s idle 'v'
expect_eq "evicted session starts fresh" 1 "$RC"
expect_contains "evicted session's next reply says state was lost" "lost" "$ERR"
