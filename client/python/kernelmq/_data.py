"""How values cross the wire for upload() and download().

One function chooses how a DataFrame travels, so that switching to the
`frame` format (common/kmq_frame.py, being specified) is a change of
DATAFRAME_FORMAT here and nothing else. Until then DataFrames go up as JSON
in pandas' "split" layout without the index (the kernel's read_json takes
it, and integer columns stay int64) and come down as the JSON records that
protocol.md gives for a DataFrame variable.

pandas is imported only when a DataFrame is involved: importing it costs
about half a second, and a client that only runs code never needs it.
"""
from __future__ import annotations

import json
import os
import sys
from typing import Any, List, Tuple

#  The one switch: "json" today, "frame" once common/kmq_frame.py lands.
DATAFRAME_FORMAT = "json"

FORMATS = ("csv", "json", "file")


def is_dataframe(value: Any) -> bool:
    """True for a pandas DataFrame (without importing pandas)."""
    pandas = sys.modules.get("pandas")
    return pandas is not None and isinstance(value, pandas.DataFrame)


def dataframe_payloads(frame: Any, format: str = DATAFRAME_FORMAT) -> Tuple[str, List[bytes]]:
    """(format, payloads) that carry frame to the kernel."""
    if format == "json":
        text = frame.to_json(orient="split", index=False, date_format="iso",
                             date_unit="ns", double_precision=15)
        return "json", [text.encode("utf-8")]
    if format == "csv":
        return "csv", [frame.to_csv(index=False).encode("utf-8")]
    raise ValueError("no DataFrame encoding for format %r" % format)


def upload_payloads(name: str, data: Any, format: str | None) -> Tuple[str, str, List[bytes]]:
    """(name, format, payloads) for Session.upload. data is a DataFrame,
    bytes, or a path (str or os.PathLike) whose file is read here. Bytes go
    as a file unless format says otherwise; so does a path, except that a
    .csv or .json path uploaded under a Python identifier ("df") becomes a
    DataFrame."""
    if is_dataframe(data):
        if format in (None, DATAFRAME_FORMAT):
            return (name,) + dataframe_payloads(data)
        return (name,) + dataframe_payloads(data, format)
    if isinstance(data, (str, os.PathLike)):
        path = os.fspath(data)
        if format is None and name.isidentifier():
            suffix = os.path.splitext(path)[1].lower()
            format = {".csv": "csv", ".json": "json"}.get(suffix)
        with open(path, "rb") as f:
            data = f.read()
    elif isinstance(data, (bytearray, memoryview)):
        data = bytes(data)
    elif not isinstance(data, bytes):
        raise TypeError("upload takes a DataFrame, bytes or a path, not %s"
                        % type(data).__name__)
    format = format or "file"
    if format not in FORMATS:
        raise ValueError("format %r is not known: use csv, json or file" % format)
    return name, format, [data]


def download_format(format: str | None) -> str:
    """The wire format for Session.download(name, format)."""
    if format is None:
        return DATAFRAME_FORMAT
    if format not in FORMATS:
        raise ValueError("format %r is not known: use csv, json or file" % format)
    return format


def download_value(format: str | None, payload: bytes) -> Any:
    """What download() returns: the raw bytes when a format was asked for;
    otherwise a DataFrame for a DataFrame variable (JSON records), or the
    variable's JSON value for anything else."""
    if format is not None:
        return payload
    value = json.loads(payload.decode("utf-8"))
    if isinstance(value, list) and value and all(isinstance(row, dict) for row in value):
        import pandas
        # Not read_json: it turns integral floats into ints. JSON's own kinds
        # give int64, float64, bool and object columns.
        return pandas.DataFrame(value)
    return value
