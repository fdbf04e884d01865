"""kernelmq: persistent, sandboxed Python sessions behind a kmq-broker.

    import kernelmq
    with kernelmq.Client() as c:              # $KMQ_ENDPOINT or tcp://127.0.0.1:5555
        s = c.session("analysis-42")          # c.session(): a fresh random key
        ex = s.run("x = 41\\nx + 1", on_stdout=print)
        ex.text                               # "42"

`Client` is thread-safe; `AsyncClient` is the same API for asyncio;
`Client.local()` starts a private broker. Python errors in the code come
back as `Execution.error` (an `ExecutionError` value); service errors raise
subclasses of `kernelmq.Error` (see kernelmq.errors), one per protocol
error: `KernelDied`, `Timeout`, `Interrupted`, `SessionLimit`, `QueueFull`,
`TooLarge`, `BrokerUnreachable`, ... `kernelmq.tools` helps an LLM call a
session as a `python` tool.
"""
from ._async import AsyncAttachment, AsyncClient, AsyncSession
from ._common import default_endpoint, new_session_key
from ._sync import Attachment, Client, Session
from ._types import (Completion, DetachedEvent, DisplayEvent, Event, EvictedEvent, Execution,
                     ExecutionError, File, InputEvent, Inspection, KernelEvent, OtherEvent,
                     OutcomeEvent, Result, Stats, StatusEvent, StreamEvent, TruncatedEvent,
                     Upload, Variable)
from .errors import (BadRequest, BrokerUnreachable, ClientClosed, Closed, Error, Evicted,
                     Forbidden,
                     Internal, Lost, Interrupted, KernelDied, NoSuchSession, NotFound, ProtocolError,
                     PythonError, QueueFull, SessionLimit, Timeout, TooLarge, Unsupported,
                     UnsupportedVersion)

from ._keys import identity

__version__ = "0.1.0"

__all__ = [
    "Client", "Session", "Attachment", "AsyncClient", "AsyncSession", "AsyncAttachment",
    "default_endpoint", "new_session_key",
    "Execution", "ExecutionError", "Result", "Variable", "File", "Upload", "Completion",
    "Inspection", "Stats", "Event", "StreamEvent", "DisplayEvent", "TruncatedEvent",
    "EvictedEvent", "DetachedEvent", "InputEvent", "StatusEvent", "OutcomeEvent",
    "KernelEvent", "OtherEvent",
    "Error", "BadRequest", "UnsupportedVersion", "NoSuchSession", "SessionLimit", "QueueFull",
    "TooLarge", "Timeout", "Interrupted", "KernelDied", "Evicted", "Closed", "PythonError",
    "NotFound", "Unsupported", "Internal", "Lost", "BrokerUnreachable", "ProtocolError",
    "ClientClosed", "Forbidden", "identity",
]
