"""One Op per request type: what goes out and what its answer becomes.

Both fronts run these unchanged (Client in _sync.py, AsyncClient in
_async.py); a Session method only builds its Op and hands it to the front.
"""
from __future__ import annotations

import codecs
import logging
from typing import Any, Callable, Dict, List, Optional, Tuple

import msgpack

from . import _data, _protocol, errors
from ._protocol import Message, Op
from ._types import (Completion, DetachedEvent, DisplayEvent, EvictedEvent, Execution,
                     ExecutionError, File, InputEvent, Inspection, KernelEvent,
                     OtherEvent, OutcomeEvent, Result, Stats, StatusEvent, StreamEvent,
                     TruncatedEvent, Upload, Variable, mime_bundle)

log = logging.getLogger("kernelmq")

_utf8_decoder = codecs.getincrementaldecoder("utf-8")

TextCallback = Optional[Callable[[str], Any]]
DisplayCallback = Optional[Callable[[Result], Any]]


def _warn_state_lost(message: Message) -> None:
    if message.get("state_lost"):
        log.warning("session %s: state lost before this request ran: %s",
                    message.session or "?", message.get("notice") or "no reason given")
    elif message.get("restored"):
        log.info("session %s: %s", message.session or "?", message.get("notice"))


class _Checked(Op):
    """An op whose ok reply and error reply both log a state_lost notice."""

    def on_reply(self, message: Message) -> Any:
        _warn_state_lost(message)
        return super().on_reply(message)


def event_of(message: Message) -> Any:
    """The typed event for an event message (Session.attach)."""
    kind = message.get("event")
    get = message.get
    base = (message.session, message.id, get("request", 0), get("client", ""))
    if kind == "stream":
        return StreamEvent(*base, get("name", ""),
                           message.payloads[0].decode("utf-8", "replace"))
    if kind == "display":
        return DisplayEvent(*base, Result(mime_bundle(get("mime", []), message.payloads)))
    if kind == "truncated":
        return TruncatedEvent(*base, get("name", ""), get("limit", 0))
    if kind == "evicted":
        return EvictedEvent(*base, get("message", ""))
    if kind == "detached":
        return DetachedEvent(*base, get("message", ""))
    if kind == "input":
        code = message.payloads[0].decode("utf-8", "replace") if message.payloads else ""
        return InputEvent(*base, get("request_type", ""), get("execution_count"), code,
                          get("name", ""), get("format", ""), get("bytes", 0))
    if kind == "status":
        return StatusEvent(*base, get("state", ""), get("request_type", ""))
    if kind == "kernel":
        return KernelEvent(*base, get("state", ""), get("message", ""))
    if kind == "outcome":
        ok = get("status") == "ok"
        result = (Result(mime_bundle(get("mime"), message.payloads), is_main_result=True)
                  if ok and get("mime") else None)
        python_error = (ExecutionError(get("ename", ""), get("evalue", ""),
                                       list(get("traceback", [])))
                        if get("error") == "PYTHON_ERROR" else None)
        return OutcomeEvent(*base, ok, None if ok else get("error"), get("message", ""),
                            get("execution_count"), get("duration_ms"), result, python_error)
    return OtherEvent(*base, kind or "", dict(message.header), list(message.payloads))


