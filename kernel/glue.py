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
try:
    #  common/kmq_frame.py: the executor loads it from its own binary first
    import kmq_frame
except Exception:               # noqa: BLE001 -- it needs numpy and pandas
    kmq_frame = None
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


#  --- rich display (protocol.md 4.3) ------------------------------------

#  (mime, method) in bundle order; text ones return str, binary ones bytes
#  (or base64 text, as IPython allows).
_TEXT_REPRS = (("text/html", "_repr_html_"),
               ("text/markdown", "_repr_markdown_"),
               ("text/latex", "_repr_latex_"),
               ("image/svg+xml", "_repr_svg_"))
_BINARY_REPRS = (("image/png", "_repr_png_"),
                 ("image/jpeg", "_repr_jpeg_"))
_PLOTLY_MIME = "application/vnd.plotly.v1+json"

#  Figures shown in the current cell (display() or the result), so the
#  cell-end flush does not send them twice.
_shown_figures = []


def _real_method(obj, name):
    """obj's callable attribute name, or None. Objects that claim every
    attribute (proxies, mocks) are skipped, as IPython does."""
    try:
        if isinstance(obj, type):
            return None
        if getattr(obj, "_kmq_canary_attribute_that_does_not_exist", None) is not None:
            return None
        method = getattr(obj, name, None)
    except Exception:           # noqa: BLE001 -- user __getattr__ may raise anything
        return None
    return method if callable(method) else None


def _repr_call(obj, name):
    """What obj.name() returns (data of a (data, metadata) pair), or None
    when it has no such method or the method fails."""
    method = _real_method(obj, name)
    if method is None:
        return None
    try:
        data = method()
    except Exception:           # noqa: BLE001 -- a broken _repr_ drops its type only
        return None
    if isinstance(data, tuple) and len(data) == 2:
        data = data[0]
    return data


def _as_text(data):
    if isinstance(data, str):
        return data.encode("utf-8", "backslashreplace")
    if isinstance(data, bytes):
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            return None
        return data
    return None


def _as_binary(data):
    if isinstance(data, (bytes, bytearray)):
        return bytes(data)
    if isinstance(data, str):
        try:
            return base64.b64decode(data.encode("ascii"), validate=True)
        except (ValueError, binascii.Error):
            return None
    return None


def _as_json(data):
    try:
        if isinstance(data, str):
            json.loads(data)
            return data.encode("utf-8")
        if isinstance(data, (dict, list)):
            return json.dumps(data, default=_json_default).encode("utf-8")
    except (TypeError, ValueError, RecursionError):
        pass
    return None


def _is_figure(obj):
    figure = sys.modules.get("matplotlib.figure")
    return figure is not None and isinstance(obj, figure.Figure)


def _figure_png(fig):
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight")
    return buffer.getvalue()


def _plotly_json(obj):
    """JSON text of a plotly figure, or None when obj is not one."""
    base = sys.modules.get("plotly.basedatatypes")
    if base is None or not isinstance(obj, base.BaseFigure):
        return None
    try:
        return obj.to_json().encode("utf-8")
    except Exception:           # noqa: BLE001
        pass
    try:
        return json.dumps(obj.to_plotly_json(), default=_json_default).encode("utf-8")
    except Exception:           # noqa: BLE001
        return None


def _series_html(obj):
    """pandas gives a Series no _repr_html_; show it as a one-column table."""
    if pandas is None or not isinstance(obj, pandas.Series):
        return None
    try:
        return _as_text(obj.to_frame()._repr_html_())
    except Exception:           # noqa: BLE001
        return None


