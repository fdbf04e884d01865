"""The synchronous front: `Client`, `Session`, `Attachment`.

Threads. One Client may be used from many threads at once; its ZeroMQ
socket may not (ZeroMQ sockets are not thread-safe). The model is
leader/follower: whichever waiting thread finds no one doing I/O becomes the
leader, sends what is queued, heartbeats, polls and routes what arrives to
each request's inbox, then steps down; the others sleep on a condition and
take their own items when woken. Compared with a background I/O thread this
costs no thread hop on the common single-threaded path (a request's
round trip stays that of a bare DEALER), user callbacks always run in the
thread that made the call, and a client nobody waits on runs no thread at
all. A thread that starts a request while another leads queues its frames
and wakes the leader through a pipe the leader polls beside the socket.
"""
from __future__ import annotations

import os
import threading
import time
from typing import Any, Callable, Iterator, List, Optional, Tuple

import zmq

from . import _ops, errors
from ._keys import share_key
from ._common import CLIENT_NAME, HELLO_TIMEOUT, ClientBase, dealer, hello_failed
from ._local import LocalBroker
from ._protocol import Op, Waiter, done
from ._types import (ENDS_ATTACHMENT, Completion, Event, EvictedEvent, Execution, File, Inspection, Result,
                     Stats, Upload, Variable)

#  Requests from this many bytes on are sent without a copy.
_ZERO_COPY_MIN = 64 * 1024

#  pyzmq's constants are enums whose | and & run Python code: the hot path
#  uses their int values.
_SNDMORE = int(zmq.SNDMORE)
_EVENTS = int(zmq.EVENTS)
_RCVMORE = int(zmq.RCVMORE)
_POLLIN = int(zmq.POLLIN)