class ExecuteOp(_Checked):
    """execute: streams go to the callbacks as they arrive (decoded
    incrementally, so a character split across chunks is whole), displays
    to on_display; the reply becomes an Execution. A PYTHON_ERROR reply is
    an Execution with .error; every other error raises, with the partial
    Execution on the exception's .execution."""

    def __init__(self, session: str, code: str, timeout: Optional[float],
                 on_stdout: TextCallback, on_stderr: TextCallback,
                 on_display: DisplayCallback) -> None:
        #  input False: we have the code; the kernel then skips the input
        #  event unless another client is attached (protocol.md 4.5)
        header: Dict[str, Any] = {"type": "execute", "session": session, "input": False}
        if timeout is not None:
            if timeout <= 0:
                raise ValueError("timeout must be positive seconds, or None for "
                                 "the broker's request_timeout")
            header["timeout_ms"] = max(1, int(timeout * 1000))
        super().__init__(header, [code.encode("utf-8")])
        self.callbacks = {"stdout": on_stdout, "stderr": on_stderr}
        self.on_display = on_display
        #  Made on a stream's first chunk: most cells print nothing
        self.decoders: Dict[str, Any] = {}
        self.chunks: Dict[str, List[str]] = {"stdout": [], "stderr": []}
        self.execution = Execution()

    def _stream(self, name: str, data: bytes, final: bool = False) -> None:
        decoder = self.decoders.get(name)
        if decoder is None:
            if final:
                return
            decoder = self.decoders[name] = _utf8_decoder("replace")
        text = decoder.decode(data, final)
        if not text:
            return
        self.chunks[name].append(text)
        callback = self.callbacks[name]
        if callback is not None:
            callback(text)

    def on_event(self, message: Message) -> Any:
        kind = message.get("event")
        if kind == "stream" and message.get("name") in self.chunks:
            self._stream(message.get("name"), message.payloads[0])
        elif kind == "display":
            result = Result(mime_bundle(message.get("mime", []), message.payloads))
            self.execution.results.append(result)
            if self.on_display is not None:
                self.on_display(result)
        elif kind == "truncated":
            self.execution.truncated = message.get("limit", 0)
        return None

    def _finish(self, message: Message) -> Execution:
        for name in list(self.decoders):
            self._stream(name, b"", final=True)
        ex = self.execution
        ex.stdout = "".join(self.chunks["stdout"])
        ex.stderr = "".join(self.chunks["stderr"])
        ex.execution_count = message.get("execution_count")
        #  Being added to the kernel's reply: taken when it is a number.
        duration = message.get("duration_ms")
        ex.duration_ms = (int(duration) if isinstance(duration, (int, float))
                          and not isinstance(duration, bool) and duration >= 0 else None)
        ex.wall_ms = self.wall_ms
        ex.state_lost = bool(message.get("state_lost"))
        ex.restored = bool(message.get("restored"))
        ex.notice = message.get("notice")
        return ex

    def on_reply(self, message: Message) -> Execution:
        _warn_state_lost(message)
        ex = self._finish(message)
        status, error = message.get("status"), message.get("error")
        if status == "ok":
            if message.get("mime"):
                ex.results.append(Result(mime_bundle(message.get("mime"), message.payloads),
                                         is_main_result=True))
            return ex
        if error == "PYTHON_ERROR":
            ex.error = ExecutionError(message.get("ename", ""), message.get("evalue", ""),
                                      list(message.get("traceback", [])))
            return ex
        exc = errors.from_reply(message.header)
        exc.execution = ex
        raise exc

    def on_failure(self, exc: BaseException) -> BaseException:
        if isinstance(exc, errors.Error):
            for name in list(self.decoders):
                self._stream(name, b"", final=True)
            self.execution.stdout = "".join(self.chunks["stdout"])
            self.execution.stderr = "".join(self.chunks["stderr"])
            exc.execution = self.execution
        return exc


class SimpleOp(_Checked):
    """reset, close, detach: an ok reply with no fields; returns None."""

    def __init__(self, type: str, session: str) -> None:
        super().__init__({"type": type, "session": session})


class ShareOp(_Checked):
    """share: the keys the session is now shared with."""

    def __init__(self, session: str, with_key: str, revoke: bool) -> None:
        header: Dict[str, Any] = {"type": "share", "session": session, "with": with_key}
        if revoke:
            header["revoke"] = True
        super().__init__(header)

    def result(self, message: Message) -> List[str]:
        shared = message.get("shared")
        return [k for k in shared if isinstance(k, str)] if isinstance(shared, list) else []


