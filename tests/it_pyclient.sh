# The Python client (client/python/kernelmq) against real brokers and
# kernels: the seeds' jobs, streaming, errors and death, the tool helper,
# asyncio and threads, attach, and `make install`. The Python cases live in
# tests/pyclient/ and print their own ok/FAIL lines.
source "$(dirname "$0")/lib.sh"
start_broker --heartbeat-ivl-ms 300 --heartbeat-liveness 3 --max-payload 8M || exit 1
export T
cd "$(dirname "$0")/.."
export KMQ_BROKER="$KMQ_BIN/kmq-broker"
for script in tests/pyclient/test_*.py; do
    timeout 240 /usr/bin/python3 "$script" "$ENDPOINT" \
        || fail "$(basename "$script") exits 0"
done
