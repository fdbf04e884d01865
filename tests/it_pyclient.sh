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

# make install: binaries, library, header and the package under PREFIX in
# DESTDIR; the installed package imports and finds the installed broker.
root="$T/root"
if make -s install DESTDIR="$root" PREFIX=/usr/local > "$T/install.log" 2>&1; then
    ok "make install DESTDIR=... exits 0"
else
    fail "make install DESTDIR=... exits 0" "$(tail -5 "$T/install.log")"
fi
for f in bin/kmq-broker bin/kmq-kernel bin/kmq lib/libkmq.a include/kmq.h \
         lib/python3/dist-packages/kernelmq/__init__.py \
         lib/python3/dist-packages/kernelmq/tools.py; do
    check "make install puts $f under PREFIX" test -f "$root/usr/local/$f"
done
out=$(cd "$T" && env -u KMQ_BROKER PATH=/usr/bin:/bin \
      PYTHONPATH="$root/usr/local/lib/python3/dist-packages" timeout 60 /usr/bin/python3 -c '
import kernelmq
print(kernelmq.__file__)
with kernelmq.Client.local() as c:
    print(c.session().run("6 * 7").text)' 2>&1)
expect_contains "the installed package is the one imported" "$root/usr/local/lib/python3" "$out"
expect_contains "the installed package runs Client.local() with the installed broker" \
    $'\n42' "$out"

# A requester that reads slower than its cell writes loses nothing: with a
# client queue of 10 messages (the least client_hwm allows), every stream
# event and the reply of a 30,000-line cell reach the Python client, in
# order (the broker's outbox, broker/outbox.h). Before it, the broker
# dropped what a full queue refused, the reply included.
stop_broker
start_broker --client-hwm 10 || exit 1
out=$(timeout 120 /usr/bin/python3 - "$ENDPOINT" <<'PY' 2>&1
import sys, time
sys.path.insert(0, "client/python")
import kernelmq
with kernelmq.Client(sys.argv[1]) as c, c.session("slow-reader") as s:
    chunks = []
    def slow(text):
        chunks.append(text)
        time.sleep(0.0005)
    ex = s.run("for i in range(30000):\n    print(i)\n'done'", on_stdout=slow)
    text = "".join(chunks)
    print("reply", ex.text, "events", len(chunks),
          "whole", text == "".join("%d\n" % i for i in range(30000)))
PY
)
expect_contains "a slow requester gets its reply through a full queue" "reply 'done'" "$out"
expect_contains "... and every line of the cell's output, in order" "whole True" "$out"
stop_broker
