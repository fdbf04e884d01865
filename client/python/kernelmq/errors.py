"""kernelmq's exceptions: one hierarchy under `kernelmq.Error`, one class per
protocol error (protocol.md section 6) plus the client's own.

Python errors in the user's code are not exceptions here: an execute whose
code raised returns an `Execution` whose `.error` is an `ExecutionError`
value (name, value, traceback), as E2B does. What raises is the service:
the broker, the kernel, the limits.

Every exception carries:
    code        the protocol error name ("KERNEL_DIED"), or the client's own
                ("BROKER_UNREACHABLE", "PROTOCOL_ERROR", "CLIENT_CLOSED")
    message     the sentence the broker sent (what happened, what to do)
    session     the session key, when the request had one
    fields      every other header field of the error reply
    state_lost  True when the session's variables and files are gone
    execution   for execute: the partial Execution (stdout so far), else None
"""
from __future__ import annotations

from typing import Any, Dict, Optional, Type


class Error(Exception):
    """Base of every kernelmq exception."""

    code = "INTERNAL"

    def __init__(self, message: str = "", *, session: str = "",
                 fields: Optional[Dict[str, Any]] = None) -> None:
        super().__init__(message)
        self.message = message
        self.session = session
        self.fields: Dict[str, Any] = dict(fields or {})
        self.execution: Any = None

    @property
    def state_lost(self) -> bool:
        """True when the session's state is gone (a fresh kernel follows)."""
        return bool(self.fields.get("state_lost"))

    @property
    def notice(self) -> Optional[str]:
        return self.fields.get("notice")

    def __str__(self) -> str:
        return "%s: %s" % (self.code, self.message) if self.message else self.code


class BadRequest(Error):
    """Malformed message or invalid field; the message names the field."""
    code = "BAD_REQUEST"


class UnsupportedVersion(Error):
    """No common protocol version: upgrade the client or the broker."""
    code = "UNSUPPORTED_VERSION"


class NoSuchSession(Error):
    """The request needs a live session; start one with run()."""
    code = "NO_SUCH_SESSION"


class SessionLimit(Error):
    """max_sessions sessions are live: close one or raise the limit."""
    code = "SESSION_LIMIT"


class QueueFull(Error):
    """The session has max_queue requests waiting: wait, then retry."""
    code = "QUEUE_FULL"


class TooLarge(Error):
    """A frame or message over a limit (the client checks max_payload first)."""
    code = "TOO_LARGE"


class Timeout(Error, TimeoutError):
    """The request ran past its wall-time or CPU limit. `.killed` is True when
    the code ignored the interrupt and the kernel was killed (state lost)."""
    code = "TIMEOUT"

    @property
    def killed(self) -> bool:
        return bool(self.fields.get("killed"))

    @property
    def state_lost(self) -> bool:
        return self.killed or bool(self.fields.get("state_lost"))


class Interrupted(Error):
    """An interrupt stopped the request; the namespace is kept."""
    code = "INTERRUPTED"


class KernelDied(Error):
    """The kernel or its executor died while running the request. `.cause`
    says how ("signal 9 (Killed)"); the session's state is lost and the next
    request runs on a fresh kernel whose reply says so."""
    code = "KERNEL_DIED"

    @property
    def cause(self) -> str:
        return self.fields.get("cause", "")

    @property
    def state_lost(self) -> bool:
        return True


class Evicted(Error):
    """The session was evicted before the request ran: resend it."""
    code = "EVICTED"


class Closed(Error):
    """The session was closed before the request ran: resend it."""
    code = "CLOSED"


class PythonError(Error):
    """Raised by requests other than execute when Python failed in the kernel
    (an upload whose bytes do not parse). `.name` and `.value` say why."""
    code = "PYTHON_ERROR"

    @property
    def name(self) -> str:
        return self.fields.get("ename", "")

    @property
    def value(self) -> str:
        return self.fields.get("evalue", "")


class NotFound(Error):
    """No such variable or file."""
    code = "NOT_FOUND"


class Unsupported(Error):
    """Valid, but this kernel does not support it."""
    code = "UNSUPPORTED"


class Internal(Error):
    """A failure on the service's side (see the broker log), or an error name
    this client does not know (protocol.md 6)."""
    code = "INTERNAL"


class Lost(Error):
    """The broker restarted while the request waited and its outcome is gone
    (protocol.md 12.2): .ran says whether the kernel had received it (False:
    send it again; True: it ran, but its reply is no longer held)."""
    code = "LOST"

    @property
    def ran(self) -> bool:
        return bool(self.fields.get("ran"))


class Forbidden(Error):
    """The session belongs to another key and was not shared with ours
    (protocol.md 13.2); its owner can share it (Session.share)."""
    code = "FORBIDDEN"


#  --- the client's own ---

class BrokerUnreachable(Error):
    """The broker did not answer hello, or stopped answering heartbeats while
    a request waited. Whether a request in flight ran is unknown."""
    code = "BROKER_UNREACHABLE"


class ProtocolError(Error):
    """The answer to a request broke protocol.md (a hostile or broken peer)."""
    code = "PROTOCOL_ERROR"


class ClientClosed(Error):
    """The client was closed while the request waited, or before it was made."""
    code = "CLIENT_CLOSED"


_BY_CODE: Dict[str, Type[Error]] = {
    cls.code: cls for cls in (
        BadRequest, UnsupportedVersion, NoSuchSession, SessionLimit, QueueFull,
        TooLarge, Timeout, Interrupted, KernelDied, Evicted, Closed, PythonError,
        NotFound, Unsupported, Internal, Lost, Forbidden)
}


def from_reply(header: Dict[str, Any]) -> Error:
    """The exception for an error reply's header (unknown names: Internal)."""
    code = header.get("error", "INTERNAL")
    cls = _BY_CODE.get(code, Internal)
    fields = {key: value for key, value in header.items()
              if key not in ("type", "id", "status", "error", "message")}
    if cls is Internal and code != "INTERNAL":
        fields["error"] = code              # a newer peer's name, kept for logs
    return cls(header.get("message", ""), session=header.get("session", ""),
               fields=fields)

