# Shared sessions (protocol.md 4.5): every attached client sees the whole
# conversation of a session, with who asked; a client that stops reading
# is detached with a notice and never holds up the kernel, the broker or
# the other clients.
source "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
# 4000: the slow client (which reads nothing) passes it during the 6000-display
# flood below, while a client that reads keeps slack on a busy 2-core machine.
start_broker --client-hwm 4000 || exit 1

# --- the transcript ------------------------------------------------------
kmq exec -s nb 'y = 5' > /dev/null
kmq attach -s nb > "$T/attach.out" 2>&1 &
attach=$!
nb_attached() {
    kmq stats --json | $PY -c '
import json, sys
print([e["attached"] for e in json.load(sys.stdin)["session_list"] if e["session"] == "nb"][0])'
}
wait_until 50 '[ "$(nb_attached)" == 1 ]'
KMQ_CLIENT=alice kmq exec -s nb 'print("hello"); y*2' > /dev/null
kmq exec -s nb '1/0' > /dev/null 2>&1
printf 'A,B\n1,4\n' > "$T/df.csv"
KMQ_CLIENT=bob kmq upload -s nb df "$T/df.csv" > /dev/null
KMQ_CLIENT=bob kmq reset -s nb > /dev/null
kmq exec -s nb 'import os; os._exit(1)' > /dev/null 2>&1
kmq exec -s nb 'z = 1' > /dev/null 2>&1
sleep 0.5
kill "$attach"; wait "$attach" 2>/dev/null
transcript=$(cat "$T/attach.out")
expect_contains "an attached client sees who ran which cell, with its number and code" \
    $'In [2] (alice):\nprint("hello"); y*2' "$transcript"
expect_contains "an attached client sees another's stdout" "hello" "$transcript"
expect_contains "... and its result as Out[n]" "Out[2]: 10" "$transcript"
expect_contains "... and its error with the traceback" "ZeroDivisionError: division by zero" "$transcript"
expect_contains "... and uploads, with their requester" "[bob uploaded df]" "$transcript"
expect_contains "... and resets" "[bob: reset]" "$transcript"
expect_contains "... and that its kernel died" "[kernel died:" "$transcript"
expect_contains "... and that a fresh one started, state lost" "[kernel starting: a fresh kernel" "$transcript"

# --- a client that stops reading ----------------------------------------
kmq exec -s flood 'x = 1' > /dev/null
kmq attach -s flood > "$T/fast.out" 2>&1 &
fast=$!
$PY tests/shared_slow_client.py "$ENDPOINT" flood "$T/slow.ready" 25 > "$T/slow.out" 2>&1 &
slow=$!
wait_for 100 test -s "$T/slow.ready"
run_kmq exec -s flood 'for i in range(6000): display("x" * 1000)
print("flood done")'
expect_eq "the requester's cell runs to its end while a client does not read" "0" "$RC"
expect_contains "... with all its output" "flood done" "$OUT"
check "the broker logs the slow client's detachment" \
    wait_for 100 grep -q "client slow: 4000 messages behind; detached from 1 session" "$T/broker.log"
run_kmq exec -s flood '21 * 2'
expect_eq "the session goes on for everyone else" "42" "$OUT"
# The reading client may still be working through its backlog on a loaded
# machine: it is done once it has shown the last request's result.
wait_for 150 grep -q "Out\[.*42" "$T/fast.out"
kill "$fast"; wait "$fast" 2>/dev/null
displays=$(grep -c "^'x" "$T/fast.out")
expect_eq "the client that reads sees every display" "6000" "$displays"
wait "$slow"
expect_contains "the slow client gets its detached notice when it reads again" \
    "notice you were detached from session flood" "$(cat "$T/slow.out")"

# --- input: false (protocol.md 4.5) --------------------------------------
# The requester gets its own input event unless it said input: false; with
# another client attached, that one still gets it (the transcripts above:
# `kmq exec` says input: false).
counts=$($PY tests/input_events.py "$ENDPOINT" solo 2>&1)
expect_contains "a requester gets its own input event by default" "default 1" "$counts"
expect_contains "... and none when it said input: false" "input_false 0" "$counts"
exit 0
