"""A DataFrame of about MB megabytes up and down through kernelmq, beside its
in-process anchors measured in the same run.

usage: frame_bench.py ENDPOINT MB REPEATS

The frame has 8 float64/int64 columns, so its size is rows x 64 bytes
(what a numeric 100 MB frame is for pickle and frame alike). Measured, each
the median of REPEATS runs:
- kernelmq, through the Python client (kernelmq): upload and download as
  `frame` (the default) and as csv;
- in process: pickle.dumps and pickle.loads (protocol 5), df.copy() (the
  memory-bandwidth floor), to_csv and read_csv.
Prints one JSON line (seconds; the frame figures also every run's, *_all_s).
"""
import io
import json
import os
import pickle
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                                "client", "python"))
import numpy as np            # noqa: E402
import pandas as pd           # noqa: E402
import kernelmq               # noqa: E402


ALL = {}      # every run's seconds of each kernelmq figure: its worst beside the median


def timed(fn, repeats, name=None):
    times, value = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - start)
    if name:
        ALL[name] = times
    return statistics.median(times), value


def main():
    endpoint, mb, repeats = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
    rows = int(mb * 1e6 / 64)
    rng = np.random.default_rng(7)
    df = pd.DataFrame({f"f{i}": rng.random(rows) for i in range(4)}
                      | {f"i{i}": rng.integers(0, 1 << 40, rows) for i in range(4)})
    out = {"mb": df.memory_usage(index=False).sum() / 1e6, "rows": rows}
    out["pickle_dumps_s"], blob = timed(lambda: pickle.dumps(df, protocol=5), repeats)
    out["pickle_loads_s"], _ = timed(lambda: pickle.loads(blob), repeats)
    del blob
    out["copy_s"], _ = timed(df.copy, repeats)
    out["to_csv_s"], text = timed(lambda: df.to_csv(index=False).encode(), 1)
    out["read_csv_s"], _ = timed(lambda: pd.read_csv(io.BytesIO(text)), 1)
    del text
    with kernelmq.Client(endpoint) as client:
        s = client.session("frame-bench")
        s.run("import pandas as pd")
        out["frame_up_s"], _ = timed(lambda: s.upload("df", df), repeats, "frame_up_all_s")
        out["frame_down_s"], back = timed(lambda: s.download("df"), repeats, "frame_down_all_s")
        if not back.equals(df):
            raise SystemExit("the frame that came back differs")
        del back
        out["csv_up_s"], _ = timed(lambda: s.upload("df", df, format="csv"), 1)
        out["csv_down_s"], _ = timed(lambda: s.download("df", format="csv"), 1)
        s.close()
    out.update(ALL)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
