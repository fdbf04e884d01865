"""kmq-http's /v1 API against a real broker: E2B JSON with a PNG, SSE that
streams before the cell ends, DataFrames as frame and csv, the session
routes, event streams, tokens, and every error name the test can cause
answered with the status of kmq-http's table.
Usage: api_test.py ERROR_TABLE.json   (KMQ_HTTP, KMQ_HTTP_TOKEN set)"""
import base64
import io
import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "common"))
import kmq_frame  # noqa: E402  (the frame format's Python side)
import pandas  # noqa: E402

from common import (check, connection, fail, finish, jrequest, ok, request,  # noqa: E402
                    sse_events, TOKEN)

TABLE = json.load(open(sys.argv[1]))
S = "/v1/sessions/api"


def expect_error(name, status, body, error):
    """The answer is error with the table's status and an {error, message} body."""
    good = (status == TABLE[error] and isinstance(body, dict)
            and body.get("error") == error and isinstance(body.get("message"), str))
    check("error %s answers %d: %s" % (error, TABLE[error], name), good,
          "status %s, body %s" % (status, body))


# --- tokens -----------------------------------------------------------------
status, body = jrequest("POST", S + "/execute", {"code": "1"}, token=False)
expect_error("no token", status, body, "UNAUTHORIZED")
status, body = jrequest("POST", S + "/execute", {"code": "1"},
                        headers={"Authorization": "Bearer " + "0" * 64})
expect_error("a wrong token", status, body, "UNAUTHORIZED")
status, body = jrequest("GET", "/v1/health", token=False)
check("health needs no token", status == 200 and body["status"] == "ok", body)

# --- JSON execute: E2B's shape, a PNG ---------------------------------------
code = ("import matplotlib\nmatplotlib.use('Agg')\nimport matplotlib.pyplot as plt\n"
        "print('drawing')\nimport sys; print('careful', file=sys.stderr)\n"
        "plt.plot([1, 3, 2])\nplt.show()\nx = 41\nx + 1")
status, ex = jrequest("POST", S + "/execute", {"code": code, "timeout_ms": 60000},
                      headers={"Accept": "application/json"})
check("execute (JSON) answers 200", status == 200, ex)
check("execute (JSON): text is the result's text/plain", ex.get("text") == "42", ex.get("text"))
check("execute (JSON): logs.stdout and logs.stderr", "".join(ex["logs"]["stdout"]) == "drawing\n"
      and "".join(ex["logs"]["stderr"]) == "careful\n", ex.get("logs"))
pngs = [r for r in ex.get("results", []) if "png" in r]
check("execute (JSON): a display result with a PNG (base64)", len(pngs) == 1
      and base64.b64decode(pngs[0]["png"])[:8] == b"\x89PNG\r\n\x1a\n"
      and pngs[0]["mime"]["image/png"] == pngs[0]["png"] and not pngs[0]["is_main_result"],
      [sorted(r) for r in ex.get("results", [])])
main = [r for r in ex["results"] if r["is_main_result"]]
check("execute (JSON): the main result last, as a MIME bundle",
      ex["results"][-1] is main[0] and main[0]["mime"]["text/plain"] == "42")
check("execute (JSON): error null, execution_count, duration_ms",
      ex["error"] is None and ex["execution_count"] >= 1 and isinstance(ex["duration_ms"], int))
status, ex = jrequest("POST", S + "/execute", {"code": "def f():\n    1/0\nf()"})
check("execute (JSON): a Python error is a 200 with error{name, value, traceback}",
      status == 200 and ex["error"]["name"] == "ZeroDivisionError"
      and ex["error"]["value"] == "division by zero"
      and "Traceback" in ex["error"]["traceback"] and ex["text"] is None, ex)

# --- SSE: the first stream event comes before the cell ends ------------------
# The cell prints, then loops until interrupted; the interrupt is sent only
# after the test has read the stream event, so the event cannot be a late one.
conn = connection(120)
conn.request("POST", S + "/execute", body=json.dumps({"code":
             "import time\nprint('first', flush=True)\nwhile True:\n    time.sleep(0.05)"}),
             headers={"Authorization": "Bearer " + TOKEN, "Accept": "text/event-stream",
                      "Content-Type": "application/json"})