def _bundle(obj):
    """The MIME bundle of obj: [(mime, bytes)], text/plain first. Only
    repr() may raise; every richer type is best effort."""
    items = [("text/plain", repr(obj).encode("utf-8", "backslashreplace"))]
    if isinstance(obj, type):
        return items
    plotly = _plotly_json(obj)
    if plotly is not None:
        #  plotly's _repr_html_ goes through its renderers (a browser, a
        #  3 MB script): the JSON is what a frontend needs.
        items.append((_PLOTLY_MIME, plotly))
        return items
    for mime, name in _TEXT_REPRS:
        data = _as_text(_repr_call(obj, name))
        if data is None and mime == "text/html":
            data = _series_html(obj)
        if data is not None:
            items.append((mime, data))
    if _is_figure(obj):
        try:
            items.append(("image/png", _figure_png(obj)))
        except Exception as exc:   # noqa: BLE001
            _warn("could not render the figure as PNG: %s" % _exc_summary(exc))
    else:
        for mime, name in _BINARY_REPRS:
            data = _as_binary(_repr_call(obj, name))
            if data is not None:
                items.append((mime, data))
    data = _as_json(_repr_call(obj, "_repr_json_"))
    if data is not None:
        items.append(("application/json", data))
    return items


def _warn(text):
    try:
        sys.stderr.write("kmq: %s\n" % text)
    except Exception:           # noqa: BLE001
        pass


def _send_display(items):
    """One display event for the request in flight; output written so far
    goes into the pipes first so the monitor keeps the order."""
    flush()
    if _kmq_io is None:
        return False
    return _kmq_io.send_event([mime for mime, _ in items],
                              [data for _, data in items])


def display(*objs, **kwargs):
    """Shows each object as a rich output (a display event), in order.
    Keyword arguments of IPython's display are accepted and ignored."""
    for obj in objs:
        _send_display(_bundle(obj))
        if _is_figure(obj):
            _shown_figures.append(obj)


#  clear_output(wait=False): IPython's, for Jupyter frontends. A display
#  event whose bundle is text/plain "" and this type, {"wait": bool} as
#  JSON (protocol.md 4.3); kmq-jupyter turns it into IOPub clear_output.
_CLEAR_OUTPUT_MIME = "application/vnd.kernelmq.clear-output+json"


def clear_output(wait=False):
    """Clears the cell's output in a Jupyter frontend; with wait=True, only
    when the next output arrives (no flicker)."""
    _send_display([("text/plain", b""),
                   (_CLEAR_OUTPUT_MIME, b'{"wait": true}' if wait else b'{"wait": false}')])


def _flush_figures():
    """Sends every open pyplot figure not shown yet, then closes them all,
    as a notebook's inline backend does at the end of a cell. Does nothing
    unless the code imported pyplot."""
    pyplot = sys.modules.get("matplotlib.pyplot")
    helpers = sys.modules.get("matplotlib._pylab_helpers")
    if pyplot is None or helpers is None:
        return
    try:
        managers = sorted(helpers.Gcf.get_all_fig_managers(), key=lambda m: m.num)
        for manager in managers:
            fig = manager.canvas.figure
            if any(fig is shown for shown in _shown_figures):
                continue
            try:
                _send_display(_bundle(fig))
            except ValueError as exc:   # over max_payload
                _warn("figure %s not sent: %s" % (manager.num, exc))
    finally:
        del _shown_figures[:]
        try:
            pyplot.close("all")
        except Exception:       # noqa: BLE001
            pass


def _show(*args, **kwargs):
    """pyplot.show in a kernel: the open figures go out now, then close."""
    _flush_figures()


class _PyplotLoader(importlib.abc.Loader):
    """Runs pyplot's own loader, then points pyplot.show at _show."""

    def __init__(self, loader):
        self._loader = loader

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        self._loader.exec_module(module)
        module.show = _show

    def __getattr__(self, name):    # get_source, get_filename, ...
        return getattr(self._loader, name)


class _PyplotHook(importlib.abc.MetaPathFinder):
    """Patches matplotlib.pyplot when (and only if) user code imports it;
    the kernel itself never imports matplotlib."""

    def find_spec(self, name, path=None, target=None):
        if name != "matplotlib.pyplot":
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None:
                break
        else:
            return None
        if spec.loader is not None and hasattr(spec.loader, "exec_module"):
            spec.loader = _PyplotLoader(spec.loader)
        return spec


