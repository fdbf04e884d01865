"""upload and download (protocol.md section 5): data into and out of a
session, as DataFrames (csv, json) in its namespace or as files in its
working directory.

Contract: upload(session, name, format, data) and download(session, name,
format) return (fields, payloads) as the protocol's ok replies; they raise
RequestError BAD_REQUEST (bad name or format, a value that can't be
written in that format), NOT_FOUND (no such variable or file),
PYTHON_ERROR (bytes that do not parse, a file that can't be written) or
UNSUPPORTED (no pandas). Files are only ever opened in the working
directory, by a name without directories, never through a symlink.
"""

import io
import json
import keyword
import os
import re
import stat

from .errors import RequestError, exc_summary
from .libs import json_default, pandas

_FILE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,254}\Z")


def _check_var_name(name):
    if not name.isidentifier() or keyword.iskeyword(name):
        raise RequestError("BAD_REQUEST",
                           "name %r is not a Python identifier: use letters, digits "
                           "and _, not starting with a digit, and not a keyword" % name)


def _check_file_name(name):
    if not _FILE_NAME.match(name) or name in (".", ".."):
        raise RequestError("BAD_REQUEST",
                           "file name %r is not allowed: use 1-255 of [A-Za-z0-9._-], "
                           "not starting with a dot, no directories" % name)


def _check_frame_format(format):
    if format not in ("csv", "json"):
        raise RequestError("BAD_REQUEST",
                           "format %r is not known: use csv, json or file" % format)


def _read_json(data):
    """DataFrame from JSON in records, columns or split layout."""
    text = io.StringIO(data.decode("utf-8"))
    head = data.lstrip()[:1]
    if head == b"[":
        return pandas.read_json(text, orient="records")
    if head == b"{":
        try:
            return pandas.read_json(text, orient="split")
        except ValueError:
            text.seek(0)
    return pandas.read_json(text, orient="columns")


def _write_file(name, data):
    _check_file_name(name)
    try:
        fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC
                     | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        with open(fd, "wb") as f:
            f.write(data)
    except OSError as exc:
        fields = {"ename": type(exc).__name__, "evalue": str(exc)}
        raise RequestError("PYTHON_ERROR",
                           "upload %s: could not write the file: %s"
                           % (name, exc_summary(exc)), fields) from None
    return {"name": name, "kind": "file", "bytes": len(data)}


def upload(session, name, format, data):
    """The bytes as file name, or parsed into DataFrame name."""
    if format == "file":
        return _write_file(name, data), []
    _check_frame_format(format)
    _check_var_name(name)
    if pandas is None:
        raise RequestError("UNSUPPORTED",
                           "pandas is not installed in this kernel; upload as a file")
    try:
        if format == "csv":
            frame = pandas.read_csv(io.BytesIO(data))
        else:
            frame = _read_json(data)
    except Exception as exc:       # noqa: BLE001 -- any parse failure is the data's
        fields = {"ename": type(exc).__name__, "evalue": str(exc)}
        raise RequestError("PYTHON_ERROR",
                           "upload %s: the bytes are not valid %s: %s"
                           % (name, format, exc_summary(exc)), fields) from None
    session.namespace[name] = frame
    rows, columns = frame.shape
    return {"name": name, "kind": "dataframe", "bytes": len(data),
            "rows": int(rows), "columns": int(columns)}, []


def _is_default_index(index):
    return (isinstance(index, pandas.RangeIndex) and index.start == 0
            and index.step == 1 and index.name is None)


def _encode_var(name, format, value):
    """bytes of value in format; raises BAD_REQUEST when it can't be."""
    kind = type(value).__name__
    is_frame = pandas is not None and isinstance(value, pandas.DataFrame)
    is_series = pandas is not None and isinstance(value, pandas.Series)
    if format == "csv":
        if is_frame:
            text = value.to_csv(index=not _is_default_index(value.index))
        elif is_series:
            text = value.to_csv()
        else:
            raise RequestError("BAD_REQUEST",
                               "%s is a %s: csv needs a DataFrame or Series; "
                               "try --format json" % (name, kind))
    elif is_frame:
        text = value.to_json(orient="records")
    elif is_series:
        text = value.to_json()
    else:
        try:
            text = json.dumps(value, default=json_default)
        except (TypeError, ValueError, RecursionError) as exc:
            raise RequestError("BAD_REQUEST",
                               "%s is a %s and can't be written as json (%s); "
                               "convert it in a cell first" % (name, kind, exc)) from None
    return text.encode("utf-8", "backslashreplace")


def _read_file(name):
    _check_file_name(name)
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        raise RequestError("NOT_FOUND",
                           "no file %r in the working directory; "
                           "list it with os.listdir()" % name) from None
    except OSError as exc:
        raise RequestError("BAD_REQUEST",
                           "download %s: %s" % (name, exc_summary(exc))) from None
    try:
        with open(fd, "rb") as f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                raise RequestError("BAD_REQUEST", "%s is not a regular file" % name)
            return f.read()
    except OSError as exc:
        raise RequestError("BAD_REQUEST",
                           "download %s: %s" % (name, exc_summary(exc))) from None


def download(session, name, format):
    """The bytes of file name, or of variable name in format."""
    if format == "file":
        data = _read_file(name)
    else:
        _check_frame_format(format)
        _check_var_name(name)
        if name not in session.namespace:
            raise RequestError("NOT_FOUND",
                               "no variable %r in the session; check vars" % name)
        data = _encode_var(name, format, session.namespace[name])
    return {"name": name, "format": format, "bytes": len(data)}, [data]
