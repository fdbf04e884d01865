#!/usr/bin/python3
"""The in-process pandas anchors for the upload/download benchmark.

usage:
  inproc.py gen PATH MB        writes a deterministic CSV of about MB megabytes
  inproc.py csv PATH REPEATS   pandas.read_csv from memory (io.BytesIO) and
                               DataFrame.to_csv(index=False), median seconds
"""
import io, json, signal, statistics, sys, time

import numpy as np
import pandas as pd


def on_term(signum, frame):
    raise SystemExit(1)


signal.signal(signal.SIGTERM, on_term)


def frame(rows, seed=5):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "id": np.arange(rows, dtype=np.int64),
        "a": rng.random(rows).round(6),
        "b": rng.normal(100, 15, rows).round(4),
        "c": rng.random(rows).round(8),
        "cat": rng.choice(np.array(["alpha", "beta", "gamma", "delta"]), rows),
        "n": rng.integers(0, 1_000_000, rows),
    })


def gen(path, mb):
    # An int id, three floats, a short category, an int; the row count is
    # sized from a sample so the file is about mb * 10^6 bytes.
    sample = len(frame(10_000).to_csv(index=False).encode()) / 10_000
    rows = int(mb * 1_000_000 / sample)
    frame(rows).to_csv(path, index=False)
    with open(path, "rb") as f:
        size = len(f.read())
    return {"path": path, "bytes": size, "rows": rows}


def csv(path, repeats):
    with open(path, "rb") as f:
        data = f.read()
    reads, writes = [], []
    for _ in range(repeats):
        t = time.perf_counter()
        df = pd.read_csv(io.BytesIO(data))
        reads.append(time.perf_counter() - t)
        t = time.perf_counter()
        out = df.to_csv(index=False).encode()
        writes.append(time.perf_counter() - t)
        del df
    return {"bytes": len(data), "read_csv_s": statistics.median(reads),
            "read_all_s": reads, "to_csv_s": statistics.median(writes),
            "to_csv_all_s": writes, "to_csv_bytes": len(out)}


def main():
    mode, args = sys.argv[1], sys.argv[2:]
    if mode == "gen":
        out = gen(args[0], float(args[1]))
    elif mode == "csv":
        out = csv(args[0], int(args[1]))
    else:
        sys.exit(__doc__)
    print(json.dumps(out))


main()