if not any(isinstance(finder, _PyplotHook) for finder in sys.meta_path):
    sys.meta_path.insert(0, _PyplotHook())
builtins.display = display
builtins.clear_output = clear_output


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


def _ends_with_semicolon(code):
    """True if the cell's last token is ';', which hides its result as in
    IPython."""
    lines = code.rstrip().splitlines()
    if not lines or ";" not in lines[-1]:
        return False
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(code).readline))
    except (tokenize.TokenError, SyntaxError):
        return False
    skip = (tokenize.ENDMARKER, tokenize.NEWLINE, tokenize.NL, tokenize.COMMENT,
            tokenize.INDENT, tokenize.DEDENT)
    for token in reversed(tokens):
        if token.type not in skip:
            return token.type == tokenize.OP and token.string == ";"
    return False


def execute(code):
    global _count
    _count += 1
    fields = {"execution_count": _count}
    filename = "<cell-%d>" % _count
    #  Registered before parsing so SyntaxErrors and later calls into
    #  functions of this cell show source lines.
    linecache.cache[filename] = (len(code), None, code.splitlines(True), filename)
    del _shown_figures[:]
    items = []
    try:
        try:
            body, expr = _compile_cell(code, filename)
            exec(body, _ns)
            if expr is not None:
                value = eval(expr, _ns)
                if value is not None and not _ends_with_semicolon(code):
                    _ns["_"] = value
                    items = _bundle(value)
                    if _is_figure(value):
                        _shown_figures.append(value)
        finally:
            #  Even when the cell raised, as the inline backend does.
            _flush_figures()
    except KeyboardInterrupt:
        return _error("INTERRUPTED",
                      "execution was interrupted (KeyboardInterrupt); "
                      "the namespace is kept", fields)
    except BaseException as exc:   # noqa: BLE001 -- SystemExit too: report, never exit
        return _python_error(exc, filename, fields)
    fields["mime"] = [mime for mime, _ in items]
    return _ok(fields, [data for _, data in items])


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
                  "format %r is not known: use csv, json, frame or file" % format)


#  --- the frame format (protocol.md section 11) --------------------------


def _read_frame(data):
    """The DataFrame of a frame upload: data is (description as msgpack,
    [buffer bytes]) from the C side. Raises kmq_frame.FrameError."""
    description, buffers = data
    return kmq_frame.decode(kmq_frame.unpack_description(description), buffers)


def _upload_frame(name, data):
    try:
        frame = _read_frame(data)
    except kmq_frame.FrameError as exc:
        return _error("BAD_REQUEST", "upload %s: %s" % (name, exc))
    _ns[name] = frame
    rows, columns = frame.shape
    return _ok({"name": name, "kind": "dataframe",
                "bytes": sum(len(b) for b in data[1]),
                "rows": int(rows), "columns": int(columns)})


def _download_frame(name, value):
    """The download reply of a DataFrame (or Series) in the frame format:
    the description in the header field frame, one payload per buffer."""
    if pandas is not None and isinstance(value, pandas.Series):
        value = value.to_frame(value.name if isinstance(value.name, str) else name)
    if pandas is None or not isinstance(value, pandas.DataFrame):
        return _error("BAD_REQUEST",
                      "%s is a %s: frame needs a DataFrame or Series; "
                      "try --format json" % (name, type(value).__name__))
    try:
        description, buffers = kmq_frame.encode(value)
        header = len(kmq_frame.pack_description(description))
    except kmq_frame.FrameError as exc:
        return _error("BAD_REQUEST", "download %s: %s" % (name, exc))
    if len(buffers) > kmq_frame.MAX_BUFFERS:
        return _error("TOO_LARGE",
                      "%s needs %d buffers, more than the %d payload frames a frame "
                      "message may carry: download it as csv, or fewer columns at "
                      "a time" % (name, len(buffers), kmq_frame.MAX_BUFFERS))
    if header > kmq_frame.MAX_DESCRIPTION - 4096:
        return _error("TOO_LARGE",
                      "the description of %s is %d bytes (long column names?), more "
                      "than a header may hold: download it as csv" % (name, header))
    rows, columns = value.shape
    return _ok({"name": name, "format": "frame",
                "bytes": sum(len(b) for b in buffers), "rows": int(rows),
                "columns": int(columns), "frame": description}, buffers)


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
    if format not in ("csv", "json", "frame"):
        return _bad_format(format)
    bad = _check_var_name(name)
    if bad:
        return bad
    if pandas is None or kmq_frame is None:
        return _error("UNSUPPORTED",
                      "pandas is not installed in this kernel; upload as a file")
    if format == "frame":
        return _upload_frame(name, data)
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
        if format not in ("csv", "json", "frame"):
            return _bad_format(format)
        bad = _check_var_name(name)
        if bad:
            return bad
        if name not in _ns:
            return _error("NOT_FOUND",
                          "no variable %r in the session; check vars" % name)
        if format == "frame":
            return _download_frame(name, _ns[name])
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


