"""The sans-I/O core of the kernelmq client: protocol v1 (protocol.md).

Nothing here touches a socket or a clock of its own. The fronts (the
threaded `Client` in _sync.py, the asyncio `AsyncClient` in _async.py) feed
it the frames they receive and the time, and send the frames it hands them;
this module builds and parses messages and keeps every request's state:

    waiter = conn.start(op)            # frames to send: waiter.frames
    conn.receive(frames, now)          # -> the waiters that got something
    conn.tick(now)                     # -> heartbeats to send; fails waiters
                                       #    when the broker has gone silent
    waiter.take() then waiter.process(items) in the caller's own thread

A kernel is hostile, and the broker forwards its headers untouched, so every
message is validated before it is believed: frame 0, a bounded header that is
one msgpack map with string keys and the right kind for every known key, at
most 64 payloads, each within max_payload, MIME bundles whose entries match
their payloads. Nothing is ever unpickled; msgpack extension types are
refused.
"""
from __future__ import annotations

import collections
import logging
import re
import secrets
from dataclasses import dataclass, field
from typing import Any, Deque, Dict, Generic, List, Optional, Sequence, TypeVar

import msgpack

from . import errors

log = logging.getLogger("kernelmq")
RESUME_S = 60                        # how long a silent broker is waited for
REATTACH_S = 15                      # how long a restarted broker may take to adopt a session

SIGNATURE = b"KMQ1"
VERSION = 1
MAX_HEADER = 1 << 20                 # protocol.md 2: header map at most 1 MiB
MAX_PAYLOADS = 64                    # payload frames per message
MAX_FRAME_PAYLOADS = 4096            # ... per frame-format message (protocol.md 11)
MAX_PAYLOAD = 1 << 30                # hard cap per payload frame (1 GiB)
SESSION_MAX = 128
NAME_MAX = 255
_SESSION_KEY = re.compile(r"[A-Za-z0-9._:-]{1,128}\Z")

#  One kind per known key, whatever the message type (protocol.md 3-5; the
#  same table as common/proto_names.c). Unknown keys are ignored.
_STR, _UINT, _BOOL, _ARRAY, _MAP = "a string", "an unsigned integer", "a boolean", "an array", "a map"
_FIELDS: Dict[str, tuple] = {
    "type": (_STR,), "id": (_UINT,), "session": (_STR,), "version": (_UINT,),
    "client": (_STR,), "timeout_ms": (_UINT,), "name": (_STR,), "format": (_STR,),
    "status": (_STR,), "error": (_STR,), "message": (_STR,), "event": (_STR,),
    "limit": (_UINT,), "state_lost": (_BOOL,), "notice": (_STR,), "broker": (_STR,),
    "heartbeat_ivl_ms": (_UINT,), "heartbeat_liveness": (_UINT,),
    "max_payload": (_UINT,), "execution_count": (_UINT,), "mime": (_ARRAY, _STR),
    "ename": (_STR,), "evalue": (_STR,), "traceback": (_ARRAY, _STR),
    "killed": (_BOOL,), "cause": (_STR,), "kind": (_STR,), "bytes": (_UINT,),
    "parts": (_UINT,), "part": (_UINT,), "sizes": (_ARRAY, _UINT), "in_parts": (_BOOL,),
    "rows": (_UINT,), "columns": (_UINT,), "interrupted": (_BOOL,),
    "vars": (_ARRAY, _MAP), "files": (_ARRAY, _MAP), "uptime_ms": (_UINT,),
    "sessions": (_UINT,), "kernels": (_UINT,), "queued": (_UINT,),
    "max_sessions": (_UINT,), "session_list": (_ARRAY, _MAP), "pid": (_UINT,),
    "cursor_pos": (_UINT,), "matches": (_ARRAY, _STR), "cursor_start": (_UINT,),
    "cursor_end": (_UINT,), "found": (_BOOL,), "executor_pid": (_UINT,),
    "wait_status": (_UINT,), "sandbox_config": (_STR,), "duration_ms": (_UINT,),
    "request": (_UINT,), "request_type": (_STR,), "state": (_STR,),
    "completeness": (_STR,), "indent": (_STR,), "last": (_UINT,),
    "cells": (_ARRAY, _MAP), "truncated": (_BOOL,), "running": (_MAP,),
    "waiting": (_ARRAY, _MAP), "attached": (_UINT,), "frame": (_MAP,),
    "host": (_STR,), "resumed": (_BOOL,), "busy": (_BOOL,), "replies": (_ARRAY, _UINT),
    "zygote_pid": (_UINT,), "zygote_restarts": (_UINT,), "pool_size": (_UINT,),
    "kernel_id": (_STR,), "restore": (_BOOL,), "restored": (_BOOL,), "snapshot": (_BOOL,),
    "quota": (_UINT,), "kept": (_ARRAY, _STR), "dropped": (_ARRAY, _MAP),
    "file_count": (_UINT,), "largest": (_ARRAY, _MAP), "exit_status": (_UINT,),
    "grace_ms": (_UINT,), "ran": (_BOOL,), "seen": (_ARRAY, _UINT),
    "end_sessions": (_BOOL,), "hosts": (_ARRAY, _MAP),
    "epoch": (_UINT,),
    "with": (_STR,), "revoke": (_BOOL,), "as": (_STR,), "owner": (_STR,),
    "shared": (_ARRAY, _STR),
}


