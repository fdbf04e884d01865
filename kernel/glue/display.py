"""Rich display (protocol.md 4.3): the MIME bundle of any object, and
display events for the request in flight.

Contract: bundle(obj) returns [(mime, bytes)], text/plain first; only
repr() may raise, every richer type is best effort (a _repr_*_ that
raises, returns None or the wrong kind only drops its type). send(items)
writes one display event through _kmq_io.send_event (the executor's C
module, the glue's only outside dependency) after flushing the output
written so far, and returns whether a request was in flight. show(session,
objs) is the builtin display(): one event per object, and the figures it
showed recorded on the session so the cell end does not send them again.
send_input(request_type, fields, payload) writes the request's `input`
event (protocol.md 4.5).
"""

import base64
import binascii
import io
import json
import sys

from . import streams
from .errors import exc_summary
from .libs import json_default, pandas

try:
    import _kmq_io
except ImportError:             # outside an executor with no stand-in
    _kmq_io = None

#  (mime, method) in bundle order; text ones return str, binary ones bytes
#  (or base64 text, as IPython allows).
_TEXT_REPRS = (("text/html", "_repr_html_"),
               ("text/markdown", "_repr_markdown_"),
               ("text/latex", "_repr_latex_"),
               ("image/svg+xml", "_repr_svg_"))
_BINARY_REPRS = (("image/png", "_repr_png_"),
                 ("image/jpeg", "_repr_jpeg_"))
_PLOTLY_MIME = "application/vnd.plotly.v1+json"


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
            return json.dumps(data, default=json_default).encode("utf-8")
    except (TypeError, ValueError, RecursionError):
        pass
    return None


def is_figure(obj):
    """True for a matplotlib Figure (without importing matplotlib)."""
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
        return json.dumps(obj.to_plotly_json(), default=json_default).encode("utf-8")
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


def bundle(obj):
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
    if is_figure(obj):
        try:
            items.append(("image/png", _figure_png(obj)))
        except Exception as exc:   # noqa: BLE001
            streams.warn("could not render the figure as PNG: %s" % exc_summary(exc))
    else:
        for mime, name in _BINARY_REPRS:
            data = _as_binary(_repr_call(obj, name))
            if data is not None:
                items.append((mime, data))
    data = _as_json(_repr_call(obj, "_repr_json_"))
    if data is not None:
        items.append(("application/json", data))
    return items


def send(items):
    """One display event for the request in flight; output written so far
    goes into the pipes first so the monitor keeps the order. Raises
    ValueError when a payload is over the kernel's max_payload."""
    streams.flush()
    if _kmq_io is None:
        return False
    return _kmq_io.send_event([mime for mime, _ in items],
                              [data for _, data in items])


def send_input(request_type, fields, payload=None):
    """The `input` event of the request in flight (protocol.md 4.5): what
    attached clients see when it starts. Output written so far goes first."""
    streams.flush()
    if _kmq_io is None or not hasattr(_kmq_io, "send_input"):
        return False
    return _kmq_io.send_input(request_type, fields, payload)


def max_payload():
    """The kernel's max_payload: what a download's pieces hold in all
    (0 without the executor's _kmq_io)."""
    if _kmq_io is None or not hasattr(_kmq_io, "max_payload"):
        return 0
    return _kmq_io.max_payload()


def send_part(part, piece):
    """One `part` event of the download in flight (transfer.download in
    parts); False when the executor cannot send one."""
    if _kmq_io is None or not hasattr(_kmq_io, "send_part"):
        return False
    return _kmq_io.send_part(part, piece)


def next_part():
    """The next piece of the upload in flight, in parts (transfer._Pieces):
    b"" once every piece came."""
    if _kmq_io is None or not hasattr(_kmq_io, "next_part"):
        return b""
    return _kmq_io.next_part()


#  clear_output(wait=False), IPython's, for Jupyter frontends: a display
#  event whose bundle is text/plain "" and this type with {"wait": bool}
#  as JSON (protocol.md 4.3); kmq-jupyter turns it into IOPub clear_output.
CLEAR_OUTPUT_MIME = "application/vnd.kernelmq.clear-output+json"


def clear_output(wait=False):
    """Clears the cell's output in a Jupyter frontend; with wait=True, only
    when the next output arrives (no flicker)."""
    send([("text/plain", b""),
          (CLEAR_OUTPUT_MIME, b'{"wait": true}' if wait else b'{"wait": false}')])


def show(session, objs):
    """display(*objs): one event per object, in order."""
    for obj in objs:
        send(bundle(obj))
        if is_figure(obj):
            session.shown_figures.append(obj)