def files():
    """The working directory's entries, sorted by name: name, kind ("file",
    "dir" or "other", symlinks not followed) and, for files, bytes."""
    listing = []
    for entry in sorted(os.scandir("."), key=lambda entry: entry.name):
        try:
            info = entry.stat(follow_symlinks=False)
        except OSError:
            continue            # removed while we listed
        kind = ("file" if stat.S_ISREG(info.st_mode)
                else "dir" if stat.S_ISDIR(info.st_mode) else "other")
        row = {"name": entry.name, "kind": kind}
        if kind == "file":
            row["bytes"] = int(info.st_size)
        listing.append(row)
    return _ok({"files": listing})


#  --- complete / inspect -------------------------------------------------

_NAME = r"[^\W\d]\w*"
_DOTTED = re.compile(r"%s(?:\.%s)*\Z" % (_NAME, _NAME))
#  "a.b.c" before a dot, then the partial attribute
_ATTRIBUTE = re.compile(r"(?<![\w.])((?:%s\.)+)(\w*)\Z" % _NAME)
_WORD = re.compile(r"\w*\Z")
#  d["key or d['key, with d a dotted name
_DICT_KEY = re.compile(r"(?<![\w.])(%s(?:\.%s)*)\s*\[\s*(['\"])([^'\"\\\\]*)\Z"
                       % (_NAME, _NAME))
_IMPORT = re.compile(r"\s*(?:import\s+(?:[\w.]+(?:\s+as\s+\w+)?\s*,\s*)*|from\s+)"
                     r"([\w.]*)\Z")
_FROM_IMPORT = re.compile(r"\s*from\s+([\w.]+)\s+import\s+\(?\s*"
                          r"(?:\w+(?:\s+as\s+\w+)?\s*,\s*)*(\w*)\Z")
_module_names_cache = None


def _decode_at(data, cursor):
    """(code, code before the cursor) from the request's bytes and byte
    cursor, or a BAD_REQUEST tuple."""
    try:
        code = data.decode("utf-8")
        before = data[:cursor].decode("utf-8")
    except UnicodeDecodeError:
        return _error("BAD_REQUEST",
                      "the code is not valid UTF-8 up to cursor_pos %d, or the "
                      "cursor splits a character; send UTF-8 and a byte offset "
                      "at a character boundary" % cursor)
    return code, before


def _resolve(path):
    """The object a dotted name names in the namespace (or builtins), by
    lookup and getattr only; raises LookupError when it names nothing."""
    if not _DOTTED.match(path):
        raise LookupError(path)
    head, *rest = path.split(".")
    if head in _ns:
        obj = _ns[head]
    elif hasattr(builtins, head):
        obj = getattr(builtins, head)
    else:
        raise LookupError(path)
    for part in rest:
        try:
            obj = getattr(obj, part)
        except Exception:       # noqa: BLE001 -- properties may raise anything
            raise LookupError(path) from None
    return obj