#  msgpack decodes to exactly these types (never a subclass, and a bool is
#  not an int here), so an identity test on the type is the whole check
_TYPE_OF = {_STR: str, _UINT: int, _BOOL: bool, _ARRAY: list, _MAP: dict}


def _kind_ok(value: Any, kind: str) -> bool:
    if type(value) is not _TYPE_OF[kind]:
        return False
    return kind != _UINT or value >= 0


def session_valid(key: object) -> bool:
    """True if key is a valid session key: 1-128 characters of [A-Za-z0-9._:-]."""
    return isinstance(key, str) and _SESSION_KEY.match(key) is not None


class Malformed(ValueError):
    """A message that breaks protocol.md; .id is its id when the header got
    far enough to carry one, so the request it answers can still fail."""

    def __init__(self, text: str, id: Optional[int] = None) -> None:
        super().__init__(text)
        self.id = id


@dataclass
class Message:
    """One decoded message: the header map and the payload frames."""
    header: Dict[str, Any]
    payloads: List[bytes] = field(default_factory=list)

    @property
    def type(self) -> str:
        return self.header.get("type", "")

    @property
    def id(self) -> int:
        return self.header.get("id", 0)

    @property
    def session(self) -> str:
        return self.header.get("session", "")

    def get(self, key: str, default: Any = None) -> Any:
        return self.header.get(key, default)


def _refuse_ext(code: int, data: bytes) -> Any:
    raise ValueError("msgpack extension type %d in a header" % code)


def encode(header: Dict[str, Any], payloads: Sequence[bytes] = ()) -> List[bytes]:
    """The frames of one message: KMQ1, the msgpack header, the payloads."""
    return [SIGNATURE, msgpack.packb(header, use_bin_type=True), *payloads]


