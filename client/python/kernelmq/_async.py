"""The asyncio front: `AsyncClient`, `AsyncSession`, `AsyncAttachment`.

The same API as the synchronous client (see Session for what each call
returns and raises), over zmq.asyncio. Any number of tasks may have requests
in flight on one client, in one or many sessions: each call sends its
request itself and awaits its own waker, while one pump task, alive while
anything waits, receives, heartbeats and routes (the same sans-I/O
Connection as the sync front).
"""
from __future__ import annotations

import asyncio
import time
from typing import Any, Callable, List, Optional, Tuple

import zmq
import zmq.asyncio

from . import _ops, errors
from ._keys import share_key
from ._common import CLIENT_NAME, HELLO_TIMEOUT, ClientBase, dealer, hello_failed
from ._local import LocalBroker
from ._protocol import Op, Waiter, done
from ._types import (ENDS_ATTACHMENT, Completion, Event, EvictedEvent, Execution, File, Inspection, Result,
                     Stats, Upload, Variable)


class AsyncClient(ClientBase):
    """A connection to a kmq-broker for asyncio. Nothing happens until
    `await client.connect()` or `async with client` (or the first call),
    which says hello and raises BrokerUnreachable or UnsupportedVersion."""

    def __init__(self, endpoint: Optional[str] = None, *, hello_timeout: float = HELLO_TIMEOUT,
                 client_name: str = CLIENT_NAME, _local: Optional[LocalBroker] = None) -> None:
        super().__init__(endpoint, _local)
        self._hello_timeout = hello_timeout
        self._client_name = client_name
        self._conn.client_name = client_name
        self._sock: Optional[zmq.asyncio.Socket] = None
        self._pump_task: Optional[asyncio.Task] = None
        self._connecting: Optional[asyncio.Future] = None
        self._closed = False

    @classmethod
    def local(cls, *, hello_timeout: float = 10.0, broker_path: Optional[str] = None,
              **settings: Any) -> "AsyncClient":
        """As Client.local(): a private broker, stopped by aclose()."""
        broker = LocalBroker.start(broker_path, settings)
        return cls(broker.endpoint, hello_timeout=hello_timeout, _local=broker)

    async def connect(self) -> "AsyncClient":
        """Says hello (once; concurrent callers share it). Returns self."""
        if self._connecting is None:
            self._connecting = asyncio.ensure_future(self._hello())
        await asyncio.shield(self._connecting)
        return self

    async def _hello(self) -> None:
        self._sock = dealer(zmq.asyncio.Context.instance(), self.endpoint)
        self._conn.heartbeat_ivl, self._conn.liveness = self._hello_timeout, 1
        try:
            reply = await self._request(_ops.HelloOp(self._client_name))
        except errors.Error as exc:
            raise hello_failed(self.endpoint, self._hello_timeout, exc, self._local) from None
        self._conn.hello_done(reply)

    def session(self, key: Optional[str] = None) -> "AsyncSession":
        """As Client.session()."""
        return AsyncSession(self, self._session_key(key))

    async def stats(self) -> Stats:
        return await self._call(_ops.StatsOp())

    async def aclose(self) -> None:
        """Fails waiting calls with ClientClosed, closes the socket, stops a
        local broker. Idempotent."""
        if self._closed:
            return
        self._closed = True
        for waiter in self._conn.fail_all(errors.ClientClosed("the client was closed")):
            waiter.wake.set()
        if self._pump_task is not None:
            self._pump_task.cancel()
            try:
                await self._pump_task
            except (asyncio.CancelledError, Exception):   # noqa: BLE001
                pass
        if self._sock is not None:
            self._sock.close(linger=0)
        if self._local is not None:
            self._local.stop()

    async def __aenter__(self) -> "AsyncClient":
        try:
            return await self.connect()
        except BaseException:
            await self.aclose()
            raise

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.aclose()

    #  --- the engine ---

    async def _call(self, op: Op) -> Any:
        if self._closed:
            raise errors.ClientClosed("the client is closed")
        await self.connect()
        return await self._request(op)

    def _start(self, waiter: Waiter) -> Waiter:
        waiter.wake = asyncio.Event()
        if self._pump_task is None or self._pump_task.done():
            self._pump_task = asyncio.ensure_future(self._pump())
        return waiter

    async def _request(self, op: Op) -> Any:
        waiter = self._start(self._conn.start(op, time.monotonic()))
        try:
            waiter.sent_at = time.monotonic()
            await self._sock.send_multipart(waiter.frames, copy=False)
            for frames in waiter.more:
                await self._sock.send_multipart(frames, copy=False)
            while True:
                _, result = await self._next(waiter)
                if done(result):
                    return result
        finally:
            self._conn.forget(waiter, time.monotonic())

    async def _next(self, waiter: Waiter) -> tuple:
        """Waits for waiter's next items; Waiter.process's (outputs, result)."""
        while not waiter.inbox:
            await waiter.wake.wait()
            waiter.wake.clear()
        return waiter.process(waiter.take(), time.monotonic())

    async def _pump(self) -> None:
        """Receives, heartbeats and routes while anything waits."""
        sock = self._sock
        while self._conn.busy and not self._closed:
            now = time.monotonic()
            beats, failed = self._conn.tick(now)
            for waiter in failed:
                waiter.wake.set()
            for beat in beats:
                await sock.send_multipart(beat)
            if not await sock.poll(int(self._conn.timeout(now) * 1000) + 1, zmq.POLLIN):
                continue
            for _ in range(1000):
                try:
                    frames = await sock.recv_multipart(zmq.NOBLOCK)
                except zmq.Again:
                    break
                for waiter in self._conn.receive(frames, time.monotonic()):
                    waiter.wake.set()