class Client(ClientBase):
    """A connection to a kmq-broker. Thread-safe; see the module docstring.

    `Client(endpoint)` connects and says hello at once; it raises
    BrokerUnreachable when the broker does not answer within hello_timeout
    seconds, and UnsupportedVersion when it refuses us. Use it as a context
    manager, or call close().
    """

    def __init__(self, endpoint: Optional[str] = None, *, hello_timeout: float = HELLO_TIMEOUT,
                 client_name: str = CLIENT_NAME, _local: Optional[LocalBroker] = None) -> None:
        super().__init__(endpoint, _local)
        #  Held as `with self._lock` (a C-level context manager); the
        #  condition shares it, for wait and notify only
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._leader = False
        self._closed = False
        self._outbox: List[Tuple[Optional[Waiter], List[bytes]]] = []
        self._context = zmq.Context.instance()
        self._sock = dealer(self._context, self.endpoint)
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._poll_items = [(self._sock, _POLLIN), (self._wake_r, _POLLIN)]
        try:
            self._hello(hello_timeout, client_name)
        except BaseException:
            self.close()
            raise

    def _hello(self, timeout: float, client_name: str) -> None:
        self._conn.client_name = client_name
        #  No heartbeats during hello: one window of the whole timeout.
        self._conn.heartbeat_ivl, self._conn.liveness = timeout, 1
        try:
            reply = self._call(_ops.HelloOp(client_name))
        except errors.Error as exc:
            raise hello_failed(self.endpoint, timeout, exc, self._local) from None
        self._conn.hello_done(reply)

    @classmethod
    def local(cls, *, hello_timeout: float = 10.0, broker_path: Optional[str] = None,
              **settings: Any) -> "Client":
        """Starts a private kmq-broker on an ipc endpoint in a private
        directory and connects to it; close() stops it and removes the
        directory. settings become broker flags (idle_timeout_s=60 is
        --idle-timeout-s 60). The broker is $KMQ_BROKER, kmq-broker on PATH
        or beside this package's installation. Raises BrokerUnreachable when
        it does not start."""
        broker = LocalBroker.start(broker_path, settings)
        try:
            return cls(broker.endpoint, hello_timeout=hello_timeout, _local=broker)
        except BaseException:
            broker.stop()
            raise

    def session(self, key: Optional[str] = None) -> "Session":
        """The session named key (created by its first request), or a fresh
        random 128-bit key. Raises BadRequest for an invalid key."""
        return Session(self, self._session_key(key))

    def stats(self) -> Stats:
        """Broker-wide figures and one row per live session."""
        return self._call(_ops.StatsOp())

    def close(self) -> None:
        """Fails every waiting call with ClientClosed, closes the socket and
        stops a local broker. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._conn.fail_all(errors.ClientClosed("the client was closed"))
            self._cond.notify_all()
            self._wake()
            while self._leader:
                self._cond.wait()
            self._sock.close(linger=0)
            os.close(self._wake_r)
            os.close(self._wake_w)
        if self._local is not None:
            self._local.stop()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    #  --- the engine ---

    def _wake(self) -> None:
        try:
            os.write(self._wake_w, b"x")
        except (BlockingIOError, OSError):
            pass                                # already awake, or closed

    def _start(self, op: Op) -> Waiter:
        with self._lock:
            if self._closed:
                raise errors.ClientClosed("the client is closed")
            waiter = self._conn.start(op, time.monotonic())
            self._outbox.append((waiter, waiter.frames))
            self._outbox.extend((None, frames) for frames in waiter.more)
            if self._leader:
                self._wake()
            return waiter

    def _call(self, op: Op, interrupt: str = "") -> Any:
        """Sends op and waits for its result. With interrupt (a session key),
        a first Ctrl-C sends that session an interrupt and keeps waiting
        (the reply is then usually Interrupted); a second one propagates."""
        waiter = self._start(op)
        interrupted = False
        try:
            while True:
                try:
                    _, result = self._wait(waiter, None)
                except KeyboardInterrupt:
                    if not interrupt or interrupted:
                        raise
                    interrupted = True
                    self._call(_ops.InterruptOp(interrupt))
                    continue
                if done(result):
                    return result
        finally:
            with self._lock:
                self._conn.forget(waiter, time.monotonic())

    def _wait(self, waiter: Waiter, deadline: Optional[float]) -> Tuple[List[Any], Any]:
        """Waits until waiter has something or deadline (monotonic s)
        passes; returns Waiter.process's (outputs, result)."""
        while True:
            with self._lock:
                items = waiter.take()
                if not items:
                    if deadline is not None and time.monotonic() >= deadline:
                        return [], None
                    if self._leader:
                        self._cond.wait(None if deadline is None
                                        else max(0.0, deadline - time.monotonic()))
                        continue
                    self._leader = True
            if items:
                return waiter.process(items, time.monotonic())
            try:
                self._lead(deadline)
            finally:
                with self._lock:
                    self._leader = False
                    self._cond.notify_all()

    def _lead(self, deadline: Optional[float]) -> None:
        """One round of I/O as the leader: send, heartbeat, poll, route."""
        with self._lock:
            if self._closed:
                return
            now = time.monotonic()
            outbox, self._outbox = self._outbox, []
            beats, failed = self._conn.tick(now)
            timeout = self._conn.timeout(now) if self._conn.busy else 0.1
        if failed:
            return
        sock = self._sock
        for waiter, frames in outbox + [(None, beat) for beat in beats]:
            if waiter is not None:
                waiter.sent_at = time.monotonic()
            #  Zero-copy only pays for big payloads: a Frame per part costs
            #  more than copying a few hundred bytes
            copy = sum(len(frame) for frame in frames) < _ZERO_COPY_MIN
            last = len(frames) - 1
            for index, frame in enumerate(frames):
                sock.send(frame, _SNDMORE if index < last else 0, copy=copy)
        if deadline is not None:
            timeout = min(timeout, max(0.0, deadline - time.monotonic()))
        sock_ready = False
        for item, _ in zmq.zmq_poll(self._poll_items, int(timeout * 1000) + 1):
            if item is sock:
                sock_ready = True
            else:
                try:
                    os.read(self._wake_r, 4096)
                except BlockingIOError:
                    pass
        if not sock_ready:
            return
        received = []
        #  ZMQ_EVENTS says when the queue is empty, where a NOBLOCK recv
        #  would say it with a raised zmq.Again (an exception per wake-up)
        while len(received) < 1000 and sock.getsockopt(_EVENTS) & _POLLIN:
            frames = [sock.recv()]
            while sock.getsockopt(_RCVMORE):
                frames.append(sock.recv())
            received.append(frames)
        with self._lock:
            now = time.monotonic()
            for frames in received:
                self._conn.receive(frames, now)


