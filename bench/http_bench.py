#!/usr/bin/python3
"""kmq-http's figures for `make bench`, beside the ZeroMQ clients of the
same run: the execute round trip (x = 1) over one keep-alive connection,
and executes per second with one connection per session, each sending one
request at a time (HTTP/1.1 has no pipelining the gateway uses), with the
median / p99 of those requests' latency under that load.
Each mode prints one JSON line.

usage: http_bench.py rtt URL CALLS
       http_bench.py load URL CONNECTIONS SECONDS
"""
import http.client
import json
import statistics
import sys
import threading
import time
import urllib.parse
import uuid



def latency(ms):
    """The same keys as kmq_bench.py's figures (it runs on import, so not imported)."""
    ms.sort()
    return dict(calls=len(ms), median_ms=statistics.median(ms), min_ms=ms[0], max_ms=ms[-1],
                p99_ms=ms[min(len(ms) - 1, int(len(ms) * 0.99))])

BODY = json.dumps({"code": "x = 1"})


def connect(url):
    parts = urllib.parse.urlsplit(url)
    return http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)


def execute(conn, session):
    conn.request("POST", "/v1/sessions/%s/execute" % session, body=BODY,
                 headers={"Content-Type": "application/json"})
    response = conn.getresponse()
    data = response.read()
    if response.status != 200:
        raise RuntimeError("execute answered %d: %s" % (response.status, data[:200]))


def close(conn, session):
    conn.request("DELETE", "/v1/sessions/" + session)
    conn.getresponse().read()


def mode_rtt(url, calls):
    conn = connect(url)
    session = "bench-http-" + uuid.uuid4().hex[:8]
    for _ in range(calls // 10 + 1):
        execute(conn, session)
    times = []
    for _ in range(calls):
        t = time.perf_counter()
        execute(conn, session)
        times.append((time.perf_counter() - t) * 1000)
    close(conn, session)
    return latency(times)


def mode_load(url, connections, seconds):
    sessions = ["bench-hl%d-%s" % (i, uuid.uuid4().hex[:6]) for i in range(connections)]
    conns = [connect(url) for _ in sessions]
    for conn, session in zip(conns, sessions):
        execute(conn, session)                      # every kernel first
    counts = [0] * connections
    lats = [[] for _ in range(connections)]       # (done at, ms) of every request
    errors = []
    start = threading.Event()
    stop = threading.Event()

    def worker(i):
        start.wait()
        try:
            while not stop.is_set():
                t = time.perf_counter()
                execute(conns[i], sessions[i])
                done = time.perf_counter()
                lats[i].append((done, (done - t) * 1000))
                counts[i] += 1
        except Exception as e:  # noqa: BLE001 (reported, not raised, from a thread)
            errors.append(repr(e))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(connections)]
    for t in threads:
        t.start()
    start.set()
    time.sleep(0.5)
    counted, t0 = sum(counts), time.perf_counter()
    time.sleep(seconds)
    done, elapsed = sum(counts), time.perf_counter() - t0
    stop.set()
    for t in threads:
        t.join(30)
    for conn, session in zip(conns, sessions):
        close(conn, session)
    counted_ms = [ms for per in lats for at, ms in per if t0 <= at <= t0 + elapsed]
    return {"connections": connections, "replies": done - counted, "seconds": elapsed,
            "rate": (done - counted) / elapsed, "errors": len(errors),
            "latency": latency(counted_ms) if counted_ms else None}


def main():
    mode, url = sys.argv[1], sys.argv[2]
    if mode == "rtt":
        out = mode_rtt(url, int(sys.argv[3]))
    elif mode == "load":
        out = mode_load(url, int(sys.argv[3]), float(sys.argv[4]))
    else:
        raise SystemExit(__doc__)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