class AsyncSession:
    """As Session, for asyncio: every method is a coroutine returning what
    the Session method of the same name returns and raising the same."""

    def __init__(self, client: AsyncClient, key: str) -> None:
        self.client = client
        self.key = key

    def __repr__(self) -> str:
        return "AsyncSession(%r)" % self.key

    async def __aenter__(self) -> "AsyncSession":
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.close()

    async def run(self, code: str, *, timeout: Optional[float] = None,
                  on_stdout: Optional[Callable[[str], Any]] = None,
                  on_stderr: Optional[Callable[[str], Any]] = None,
                  on_display: Optional[Callable[[Result], Any]] = None) -> Execution:
        """Session.run: an Execution; callbacks run in the event loop."""
        op = _ops.ExecuteOp(self.key, code, timeout, on_stdout, on_stderr, on_display)
        return await self.client._call(op)

    async def upload(self, name: str, data: Any, format: Optional[str] = None) -> Upload:
        return await self.client._call(_ops.UploadOp(self.key, name, data, format))

    async def download(self, name: str, format: Optional[str] = None) -> Any:
        return await self.client._call(_ops.DownloadOp(self.key, name, format))

    async def vars(self) -> List[Variable]:
        return await self.client._call(_ops.VarsOp(self.key))

    async def files(self) -> List[File]:
        return await self.client._call(_ops.FilesOp(self.key))

    async def reset(self) -> None:
        await self.client._call(_ops.SimpleOp("reset", self.key))

    async def interrupt(self) -> bool:
        return await self.client._call(_ops.InterruptOp(self.key))

    async def complete(self, code: str, cursor: Optional[int] = None) -> Completion:
        return await self.client._call(_ops.CompleteOp(self.key, code, cursor))

    async def inspect(self, code: str, cursor: Optional[int] = None) -> Inspection:
        return await self.client._call(_ops.InspectOp(self.key, code, cursor))

    async def is_complete(self, code: str) -> Tuple[str, str]:
        return await self.client._call(_ops.IsCompleteOp(self.key, code))

    async def history(self, last: int = 0) -> List[Tuple[int, str]]:
        return await self.client._call(_ops.HistoryOp(self.key, last))

    async def share(self, key: str, revoke: bool = False) -> List[str]:
        return await self.client._call(_ops.ShareOp(self.key, share_key(key), revoke))

    async def close(self) -> None:
        try:
            await self.client._call(_ops.SimpleOp("close", self.key))
        except errors.NoSuchSession:
            pass

    def attach(self) -> "AsyncAttachment":
        """`async for event in s.attach()`, or `async with s.attach() as events`."""
        return AsyncAttachment(self.client, self.key)


class AsyncAttachment:
    """As Attachment: attaches on first use, detaches on aclose() or when an
    `async with` block ends; iteration ends after an EvictedEvent."""

    def __init__(self, client: AsyncClient, key: str) -> None:
        self.client = client
        self.key = key
        self._waiter: Optional[Waiter] = None
        self._buffer: List[Event] = []
        self._ended = False

    async def _attach(self) -> None:
        await self.client.connect()
        self._waiter = self.client._start(self.client._conn.subscribe(
            self.key, _ops.SubscriptionOp({}), time.monotonic()))
        try:
            await self.client._call(_ops.AttachOp(self.key))
        except BaseException:
            self._forget()
            raise

    def _forget(self) -> None:
        if self._waiter is not None:
            self.client._conn.forget(self._waiter, time.monotonic())
        self._ended = True

    async def next(self, timeout: Optional[float] = None) -> Optional[Event]:
        """The next event, or None after timeout seconds or once ended."""
        if self._waiter is None and not self._ended:
            await self._attach()
        while not self._buffer:
            if self._ended:
                return None
            try:
                outputs, _ = await asyncio.wait_for(self.client._next(self._waiter), timeout)
            except asyncio.TimeoutError:
                return None
            except errors.Error:
                self._forget()
                raise
            self._buffer.extend(outputs)
        event = self._buffer.pop(0)
        if isinstance(event, ENDS_ATTACHMENT):
            self._forget()
        return event

    def __aiter__(self) -> "AsyncAttachment":
        return self

    async def __anext__(self) -> Event:
        event = await self.next()
        if event is None:
            raise StopAsyncIteration
        return event

    async def aclose(self) -> None:
        if self._ended or self._waiter is None:
            self._ended = True
            return
        self._forget()
        try:
            await self.client._call(_ops.SimpleOp("detach", self.key))
        except (errors.NoSuchSession, errors.ClientClosed):
            pass

    async def __aenter__(self) -> "AsyncAttachment":
        await self._attach()
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.aclose()

