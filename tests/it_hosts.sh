# Kernel hosts (protocol.md 12): sessions live in kmq-host, not in the
# broker, so they survive the broker being killed or restarted; requests in
# flight across a restart get their outcome by `resume`; `kmq shutdown
# --sessions` ends everything; a broker places sessions over several hosts
# and reports a lost host for each of its sessions.
source "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD/client/python"
# Idle kernels beat only every 10 minutes here: a kernel comes back to a
# restarted broker because its connection came back (it says ready at
# once, protocol.md 12.2), never because a beat happened to be due.
start_broker --heartbeat-ivl-ms 300 --heartbeat-idle-ivl-ms 600000 --heartbeat-liveness 3 || exit 1

# stats_field SESSION FIELD: one field of a session's stats entry.
stats_field() {
    kmq stats --json | /usr/bin/python3 -c '
import json, sys
for e in json.load(sys.stdin).get("session_list", []):
    if e["session"] == sys.argv[1]:
        print(e.get(sys.argv[2], ""))' "$1" "$2"
}

# crash_and_restart_broker: SIGKILL the broker, start a new one in its place.
crash_and_restart_broker() {
    kill -KILL "$BROKER_PID"; wait "$BROKER_PID" 2>/dev/null; BROKER_PID=""
    restart_broker --heartbeat-ivl-ms 300 --heartbeat-idle-ivl-ms 600000 --heartbeat-liveness 3
}

# --- the local host outlives a killed broker ---
run_kmq exec -s r1 'x = 123
import pandas as pd
df = pd.DataFrame({"name": ["a", "b"], "when": pd.to_datetime(["2026-01-01", "2026-06-30"])})
open("notes.txt", "w").write("kept")'
expect_eq "a session runs on the local host" 0 "$RC"
host1=$(host_pid)
check "the broker started one kernel host for its runtime dir" test -n "$host1"
expect_eq "the session's stats name its host" local "$(stats_field r1 host)"
kpid=$(kernel_pid_of r1)

# Idle past a busy interval: no beat of the kernel is due for minutes, so
# only its connection coming back can bring it to the next broker
sleep 1
kill -KILL "$BROKER_PID"; wait "$BROKER_PID" 2>/dev/null; BROKER_PID=""
check "the kernel host survives SIGKILL of the broker" kill -0 "$host1"
check "the session's kernel survives SIGKILL of the broker" kill -0 "$kpid"
restart_broker --heartbeat-ivl-ms 300 --heartbeat-idle-ivl-ms 600000 --heartbeat-liveness 3 || exit 1
run_kmq exec -s r1 'x'
expect_eq "after a broker restart the session's state is intact" 123 "$OUT"
run_kmq exec -s r1 'print(df["name"].tolist(), df["when"].dt.month.tolist(), open("notes.txt").read())'
expect_eq "... its DataFrame and its /work files too" "['a', 'b'] [1, 6] kept" "$OUT"
zombies=$(ps -eo stat=,args= | awk '$1 ~ /^Z/' | grep -c "kmq" || true)
expect_eq "no kmq zombie after the broker was killed" 0 "$zombies"
check "no state_lost notice after a restart" test -z "$(grep -i 'state_lost\|state lost' <<< "$ERR")"
expect_eq "the restarted broker found the running host (no second one)" "$host1" \
    "$(pgrep -f "kmq-host.*$RT" | tr '\n' ' ' | sed 's/ $//')"

# --- SIGTERM: the broker stops, the sessions stay ---
stop_broker_only
check "the kernel host survives SIGTERM of the broker" kill -0 "$host1"
restart_broker --heartbeat-ivl-ms 300 --heartbeat-idle-ivl-ms 600000 --heartbeat-liveness 3 || exit 1
run_kmq exec -s r1 'x + 1'
expect_eq "a session survives a broker stopped with SIGTERM" 124 "$OUT"

# --- a request in flight across a broker restart ---
# The cell sleeps long enough for the broker to be killed and started again
# (0.3 s here): the client keeps waiting, asks the new broker to `resume`,
# and gets the cell's output and reply.
kmq exec -s r1 'import time; time.sleep(4); print("finished", x)' \
    > "$T/inflight.out" 2> "$T/inflight.err" &
cli=$!
busy_then_crash() {
    wait_until 100 '[ "$(stats_field r1 state)" == busy ]' \
        || fail "the cell runs before the broker is killed" "$(kmq stats)"
    crash_and_restart_broker
}
busy_then_crash || exit 1
wait "$cli"; rc=$?
expect_eq "kmq exec in flight across a broker restart exits 0" 0 "$rc"
expect_contains "... and prints the cell's output" "finished 123" "$(cat "$T/inflight.out")"
expect_contains "... and says the broker restarted" "restarted" "$(cat "$T/inflight.err")"

/usr/bin/python3 - "$ENDPOINT" > "$T/py.out" 2>&1 <<'PY' &
import sys
import kernelmq
endpoint = sys.argv[1]
with kernelmq.Client(endpoint) as c:
    s = c.session("r1")
    ex = s.run("import time; time.sleep(4); print('py finished', x); x * 2")
    print("TEXT", ex.text, "STDOUT", ex.stdout.strip())
PY
py=$!
busy_then_crash || exit 1
wait "$py"; rc=$?
expect_eq "the Python client's run in flight across a broker restart succeeds" 0 "$rc"
expect_contains "... with the cell's output and value" "TEXT 246 STDOUT py finished 123" \
    "$(cat "$T/py.out")"

