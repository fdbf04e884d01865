# Malformed input never hurts the broker: it answers a valid request after
# thousands of bad messages and its memory does not grow without bound.
source "$(dirname "$0")/lib.sh"
start_broker || exit 1

run=$("$KMQ_BIN/kmq-testpeer" "$ENDPOINT" garbage 1000 2>&1); rc=$?
expect_eq "valid request answered after 1000 malformed messages" 0 "$rc"
expect_contains "testpeer reports the answer" "ok" "$run"
rss1=$(rss_kib "$BROKER_PID")
for _ in 1 2 3 4 5; do "$KMQ_BIN/kmq-testpeer" "$ENDPOINT" garbage 1000 > /dev/null 2>&1; done
rss2=$(rss_kib "$BROKER_PID")
check "broker RSS grows < 4 MiB over 5000 more malformed messages ($rss1 -> $rss2 KiB)" \
    test $((rss2 - rss1)) -lt 4096
# Heartbeats the broker answers without decoding them (broker_recv.c) and
# ones only its decoder reads are all answered with hello's epoch; one with
# a payload frame is refused.
run=$("$KMQ_BIN/kmq-testpeer" "$ENDPOINT" heartbeats 600 2>&1); rc=$?
expect_eq "600 heartbeats answered with the broker's epoch, a bad one refused" 0 "$rc"
expect_contains "testpeer reports every heartbeat answered" "ok" "$run"
run_kmq exec -s after '"still here"'
expect_eq "sessions still work after the garbage" "0:'still here'" "$RC:$OUT"
check "broker still running" kill -0 "$BROKER_PID"