def decode(frames: Sequence[bytes], max_payload: int = MAX_PAYLOAD) -> Message:
    """Validates and decodes one message. Raises Malformed."""
    if len(frames) < 2:
        raise Malformed("a message has at least 2 frames, got %d" % len(frames))
    if bytes(frames[0]) != SIGNATURE:
        raise Malformed("frame 0 is not KMQ1")
    raw = frames[1]
    if len(raw) > MAX_HEADER:
        raise Malformed("header of %d bytes is over %d" % (len(raw), MAX_HEADER))
    if len(frames) - 2 > MAX_FRAME_PAYLOADS:
        raise Malformed("%d payload frames, over %d" % (len(frames) - 2, MAX_FRAME_PAYLOADS))
    try:
        header = msgpack.unpackb(bytes(raw), raw=False, strict_map_key=True,
                                 ext_hook=_refuse_ext)
    except Exception as exc:    # noqa: BLE001 -- msgpack raises several kinds
        raise Malformed("header is not one msgpack value: %s" % exc) from None
    if not isinstance(header, dict):
        raise Malformed("header is not a map")
    if not all(isinstance(key, str) for key in header):
        raise Malformed("header keys must be strings")
    id = header.get("id")
    id = id if _kind_ok(id, _UINT) else None
    for key, value in header.items():
        spec = _FIELDS.get(key)
        if spec is None:
            continue
        if not _kind_ok(value, spec[0]):
            raise Malformed("header field %r must be %s" % (key, spec[0]), id)
        if len(spec) > 1 and not all(_kind_ok(item, spec[1]) for item in value):
            raise Malformed("header field %r must be an array of %s" % (key, spec[1]), id)
    if "type" not in header:
        raise Malformed("header has no type", id)
    #  Only a frame-format upload or reply may carry more than 64 (protocol.md 11)
    limit = (MAX_FRAME_PAYLOADS if header.get("format") == "frame" and "frame" in header
             else MAX_PAYLOADS)
    if len(frames) - 2 > limit:
        raise Malformed("%d payload frames, over %d" % (len(frames) - 2, limit), id)
    payloads = [bytes(frame) for frame in frames[2:]]
    for index, payload in enumerate(payloads):
        if len(payload) > max_payload:
            raise Malformed("payload %d is %d bytes, over max_payload %d"
                            % (index, len(payload), max_payload), id)
    message = Message(header, payloads)
    if message.type == "reply" and header.get("status") not in ("ok", "error"):
        raise Malformed("reply status must be ok or error", id)
    if "mime" in header:
        if len(header["mime"]) != len(payloads):
            raise Malformed("mime names %d entries but the message has %d payloads"
                            % (len(header["mime"]), len(payloads)), id)
        if len(set(header["mime"])) != len(header["mime"]):
            raise Malformed("a MIME type appears twice in one bundle", id)
    if message.type == "event" and header.get("event") == "stream" and len(payloads) != 1:
        raise Malformed("a stream event carries exactly one payload", id)
    return message


#  --- requests --------------------------------------------------------

T = TypeVar("T")


class Op(Generic[T]):
    """One request: its header and payloads, what to do with each event, and
    how its reply becomes a result (or an exception). Subclasses live in
    _ops.py; both fronts run them unchanged."""

    def __init__(self, header: Dict[str, Any], payloads: Sequence[bytes] = (),
                 pieces: Sequence[Any] = ()) -> None:
        self.header = header
        self.payloads = list(payloads)
        #  An upload in parts (protocol.md 5, upload): payload 0 is the
        #  first piece, these are sent after it as upload_part messages
        self.pieces = list(pieces)
        self.wall_ms: Optional[int] = None    # send to reply, measured here

    def whole_message(self) -> bool:
        """For a request in parts over max_payload: True if it can go as one
        message instead (it then is one), False if it cannot."""
        return False

    def on_event(self, message: Message) -> Any:
        """Called in the caller's thread for each event of this request.
        Returns something to hand the caller (attach) or None."""
        return None

    def on_reply(self, message: Message) -> T:
        """The request's result from its reply; raises errors.Error."""
        if message.get("status") != "ok":
            raise errors.from_reply(message.header)
        return self.result(message)

    def result(self, message: Message) -> T:
        return None  # type: ignore[return-value]

    def on_failure(self, exc: BaseException) -> BaseException:
        """The exception to raise when the request ends without a reply
        (the broker went silent, the client closed)."""
        return exc


_NOT_DONE = object()


class Waiter:
    """The client side of one request in flight (or of an attach
    subscription, which never ends by itself). The connection appends what
    arrives to inbox; the caller takes it and processes it in its own
    thread, so user callbacks run where the call was made."""

    def __init__(self, op: Op, id: int, frames: List[bytes], subscription: str = "",
                 more: Sequence[List[Any]] = ()) -> None:
        self.op = op
        self.id = id
        self.frames = frames
        self.more = list(more)                # further messages: an upload's pieces
        self.subscription = subscription      # attach: the session key
        self.inbox: Deque[Any] = collections.deque()
        self.finished = False                 # the final item is in inbox
        self.wake: Any = None                 # the front's waker (asyncio.Event)
        self.sent_at: Optional[float] = None  # when the front sent it (seconds)

    def take(self) -> List[Any]:
        """Everything that arrived so far (call under the front's lock)."""
        items = list(self.inbox)
        self.inbox.clear()
        return items

    def process(self, items: List[Any], now: float) -> tuple:
        """Runs the op over items: (outputs, result) where outputs are what
        on_event returned (attach's typed events) and result is _NOT_DONE
        until the reply. Raises the request's exception."""
        outputs = []
        for item in items:
            if isinstance(item, BaseException):
                raise self.op.on_failure(item)
            if item.type == "reply":
                if self.sent_at is not None:
                    self.op.wall_ms = max(0, int((now - self.sent_at) * 1000))
                return outputs, self.op.on_reply(item)
            output = self.op.on_event(item)
            if output is not None:
                outputs.append(output)
        return outputs, _NOT_DONE