def _visible(names, prefix):
    """Names starting with prefix; private ones only for a private prefix."""
    hide = not prefix.startswith("_")
    return sorted({name for name in names
                   if isinstance(name, str) and name.startswith(prefix)
                   and not (hide and name.startswith("_"))})


def _attributes(obj):
    try:
        return dir(obj)
    except Exception:           # noqa: BLE001
        return []


def _module_names():
    """Top-level importable modules, listed once per executor."""
    global _module_names_cache
    if _module_names_cache is None:
        names = set(sys.builtin_module_names)
        names.update(name.partition(".")[0] for name in list(sys.modules))
        try:
            names.update(module.name for module in pkgutil.iter_modules())
        except Exception:       # noqa: BLE001 -- an unreadable sys.path entry
            pass
        _module_names_cache = names
    return _module_names_cache


def _submodules(package_name):
    package = sys.modules.get(package_name)
    path = getattr(package, "__path__", None)
    if path is None:
        return []
    try:
        return [module.name for module in pkgutil.iter_modules(path)]
    except Exception:           # noqa: BLE001
        return []


def _candidates(before):
    """(matches, length of the token they replace) for the text before the
    cursor; never runs the user's code beyond attribute lookups."""
    line = before.rpartition("\n")[2]
    found = _FROM_IMPORT.match(line)
    if found:
        module_name, prefix = found.groups()
        names = _submodules(module_name)
        module = sys.modules.get(module_name)
        if module is not None:
            names = names + _attributes(module)
        return _visible(names, prefix), len(prefix)
    found = _IMPORT.match(line)
    if found:
        parent, dot, prefix = found.group(1).rpartition(".")
        if dot:
            #  Submodules on disk, and modules bound as attributes (os.path)
            module = sys.modules.get(parent)
            names = _submodules(parent) + [
                name for name in _attributes(module)
                if isinstance(getattr(module, name, None), types.ModuleType)]
        else:
            names = _module_names()
        return _visible(names, prefix), len(prefix)
    found = _DICT_KEY.search(before)
    if found:
        path, quote, prefix = found.groups()
        try:
            obj = _resolve(path)
        except LookupError:
            return [], len(prefix)
        keys = []
        if isinstance(obj, dict):
            keys = list(obj)
        elif pandas is not None and isinstance(obj, pandas.DataFrame):
            keys = list(obj.columns)
        return sorted({key for key in keys if isinstance(key, str)
                       and key.startswith(prefix) and quote not in key
                       and "\\" not in key}), len(prefix)
    found = _ATTRIBUTE.search(before)
    if found:
        path, prefix = found.group(1)[:-1], found.group(2)
        try:
            obj = _resolve(path)
        except LookupError:
            return [], len(prefix)
        return _visible(_attributes(obj), prefix), len(prefix)
    prefix = _WORD.search(before).group(0)
    start = len(before) - len(prefix)
    if start > 0 and before[start - 1] == ".":
        return [], len(prefix)      # an attribute of something we won't evaluate
    if prefix and prefix[0].isdigit():
        return [], len(prefix)
    names = list(_ns) + dir(builtins) + keyword.kwlist
    return _visible(names, prefix), len(prefix)


def complete(data, cursor):
    decoded = _decode_at(data, cursor)
    if len(decoded) == 4:
        return decoded
    code, before = decoded
    matches, length = _candidates(before)
    start = cursor - len(before[len(before) - length:].encode("utf-8"))
    return _ok({"matches": matches, "cursor_start": start, "cursor_end": cursor})


def _name_at(code, pos):
    """The dotted name at pos: the one the cursor is in or just after, or
    else the one called by the innermost open parenthesis before pos."""
    end = pos
    while end < len(code) and (code[end].isalnum() or code[end] == "_"):
        end += 1
    start = pos
    while start > 0 and (code[start - 1].isalnum() or code[start - 1] in "_."):
        start -= 1
    name = code[start:end].strip(".")
    if _DOTTED.match(name):
        return name
    depth = 0
    for i in range(pos - 1, -1, -1):
        if code[i] == ")":
            depth += 1
        elif code[i] == "(":
            if depth == 0:
                found = re.search(r"(%s(?:\s*\.\s*%s)*)\s*\Z" % (_NAME, _NAME),
                                  code[:i])
                return re.sub(r"\s+", "", found.group(1)) if found else None
            depth -= 1
    return None


