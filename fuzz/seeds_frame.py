"""Seeds of the frame_kmqf harness: small DataFrames of every kind the frame
format carries (protocol.md 11.2), as .kmqf files written by the real
encoder, common/kmq_frame.py. Each seed is one file, DIR/seed-LABEL.

Usage: /usr/bin/python3 fuzz/seeds_frame.py DIR     (`make fuzz-seeds`)
"""
import os
import sys

import numpy
import pandas

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
import kmq_frame  # noqa: E402  (beside the repository's C side, not installed)


def frames():
    """(label, DataFrame) pairs, a few rows each so the seeds stay small."""
    yield "numeric", pandas.DataFrame({
        "i8": numpy.array([1, -2, 3], dtype="int8"),
        "u16": numpy.array([1, 2, 65535], dtype="uint16"),
        "i64": [1, 2, 3],
        "f32": numpy.array([0.5, numpy.nan, -1.0], dtype="float32"),
        "f64": [0.1, float("inf"), 1e20],
        "b": [True, False, True]})
    yield "masked", pandas.DataFrame({
        "n": pandas.array([1, None, 3], dtype="Int64"),
        "u": pandas.array([None, 7, 8], dtype="UInt8"),
        "f": pandas.array([0.5, None, 2.0], dtype="Float64"),
        "ok": pandas.array([True, None, False], dtype="boolean")})
    yield "strings", pandas.DataFrame({
        "s": ["a", None, "žluť"],
        "t": pandas.array(["x", None, "y,\"z\"\n"], dtype="string")},
        index=["r1", "r2", "r3"])
    yield "categorical", pandas.DataFrame({
        "c": pandas.Categorical(["x", "y", "x", None]),
        "o": pandas.Categorical([3, 1, 2, 1], categories=[1, 2, 3], ordered=True)})
    yield "datetime", pandas.DataFrame({
        "when": pandas.to_datetime(["2024-03-01 12:00:00.5", None, "1969-12-31"]),
        "utc": pandas.to_datetime(["2024-03-01", "2024-03-02", None]).tz_localize("UTC"),
        "paris": pandas.to_datetime(["2024-03-01", None, None]).tz_localize("Europe/Paris"),
        "took": pandas.to_timedelta(["1 days 02:03:04.5", None, "-1s"])})
    yield "range-index", pandas.DataFrame({"x": [1.5, 2.5]},
                                          index=pandas.RangeIndex(10, 30, 10, name="k"))
    yield "int-index", pandas.DataFrame({"x": ["a", "b"]},
                                        index=pandas.Index([5, 7], name="id"))
    yield "datetime-index", pandas.DataFrame(
        {"v": [1, 2]}, index=pandas.to_datetime(["2024-01-01", "2024-01-02"]))
    yield "empty", pandas.DataFrame({"a": pandas.Series([], dtype="int64")})
    yield "no-columns", pandas.DataFrame(index=pandas.RangeIndex(3))
    yield "repeated-names", pandas.DataFrame([[1, 2]], columns=["a", "a"])


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: seeds_frame.py DIR")
    os.makedirs(sys.argv[1], exist_ok=True)
    for label, df in frames():
        data = kmq_frame.to_kmqf(df)
        kmq_frame.from_kmqf(data)       # the encoder's own check of its output
        with open(os.path.join(sys.argv[1], "seed-" + label), "wb") as out:
            out.write(data)


if __name__ == "__main__":
    main()
