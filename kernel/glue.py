"""kernelmq executor glue, run as module _kmq inside the executor.

Only Python semantics live here; framing, the socket and the replies are C
(kernel/executor.c). The one way out besides the reply is
_kmq_io.send_event(mime, payloads), a module the executor creates before
loading this one: it writes a display event for the request in flight
(protocol.md 4.4). Every entry point returns a 4-tuple

    (error, message, fields, payloads)

error     None for an ok reply, else a protocol error name ("PYTHON_ERROR")
message   the error reply's sentence; None when ok
fields    dict of extra header fields: str, int, bool, float, None, and
          lists/dicts of those
payloads  list of bytes, the reply's payload frames in order

A KeyboardInterrupt that escapes an entry point is answered INTERRUPTED by
the C side, so the entry points only catch it where they add something.
"""

import ast
import base64
import binascii
import builtins
import gc
import importlib.abc
import inspect as _pyinspect
import io
import json
import keyword
import linecache
import os
import pkgutil
import re
import shutil
import stat
import sys
import tokenize
import types
import traceback

try:
    import _kmq_io
except ImportError:             # the glue loaded outside an executor (tests)
    _kmq_io = None

#  Frames of this file are stripped from user tracebacks.
_GLUE_FILE = sys._getframe().f_code.co_filename

#  Debian keeps pandas, numpy and matplotlib in dist-packages, which the
#  isolated config leaves off sys.path.
_DIST_PACKAGES = "/usr/lib/python3/dist-packages"
if _DIST_PACKAGES not in sys.path and os.path.isdir(_DIST_PACKAGES):
    sys.path.append(_DIST_PACKAGES)

try:
    import numpy
except Exception:               # noqa: BLE001 -- a kernel without numpy still runs code
    numpy = None
try:
    import pandas
except Exception:               # noqa: BLE001
    pandas = None
#  matplotlib is not pre-imported: it adds ~0.1 s (pyplot ~0.35 s more) to
#  every start. MPLBACKEND=Agg in the environment picks the backend.

_FILE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,254}\Z")
_STDIN_MESSAGE = "stdin is not available in kernelmq: pass data with upload"


class _NoStdin(io.TextIOBase):
    """sys.stdin for an executor: every read fails at once, never blocks."""

    def readable(self):
        return True

    def read(self, size=-1):
        raise OSError(_STDIN_MESSAGE)

    def readline(self, size=-1):
        raise OSError(_STDIN_MESSAGE)

    def readlines(self, hint=-1):
        raise OSError(_STDIN_MESSAGE)

    def fileno(self):
        raise io.UnsupportedOperation(_STDIN_MESSAGE)

    def isatty(self):
        return False


def _no_input(prompt=""):
    raise OSError(_STDIN_MESSAGE)


_STDIN = _NoStdin()
_STDOUT = sys.stdout
_STDERR = sys.stderr


def _install_stdio():
    sys.stdin = _STDIN
    builtins.input = _no_input
    if sys.stdout is None or getattr(sys.stdout, "closed", False):
        sys.stdout = _STDOUT
    if sys.stderr is None or getattr(sys.stderr, "closed", False):
        sys.stderr = _STDERR


_install_stdio()


def _fresh_namespace():
    return {"__name__": "__main__", "__builtins__": builtins}


_ns = _fresh_namespace()
_count = 0


def _ok(fields=None, payloads=None):
    return (None, None, fields or {}, payloads or [])


def _error(code, message, fields=None):
    return (code, message, fields or {}, [])


def _exc_summary(exc):
    """'ZeroDivisionError: division by zero', one line."""
    lines = traceback.format_exception_only(type(exc), exc)
    return (lines[-1] if lines else type(exc).__name__).strip()