response = conn.getresponse()
check("execute (SSE) answers 200 text/event-stream", response.status == 200
      and response.getheader("Content-Type", "").startswith("text/event-stream"))
events = sse_events(response)
seen, printed = [], ""
for event in events:
    seen.append(event)
    if event[0] != "stream" or event[1].get("name") != "stdout":
        break
    printed += event[1]["text"]
    if printed == "first\n":
        break
check("execute (SSE): stream events of the running cell come first",
      printed == "first\n" and all(e == "stream" for e, _ in seen), seen)
status, body = jrequest("POST", S + "/interrupt")
check("interrupt answers interrupted: true while the cell runs",
      status == 200 and body.get("interrupted") is True, body)
rest = list(events)
conn.close()
check("execute (SSE): the cell ends with one error event, INTERRUPTED",
      len(rest) == 1 and rest[0][0] == "error" and rest[0][1]["code"] == "INTERRUPTED"
      and rest[0][1]["status"] == TABLE["INTERRUPTED"], rest)
conn = connection(60)
conn.request("POST", S + "/execute", body=json.dumps({"code": "print('a')\ndisplay(7)\n6 * 7"}),
             headers={"Authorization": "Bearer " + TOKEN, "Accept": "text/event-stream"})
got = list(sse_events(conn.getresponse()))
conn.close()
kinds = [e for e, _ in got if e != "stream"]
check("execute (SSE): stream, display, then result with execution_count and duration_ms",
      "".join(d["text"] for e, d in got if e == "stream") == "a\n"
      and kinds == ["display", "result"] and got[-2][1]["mime"]["text/plain"] == "7"
      and got[-1][1]["text"] == "42" and "execution_count" in got[-1][1]
      and "duration_ms" in got[-1][1], got)

# --- DataFrames: frame and csv round trips ------------------------------------
df = pandas.DataFrame({"n": pandas.array([1, None, 3], dtype="Int64"),
                       "s": ["a", None, "c"], "f": [1.5, float("nan"), -2.0],
                       "t": pandas.to_datetime(["2024-01-01", "2024-02-01", None]),
                       "c": pandas.Categorical(["x", "y", "x"])})
status, body = jrequest("PUT", S + "/data/df?format=frame", kmq_frame.to_kmqf(df),
                        headers={"Content-Type": "application/vnd.kernelmq.frame"})
check("PUT data (frame) stores a DataFrame", status == 200 and body["kind"] == "dataframe"
      and body["rows"] == 3 and body["columns"] == 5, body)
status, headers, data = request("GET", S + "/data/df?format=frame")
try:
    back = kmq_frame.from_kmqf(data)
    pandas.testing.assert_frame_equal(back, df)
    check("GET data (frame) gives the same DataFrame back", status == 200
          and headers.get("Content-Type") == "application/vnd.kernelmq.frame")
except Exception as e:  # noqa: BLE001 (any difference is the failure)
    fail("GET data (frame) gives the same DataFrame back", "%s %r" % (status, e))
csv = "A,B\n1,x\n2,y\n3,z\n"
status, body = jrequest("PUT", S + "/data/c?format=csv", csv, headers={"Content-Type": "text/csv"})
check("PUT data (csv) stores a DataFrame", status == 200 and body.get("rows") == 3, body)
status, headers, data = request("GET", S + "/data/c?format=csv")
check("GET data (csv) gives the same CSV back", status == 200 and data.decode() == csv
      and headers.get("Content-Type", "").startswith("text/csv"), data)
status, headers, data = request("GET", S + "/data/c", headers={"Accept": "text/csv"})
check("GET data picks csv from Accept", status == 200 and data.decode() == csv, data)
status, _, data = request("GET", S + "/data/c?format=json")
check("GET data (json) gives records pandas reads",
      status == 200 and pandas.read_json(io.StringIO(data.decode())).equals(pandas.read_csv(io.StringIO(csv))))
status, body = jrequest("PUT", S + "/data/notes.txt?format=file", "hello\n",
                        headers={"Content-Type": "application/octet-stream"})
