#!/usr/bin/python3
"""Interleaved A/B of the upload (and download) of one CSV: two brokers,
A and B, each with its own bin directory; per round the in-process
read_csv, then A and B (order alternating). NODOWN=1 skips the downloads.
usage: upload_ab.py BIN_A BIN_B CSV ROUNDS (a CSV from inproc.py gen)"""
import io, os, socket, statistics, subprocess, sys, time, uuid
import pandas as pd
_src = open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "kmq_bench.py")).read().rsplit("\nmain()", 1)[0]
_ns = {"__file__": os.path.join(os.path.dirname(os.path.abspath(__file__)), "kmq_bench.py"), "__name__": "kmq_bench"}
exec(compile(_src, "kmq_bench.py", "exec"), _ns)
Client = _ns["Client"]

def port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p

def start(bin_dir, tag):
    ep = "tcp://127.0.0.1:%d" % port()
    rt = os.path.join(os.environ.get("TMPDIR", "/tmp"), "kmq-upload-ab-%s.rt" % tag)
    log = open(os.path.join(os.environ.get("TMPDIR", "/tmp"), "kmq-upload-ab-%s.log" % tag), "w")
    p = subprocess.Popen([bin_dir + "/kmq-broker", "--frontend", ep, "--runtime-dir", rt],
                         stdout=log, stderr=log)
    for _ in range(100):
        if subprocess.run([bin_dir + "/kmq", "-e", ep, "stats"], capture_output=True).returncode == 0:
            return p, ep
        time.sleep(0.1)
    raise SystemExit("broker %s did not start" % tag)

bin_a, bin_b, path, rounds = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
data = open(path, "rb").read()
procs, sides = [], {}
try:
    for tag, b in (("A", bin_a), ("B", bin_b)):
        p, ep = start(b, tag); procs.append(p)
        c = Client(ep); s = "ab-" + uuid.uuid4().hex[:8]
        c.ok({"type": "execute", "session": s}, [b"import pandas as pd"])
        sides[tag] = (c, s)
    res = {k: [] for k in ("inproc", "upA", "upB", "downA", "downB")}
    for r in range(rounds):
        t = time.perf_counter(); df = pd.read_csv(io.BytesIO(data)); res["inproc"].append(time.perf_counter() - t); del df
        for tag in (("A", "B") if r % 2 == 0 else ("B", "A")):
            c, s = sides[tag]
            t = time.perf_counter()
            c.ok({"type": "upload", "session": s, "name": "df", "format": "csv"}, [data], timeout_s=120)
            res["up" + tag].append(time.perf_counter() - t)
            if os.environ.get("NODOWN"): res["down" + tag].append(0.0); continue
            t = time.perf_counter()
            _, fr = c.ok({"type": "download", "session": s, "name": "df", "format": "csv"}, timeout_s=120)
            res["down" + tag].append(time.perf_counter() - t); del fr
        print("round %d: inproc %.3f  A %.3f (%.2fx)  B %.3f (%.2fx)  downA %.3f downB %.3f" % (
            r, res["inproc"][-1], res["upA"][-1], res["upA"][-1] / res["inproc"][-1],
            res["upB"][-1], res["upB"][-1] / res["inproc"][-1], res["downA"][-1], res["downB"][-1]), flush=True)
    m = {k: statistics.median(v) for k, v in res.items()}
    ra = statistics.median([a / i for a, i in zip(res["upA"], res["inproc"])])
    rb = statistics.median([b / i for b, i in zip(res["upB"], res["inproc"])])
    print("bytes %d; median inproc %.3f s; upload A %.3f s (%.2fx), B %.3f s (%.2fx); "
          "download A %.3f s, B %.3f s" % (len(data), m["inproc"], m["upA"], ra, m["upB"], rb,
                                           m["downA"], m["downB"]))
finally:
    for tag in sides:
        c, s = sides[tag]
        try: c.request({"type": "close", "session": s}, timeout_s=10)
        except Exception: pass
    for p in procs:
        p.terminate()
        try: p.wait(10)
        except Exception: p.kill()