def _short_repr(obj, limit=1000):
    try:
        text = repr(obj)
    except Exception:           # noqa: BLE001
        return "<repr failed>"
    return text if len(text) <= limit else text[:limit] + "..."


def _describe_object(name, obj):
    """text/plain of inspect: signature or type and value, then the doc."""
    if isinstance(obj, types.ModuleType):
        head = "module %s" % obj.__name__
        doc = _pyinspect.getdoc(obj)
    elif callable(obj):
        try:
            signature = str(_pyinspect.signature(obj))
        except (TypeError, ValueError):
            signature = "(...)"
        head = name + signature
        if isinstance(obj, type):
            head = "class " + head
        doc = _pyinspect.getdoc(obj)
    else:
        head = "%s: %s = %s" % (name, type(obj).__name__, _short_repr(obj))
        doc = None
        if type(obj).__module__ != "builtins":
            doc = _pyinspect.getdoc(type(obj))
    return head + ("\n\n" + doc if doc else "") + "\n"


def inspect(data, cursor):
    decoded = _decode_at(data, cursor)
    if len(decoded) == 4:
        return decoded
    code, before = decoded
    name = _name_at(code, len(before))
    try:
        if name is None:
            raise LookupError(code)
        obj = _resolve(name)
        text = _describe_object(name, obj)
    except LookupError:
        return _ok({"found": False, "mime": []})
    except Exception as exc:    # noqa: BLE001 -- a signature or doc that breaks
        text = "%s\n\n(inspect failed: %s)\n" % (name, _exc_summary(exc))
    return _ok({"found": True, "mime": ["text/plain"]},
               [text.encode("utf-8", "backslashreplace")])


#  --- zygote (kernel/zygote.c) ------------------------------------------


def zygote_preload():
    """In the zygote, once: what every executor would import anyway, loaded
    before the fork so the pages are shared. matplotlib reads and memoises
    its config dir at import; the zygote's is a throwaway one, so that the
    host's /tmp/matplotlib is never touched. Executors find MPLCONFIGDIR
    back at /tmp/matplotlib (their own /tmp) when pyplot needs a cache.
    pyplot itself is not imported: the kernel flushes figures only for code
    that imported it (see _PyplotHook)."""
    import tempfile
    configured = os.environ.get("MPLCONFIGDIR")
    private = tempfile.mkdtemp(prefix="kmq-zygote-mpl-")
    os.environ["MPLCONFIGDIR"] = private
    try:
        import matplotlib       # noqa: F401 -- preloaded for the children
    except Exception:           # noqa: BLE001 -- a host without matplotlib
        pass
    finally:
        if configured is None:
            del os.environ["MPLCONFIGDIR"]
        else:
            os.environ["MPLCONFIGDIR"] = configured
        shutil.rmtree(private, ignore_errors=True)
    gc.collect()
    gc.freeze()


def fresh_session():
    """In an executor the zygote just handed to a session: whatever the
    module holds of a session starts from nothing, and the random generators
    the fork copied from the zygote are reseeded (random reseeds itself at
    fork; numpy's global RandomState does not, and two sessions must not
    draw the same numbers)."""
    global _ns, _count
    _ns = _fresh_namespace()
    _count = 0
    del _shown_figures[:]
    _install_stdio()
    sys.stdout, sys.stderr = _STDOUT, _STDERR
    if numpy is not None:
        try:
            numpy.random.seed()
        except Exception:       # noqa: BLE001
            pass


#  Everything imported so far lives as long as the executor: keep it out of
#  the collector's way so a session's first full collection stays cheap.
gc.collect()
gc.freeze()