status2, _, data = request("GET", S + "/data/notes.txt?format=file")
check("a file goes up and down", status == 200 and body["kind"] == "file"
      and status2 == 200 and data == b"hello\n", (status, body, status2, data))

# --- vars, events, reset, delete ------------------------------------------------------
status, body = jrequest("GET", S + "/vars")
names = [v["name"] for v in body.get("vars", [])] if status == 200 else []
check("vars lists the session's variables", "df" in names and "x" in names, body)

watched = []
conn = connection(60)
conn.request("GET", S + "/events", headers={"Authorization": "Bearer " + TOKEN,
                                            "Accept": "text/event-stream"})
watch = conn.getresponse()
check("events answers 200 text/event-stream", watch.status == 200)
stream = sse_events(watch)
attached = next(stream, None)
check("events starts with attached", attached == ("attached", {"session": "api"}), attached)


def reader():
    for event in stream:
        watched.append(event)
        if event[0] == "outcome":
            return


thread = threading.Thread(target=reader, daemon=True)
thread.start()
status, _ = jrequest("POST", S + "/execute", {"code": "print('seen by the watcher')"})
thread.join(30)
conn.close()
kinds = [e for e, _ in watched]
check("events shows another request's input, stream and outcome",
      "input" in kinds and "".join(d.get("text", "") for e, d in watched if e == "stream")
      == "seen by the watcher\n" and kinds[-1:] == ["outcome"], watched)

status, body = jrequest("POST", S + "/reset")
status2, body2 = jrequest("GET", S + "/vars")
check("reset empties the namespace", status == 200 and status2 == 200 and body2["vars"] == [],
      (body, body2))
status, body = jrequest("DELETE", S)
check("DELETE closes the session", status == 200 and body == {"closed": True}, body)
status, body = jrequest("DELETE", S)
expect_error("DELETE of a session that is gone", status, body, "NO_SUCH_SESSION")

# --- stats, metrics ------------------------------------------------------------------------
status, body = jrequest("GET", "/v1/stats")
check("stats has the broker's and the gateway's figures", status == 200
      and "sessions" in body["broker"] and "connections" in body["gateway"], body)

# --- errors -------------------------------------------------------------------------------------
E = "/v1/sessions/errs"
status, body = jrequest("POST", "/v1/sessions/bad%20key!/execute", {"code": "1"})
expect_error("an invalid session key", status, body, "BAD_KEY")
status, body = jrequest("POST", E + "/execute", b"{not json",
                        headers={"Content-Type": "application/json"})
expect_error("a body that is not JSON", status, body, "BAD_JSON")
status, body = jrequest("GET", "/v1/nothing")
expect_error("no such route", status, body, "NO_ROUTE")
status, headers, data = request("PATCH", E + "/execute")
check("error METHOD_NOT_ALLOWED answers %d with Allow" % TABLE["METHOD_NOT_ALLOWED"],
      status == TABLE["METHOD_NOT_ALLOWED"] and headers.get("Allow") == "POST"
      and json.loads(data)["error"] == "METHOD_NOT_ALLOWED", (status, headers, data))
status, body = jrequest("POST", E + "/execute", {"code": "1"}, headers={"Accept": "text/html"})
expect_error("Accept: text/html", status, body, "NOT_ACCEPTABLE")
status, body = jrequest("POST", E + "/execute", "code=1", headers={"Content-Type": "text/plain"})
expect_error("a text/plain body", status, body, "UNSUPPORTED_MEDIA_TYPE")
# The answer comes before the body is read: send the headers, read the answer
conn = connection(30)
conn.putrequest("POST", E + "/execute")
conn.putheader("Authorization", "Bearer " + TOKEN)
conn.putheader("Content-Type", "application/json")
conn.putheader("Content-Length", str(2 << 20))
conn.endheaders()
response = conn.getresponse()
expect_error("a body over --max-body (refused before it is sent)", response.status,
             json.loads(response.read()), "TOO_LARGE")