class Session:
    """A named kernel session: its variables and files live in the kernel
    between calls. Made by Client.session(). Methods raise the exceptions of
    kernelmq.errors; each says what it returns. As a context manager it
    closes the session on exit."""

    def __init__(self, client: Client, key: str) -> None:
        self.client = client
        self.key = key

    def __repr__(self) -> str:
        return "Session(%r)" % self.key

    def __enter__(self) -> "Session":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def run(self, code: str, *, timeout: Optional[float] = None,
            on_stdout: Optional[Callable[[str], Any]] = None,
            on_stderr: Optional[Callable[[str], Any]] = None,
            on_display: Optional[Callable[[Result], Any]] = None) -> Execution:
        """Runs code as a notebook cell. Output reaches on_stdout/on_stderr
        (str chunks) and on_display (a Result) while it runs. timeout is in
        seconds (None: the broker's request_timeout). Returns an Execution;
        if the code raised, its .error says what. Raises Timeout,
        Interrupted, KernelDied, QueueFull, SessionLimit, ... with the
        partial Execution on .execution. Ctrl-C interrupts the cell."""
        op = _ops.ExecuteOp(self.key, code, timeout, on_stdout, on_stderr, on_display)
        return self.client._call(op, interrupt=self.key)

    def upload(self, name: str, data: Any, format: Optional[str] = None) -> Upload:
        """Sends data into the session: a DataFrame becomes variable name;
        bytes or a path (str, os.PathLike) become a file called name, or with
        format "csv"/"json" a DataFrame (a .csv/.json path uploaded under an
        identifier, upload("df", "data.csv"), is one by default). Returns an
        Upload. Raises TooLarge, PythonError (bytes that do not parse),
        BadRequest (a bad name)."""
        return self.client._call(_ops.UploadOp(self.key, name, data, format))

    def download(self, name: str, format: Optional[str] = None) -> Any:
        """A variable or file back. Without format: a DataFrame for a DataFrame
        variable, else the variable's JSON value. With format "csv", "json"
        or "file": the raw bytes. Raises NotFound, BadRequest."""
        return self.client._call(_ops.DownloadOp(self.key, name, format))

    def vars(self) -> List[Variable]:
        """The user variables (no modules, no _names), sorted by name."""
        return self.client._call(_ops.VarsOp(self.key))

    def files(self) -> List[File]:
        """The entries of the session's working directory, sorted by name."""
        return self.client._call(_ops.FilesOp(self.key))

    def reset(self) -> None:
        """A fresh namespace and an empty working directory."""
        self.client._call(_ops.SimpleOp("reset", self.key))

    def interrupt(self) -> bool:
        """KeyboardInterrupt in the running cell; True if one was running.
        Raises NoSuchSession for a session with no kernel."""
        return self.client._call(_ops.InterruptOp(self.key))

    def complete(self, code: str, cursor: Optional[int] = None) -> Completion:
        """Completion candidates at cursor (a character offset; default the
        end). Raises NoSuchSession: it never starts a kernel."""
        return self.client._call(_ops.CompleteOp(self.key, code, cursor))

    def inspect(self, code: str, cursor: Optional[int] = None) -> Inspection:
        """Signature/type and docstring of the object at cursor."""
        return self.client._call(_ops.InspectOp(self.key, code, cursor))

    def is_complete(self, code: str) -> Tuple[str, str]:
        """("complete" | "incomplete" | "invalid", indent): whether code
        would run as it is (Python's codeop); indent is what the next line
        should start with when incomplete. Raises NoSuchSession."""
        return self.client._call(_ops.IsCompleteOp(self.key, code))

    def history(self, last: int = 0) -> List[Tuple[int, str]]:
        """(execution_count, code) of the cells the session's kernel ran,
        from every client, oldest first (the last `last`, or all)."""
        return self.client._call(_ops.HistoryOp(self.key, last))

    def share(self, key: str, revoke: bool = False) -> List[str]:
        """Lets another client key use this session (it must be ours: we
        created it), or no longer with revoke. key is a CURVE public key
        (z85) or a certificate file's path (kernelmq.identity reads one).
        Returns the keys it is now shared with. Raises Forbidden when the
        session is another key's."""
        return self.client._call(_ops.ShareOp(self.key, share_key(key), revoke))

    def close(self) -> None:
        """Stops the session's kernel; its state is gone. A session that is
        not live is already closed: NoSuchSession is not raised."""
        try:
            self.client._call(_ops.SimpleOp("close", self.key))
        except errors.NoSuchSession:
            pass

    def attach(self) -> "Attachment":
        """Starts receiving every event of the session (anyone's requests):
        iterate over the returned Attachment for typed events. Raises
        NoSuchSession when the session has no kernel."""
        return Attachment(self.client, self.key)


class Attachment:
    """The live events of one session (StreamEvent, DisplayEvent,
    TruncatedEvent, EvictedEvent). Iterating blocks until the next event;
    it ends after an EvictedEvent, and raises BrokerUnreachable when the
    broker goes silent. close() (or leaving a with block) detaches."""

    def __init__(self, client: Client, key: str) -> None:
        self.client = client
        self.key = key
        self._buffer: List[Event] = []
        self._ended = False
        with client._lock:
            self._waiter = client._conn.subscribe(key, _ops.SubscriptionOp({}), time.monotonic())
        try:
            client._call(_ops.AttachOp(key))
        except BaseException:
            self._forget()
            raise

    def _forget(self) -> None:
        with self.client._lock:
            self.client._conn.forget(self._waiter, time.monotonic())
        self._ended = True

    def next(self, timeout: Optional[float] = None) -> Optional[Event]:
        """The next event, or None when timeout seconds pass first or the
        attachment has ended."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._buffer:
            if self._ended:
                return None
            try:
                outputs, _ = self.client._wait(self._waiter, deadline)
            except errors.Error:
                self._forget()
                raise
            self._buffer.extend(outputs)
            if not outputs and deadline is not None and time.monotonic() >= deadline:
                return None
        event = self._buffer.pop(0)
        if isinstance(event, ENDS_ATTACHMENT):
            self._forget()
        return event

    def __iter__(self) -> Iterator[Event]:
        while True:
            event = self.next()
            if event is None:
                return
            yield event

    def close(self) -> None:
        """Detaches (idempotent)."""
        if self._ended:
            return
        self._forget()
        try:
            self.client._call(_ops.SimpleOp("detach", self.key))
        except (errors.NoSuchSession, errors.ClientClosed):
            pass

    def __enter__(self) -> "Attachment":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