class InterruptOp(_Checked):
    """interrupt: True if a request was running."""

    def __init__(self, session: str) -> None:
        super().__init__({"type": "interrupt", "session": session})

    def result(self, message: Message) -> bool:
        return bool(message.get("interrupted"))


def _uint(row: Dict[str, Any], key: str) -> Optional[int]:
    value = row.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class _ListOp(_Checked):
    """A session request answered by a list of maps in the reply field of
    the request's own name (vars, files); row() makes each one typed."""
    kind = ""

    def __init__(self, session: str) -> None:
        super().__init__({"type": self.kind, "session": session})

    def result(self, message: Message) -> List[Any]:
        return [self.row(row) for row in message.get(self.kind, [])]

    def row(self, row: Dict[str, Any]) -> Any:
        raise NotImplementedError


class VarsOp(_ListOp):
    """vars: the user variables, sorted by name."""
    kind = "vars"

    def row(self, row: Dict[str, Any]) -> Variable:
        shape = row.get("shape")
        return Variable(str(row.get("name", "")), str(row.get("type", "")),
                        tuple(shape) if isinstance(shape, list) else None, _uint(row, "len"))


class FilesOp(_ListOp):
    """files: the entries of the session's working directory, by name."""
    kind = "files"

    def row(self, row: Dict[str, Any]) -> File:
        return File(str(row.get("name", "")), str(row.get("kind", "")), _uint(row, "bytes"))


class UploadOp(_Checked):
    """upload: bytes into a DataFrame (csv, json) or a file."""

    def __init__(self, session: str, name: str, data: Any, format: Optional[str]) -> None:
        name, format, payloads, extra = _data.upload_payloads(name, data, format)
        header = {"type": "upload", "session": session, "name": name, "format": format,
                  **extra}
        #  A frame whose total is over max_payload still goes as one
        #  message, each buffer within it (whole_message)
        self.whole = (header, payloads) if format == "frame" else None
        pieces = _data.upload_pieces(format, payloads)
        if pieces:
            sizes = [len(memoryview(payload).cast("B")) for payload in payloads]
            header = dict(header, parts=len(pieces), bytes=sum(sizes),
                          **({"sizes": sizes} if format == "frame" else {}))
            payloads, pieces = pieces[:1], pieces[1:]
            if format == "frame" and len(msgpack.packb(header)) > _protocol.MAX_HEADER:
                #  sizes pushed a description near the cap over it
                header, payloads, pieces = self.whole[0], self.whole[1], []
        super().__init__(header, payloads, pieces)

    def whole_message(self) -> bool:
        if self.whole is None or not self.pieces:
            return False
        self.header, self.payloads = self.whole
        self.pieces = []
        return True

    def result(self, message: Message) -> Upload:
        return Upload(message.get("name", ""), message.get("kind", ""),
                      message.get("bytes", 0), message.get("rows"), message.get("columns"),
                      self.header["format"], bool(message.get("state_lost")),
                      message.get("notice"))


class DownloadOp(_Checked):
    """download: see _data.download_value."""

    def __init__(self, session: str, name: str, format: Optional[str]) -> None:
        wire = _data.download_format(format)
        #  A big frame then comes as part events, each hop passing one on
        #  while the kernel sends the next (protocol.md 5, download)
        super().__init__({"type": "download", "session": session, "name": name,
                          "format": wire, **({"in_parts": True} if wire in ("frame", "auto")
                                             else {})})
        self.asked = format
        self.pieces: List[Tuple[Any, bytes]] = []      # (part, piece) as they came

    def on_event(self, message: Message) -> Any:
        if message.get("event") == "part" and len(message.payloads) == 1:
            self.pieces.append((message.get("part"), message.payloads[0]))
        return None

    def result(self, message: Message) -> Any:
        answered = message.get("format", self.header["format"])
        if answered not in ("frame", "json") and self.header["format"] == "auto":
            raise errors.ProtocolError("a download for format auto answered %r" % answered)
        payloads = message.payloads
        if "parts" in message.header and len(self.pieces) != message.get("parts"):
            #  Pieces sent while the broker restarted are not sent again
            raise errors.Lost("download %s: %d of its %s pieces came (the broker restarted "
                              "meanwhile); download it again"
                              % (self.header["name"], len(self.pieces), message.get("parts")),
                              session=self.header["session"], fields={"ran": True})
        try:
            if "parts" in message.header:
                payloads = _data.join_pieces(self.pieces, message.get("parts"),
                                             message.get("sizes"), message.get("bytes"))
            return _data.download_value(self.asked, answered, message.header, payloads)
        except ValueError as exc:   # FrameError too: a kernel's lie is a protocol error
            raise errors.ProtocolError("download %s: %s" % (self.header["name"], exc)) from None


