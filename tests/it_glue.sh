# The executor glue (kernel/glue): its unit tests with /usr/bin/python3
# outside any executor (tests/glue/run.py, one line a case), then what only
# the real kernel shows: the package imported from the binary, and the
# execute reply's duration_ms on the wire.
source "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.."

timeout 300 /usr/bin/python3 tests/glue/run.py > "$T/unit.out" 2>&1
status=$?
grep -E '^(ok   |FAIL |skip )' "$T/unit.out" | grep -E '^(ok   |skip )'
if [ "$status" -ne 0 ]; then
    # A FAIL line with what follows it, or the whole output when the runner
    # itself broke before reporting.
    if grep -q '^FAIL ' "$T/unit.out"; then grep -v '^ok   ' "$T/unit.out"
    else cat "$T/unit.out"; fail "glue unit tests ran" "runner exited $status"; fi
fi

start_broker || exit 1

# execute REQUEST_JSON CODE: sends one execute on the wire and prints the
# reply's header as JSON (events skipped).
wire_execute() {
    /usr/bin/python3 - "$ENDPOINT" "$1" "$2" <<'PY'
import json, sys
import msgpack, zmq
endpoint, header, code = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
socket = zmq.Context().socket(zmq.DEALER)
socket.setsockopt(zmq.LINGER, 0)
sys.path.insert(0, "client/python")
from kernelmq import _keys          # CURVE on tcp, the test's keys
_keys.apply(socket, endpoint)
socket.connect(endpoint)
header.update(type="execute", id=1)
socket.send_multipart([b"KMQ1", msgpack.packb(header), code.encode()])
while socket.poll(60000):
    frames = socket.recv_multipart()
    reply = msgpack.unpackb(frames[1])
    if reply.get("type") == "reply":
        print(json.dumps(reply))
        break
PY
}

# field JSON KEY: the value of KEY in the JSON map (empty when absent).
field() {
    /usr/bin/python3 -c 'import json, sys; v = json.loads(sys.argv[1]).get(sys.argv[2]); print("" if v is None else v)' "$1" "$2"
}

reply=$(wire_execute '{"session": "g1"}' $'import time\ntime.sleep(0.05)\n6 * 7')
expect_eq "execute ok carries execution_count" 1 "$(field "$reply" execution_count)"
ms=$(field "$reply" duration_ms)
check "execute ok carries duration_ms of the cell (>= 50)" test "${ms:-0}" -ge 50

reply=$(wire_execute '{"session": "g1"}' '1/0')
expect_eq "PYTHON_ERROR" PYTHON_ERROR "$(field "$reply" error)"
check "PYTHON_ERROR carries duration_ms" test -n "$(field "$reply" duration_ms)"
expect_contains "its traceback shows no glue frame" "[]" \
    "$(/usr/bin/python3 -c 'import json, sys; print([l for l in json.loads(sys.argv[1])["traceback"] if "_kmq" in l or "kmq-kernel" in l])' "$reply")"

reply=$(wire_execute '{"session": "g1", "timeout_ms": 300}' $'import time\ntime.sleep(30)')
expect_eq "a stopped cell's TIMEOUT" "TIMEOUT:False" "$(field "$reply" error):$(field "$reply" killed)"
ms=$(field "$reply" duration_ms)
check "TIMEOUT with the code stopped carries duration_ms (>= 250)" test "${ms:-0}" -ge 250

expect_contains "the glue is imported from the binary" \
    "('<kmq-kernel>/_kmq/entry.py', False)" "$(kmq exec -s g1 $'import _kmq.entry, sys\n(_kmq.entry.__file__, "kernel/glue" in str(sys.path))')"

run_kmq exec -s g1 $'x = 1\nimport numpy\nnumpy.random.seed(0)'
run_kmq reset -s g1
run_kmq exec -s g1 $'import numpy\nfirst = numpy.random.random()\nnumpy.random.seed(0)\n(first != numpy.random.random(), "x" in dir())'
expect_eq "reset reseeds numpy and empties the namespace" "(True, False)" "$OUT"
