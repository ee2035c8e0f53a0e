"""An asyncio HTTP/1.1 transport for ``httpx.AsyncClient``: the AsyncClient's default.

Why our own: under load, httpcore's ``AsyncConnectionPool`` re-examines every
connection for every queued request whenever one finishes (encode/httpx#3215),
and with anyio 4.16 every lock and event it creates retries a failed
``import sniffio``; together they cost 2.4 ms of CPU per call, five times
aiobotocore's whole call (benchmarks/RESULTS.md). The protocol is ``_http11``'s
(shared with the sync transport); this module is asyncio's side of it:

- a ``Protocol`` per connection feeding a ``ReplyReader``; reading pauses while
  256 KiB sit unconsumed, so a hostile body cannot fill memory, and resumes
  when the consumer drains it;
- one request at a time per connection, a keep-alive pool with a queue of
  waiters (constant work per request, however many are queued);
- every connect, read and write bounded by its httpx timeout and by the
  attempt's deadline (``_deadline``).

It raises only httpx's transport exceptions; ``_client._translate`` maps them.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections import deque
from collections.abc import AsyncIterator
from typing import Final

import httpx

from . import _wire
from ._deadline import bounded
from ._http11 import Head, ReplyReader
from ._wire import Origin

__all__ = ["AsyncioTransport"]

# Unconsumed bytes above this pause reading until the consumer catches up.
_HIGH_WATER: Final = 256 * 1024


def _expire(waiter: asyncio.Future[bool]) -> None:
    if not waiter.done():
        waiter.set_result(False)


class _Connection(asyncio.Protocol):
    """One HTTP/1.1 connection: a reply reader and a waiter for more bytes."""

    def __init__(self, loop: asyncio.AbstractEventLoop, origin: Origin) -> None:
        self.loop = loop
        self.origin = origin
        self.transport: asyncio.Transport | None = None
        self.reader = ReplyReader()
        self.idle = False
        self.broken = False
        self.idle_since = 0.0
        self._waiter: asyncio.Future[bool] | None = None
        self._writable: asyncio.Future[bool] | None = None
        self._write_paused = False
        self._read_paused = False

    # -- asyncio.Protocol callbacks ------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self.broken:
            # Given up on (a connect that timed out or was cancelled) and
            # connected anyway: close it at once.
            if isinstance(transport, asyncio.Transport):
                transport.abort()
            else:
                transport.close()
        elif isinstance(transport, asyncio.Transport):
            self.transport = transport

    def data_received(self, data: bytes) -> None:
        if self.idle:
            # Bytes nobody asked for: the next reply would start with them.
            self.broken = True
        self.reader.feed(data)
        if len(self.reader.buffer) > _HIGH_WATER and not self._read_paused and self.transport:
            self._read_paused = True
            self.transport.pause_reading()
        self._wake()

    def eof_received(self) -> bool | None:
        self.reader.close()
        self._wake()
        return None  # let the transport close itself

    def connection_lost(self, exc: Exception | None) -> None:
        self.reader.close(exc)
        self.broken = True
        self._wake()
        self._wake_writer()

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False
        self._wake_writer()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(True)

    def _wake_writer(self) -> None:
        waiter = self._writable
        if waiter is not None and not waiter.done():
            waiter.set_result(True)

    # -- used by the transport ----------------------------------------------------

    @property
    def clean(self) -> bool:
        """Open, reading, and nothing unread on it: fit for the next request."""
        reader = self.reader
        return not (self.broken or reader.eof or reader.buffer or self._read_paused)

    def abort(self) -> None:
        self.broken = True
        transport, self.transport = self.transport, None
        if transport is None:
            return
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self.loop:
            transport.abort()
        elif not self.loop.is_closed():
            self.loop.call_soon_threadsafe(transport.abort)
        # else its loop is gone (a client kept across asyncio.run calls):
        # nothing can run its callbacks, and dropping the transport lets the
        # garbage collector close the socket.

    async def _wait(self, waiter: asyncio.Future[bool], timeout: float | None) -> bool:
        handle = None if timeout is None else self.loop.call_later(timeout, _expire, waiter)
        try:
            return await waiter
        finally:
            if handle is not None:
                handle.cancel()

    async def more(self, timeout: float | None) -> None:
        """Wait for more bytes (or the end); ``ReadTimeout`` if none come in time."""
        if self.reader.eof:
            return
        self.drained()
        self._waiter = waiter = self.loop.create_future()
        try:
            arrived = await self._wait(waiter, bounded(timeout, httpx.ReadTimeout))
        finally:
            self._waiter = None
        if not arrived:
            raise httpx.ReadTimeout("timed out waiting for the reply")

    def drained(self) -> None:
        """Read again once the consumer has taken most of what was buffered."""
        if self._read_paused and len(self.reader.buffer) < _HIGH_WATER // 4 and self.transport:
            self._read_paused = False
            self.transport.resume_reading()

    async def write(self, data: bytes, timeout: float | None) -> None:
        transport = self.transport
        if transport is None or self.broken or transport.is_closing():
            raise httpx.WriteError("the connection closed before the request was sent")
        transport.write(data)
        while self._write_paused and not self.broken:
            self._writable = waiter = self.loop.create_future()
            try:
                sent = await self._wait(waiter, bounded(timeout, httpx.WriteTimeout))
            finally:
                self._writable = None
            if not sent:
                raise httpx.WriteTimeout("timed out sending the request")
        if self.broken:
            raise httpx.WriteError("the connection closed while the request was sent")

    async def read_head(self, timeout: float | None) -> Head:
        """The final reply's head."""
        reader = self.reader
        while True:
            head = _wire.head_of(reader)
            if head is not None:
                return head
            await self.more(timeout)


