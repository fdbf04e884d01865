"""upload and download (protocol.md section 5): data into and out of a
session, as DataFrames (csv, json, frame) in its namespace or as files in
its working directory. The frame format (protocol.md section 11) is
kmq_frame's, the one codec the client uses too; a frame upload arrives
from the C side as (description as msgpack bytes, [buffers]).

An upload in parts (protocol.md 5, upload) arrives as its first piece
with the count of pieces and the bytes announced; the rest is read
through _Pieces as the parser (or the file) takes it, so the pieces still
on their way overlap with the parsing. A frame's pieces are read straight
into one buffer, which its `sizes` cut into the frame's buffers.

Contract: upload(session, name, format, data, parts, size) and
download(session, name, format) return (fields, payloads) as the protocol's ok replies; they raise
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

from . import display
from .errors import RequestError, exc_summary
from .libs import json_default, kmq_frame, pandas

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


def _check_frame_format(format, allowed=("csv", "json", "frame")):
    if format not in allowed:
        raise RequestError("BAD_REQUEST",
                           "format %r is not known: use %s or file"
                           % (format, ", ".join(allowed)))


def _read_frame(name, data):
    """The DataFrame of a frame upload; BAD_REQUEST naming what is wrong."""
    description, buffers = data
    try:
        return kmq_frame.decode(kmq_frame.unpack_description(description), buffers)
    except kmq_frame.FrameError as exc:
        raise RequestError("BAD_REQUEST", "upload %s: %s" % (name, exc)) from None


def _frame_reply(name, value):
    """(fields, payloads) of a DataFrame (or Series) in the frame format:
    the description in the header field frame, one payload per buffer."""
    if isinstance(value, pandas.Series):
        value = value.to_frame(value.name if isinstance(value.name, str) else name)
    try:
        description, buffers = kmq_frame.encode(value)
        header = len(kmq_frame.pack_description(description))
    except kmq_frame.FrameError as exc:
        raise RequestError("BAD_REQUEST", "download %s: %s" % (name, exc)) from None
    if len(buffers) > kmq_frame.MAX_BUFFERS:
        raise RequestError("TOO_LARGE",
                           "%s needs %d buffers, more than the %d payload frames a "
                           "frame message may carry: download it as csv, or fewer "
                           "columns at a time" % (name, len(buffers), kmq_frame.MAX_BUFFERS))
    if header > kmq_frame.MAX_DESCRIPTION - 4096:
        raise RequestError("TOO_LARGE",
                           "the description of %s is %d bytes (long column names?), "
                           "more than a header may hold: download it as csv"
                           % (name, header))
    rows, columns = value.shape
    return ({"name": name, "format": "frame", "bytes": sum(len(b) for b in buffers),
             "rows": int(rows), "columns": int(columns), "frame": description},
            list(buffers))


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


class _Pieces(io.RawIOBase):
    """The bytes of an upload in parts, read once: the first piece, then
    each further one as the reader gets to it (_kmq_io.next_part, which
    asks the monitor for the piece after it at once). BAD_REQUEST when the
    pieces hold more bytes than announced, or, at their end, fewer."""

    def __init__(self, name, first, parts, size):
        super().__init__()
        self._name, self._parts, self._size = name, parts, size
        self._piece = memoryview(first)
        self._seen = len(first)
        self._ended = False
        #  What ended the reading (KeyboardInterrupt, a RequestError):
        #  pandas' C parser reports any failed read as its own ParserError,
        #  so upload raises this one instead
        self.failure = None

    def readable(self):
        return True

    def readinto(self, buffer):
        try:
            return self._readinto(buffer)
        except BaseException as exc:
            self.failure = exc
            raise

    def _readinto(self, buffer):
        while not self._piece:
            if self._ended:
                return 0
            piece = display.next_part()
            if not piece:
                self._ended = True
                self._check(self._seen == self._size)
                return 0
            self._seen += len(piece)
            self._check(self._seen <= self._size)
            self._piece = memoryview(piece)
        count = min(len(buffer), len(self._piece))
        buffer[:count] = self._piece[:count]
        self._piece = self._piece[count:]
        return count

    def _check(self, holds):
        if not holds:
            raise RequestError("BAD_REQUEST",
                               "upload %s: its %d pieces held %s bytes, and it announced %d; "
                               "send bytes equal to the total of the pieces"
                               % (self._name, self._parts,
                                  "more than %d" % self._size if self._seen > self._size
                                  else "%d" % self._seen, self._size))


def _write_file(name, data):
    """data: bytes, or a _Pieces stream written as its pieces come."""
    _check_file_name(name)
    size = 0
    try:
        fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC
                     | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        with open(fd, "wb") as f:
            if isinstance(data, bytes):
                size = f.write(data)
            else:
                while True:
                    chunk = data.read(1 << 20)
                    if not chunk:
                        break
                    size += f.write(chunk)
    except OSError as exc:
        fields = {"ename": type(exc).__name__, "evalue": str(exc)}
        raise RequestError("PYTHON_ERROR",
                           "upload %s: could not write the file: %s"
                           % (name, exc_summary(exc)), fields) from None
    return {"name": name, "kind": "file", "bytes": size}


def _frame_buffers(pieces, sizes, size):
    """A frame upload in parts: its pieces read straight into one buffer of
    size bytes, then cut into the frame's buffers as sizes says (the codec
    checked they add up to size)."""
    whole = memoryview(bytearray(size))
    at = 0
    while at < size:
        count = pieces.readinto(whole[at:])
        if not count:
            break               # fewer bytes: _Pieces raised BAD_REQUEST
        at += count
    pieces.readinto(bytearray(1))   # their end: more bytes raise BAD_REQUEST
    buffers, at = [], 0
    for length in sizes:
        buffers.append(whole[at:at + length])
        at += length
    return buffers


def upload(session, name, format, data, parts=1, size=0):
    """The bytes as file name, or parsed into DataFrame name. A frame
    upload's data is (description, buffers), in parts (description,
    [piece 0], sizes)."""
    pieces = None
    if parts > 1 and format == "frame":
        pieces = _Pieces(name, data[1][0], parts, size)
    elif parts > 1:
        pieces = _Pieces(name, data, parts, size)
        data = io.BufferedReader(pieces, 1 << 20)
    else:
        size = sum(len(b) for b in data[1]) if format == "frame" else len(data)
    display.send_input("upload", {"name": name, "format": format, "bytes": size})
    if format == "file":
        return _write_file(name, data), []
    _check_frame_format(format)
    _check_var_name(name)
    if pandas is None:
        raise RequestError("UNSUPPORTED",
                           "pandas is not installed in this kernel; upload as a file")
    if format == "frame":
        if kmq_frame is None:
            raise RequestError("UNSUPPORTED", "this kernel has no frame codec; "
                               "upload as csv")
        if pieces is not None:
            data = (data[0], _frame_buffers(pieces, data[2], size))
        frame = _read_frame(name, data)
        session.namespace[name] = frame
        rows, columns = frame.shape
        return {"name": name, "kind": "dataframe", "bytes": size,
                "rows": int(rows), "columns": int(columns)}, []
    try:
        if format == "csv":
            frame = pandas.read_csv(data if parts > 1 else io.BytesIO(data))
        else:
            frame = _read_json(data.read() if parts > 1 else data)
        if parts > 1:
            data.read()             # the pieces' end, and their count checked
    except Exception as exc:       # noqa: BLE001 -- any parse failure is the data's
        if pieces is not None and pieces.failure is not None:
            raise pieces.failure from None
        if isinstance(exc, RequestError):
            raise
        fields = {"ename": type(exc).__name__, "evalue": str(exc)}
        raise RequestError("PYTHON_ERROR",
                           "upload %s: the bytes are not valid %s: %s"
                           % (name, format, exc_summary(exc)), fields) from None
    session.namespace[name] = frame
    rows, columns = frame.shape
    return {"name": name, "kind": "dataframe", "bytes": size,
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


def _is_tabular(value):
    return pandas is not None and isinstance(value, (pandas.DataFrame, pandas.Series))


#  A frame reply from this size on goes in pieces of DOWNLOAD_PIECE bytes
#  when the client takes it in parts (protocol.md 5, download): every hop
#  then passes one on while the next is on its way. The upload's figures.
DOWNLOAD_PIECE = 1 << 20
DOWNLOAD_IN_PARTS_MIN = 4 * DOWNLOAD_PIECE


def _in_parts(fields, payloads):
    """A frame reply sent as `part` events (pieces of the buffers one after
    the other, none spanning two, none empty): the reply's fields then say
    parts and sizes, and it carries no payload. As it was when it is small,
    over max_payload in all, or the executor cannot send a part."""
    views = [memoryview(payload).cast("B") for payload in payloads]
    sizes = [len(view) for view in views]
    if not DOWNLOAD_IN_PARTS_MIN <= sum(sizes) <= display.max_payload():
        return fields, payloads     # over it, each buffer is checked alone
    #  sizes (9 bytes each at most) must not push the header over its cap
    header = len(kmq_frame.pack_description(fields["frame"])) + 9 * len(sizes)
    if header > kmq_frame.MAX_DESCRIPTION - 4096:
        return fields, payloads
    part = 0
    for view in views:
        for at in range(0, len(view), DOWNLOAD_PIECE):
            if not display.send_part(part, view[at:at + DOWNLOAD_PIECE]):
                return fields, payloads     # nothing was sent: nothing in flight
            part += 1
    return dict(fields, parts=part, sizes=sizes), []


def download(session, name, format, in_parts=False):
    """The bytes of file name, or of variable name in format. Format auto
    is frame for a DataFrame or Series and json for anything else; the
    reply's format says which. in_parts: the client takes a big frame
    reply in parts."""
    if format == "file":
        data = _read_file(name)
        return {"name": name, "format": format, "bytes": len(data)}, [data]
    _check_frame_format(format, ("csv", "json", "frame", "auto"))
    _check_var_name(name)
    if name not in session.namespace:
        raise RequestError("NOT_FOUND",
                           "no variable %r in the session; check vars" % name)
    value = session.namespace[name]
    if format == "auto":
        format = "frame" if _is_tabular(value) and kmq_frame is not None else "json"
    if format == "frame":
        if not _is_tabular(value) or kmq_frame is None:
            raise RequestError("BAD_REQUEST",
                               "%s is a %s: frame needs a DataFrame or Series; "
                               "try --format json" % (name, type(value).__name__))
        fields, payloads = _frame_reply(name, value)
        return _in_parts(fields, payloads) if in_parts else (fields, payloads)
    data = _encode_var(name, format, value)
    return {"name": name, "format": format, "bytes": len(data)}, [data]
