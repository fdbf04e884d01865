"""How values cross the wire for upload() and download().

DataFrames travel in `frame` (protocol.md section 11): a msgpack
description in the header and one raw payload per column buffer, encoded
and decoded by the project's one codec, common/kmq_frame.py (this
package's _frame module), which validates every field and length of what
a hostile kernel sends and never unpickles or evaluates anything. Column
dtypes, the index, datetimes with their time zone, categoricals and
pandas' nullable dtypes all come back as they were.

download(name) asks for format "auto": the kernel answers in `frame` for
a DataFrame or Series and in `json` for any other value, and says which.

pandas (and the codec, which needs it) is imported only when a DataFrame
is involved: importing it costs about half a second, and a client that
only runs code never needs it.
"""
from __future__ import annotations

import json
import os
import sys
from typing import Any, Dict, List, Tuple

FORMATS = ("csv", "json", "file", "frame")


def is_dataframe(value: Any) -> bool:
    """True for a pandas DataFrame (without importing pandas)."""
    pandas = sys.modules.get("pandas")
    return pandas is not None and isinstance(value, pandas.DataFrame)


def dataframe_payloads(frame: Any, format: str = "frame"
                       ) -> Tuple[str, List[Any], Dict[str, Any]]:
    """(format, payloads, extra header fields) that carry frame to the
    kernel. The frame format's buffers are views of the DataFrame's own
    memory where pandas holds them contiguous: nothing is copied here."""
    if format == "frame":
        from . import _frame
        description, buffers = _frame.encode(frame)
        return "frame", list(buffers), {"frame": description}
    if format == "json":
        text = frame.to_json(orient="split", index=False, date_format="iso",
                             date_unit="ns", double_precision=15)
        return "json", [text.encode("utf-8")], {}
    if format == "csv":
        return "csv", [frame.to_csv(index=False).encode("utf-8")], {}
    raise ValueError("no DataFrame encoding for format %r: use frame, csv or json" % format)


def upload_payloads(name: str, data: Any, format: str | None
                    ) -> Tuple[str, str, List[Any], Dict[str, Any]]:
    """(name, format, payloads, extra header fields) for Session.upload.
    data is a DataFrame (sent as frame unless format says otherwise), bytes,
    or a path (str or os.PathLike) whose file is read here. Bytes go as a
    file unless format says otherwise; so does a path, except that a .csv,
    .json or .kmqf path uploaded under a Python identifier ("df") becomes a
    DataFrame."""
    if is_dataframe(data):
        return (name,) + dataframe_payloads(data, format or "frame")
    if isinstance(data, (str, os.PathLike)):
        path = os.fspath(data)
        if format is None and name.isidentifier():
            suffix = os.path.splitext(path)[1].lower()
            format = {".csv": "csv", ".json": "json", ".kmqf": "frame"}.get(suffix)
        with open(path, "rb") as f:
            data = f.read()
    elif isinstance(data, (bytearray, memoryview)):
        data = bytes(data)
    elif not isinstance(data, bytes):
        raise TypeError("upload takes a DataFrame, bytes or a path, not %s"
                        % type(data).__name__)
    format = format or "file"
    if format not in FORMATS:
        raise ValueError("format %r is not known: use csv, json, frame or file" % format)
    if format == "frame":
        #  A .kmqf file's bytes: checked here before anything is sent
        from . import _frame
        description, buffers = _frame.from_kmqf(data)
        return name, "frame", list(buffers), {"frame": description}
    return name, format, [data], {}


#  An upload bigger than this goes in pieces of UPLOAD_PIECE bytes, so the
#  kernel parses the first while the rest travel (protocol.md 5, upload).
#  1 MiB: measured as fast as 4 MiB (bench/NOTES.md 5) and a small
#  buffer at every hop.
UPLOAD_PIECE = 1 << 20
UPLOAD_IN_PARTS_MIN = 4 * UPLOAD_PIECE


def upload_pieces(format: str, payloads: List[Any]) -> List[memoryview]:
    """The pieces of an upload sent in parts: views of its one payload, or
    of a frame's buffers one after the other (none spans two, none is
    empty); [] when it goes as one message, as small uploads do."""
    views = [memoryview(payload).cast("B") for payload in payloads]
    if (format != "frame" and len(views) != 1) or \
            sum(len(view) for view in views) < UPLOAD_IN_PARTS_MIN:
        return []
    return [view[at:at + UPLOAD_PIECE] for view in views
            for at in range(0, len(view), UPLOAD_PIECE)]


def download_format(format: str | None) -> str:
    """The wire format for Session.download(name, format)."""
    if format is None:
        return "auto"
    if format not in FORMATS:
        raise ValueError("format %r is not known: use csv, json, frame or file" % format)
    return format


def join_pieces(pieces: List[Any], parts: Any, sizes: Any, size: Any) -> List[memoryview]:
    """A frame reply in parts: its pieces ((part, bytes) as they came)
    joined into one buffer, cut into the frame's buffers as sizes says.
    ValueError when they are not what the reply announced (pieces sent
    while the broker restarted are lost)."""
    if not isinstance(sizes, list) or sum(sizes) != size:
        raise ValueError("its sizes %r do not add up to its %r bytes" % (sizes, size))
    if [part for part, _ in pieces] != list(range(len(pieces))):
        raise ValueError("its pieces came out of order: %r"
                         % [part for part, _ in pieces][:20])
    held = sum(len(piece) for _, piece in pieces)
    if len(pieces) != parts or held != size:
        raise ValueError("%d of its %s pieces came, %d of its %s bytes (pieces sent while "
                         "the broker restarted are not sent again): download it again"
                         % (len(pieces), parts, held, size))
    whole = memoryview(bytearray(held))
    at = 0
    for _, piece in pieces:
        whole[at:at + len(piece)] = piece
        at += len(piece)
    pieces.clear()                      # their memory goes back before decoding
    buffers, at = [], 0
    for length in sizes:
        buffers.append(whole[at:at + length])
        at += length
    return buffers


def download_value(asked: str | None, answered: str, header: Dict[str, Any],
                   payloads: List[bytes]) -> Any:
    """What download() returns: a DataFrame for a frame reply; the raw
    bytes when the caller asked for csv, json or file; otherwise (auto gave
    json) the variable's JSON value."""
    if answered == "frame":
        from . import _frame
        return _frame.decode(header.get("frame"), payloads)
    if len(payloads) != 1:
        raise ValueError("a %s download reply carries one payload, this one %d"
                         % (answered, len(payloads)))
    if asked is not None:
        return payloads[0]
    return json.loads(payloads[0].decode("utf-8"))