class _Body(httpx.AsyncByteStream):
    """A reply body read from its connection as the consumer iterates."""

    def __init__(
        self, transport: AsyncioTransport, conn: _Connection, read_timeout: float | None
    ) -> None:
        self._conn = conn
        self._timeout = read_timeout
        self._claim = _wire.BodyClaim(
            lambda reuse: transport.release(conn, reuse=reuse), conn.reader
        )

    async def __aiter__(self) -> AsyncIterator[bytes]:
        # The connection goes back as soon as the body ends (_wire.BodyClaim).
        conn, claim = self._conn, self._claim
        claim.iterating = True
        try:
            while not claim.released:
                piece = _wire.piece_of(conn.reader)
                if piece is None:
                    await conn.more(self._timeout)
                elif isinstance(piece, bytes):
                    conn.drained()
                    yield piece
                else:  # END
                    return
            raise _wire.closed_under_us()
        finally:
            claim.finished()

    async def aclose(self) -> None:
        self._claim.close()


class AsyncioTransport(httpx.AsyncBaseTransport):
    """HTTP/1.1 over asyncio with a keep-alive pool; see the module docstring.

    ``max_connections`` bounds open connections (idle, busy or connecting)
    across origins; callers beyond it wait in turn, each for at most its pool
    timeout in all.
    """

    def __init__(
        self,
        tls: ssl.SSLContext | None,
        *,
        max_connections: int,
        max_keepalive: int,
        keepalive_expiry: float,
    ) -> None:
        self._tls = tls
        self._max_connections = max_connections
        self._idle: _wire.IdleConnections[_Connection] = _wire.IdleConnections(
            limit=max_keepalive, expiry=keepalive_expiry
        )
        self._open: set[_Connection] = set()
        # Slots taken by connections being opened, so the count is right
        # while a connect is awaited.
        self._connecting = 0
        self._waiters: deque[asyncio.Future[bool]] = deque()
        self._closed = False

    # -- introspection (tests, benchmarks) ----------------------------------------

    @property
    def busy(self) -> int:
        """Connections carrying a request or an unread response."""
        return len(self._open) - self._idle.count

    @property
    def waiting(self) -> int:
        """Requests waiting for a connection."""
        return sum(1 for waiter in self._waiters if not waiter.done())

    @property
    def idle(self) -> int:
        """Open connections kept for reuse."""
        return self._idle.count

    # -- the pool -----------------------------------------------------------------
    #
    # A request takes an idle connection to its origin, else a free slot (or
    # one freed by closing an idle connection to another origin), else waits.
    # A release wakes the first waiter, which then looks again; a waiter that
    # leaves after being woken, for any reason, passes the turn on, so a free
    # slot never sits unused while someone waits.

    def _take_idle(self, origin: Origin, loop: asyncio.AbstractEventLoop) -> _Connection | None:
        # A connection belongs to the event loop that opened it.
        conn, dropped = self._idle.take(origin, lambda c: c.clean and c.loop is loop)
        for stale in dropped:
            self._discard(stale)
        if conn is not None:
            conn.idle = False
        return conn

    def _evict_one(self) -> None:
        # At the limit with idle connections to other origins: close the oldest.
        conn = self._idle.oldest()
        if conn is not None:
            self._discard(conn)

    def _discard(self, conn: _Connection) -> None:
        conn.idle = False
        conn.abort()
        self._open.discard(conn)

    def _wake_one(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(True)
                return

    def _has_slot(self) -> bool:
        return len(self._open) + self._connecting < self._max_connections

    async def _acquire(self, origin: Origin, timeouts: dict[str, float | None]) -> _Connection:
        loop = asyncio.get_running_loop()
        pool_timeout = timeouts.get("pool")
        # One limit for all of this request's waiting, however often it is woken.
        until = None if pool_timeout is None else loop.time() + pool_timeout
        woken = False
        try:
            while True:
                if self._closed:
                    raise httpx.ConnectError("the client has been closed")
                conn = self._take_idle(origin, loop)
                if conn is not None:
                    return conn
                if not self._has_slot():
                    self._evict_one()
                if self._has_slot():
                    woken = False  # the slot is ours now; a failure below wakes the next
                    return await self._connect(origin, timeouts.get("connect"))
                left = None if until is None else until - loop.time()
                woken = await self._wait_for_slot(loop, left, first=woken)
        except BaseException:
            if woken:
                self._wake_one()  # woken, but leaving: pass the turn on
            raise

    async def _wait_for_slot(
        self, loop: asyncio.AbstractEventLoop, timeout: float | None, *, first: bool
    ) -> bool:
        limit = bounded(timeout, httpx.PoolTimeout)
        if limit is not None and limit <= 0:
            raise httpx.PoolTimeout("timed out waiting for a connection")
        waiter: asyncio.Future[bool] = loop.create_future()
        # Woken before and beaten to the slot: wait at the front, not the back.
        if first:
            self._waiters.appendleft(waiter)
        else:
            self._waiters.append(waiter)
        handle = None if limit is None else loop.call_later(limit, _expire, waiter)
        try:
            woken = await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled() and waiter.result():
                self._wake_one()  # our turn came as we left: pass it on
            raise
        finally:
            if handle is not None:
                handle.cancel()
            # A woken waiter was taken off the queue; any other leaves it now.
            if not (waiter.done() and not waiter.cancelled() and waiter.result()):
                with contextlib.suppress(ValueError):
                    self._waiters.remove(waiter)
        if not woken:
            raise httpx.PoolTimeout("timed out waiting for a connection")
        return True

    async def _connect(self, origin: Origin, timeout: float | None) -> _Connection:
        scheme, host, port = origin
        loop = asyncio.get_running_loop()
        conn = _Connection(loop, origin)
        # The slot is taken from here on; the finally below frees it on failure.
        self._connecting += 1
        try:
            tls = None
            if scheme == "https":
                if self._tls is None:
                    raise httpx.UnsupportedProtocol("this client was built for http:// only")
                tls = self._tls
            limit = bounded(timeout, httpx.ConnectTimeout)
            # Not asyncio.wait_for: before Python 3.12 it returns the result
            # when a cancel lands just as the inner task finishes, and the
            # caller's cancel is lost. asyncio.wait never swallows one.
            connecting = loop.create_task(
                loop.create_connection(
                    lambda: conn, host, port, ssl=tls, server_hostname=host if tls else None
                )
            )
            try:
                done, _ = await asyncio.wait({connecting}, timeout=limit)
            finally:
                connecting.cancel()  # a no-op once it is done
            if not done:
                raise httpx.ConnectTimeout("timed out connecting")
            connecting.result()
        except OSError as exc:
            conn.abort()
            raise httpx.ConnectError(str(exc) or type(exc).__name__) from exc
        except UnicodeError as exc:  # a host name the IDNA codec refuses
            conn.abort()
            raise httpx.ConnectError(f"invalid host name: {exc}") from exc
        except BaseException:
            conn.abort()  # cancelled: connected or not, this connection is not ours
            raise
        else:
            self._open.add(conn)
        finally:
            self._connecting -= 1
            if conn not in self._open:
                self._wake_one()  # the slot this connect held is free again
        if self._closed:
            self._discard(conn)
            raise httpx.ConnectError("the client has been closed")
        return conn

    def release(self, conn: _Connection, *, reuse: bool) -> None:
        """Return a connection after its response: keep it idle, or close it."""
        if conn not in self._open:
            return
        if reuse and not self._closed and conn.clean and self._idle.put(conn):
            conn.idle = True
        else:
            self._discard(conn)
        self._wake_one()

    # -- httpx.AsyncBaseTransport -------------------------------------------------

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        origin = _wire.origin_of(request.url)
        timeouts: dict[str, float | None] = request.extensions.get("timeout", {})
        try:
            body = request.content
        except httpx.RequestNotRead:
            body = await request.aread()
        data = _wire.encode(request, body)

        conn = await self._acquire(origin, timeouts)
        handed_over = False
        try:
            conn.reader.start(request.method)
            await conn.write(data, timeouts.get("write"))
            read_timeout = timeouts.get("read")
            head = await conn.read_head(read_timeout)
            stream = _Body(self, conn, read_timeout)
            handed_over = True
        finally:
            if not handed_over:
                self.release(conn, reuse=False)
        return _wire.response(head, stream)

    async def aclose(self) -> None:
        self._closed = True
        self._idle.drain()
        for conn in list(self._open):
            self._discard(conn)
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(True)
        # Let the aborted transports run their connection_lost (closing the sockets).
        await asyncio.sleep(0)