# --- resume of a request no kernel ever saw: LOST, ran false ---
out=$(/usr/bin/python3 - "$ENDPOINT" <<'PY'
import sys, zmq
from kernelmq._protocol import encode, decode
from kernelmq import _keys
sock = zmq.Context.instance().socket(zmq.DEALER)
_keys.apply(sock, sys.argv[1])      # CURVE on tcp, the test's keys
sock.connect(sys.argv[1])
sock.send_multipart(encode({"type": "resume", "id": 1, "session": "r1", "request": 987654321}))
if sock.poll(10000):
    m = decode(sock.recv_multipart())
    print(m.get("status"), m.get("error"), m.get("ran"))
PY
)
expect_eq "resume of a request never seen is LOST with ran false" "error LOST False" "$out"

# --- an attached client stays attached across a broker restart ---
kmq attach -s r1 > "$T/attach.out" 2>&1 &
att=$!
wait_until 50 '[ "$(stats_field r1 attached)" == 1 ]'
crash_and_restart_broker || exit 1
# Events while no broker runs, or before the client attached again, are
# not delivered (protocol.md 12.2): the request waits for the note.
check "kmq attach notices the restart and attaches again" \
    wait_for 150 grep -q "attached again" "$T/attach.out"
run_kmq exec -s r1 'print("after the restart")'
expect_eq "a request after the restart runs" 0 "$RC"
wait_for 100 grep -q "after the restart" "$T/attach.out"
expect_contains "kmq attach sees requests after a broker restart" "after the restart" \
    "$(cat "$T/attach.out")"
kill "$att" 2>/dev/null; wait "$att" 2>/dev/null

# The Python client's Attachment too: it attaches again after the restart
# and sees a later request's output (the test runs requests until it does).
/usr/bin/python3 - "$ENDPOINT" > "$T/pyattach.out" 2>&1 <<'PY' &
import sys
import kernelmq
with kernelmq.Client(sys.argv[1]) as c:
    with c.session("r1").attach() as events:
        print("ATTACHED", flush=True)
        for event in events:
            if "py after" in str(getattr(event, "text", "")):
                print("SAW", event.text.strip(), flush=True)
                break
PY
pyatt=$!
wait_for 100 grep -q ATTACHED "$T/pyattach.out"
crash_and_restart_broker || exit 1
for _ in $(seq 1 30); do
    kill -0 "$pyatt" 2>/dev/null || break
    kmq exec -s r1 'print("py after")' > /dev/null 2>&1
    sleep 0.3
done
wait "$pyatt"
expect_contains "a Python Attachment attaches again after a broker restart" "SAW py after" \
    "$(cat "$T/pyattach.out")"

# --- kmq shutdown --sessions ends the broker, its host and its kernels ---
run_kmq exec -s r2 'y = 1'
run_kmq shutdown --sessions
expect_eq "kmq shutdown --sessions exits 0" 0 "$RC"
check "the broker exits on shutdown" wait_gone "$BROKER_PID" 100
BROKER_PID=""
check "the kernel host exits on shutdown --sessions" wait_gone "$host1" 100
check "no kernel runs after shutdown --sessions" wait_until 50 '[ -z "$(kernel_pids)" ]'

# --- two hosts: placement over both; a lost host is reported per session ---
start_broker --host false --heartbeat-ivl-ms 300 --heartbeat-idle-ivl-ms 600000 --heartbeat-liveness 3 || exit 1
for h in h1 h2; do
    "$KMQ_BIN/kmq-host" --backend "ipc://$RT/backend" --runtime-dir "$T/$h" \
        --host-id "$h" --heartbeat-ivl-ms 300 --heartbeat-idle-ivl-ms 600000 --heartbeat-liveness 3 >> "$T/broker.log" 2>&1 &
    eval "pid_$h=$!"
done
hosts_up() { [ "$(kmq stats --json | /usr/bin/python3 -c '
import json, sys; print(len(json.load(sys.stdin).get("hosts", [])))')" == 2 ]; }
check "two kernel hosts register with the broker" wait_for 100 hosts_up
for i in 1 2 3 4; do run_kmq exec -s "p$i" "v = $i"; done
placed=$(for i in 1 2 3 4; do stats_field "p$i" host; done | sort | uniq -c | awk '{print $2}' | tr '
' ' ')
expect_eq "sessions are placed on both hosts" "h1 h2 " "$placed"
victim=$(stats_field p1 host)
survivor=$( [ "$victim" == h1 ] && echo h2 || echo h1)
other=""
for i in 2 3 4; do [ "$(stats_field "p$i" host)" == "$survivor" ] && other="p$i"; done
eval "vpid=\$pid_$victim"
kill -KILL "$vpid"
# Its monitors die with it (PR_SET_PDEATHSIG), and their executors with them
check "a killed host's kernels die with it" \
    wait_until 50 '[ -z "$(pgrep -f "kmq-kernel.*$T/$victim/")" ]'
run_kmq exec -s p1 'v'
expect_contains "a session of a lost host fails with KERNEL_DIED" "KERNEL_DIED" "$ERR"
expect_contains "... that names the lost host" "host lost" "$ERR"
run_kmq exec -s "$other" 'v * 10'
expect_eq "a session on the other host still works" "${other#p}0" "$OUT"
run_kmq exec -s p1 'v'
expect_contains "the lost session starts afresh on the surviving host" "NameError" "$ERR"
expect_eq "... placed on the survivor" "$survivor" "$(stats_field p1 host)"
eval "spid=\$pid_$survivor"
stop_broker
check "the second host exits on shutdown --sessions" wait_gone "$spid" 100
exit 0