conn.close()
status, body = jrequest("POST", E + "/interrupt")
expect_error("interrupt of a session that never started", status, body, "NO_SUCH_SESSION")
status, body = jrequest("GET", E + "/data/nothing_here")
expect_error("a variable that does not exist", status, body, "NOT_FOUND")
status, body = jrequest("PUT", E + "/data/class?format=csv", "A\n1\n")
expect_error("a keyword as a variable name (the kernel's rule)", status, body, "BAD_REQUEST")
status, body = jrequest("PUT", E + "/data/j?format=json", "{{not json")
expect_error("JSON data that pandas cannot read", status, body, "PYTHON_ERROR")
status, body = jrequest("POST", E + "/execute", {"code": "import time\ntime.sleep(30)",
                                                 "timeout_ms": 300})
expect_error("a cell past timeout_ms", status, body, "TIMEOUT")
status, body = jrequest("POST", E + "/execute", {"code": "import os\nos._exit(3)"})
expect_error("a kernel that exits", status, body, "KERNEL_DIED")
check("KERNEL_DIED says the cause", "exit status 3" in str(body.get("cause")), body)

# INTERRUPTED as JSON, CLOSED for a queued request: a long cell, a second
# request behind it, then interrupt and close from other connections.
answers = {}


def run(key, code):
    answers[key] = jrequest("POST", E + "/execute", {"code": code})


first = threading.Thread(target=run, args=("long", "import time\nwhile True: time.sleep(0.05)"))
first.start()
time.sleep(1.0)
status, body = jrequest("POST", E + "/interrupt")
first.join(30)
expect_error("an interrupted cell (JSON)", *answers.get("long", (0, None)), "INTERRUPTED")
first = threading.Thread(target=run, args=("long", "import time\nwhile True: time.sleep(0.05)"))
second = threading.Thread(target=run, args=("queued", "1"))
first.start()
time.sleep(1.0)
second.start()
time.sleep(0.5)
jrequest("DELETE", E)
first.join(30)
second.join(30)
expect_error("a request queued behind a closed session", *answers.get("queued", (0, None)), "CLOSED")

# QUEUE_FULL (the broker runs with --max-queue 2) and SESSION_LIMIT (--max-sessions 3)
first = threading.Thread(target=run, args=("long", "import time\ntime.sleep(3)"))
first.start()
time.sleep(1.0)
threads = [threading.Thread(target=run, args=("q%d" % i, "1")) for i in range(4)]
for t in threads:
    t.start()
for t in threads + [first]:
    t.join(30)
full = [answers["q%d" % i] for i in range(4) if answers["q%d" % i][0] != 200]
if full:
    expect_error("more requests than max_queue", *full[0], "QUEUE_FULL")
else:
    fail("more requests than max_queue get QUEUE_FULL", [answers["q%d" % i] for i in range(4)])
limit = None
for i in range(5):
    status, body = jrequest("POST", "/v1/sessions/many%d/execute" % i, {"code": "1"})
    if status != 200:
        limit = (status, body)
        break
if limit:
    expect_error("more sessions than max_sessions", *limit, "SESSION_LIMIT")
else:
    fail("more sessions than max_sessions get SESSION_LIMIT")
for i in range(5):
    jrequest("DELETE", "/v1/sessions/many%d" % i)
jrequest("DELETE", E)

# --- metrics ---------------------------------------------------------------------------------------
jrequest("POST", "/v1/sessions/mem/execute", {"code": "1"})
status, _, data = request("GET", "/metrics")
jrequest("DELETE", "/v1/sessions/mem")
text = data.decode()
check("metrics: requests by type and outcome",
      'kmq_http_requests_total{type="execute",outcome="ok"}' in text
      and 'kmq_http_requests_total{type="execute",outcome="TIMEOUT"} 1' in text, text[:400])
check("metrics: a latency histogram",
      'kmq_http_request_duration_seconds_bucket{type="execute",le="+Inf"}' in text)
check("metrics: kernel deaths by cause", 'kmq_kernel_deaths_total{cause="exit"} 1' in text)
check("metrics: memory per session", 'kmq_session_memory_bytes{session="mem"}' in text)
check("metrics: sessions from the broker and refusals by reason",
      "kmq_broker_sessions " in text and 'kmq_http_rejected_total{reason="bad_json"}' in text)
finish()
