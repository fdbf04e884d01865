"""The glue's entry points: the only module the C side calls
(kernel/executor.c looks the functions up, kernel/executor_request.c
calls them), and the only place replies are built.

Every request entry point returns a 4-tuple

    (error, message, fields, payloads)

error     None for an ok reply, else a protocol error name ("PYTHON_ERROR")
message   the error reply's sentence; None when ok
fields    dict of extra header fields: str, int, bool, float, None, and
          lists/dicts of those
payloads  list of bytes, the reply's payload frames in order

Handlers return (fields, payloads) or raise errors.RequestError, which
becomes the error tuple here. A KeyboardInterrupt that escapes an entry
point is answered INTERRUPTED by the C side, which then reads _count for
the cell's number; snapshot and restore, which the supervisor calls on
eviction and on the next request (protocol.md 10.3), never raise: any
failure is their INTERNAL reply. Besides the replies, display events
leave through _kmq_io.send_event (display.py).

Importing this module sets the executor up once: the stdio streams, the
builtin display(), the pyplot hook, pandas and numpy imported, and the
heap frozen for the collector. The executor has one Session, SESSION.
"""

import builtins
import gc

from . import (cells, completion, display, mpl_hook, session, streams,
               transfer, variables, zygote)
from .errors import RequestError, exc_summary
from .snapshot import restore as _restore_snapshot, take as _take_snapshot

SESSION = session.Session()


def _reply(handler, *args):
    try:
        fields, payloads = handler(SESSION, *args)
    except RequestError as error:
        return (error.code, error.message, error.fields, [])
    return (None, None, fields, payloads)


def __getattr__(name):
    """_count: the cell counter, for executor_request.c."""
    if name == "_count":
        return SESSION.count
    raise AttributeError("module %r has no attribute %r" % (__name__, name))


#  --- requests (protocol.md section 5) ----------------------------------

def execute(code):
    return _reply(cells.run, code)


def upload(name, format, data, parts=1, size=0):
    return _reply(transfer.upload, name, format, data, parts, size)


def download(name, format, in_parts=False):
    return _reply(transfer.download, name, format, in_parts)


def _vars(session_):
    return {"vars": variables.listing(session_)}, []


def vars():
    return _reply(_vars)


def _files(session_):
    return {"files": variables.files()}, []


def files():
    return _reply(_files)


def complete(data, cursor):
    return _reply(completion.complete, data, cursor)


def inspect(data, cursor):
    return _reply(completion.inspect, data, cursor)


def is_complete(data):
    return _reply(completion.is_complete, data)


def _history(session_, last):
    kept, truncated = session_.history(last)
    fields = {"cells": [{"execution_count": count, "code": code} for count, code in kept]}
    if truncated:
        fields["truncated"] = True
    return fields, []


def history(last):
    return _reply(_history, last)


def _reset(session_):
    display.send_input("reset", {})
    failed = session_.renew(used=True)
    if failed:
        raise RequestError("INTERNAL",
                           "reset: the namespace is fresh but the working directory "
                           "could not be emptied: %s" % ", ".join(failed))
    return {}, []


def reset():
    return _reply(_reset)


def flush():
    """Pushes buffered output into the pipes before a reply is written."""
    streams.flush()


#  --- snapshots (protocol.md 10.3): supervisor and executor only ---------

def _never_raising(what, handler, *args):
    """_reply, and any exception, even KeyboardInterrupt, as INTERNAL: the
    supervisor's eviction and restore flow takes a reply tuple, always."""
    try:
        return _reply(handler, *args)
    except KeyboardInterrupt:
        return ("INTERNAL", "%s: interrupted (KeyboardInterrupt) before it ended%s"
                % (what, "; the namespace may hold part of the snapshot"
                   if what == "restore" else ""), {}, [])
    except BaseException as exc:    # noqa: BLE001 -- see the docstring
        return ("INTERNAL", "%s: %s" % (what, exc_summary(exc)), {}, [])


def snapshot(quota):
    """The session's state as one blob of at most quota bytes: ok fields
    bytes, kept, dropped, files, execution_count and the blob as the one
    payload; TOO_LARGE, BAD_REQUEST (quota) or INTERNAL. The session is
    left as it was."""
    return _never_raising("snapshot", _take_snapshot, quota)


def restore(blob):
    """The snapshot blob (bytes) restored into this fresh session: ok
    fields restored, dropped, files, execution_count; BAD_REQUEST for a
    blob that is not a snapshot; INTERNAL."""
    return _never_raising("restore", _restore_snapshot, blob)


#  --- the zygote (kernel/zygote.c) -------------------------------------

#  Runs of each path in _warm_up: CPython 3.11 specialises a function's
#  bytecode after 8 calls.
_WARM_UP_RUNS = 10


def _warm_up():
    """What every session runs (the hand-over, a cell with and without a
    result, vars, flush), run in the zygote before it forks, so the
    children share code that is already specialised (~0.15 MiB less
    private memory a session). Leaves nothing behind: the session is
    renewed and the cells' source lines dropped."""
    for _ in range(_WARM_UP_RUNS):
        _warm_up_once()
    fresh_session()


def _warm_up_once():
    fresh_session()
    execute("None")
    execute("1")
    vars()
    flush()


def zygote_preload():
    """In the zygote, once, before it forks (zygote.preload)."""
    zygote.preload(_warm_up)


def pool_prewarm():
    """In a pool child, sealed, while it waits for its session: what a
    session's first requests run, so the pages they write (CPython 3.11
    writes a reference count into every object it touches) are copied from
    the zygote's now, not on the first request's clock. Each session pays
    those copies once either way. Leaves nothing behind."""
    _warm_up_once()
    fresh_session()


def fresh_session():
    """In a pool child the zygote just handed to a session: the same
    renewal as reset, for a session that never ran (Session.renew says
    why its working directory is left alone and nothing is collected)."""
    SESSION.renew(used=False)


#  --- set-up, once per process -----------------------------------------

def _display(*objs, **kwargs):
    """Shows each object as a rich output (a display event), in order.
    Keyword arguments of IPython's display are accepted and ignored."""
    display.show(SESSION, objs)


_display.__name__ = _display.__qualname__ = "display"


def _show(*args, **kwargs):
    """pyplot.show in a kernel: the open figures go out now, then close."""
    mpl_hook.flush_figures(SESSION)


streams.install()
mpl_hook.install(_show)
builtins.display = _display
builtins.clear_output = display.clear_output

#  Everything imported so far lives as long as the executor: keep it out of
#  the collector's way so a session's first full collection stays cheap.
gc.collect()
gc.freeze()