def done(result: Any) -> bool:
    """True when Waiter.process returned the request's result."""
    return result is not _NOT_DONE


class Connection:
    """One client's protocol state: ids, requests in flight, attach
    subscriptions, and liveness (protocol.md 7, Paranoid Pirate).

    While anything waits, a heartbeat goes to the broker every interval and
    any message from it counts as life. When it is silent for interval x
    liveness, the connection resumes (protocol.md 12.2): requests to a
    session keep waiting up to RESUME_S while it heartbeats a broker that
    may be restarting; the first message from one makes it say hello again
    and send `resume` for each of them; everything else (attachments,
    stats) fails with BrokerUnreachable, as do the requests when no broker
    answers in time. Between waits
    nobody heartbeats, so the silence clock starts afresh when a wait
    begins after a pause (as libkmq does). Not thread-safe: the sync front
    calls it under its lock."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        #  Ids unique across clients, so a resumed request is never taken for
        #  another client's (protocol.md 12.2)
        self.next_id = secrets.randbits(48)
        self.client_name = "kernelmq-python"
        self.resuming_until: Optional[float] = None   # a silent broker is waited for
        self.resumes: Dict[int, int] = {}             # resume request id -> request id
        self.epoch: Optional[int] = None              # the broker's, from hello (12.1)
        self.reattaches: Dict[int, str] = {}          # attach request id -> session
        self.reattach_due: List[tuple] = []           # (when, session) to attach again
        self.reattach_until = 0.0
        self.outbox: List[List[bytes]] = []           # frames tick hands the front
        self.waiters: Dict[int, Waiter] = {}
        self.subscriptions: Dict[str, Waiter] = {}
        self.heartbeat_ivl = 1.0           # seconds; from hello
        self.liveness = 3
        self.max_payload = 256 << 20
        self.broker = ""
        self.version = VERSION
        self.last_heard = 0.0
        self.next_heartbeat = 0.0
        self.idle_since: Optional[float] = 0.0

    #  --- requests ---

    def start(self, op: Op, now: float) -> Waiter:
        """Registers op as a request with a fresh id; its frames are in
        waiter.frames for the front to send, then those in waiter.more.
        Raises TooLarge (nothing is registered) for a payload, or an upload
        in parts, over the broker's max_payload."""
        if op.pieces and op.header.get("bytes", 0) > self.max_payload:
            op.whole_message()
        sizes = [len(payload) for payload in op.payloads]
        if op.pieces:
            sizes = [op.header.get("bytes", 0)]
        for index, size in enumerate(sizes):
            if size > self.max_payload:
                raise errors.TooLarge(
                    "%s: payload %d is %d bytes, over the broker's max_payload of %d "
                    "bytes; send less, or raise max_payload"
                    % (op.header.get("type"), index, size, self.max_payload),
                    session=op.header.get("session", ""))
        self.next_id += 1
        header = dict(op.header, id=self.next_id)
        more = [encode({"type": "upload_part", "id": self.next_id,
                        "session": header.get("session", ""), "part": part}, [piece])
                for part, piece in enumerate(op.pieces, 1)]
        waiter = Waiter(op, self.next_id, encode(header, op.payloads), more=more)
        self._wait_begin(now)
        self.waiters[waiter.id] = waiter
        return waiter

    def subscribe(self, session: str, op: Op, now: float) -> Waiter:
        """Routes every event of session not meant for one of our requests
        (and the session's id-0 events) to the returned waiter."""
        waiter = Waiter(op, 0, [], subscription=session)
        self._wait_begin(now)
        self.subscriptions[session] = waiter
        return waiter

    def forget(self, waiter: Waiter, now: float) -> None:
        """The caller stopped waiting (reply taken, subscription closed)."""
        if waiter.subscription:
            if self.subscriptions.get(waiter.subscription) is waiter:
                del self.subscriptions[waiter.subscription]
        else:
            self.waiters.pop(waiter.id, None)
        if not self.busy:
            self.idle_since = now

    @property
    def busy(self) -> bool:
        return bool(self.waiters or self.subscriptions)

    def _wait_begin(self, now: float) -> None:
        if self.idle_since is not None:
            if now - self.idle_since > self.heartbeat_ivl or not self.last_heard:
                self.last_heard = now
                self.next_heartbeat = now + self.heartbeat_ivl
            self.idle_since = None

    def hello_done(self, message: Message) -> None:
        """Takes the broker's limits from an ok hello reply."""
        self.broker = message.get("broker", "kmq-broker")
        self.version = message.get("version", VERSION)
        self.heartbeat_ivl = (message.get("heartbeat_ivl_ms") or 1000) / 1000.0
        self.liveness = message.get("heartbeat_liveness") or 3
        self.max_payload = min(message.get("max_payload") or (256 << 20), MAX_PAYLOAD)
        if message.get("epoch"):
            self.epoch = message.get("epoch")
        #  The hello window had no heartbeats; the real rhythm starts now.
        self.next_heartbeat = self.last_heard + self.heartbeat_ivl

    #  --- input ---

    def receive(self, frames: Sequence[bytes], now: float) -> List[Waiter]:
        """Takes one message from the broker; returns the waiters that got
        something. Malformed input counts as life and is dropped, unless it
        names a request of ours, which then fails with ProtocolError."""
        self.last_heard = now
        try:
            message = decode(frames, self.max_payload)
        except Malformed as exc:
            waiter = self.waiters.get(exc.id) if exc.id else None
            if waiter is None:
                return []
            return self._finish(waiter, errors.ProtocolError(
                "the broker at %s sent a malformed answer to request %d: %s"
                % (self.endpoint, waiter.id, exc)))
        kind = message.type
        epoch = message.get("epoch") if kind in ("heartbeat", "reply") else None
        if epoch and self.epoch and epoch != self.epoch:
            #  A new broker answers where the old one was (it restarted
            #  faster than our silence limit): it knows nothing of us.
            log.warning("kernelmq: the broker at %s restarted", self.endpoint)
            self.epoch = epoch
            self._broker_back(now, restarted=True)
        elif self.resuming_until is not None:
            self._broker_back(now)
        if kind == "reply" and message.id in self.resumes:
            return self._resumed(message)
        if kind == "reply" and message.id in self.reattaches:
            self._reattached(message, now)
            return []
        if kind == "reply":
            waiter = self.waiters.get(message.id)
            return self._finish(waiter, message) if waiter else []
        if kind != "event":
            return []                       # heartbeats; anything else is ignored
        #  An event of our own request goes to it, and also to an attach
        #  subscription of its session (the broker sends it to us once).
        touched = []
        for waiter in (self.waiters.get(message.id) if message.id else None,
                       self.subscriptions.get(message.session)):
            if waiter is not None and not waiter.finished:
                waiter.inbox.append(message)
                touched.append(waiter)
        return touched

    def _broker_back(self, now: float, restarted: bool = False) -> None:
        """A broker answers again: hello, and resume every waiting request.
        After a restart (a new epoch) attachments are made again too: the
        new broker adopts the sessions as their hosts re-register, so an
        attach refused with NO_SUCH_SESSION is retried for REATTACH_S."""
        self.resuming_until = None
        log.warning("kernelmq: the broker at %s answers again; resuming %d request(s)",
                    self.endpoint, len(self.waiters))
        self.next_id += 1
        self.outbox.append(encode({"type": "hello", "id": self.next_id, "version": VERSION,
                                   "client": self.client_name}))
        for waiter in self.waiters.values():
            if waiter.subscription or waiter.finished:
                continue
            self.next_id += 1
            self.resumes[self.next_id] = waiter.id
            self.outbox.append(encode({"type": "resume", "id": self.next_id,
                                       "session": waiter.op.header.get("session", ""),
                                       "request": waiter.id}))
        if restarted and self.subscriptions:
            self.reattach_until = now + REATTACH_S
            for session in self.subscriptions:
                self._reattach(session)

    def _reattach(self, session: str) -> None:
        self.next_id += 1
        self.reattaches[self.next_id] = session
        self.outbox.append(encode({"type": "attach", "id": self.next_id, "session": session}))

    def _reattached(self, message: Message, now: float) -> None:
        """The answer to an attach made again after a restart: a session the
        new broker does not know yet is asked again until REATTACH_S; then
        the attachment ends with the broker's error."""
        session = self.reattaches.pop(message.id)
        waiter = self.subscriptions.get(session)
        if waiter is None or message.get("status") == "ok":
            return
        if message.get("error") == "NO_SUCH_SESSION" and now < self.reattach_until:
            self.reattach_due.append((now + 0.2, session))
            return
        self._finish(waiter, errors.from_reply(message.header))

    def _resumed(self, message: Message) -> List[Waiter]:
        """The answer to a resume: the request runs on (state running, or
        done: its kept reply came just before), or it is LOST."""
        waiter = self.waiters.get(self.resumes.pop(message.id))
        if waiter is None or message.get("status") == "ok":
            return []
        return self._finish(waiter, message)

    def _finish(self, waiter: Waiter, item: Any) -> List[Waiter]:
        if waiter.finished:
            return []
        waiter.inbox.append(item)
        waiter.finished = True
        return [waiter]

    #  --- time ---

    @property
    def silence_limit(self) -> float:
        return self.heartbeat_ivl * self.liveness

    def tick(self, now: float) -> tuple:
        """(frames to send, waiters failed). Call whenever the front wakes
        while busy; it sends a heartbeat when one is due and fails every
        waiter when the broker has been silent for interval x liveness."""
        for due in [d for d in self.reattach_due if d[0] <= now]:
            self.reattach_due.remove(due)
            if due[1] in self.subscriptions:
                self._reattach(due[1])
        frames, self.outbox = self.outbox, []
        if not self.busy:
            return frames, []
        if self.resuming_until is not None and now >= self.resuming_until:
            lost = errors.BrokerUnreachable(
                "broker at %s stopped answering and did not come back within %d s: "
                "is kmq-broker still running?" % (self.endpoint, RESUME_S))
            self.resuming_until = None
            return frames, self._fail_waiting(lost, now)
        if self.resuming_until is None and now - self.last_heard >= self.silence_limit:
            lost = errors.BrokerUnreachable(
                "broker at %s stopped answering (silent for %d ms): is kmq-broker "
                "still running?" % (self.endpoint, int(self.silence_limit * 1000)))
            failed = []
            for waiter in list(self.waiters.values()) + list(self.subscriptions.values()):
                if waiter.subscription or not waiter.op.header.get("session"):
                    failed += self._finish(waiter, lost)
            if any(not w.finished for w in self.waiters.values()):
                log.warning("kernelmq: the broker at %s is silent; waiting up to %d s "
                            "for it to come back", self.endpoint, RESUME_S)
                self.resuming_until = now + RESUME_S
            self.last_heard = now           # the next wait gets a full window
            if failed:
                return frames, failed
        if now >= self.next_heartbeat:
            self.next_heartbeat = now + self.heartbeat_ivl
            frames.append(encode({"type": "heartbeat"}))
        return frames, []

    def _fail_waiting(self, exc: BaseException, now: float) -> List[Waiter]:
        failed = []
        for waiter in list(self.waiters.values()) + list(self.subscriptions.values()):
            failed += self._finish(waiter, exc)
        self.last_heard = now
        return failed

    def timeout(self, now: float) -> float:
        """Seconds until tick has something to do (for the front's poll)."""
        if self.outbox:
            return 0.0
        if self.reattach_due:
            return max(0.0, min(d[0] for d in self.reattach_due) - now)
        limit = (self.resuming_until if self.resuming_until is not None
                 else self.last_heard + self.silence_limit)
        until = min(self.next_heartbeat, limit) - now
        return max(0.0, until)

    def fail_all(self, exc: BaseException) -> List[Waiter]:
        """Ends every waiter with exc (the client is closing)."""
        failed = []
        for waiter in list(self.waiters.values()) + list(self.subscriptions.values()):
            failed += self._finish(waiter, exc)
        return failed