def _user_traceback(exc, filename):
    """The formatted traceback lines, starting at the cell's own frame (the
    glue and ast.parse frames above it are ours, not the user's)."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename != filename:
        tb = tb.tb_next
    if tb is None and not isinstance(exc, SyntaxError):
        #  Raised outside the cell's frame (a __repr__ from an earlier cell):
        #  show everything but the glue.
        tb = exc.__traceback__
        while tb is not None and tb.tb_frame.f_code.co_filename == _GLUE_FILE:
            tb = tb.tb_next
    text = "".join(traceback.format_exception(type(exc), exc, tb))
    return text.splitlines()


def _python_error(exc, filename, fields):
    fields = dict(fields)
    fields["ename"] = type(exc).__name__
    fields["evalue"] = str(exc)
    fields["traceback"] = _user_traceback(exc, filename)
    return _error("PYTHON_ERROR", _exc_summary(exc), fields)


def flush():
    """Pushes buffered output into the pipes before a reply is written."""
    for stream in (sys.stdout, sys.stderr, _STDOUT, _STDERR):
        try:
            stream.flush()
        except Exception:       # noqa: BLE001 -- user may have replaced or closed it
            pass


#  --- execute ---------------------------------------------------------


def _compile_cell(code, filename):
    """(statements, last expression or None) compiled from the cell."""
    tree = ast.parse(code, filename, "exec")
    expr = None
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        last = tree.body.pop()
        expr = compile(ast.Expression(last.value), filename, "eval",
                       dont_inherit=True)
    body = compile(tree, filename, "exec", dont_inherit=True)
    return body, expr


def execute(code):
    global _count
    _count += 1
    fields = {"execution_count": _count}
    filename = "<cell-%d>" % _count
    #  Registered before parsing so SyntaxErrors and later calls into
    #  functions of this cell show source lines.
    linecache.cache[filename] = (len(code), None, code.splitlines(True), filename)
    try:
        body, expr = _compile_cell(code, filename)
        exec(body, _ns)
        if expr is None:
            return _ok(fields, [])
        value = eval(expr, _ns)
        if value is None:
            return _ok(fields, [])
        _ns["_"] = value
        text = repr(value)
    except KeyboardInterrupt:
        return _error("INTERRUPTED",
                      "execution was interrupted (KeyboardInterrupt); "
                      "the namespace is kept", fields)
    except BaseException as exc:   # noqa: BLE001 -- SystemExit too: report, never exit
        return _python_error(exc, filename, fields)
    fields["mime"] = ["text/plain"]
    return _ok(fields, [text.encode("utf-8", "backslashreplace")])


#  --- upload / download -----------------------------------------------


def _check_var_name(name):
    if not name.isidentifier() or keyword.iskeyword(name):
        return _error("BAD_REQUEST",
                      "name %r is not a Python identifier: use letters, digits "
                      "and _, not starting with a digit, and not a keyword" % name)
    return None


def _check_file_name(name):
    if not _FILE_NAME.match(name) or name in (".", ".."):
        return _error("BAD_REQUEST",
                      "file name %r is not allowed: use 1-255 of [A-Za-z0-9._-], "
                      "not starting with a dot, no directories" % name)
    return None


def _bad_format(format):
    return _error("BAD_REQUEST",
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


def upload(name, format, data):
    if format == "file":
        bad = _check_file_name(name)
        if bad:
            return bad
        try:
            fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC
                         | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
            with open(fd, "wb") as f:
                f.write(data)
        except OSError as exc:
            fields = {"ename": type(exc).__name__, "evalue": str(exc)}
            return _error("PYTHON_ERROR",
                          "upload %s: could not write the file: %s"
                          % (name, _exc_summary(exc)), fields)
        return _ok({"name": name, "kind": "file", "bytes": len(data)})
    if format not in ("csv", "json"):
        return _bad_format(format)
    bad = _check_var_name(name)
    if bad:
        return bad
    if pandas is None:
        return _error("UNSUPPORTED",
                      "pandas is not installed in this kernel; upload as a file")
    try:
        if format == "csv":
            frame = pandas.read_csv(io.BytesIO(data))
        else:
            frame = _read_json(data)
    except Exception as exc:       # noqa: BLE001 -- any parse failure is the data's
        fields = {"ename": type(exc).__name__, "evalue": str(exc)}
        return _error("PYTHON_ERROR",
                      "upload %s: the bytes are not valid %s: %s"
                      % (name, format, _exc_summary(exc)), fields)
    _ns[name] = frame
    rows, columns = frame.shape
    return _ok({"name": name, "kind": "dataframe", "bytes": len(data),
                "rows": int(rows), "columns": int(columns)})


def _json_default(obj):
    if numpy is not None and isinstance(obj, (numpy.generic, numpy.ndarray)):
        return obj.tolist()
    raise TypeError("Object of type %s is not JSON serializable"
                    % type(obj).__name__)


def _is_default_index(index):
    return (isinstance(index, pandas.RangeIndex) and index.start == 0
            and index.step == 1 and index.name is None)


def _encode_var(name, format, value):
    """bytes of value in format, or a BAD_REQUEST tuple."""
    kind = type(value).__name__
    is_frame = pandas is not None and isinstance(value, pandas.DataFrame)
    is_series = pandas is not None and isinstance(value, pandas.Series)
    if format == "csv":
        if is_frame:
            text = value.to_csv(index=not _is_default_index(value.index))
        elif is_series:
            text = value.to_csv()
        else:
            return _error("BAD_REQUEST",
                          "%s is a %s: csv needs a DataFrame or Series; "
                          "try --format json" % (name, kind))
    elif is_frame:
        text = value.to_json(orient="records")
    elif is_series:
        text = value.to_json()
    else:
        try:
            text = json.dumps(value, default=_json_default)
        except (TypeError, ValueError, RecursionError) as exc:
            return _error("BAD_REQUEST",
                          "%s is a %s and can't be written as json (%s); "
                          "convert it in a cell first" % (name, kind, exc))
    return text.encode("utf-8", "backslashreplace")


def download(name, format):
    if format == "file":
        bad = _check_file_name(name)
        if bad:
            return bad
        try:
            fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except FileNotFoundError:
            return _error("NOT_FOUND",
                          "no file %r in the working directory; "
                          "list it with os.listdir()" % name)
        except OSError as exc:
            return _error("BAD_REQUEST", "download %s: %s" % (name, _exc_summary(exc)))
        try:
            with open(fd, "rb") as f:
                if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                    return _error("BAD_REQUEST",
                                  "%s is not a regular file" % name)
                data = f.read()
        except OSError as exc:
            return _error("BAD_REQUEST", "download %s: %s" % (name, _exc_summary(exc)))
    else:
        if format not in ("csv", "json"):
            return _bad_format(format)
        bad = _check_var_name(name)
        if bad:
            return bad
        if name not in _ns:
            return _error("NOT_FOUND",
                          "no variable %r in the session; check vars" % name)
        data = _encode_var(name, format, _ns[name])
        if isinstance(data, tuple):
            return data
    return _ok({"name": name, "format": format, "bytes": len(data)}, [data])


#  --- reset / vars ------------------------------------------------------


def _empty_cwd():
    """Removes everything in the working directory; returns the failures."""
    def retry(func, path, exc_info):
        try:
            os.chmod(os.path.dirname(path) or ".", 0o700)
            func(path)
        except OSError:
            raise exc_info[1]
    failed = []
    for entry in os.scandir("."):
        try:
            if entry.is_dir(follow_symlinks=False):
                os.chmod(entry.path, 0o700)
                shutil.rmtree(entry.path, onerror=retry)
            else:
                os.unlink(entry.path)
        except OSError as exc:
            failed.append("%s (%s)" % (entry.name, exc.strerror or exc))
    return failed


def reset():
    global _ns, _count
    _ns = _fresh_namespace()
    _count = 0
    _install_stdio()
    sys.stdout, sys.stderr = _STDOUT, _STDERR
    if "matplotlib.pyplot" in sys.modules:
        try:
            sys.modules["matplotlib.pyplot"].close("all")
        except Exception:       # noqa: BLE001
            pass
    failed = _empty_cwd()
    gc.collect()
    if failed:
        return _error("INTERNAL",
                      "reset: the namespace is fresh but the working directory "
                      "could not be emptied: %s" % ", ".join(failed))
    return _ok()


def _describe(name, value):
    entry = {"name": name, "type": type(value).__name__}
    if isinstance(value, type):
        return entry
    try:
        shape = getattr(value, "shape", None)
        if isinstance(shape, tuple) and all(isinstance(n, int) and n >= 0
                                            for n in shape):
            entry["shape"] = [int(n) for n in shape]
            return entry
        if hasattr(type(value), "__len__"):
            size = len(value)
            if size >= 0:
                entry["len"] = int(size)
    except Exception:           # noqa: BLE001 -- user objects may raise anything
        pass
    return entry


def vars():
    listing = []
    for name in sorted(_ns):
        if not isinstance(name, str) or name.startswith("_"):
            continue
        value = _ns[name]
        if isinstance(value, types.ModuleType):
            continue
        listing.append(_describe(name, value))
    return _ok({"vars": listing})


#  Everything imported so far lives as long as the executor: keep it out of
#  the collector's way so a session's first full collection stays cheap.
gc.collect()
gc.freeze()
