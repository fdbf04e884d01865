"""What kernelmq calls return: plain dataclasses with obvious fields."""
from __future__ import annotations

import json as _json
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

PLOTLY_MIME = "application/vnd.plotly.v1+json"

MimeData = Union[bytes, str]


def is_text_mime(mime: str) -> bool:
    """Types whose payload is UTF-8 text (protocol.md 4.3); the rest stay bytes."""
    return (mime.startswith("text/") or mime == "image/svg+xml"
            or mime == "application/json" or mime.endswith("+json"))


def mime_bundle(mime: Sequence[str], payloads: Sequence[bytes]) -> Dict[str, MimeData]:
    """A bundle as a dict: text types decoded (invalid UTF-8 replaced), images
    as raw bytes. The decoder checked that entries and payloads match."""
    return {name: (data.decode("utf-8", "replace") if is_text_mime(name) else data)
            for name, data in zip(mime, payloads)}


def _entry(mime: str, doc: str, parse: bool = False) -> Any:
    """A read-only property giving result.mime[mime] (parsed as JSON when
    parse), or None when the bundle has no such entry."""
    def get(self: "Result") -> Any:
        data = self.mime.get(mime)
        return _json.loads(data) if parse and data is not None else data
    return property(get, doc=doc)


@dataclass
class Result:
    """One rich output: a display() call, a matplotlib figure, or the cell's
    final value (is_main_result). `mime` maps each MIME type to its data:
    str for text types, bytes for images (a PNG starts with b"\\x89PNG")."""
    mime: Dict[str, MimeData] = field(default_factory=dict)
    is_main_result: bool = False

    #  One property per common type: its data, or None when absent (no
    #  annotations: a dataclass would take them for fields).
    text = _entry("text/plain", "text/plain: the object's repr (str).")
    html = _entry("text/html", "text/html (str): a DataFrame's table.")
    markdown = _entry("text/markdown", "text/markdown (str).")
    latex = _entry("text/latex", "text/latex (str).")
    svg = _entry("image/svg+xml", "image/svg+xml (str).")
    png = _entry("image/png", "image/png: the file's bytes.")
    jpeg = _entry("image/jpeg", "image/jpeg: the file's bytes.")
    json = _entry("application/json", "application/json, parsed.", parse=True)
    plotly = _entry(PLOTLY_MIME, "A plotly figure's JSON (data, layout), parsed.",
                    parse=True)

    def formats(self) -> List[str]:
        """The MIME types present, in bundle order."""
        return list(self.mime)


@dataclass
class ExecutionError:
    """The exception the user's code raised (the PYTHON_ERROR of an execute):
    its class name, its str(), and the formatted traceback lines."""
    name: str
    value: str
    traceback: List[str] = field(default_factory=list)

    def __str__(self) -> str:
        return "%s: %s" % (self.name, self.value) if self.value else self.name


@dataclass
class Execution:
    """What a cell did.

    results          every display() and figure, in order, then the final
                     value (is_main_result) when the cell had one
    stdout, stderr   all the output, decoded as UTF-8
    error            None, or the ExecutionError the code raised
    execution_count  the session's cell number (1 for the first cell)
    duration_ms      run time measured in the executor, when the kernel
                     reports it (protocol: reply field duration_ms), else None
    wall_ms          send to reply, measured by this client
    state_lost       True on the first reply of a fresh kernel that replaced
                     one that died or was evicted; notice says why
    restored         True on the first reply after an evicted session came
                     back from its snapshot; notice lists what was not kept
    truncated        the output limit in bytes when output was dropped past
                     it, else None
    """
    results: List[Result] = field(default_factory=list)
    stdout: str = ""
    stderr: str = ""
    error: Optional[ExecutionError] = None
    execution_count: Optional[int] = None
    duration_ms: Optional[int] = None
    wall_ms: Optional[int] = None
    state_lost: bool = False
    restored: bool = False
    notice: Optional[str] = None
    truncated: Optional[int] = None

    @property
    def main_result(self) -> Optional[Result]:
        for result in self.results:
            if result.is_main_result:
                return result
        return None

    @property
    def text(self) -> Optional[str]:
        """text/plain of the cell's final value, or None when it had none."""
        main = self.main_result
        return main.text if main else None