class AtCursorOp(_Checked):
    """complete and inspect: code and a cursor, in characters here and in
    UTF-8 bytes on the wire."""

    def __init__(self, type: str, session: str, code: str, cursor: Optional[int]) -> None:
        if cursor is None:
            cursor = len(code)
        if not 0 <= cursor <= len(code):
            raise ValueError("cursor %d is outside the code (%d characters)"
                             % (cursor, len(code)))
        self.code = code.encode("utf-8")
        super().__init__({"type": type, "session": session,
                          "cursor_pos": len(code[:cursor].encode("utf-8"))}, [self.code])

    def chars(self, offset: int) -> int:
        return len(self.code[:offset].decode("utf-8", "replace"))


class CompleteOp(AtCursorOp):
    def __init__(self, session: str, code: str, cursor: Optional[int]) -> None:
        super().__init__("complete", session, code, cursor)

    def result(self, message: Message) -> Completion:
        return Completion(list(message.get("matches", [])),
                          self.chars(message.get("cursor_start", 0)),
                          self.chars(message.get("cursor_end", 0)))


class InspectOp(AtCursorOp):
    def __init__(self, session: str, code: str, cursor: Optional[int]) -> None:
        super().__init__("inspect", session, code, cursor)

    def result(self, message: Message) -> Inspection:
        return Inspection(bool(message.get("found")),
                          mime_bundle(message.get("mime", []), message.payloads))


class IsCompleteOp(_Checked):
    """is_complete: "complete", "incomplete" or "invalid", and the indent
    the next line wants when incomplete."""

    def __init__(self, session: str, code: str) -> None:
        super().__init__({"type": "is_complete", "session": session}, [code.encode("utf-8")])

    def result(self, message: Message) -> Tuple[str, str]:
        return message.get("completeness", ""), message.get("indent", "")


class HistoryOp(_Checked):
    """history: (execution_count, code) of the cells the kernel ran."""

    def __init__(self, session: str, last: int) -> None:
        header: Dict[str, Any] = {"type": "history", "session": session}
        if last:
            header["last"] = last
        super().__init__(header)

    def result(self, message: Message) -> List[Tuple[int, str]]:
        return [(cell.get("execution_count", 0), cell.get("code", ""))
                for cell in message.get("cells", []) if isinstance(cell, dict)]


class AttachOp(_Checked):
    """attach: an ok reply; the subscription then gets the session's events."""

    def __init__(self, session: str) -> None:
        super().__init__({"type": "attach", "session": session})


class SubscriptionOp(Op):
    """The op of an attach subscription: each event becomes a typed event."""

    def on_event(self, message: Message) -> Any:
        return event_of(message)


class StatsOp(Op):
    def __init__(self) -> None:
        super().__init__({"type": "stats"})

    def result(self, message: Message) -> Stats:
        get = message.get
        return Stats(get("version", 0), get("broker", ""), get("uptime_ms", 0),
                     get("sessions", 0), get("kernels", 0), get("queued", 0),
                     get("max_sessions", 0), list(get("session_list", [])),
                     dict(message.header))


class HelloOp(Op):
    def __init__(self, client: str) -> None:
        super().__init__({"type": "hello", "version": 1, "client": client})

    def result(self, message: Message) -> Message:
        return message