@dataclass
class Variable:
    """One row of Session.vars(): a user variable's name and type, with its
    shape (objects with .shape) or len (sized objects) where it applies."""
    name: str
    type: str
    shape: Optional[Tuple[int, ...]] = None
    len: Optional[int] = None


@dataclass
class File:
    """One entry of the session's working directory (Session.files()):
    kind is "file", "dir" or "other"; bytes is a file's size."""
    name: str
    kind: str
    bytes: Optional[int] = None


@dataclass
class Upload:
    """What upload() stored: a DataFrame (rows, columns) or a file."""
    name: str
    kind: str
    bytes: int
    rows: Optional[int] = None
    columns: Optional[int] = None
    format: str = ""
    state_lost: bool = False
    notice: Optional[str] = None


@dataclass
class Completion:
    """Candidates for the token before the cursor; each replaces the text
    between cursor_start and cursor_end (character offsets into the code)."""
    matches: List[str]
    cursor_start: int
    cursor_end: int


@dataclass
class Inspection:
    """The object at the cursor: found, and its signature/type and docstring
    as text (text/plain of mime)."""
    found: bool
    mime: Dict[str, MimeData] = field(default_factory=dict)

    @property
    def text(self) -> Optional[str]:
        return self.mime.get("text/plain")  # type: ignore[return-value]


@dataclass
class Stats:
    """Broker-wide figures (the stats reply); sessions lists one dict per
    live session (session, state, pid, queued, idle_ms, requests, ...)."""
    version: int
    broker: str
    uptime_ms: int
    sessions: int
    kernels: int
    queued: int
    max_sessions: int
    session_list: List[Dict[str, Any]] = field(default_factory=list)
    raw: Dict[str, Any] = field(default_factory=dict)


#  --- events (Session.attach, and what callbacks see) -------------------

@dataclass
class Event:
    """An event of a session: session key and the id of your request it
    belongs to. Events of another client's request in a session you
    attached to have id 0, request its id and client its label
    (protocol.md 4.5); session-wide events have all three empty."""
    session: str
    id: int
    request: int = 0
    client: str = ""


@dataclass
class StreamEvent(Event):
    """Output of running code: name is "stdout" or "stderr"."""
    name: str = ""
    text: str = ""


@dataclass
class DisplayEvent(Event):
    """A display() call or a matplotlib figure."""
    result: Result = field(default_factory=Result)


@dataclass
class TruncatedEvent(Event):
    """The request's output passed limit bytes; the rest is dropped."""
    name: str = ""
    limit: int = 0


@dataclass
class EvictedEvent(Event):
    """The session was evicted or its kernel died while idle; its state is
    gone. Attach iterators end after this event."""
    message: str = ""


@dataclass
class DetachedEvent(Event):
    """The broker detached you from the session because you fell too far
    behind reading; attach again to follow it. Attach iterators end here."""
    message: str = ""


@dataclass
class InputEvent(Event):
    """A request starts running: request_type "execute" (with its
    execution_count and code), "upload" (name, format, bytes) or "reset"."""
    request_type: str = ""
    execution_count: Optional[int] = None
    code: str = ""
    name: str = ""
    format: str = ""
    bytes: int = 0


@dataclass
class StatusEvent(Event):
    """Another client's request is sent to the kernel (state "busy") or
    answered ("idle")."""
    state: str = ""
    request_type: str = ""


@dataclass
class OutcomeEvent(Event):
    """How another client's request ended: ok, or error (a protocol error
    name) with its message; for a cell, its result or its Python error."""
    ok: bool = False
    error: Optional[str] = None
    message: str = ""
    execution_count: Optional[int] = None
    duration_ms: Optional[int] = None
    result: Optional[Result] = None
    python_error: Optional[ExecutionError] = None


@dataclass
class KernelEvent(Event):
    """The session's kernel is "starting" (a fresh one) or "died"."""
    state: str = ""
    message: str = ""


#  Events after which an attachment delivers nothing more.
ENDS_ATTACHMENT = (EvictedEvent, DetachedEvent)


@dataclass
class OtherEvent(Event):
    """An event kind this client does not know (a newer broker's)."""
    event: str = ""
    header: Dict[str, Any] = field(default_factory=dict)
    payloads: List[bytes] = field(default_factory=list)
