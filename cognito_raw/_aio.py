"""An asyncio HTTP/1.1 transport for ``httpx.AsyncClient``: the AsyncClient's default.

Why our own: under load, httpcore's ``AsyncConnectionPool`` re-examines every
connection for every queued request whenever one finishes (encode/httpx#3215),
and with anyio 4.16 every lock and event it creates retries a failed
``import sniffio``; together they cost 2.3 ms of CPU per call, five times
aiobotocore's whole call (benchmarks/RESULTS.md). This transport speaks the
small part of HTTP/1.1 a JSON POST needs, on asyncio's ``Protocol`` API:

- one request at a time per connection, a keep-alive pool per origin with a
  FIFO of waiters (constant work per request, however many are queued);
- every connect, read and write bounded by its httpx timeout and by the
  attempt's deadline (``_deadline``), like the sync transport;
- responses framed by RFC 9112 section 6.3: 1xx skipped, 204/304 empty,
  ``chunked``, ``Content-Length`` (all values equal), else read to close;
  anything else is a ``RemoteProtocolError``, as h11 would raise;
- a connection is reused only when its response was read to the end, it
  says nothing of closing, and no stray byte followed; read pauses while
  256 KiB sit unconsumed, so a hostile body cannot fill memory.

It raises only httpx's transport exceptions; ``_client._translate`` maps them.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import ssl
import time
from collections import deque
from collections.abc import AsyncIterator
from typing import Final

import httpx

from ._deadline import bounded

__all__ = ["AsyncioTransport"]

# A status line and headers larger than this are an attack, not a reply
# (h11 allows 16 KiB by default, httpcore 100 KiB).
MAX_HEAD: Final = 64 * 1024
# Unconsumed bytes above this pause reading until the consumer catches up.
_HIGH_WATER: Final = 256 * 1024
_MAX_CHUNK_LINE: Final = 4096

# The blank line ending the head, as h11 finds it: the last header line keeps
# its own CR, which the line patterns below then allow once.
_HEAD_END: Final = re.compile(rb"\n\r?\n")
# The grammar of RFC 9110/9112 as h11 reads it (VCHAR, obs-text, SP and HTAB
# in values; no other control character), a bare LF accepted as a line end.
# Every pattern is unambiguous (no two parts can match the same byte), so a
# hostile line costs linear time: a lazy value followed by optional spaces
# backtracks quadratically, and would stall the event loop for seconds.
_STATUS: Final = re.compile(rb"HTTP/1\.([01]) ([0-9]{3})(?: ([\t\x20-\x7e\x80-\xff]*))?\r?")
_HEADER: Final = re.compile(
    rb"([!#$%&'*+.^_`|~0-9A-Za-z-]+):[ \t]*"
    rb"((?:[\x21-\x7e\x80-\xff]+(?:[ \t]+[\x21-\x7e\x80-\xff]+)*)?)[ \t]*\r?"
)
# chunk-size [ chunk-ext ] CRLF; spaces after the size tolerated like h11.
_CHUNK_SIZE: Final = re.compile(rb"([0-9A-Fa-f]{1,16})(?:;[^\r\n]*|[ \t]*)\r")
_BAD_OUTGOING: Final = re.compile(rb"[\x00\r\n]")
_DIGITS: Final = re.compile(rb"[0-9]{1,18}")

# How a response body ends (RFC 9112 section 6.3).
_EMPTY: Final = 0
_LENGTH: Final = 1
_CHUNKED: Final = 2
_TO_CLOSE: Final = 3

_Origin = tuple[str, str, int]


def _expire(waiter: asyncio.Future[bool]) -> None:
    if not waiter.done():
        waiter.set_result(False)


class _Connection(asyncio.Protocol):
    """One HTTP/1.1 connection: a byte buffer and a waiter for more of it."""

    def __init__(self, loop: asyncio.AbstractEventLoop, origin: _Origin) -> None:
        self.loop = loop
        self.origin = origin
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.eof = False
        # Why the connection was lost, when it was not a clean close.
        self.error: Exception | None = None
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
            # Bytes nobody asked for: the next response would start with them.
            self.broken = True
        self.buffer += data
        if len(self.buffer) > _HIGH_WATER and not self._read_paused and self.transport:
            self._read_paused = True
            self.transport.pause_reading()
        self._wake()

    def eof_received(self) -> bool | None:
        self.eof = True
        self._wake()
        return None  # let the transport close itself

    def connection_lost(self, exc: Exception | None) -> None:
        self.eof = True
        self.broken = True
        self.error = exc
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
        return not (self.broken or self.eof or self.buffer or self._read_paused)

    def ended(self, what: str) -> httpx.TransportError:
        """The error for a connection that ended before ``what`` was complete."""
        if self.error is not None:
            # A reset is a network failure (retried), not a malformed reply.
            return httpx.ReadError(f"the connection was lost: {self.error}")
        return httpx.RemoteProtocolError(f"peer closed connection without sending {what}")

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
        if self.eof:
            return
        if self._read_paused and self.transport is not None:
            self._read_paused = False
            self.transport.resume_reading()
        self._waiter = waiter = self.loop.create_future()
        try:
            arrived = await self._wait(waiter, bounded(timeout, httpx.ReadTimeout))
        finally:
            self._waiter = None
        if not arrived:
            raise httpx.ReadTimeout("timed out waiting for the reply")

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

    def take(self, limit: int) -> bytes:
        """Up to ``limit`` buffered bytes, removed from the buffer."""
        data = bytes(self.buffer[:limit])
        del self.buffer[:limit]
        if self._read_paused and len(self.buffer) < _HIGH_WATER // 4 and self.transport:
            # Drained without waiting for more: read again, so that the end of
            # the reply, stray bytes or a close are seen.
            self._read_paused = False
            self.transport.resume_reading()
        return data


def _head(request: httpx.Request, body: bytes) -> bytes:
    # Refuse what would split a header line: the wire must say what httpx says.
    target = request.url.raw_path
    try:
        method = request.method.encode("ascii")
    except UnicodeEncodeError:
        raise httpx.LocalProtocolError("the request method is not ASCII") from None
    if _BAD_OUTGOING.search(target) or _BAD_OUTGOING.search(method) or b" " in method:
        raise httpx.LocalProtocolError("the request line holds a forbidden character")
    lines = [method, b" ", target, b" HTTP/1.1\r\n"]
    chunked = False
    for name, value in request.headers.raw:
        if _BAD_OUTGOING.search(name) or _BAD_OUTGOING.search(value) or b":" in name:
            raise httpx.LocalProtocolError("a request header holds a forbidden character")
        if name.lower() == b"transfer-encoding":
            chunked = True  # httpx's choice for a body of unknown length
        lines += (name, b": ", value, b"\r\n")
    lines.append(b"\r\n")
    if chunked:
        if body:
            lines += (b"%x\r\n" % len(body), body, b"\r\n")
        lines.append(b"0\r\n\r\n")
    else:
        lines.append(body)
    return b"".join(lines)


def _framing(
    status: int, headers: list[tuple[bytes, bytes]], method: str
) -> tuple[int, int, bool]:
    """How the body ends, its length (for ``_LENGTH``), and whether the connection may stay."""
    lengths: list[bytes] = []
    codings: list[bytes] = []
    keep = True
    for name, value in headers:
        lower = name.lower()
        if lower == b"content-length":
            lengths += (part.strip() for part in value.split(b","))
        elif lower == b"transfer-encoding":
            codings += (part.strip().lower() for part in value.split(b","))
        elif lower == b"connection" and b"close" in (
            part.strip().lower() for part in value.split(b",")
        ):
            keep = False
    # Only a plain "chunked" (h11 refuses the rest too): a body in another
    # coding would reach the caller still coded.
    if codings and codings != [b"chunked"]:
        raise httpx.RemoteProtocolError("unsupported Transfer-Encoding in the reply")
    if lengths and (len(set(lengths)) != 1 or not _DIGITS.fullmatch(lengths[0])):
        raise httpx.RemoteProtocolError("invalid Content-Length in the reply")
    if status in (204, 304) or method == "HEAD":
        # No body whatever the headers say; a declared one would sit on the wire.
        return _EMPTY, 0, keep and not lengths and not codings
    if codings:
        # With both, Transfer-Encoding wins and the connection must close (RFC 9112 6.3).
        return _CHUNKED, 0, keep and not lengths
    if lengths:
        length = int(lengths[0])
        return (_LENGTH, length, keep) if length else (_EMPTY, 0, keep)
    return _TO_CLOSE, 0, False


class _Body(httpx.AsyncByteStream):
    """A response body read from its connection as the consumer iterates."""

    def __init__(
        self,
        transport: AsyncioTransport,
        conn: _Connection,
        *,
        framing: int,
        length: int,
        keep: bool,
        read_timeout: float | None,
    ) -> None:
        self._transport = transport
        self._conn = conn
        self._framing = framing
        self._length = length
        self._keep = keep
        self._timeout = read_timeout
        self._complete = framing == _EMPTY
        self._released = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        # The connection goes back as soon as the body ends, read to the end
        # (reusable) or not (an error, or a consumer that stopped: closed).
        try:
            if self._framing == _LENGTH:
                async for chunk in self._by_length():
                    yield chunk
            elif self._framing == _CHUNKED:
                async for chunk in self._chunked():
                    yield chunk
            elif self._framing == _TO_CLOSE:
                async for chunk in self._to_close():
                    yield chunk
            self._complete = True
        finally:
            self._release()

    async def _by_length(self) -> AsyncIterator[bytes]:
        conn, left = self._conn, self._length
        while left:
            if conn.buffer:
                chunk = conn.take(left)
                left -= len(chunk)
                yield chunk
            elif conn.eof:
                raise conn.ended(
                    "complete message body: "
                    f"received {self._length - left} bytes, expected {self._length}"
                )
            else:
                await conn.more(self._timeout)

    async def _to_close(self) -> AsyncIterator[bytes]:
        conn = self._conn
        while True:
            if conn.buffer:
                yield conn.take(len(conn.buffer))
            elif conn.eof:
                if conn.error is not None:
                    # Reset, not closed: the body may be cut anywhere.
                    raise conn.ended("complete message body")
                return
            else:
                await conn.more(self._timeout)

    async def _line(self, limit: int) -> bytes:
        conn = self._conn
        scanned = 0
        while True:
            end = conn.buffer.find(b"\n", scanned, limit + 1)
            if end >= 0:
                return conn.take(end + 1)[:-1]
            scanned = len(conn.buffer)
            if scanned > limit:
                raise httpx.RemoteProtocolError("a chunk header or trailer is too long")
            if conn.eof:
                raise conn.ended("complete message body: incomplete chunked read")
            await conn.more(self._timeout)

    async def _exactly(self, size: int) -> AsyncIterator[bytes]:
        conn = self._conn
        while size:
            if conn.buffer:
                chunk = conn.take(size)
                size -= len(chunk)
                yield chunk
            elif conn.eof:
                raise conn.ended("complete message body: incomplete chunked read")
            else:
                await conn.more(self._timeout)

    async def _crlf(self) -> None:
        conn = self._conn
        while len(conn.buffer) < 2:
            if conn.eof:
                raise conn.ended("complete message body: incomplete chunked read")
            await conn.more(self._timeout)
        if conn.take(2) != b"\r\n":
            raise httpx.RemoteProtocolError("missing CRLF after a chunk")

    async def _chunked(self) -> AsyncIterator[bytes]:
        # chunk = chunk-size [ chunk-ext ] CRLF chunk-data CRLF (RFC 9112 7.1)
        while True:
            match = _CHUNK_SIZE.fullmatch(await self._line(_MAX_CHUNK_LINE))
            if match is None:
                raise httpx.RemoteProtocolError("invalid chunk header in the reply")
            size = int(match[1], 16)
            if size == 0:
                break
            async for chunk in self._exactly(size):
                yield chunk
            await self._crlf()
        # Trailer fields, checked like headers and ignored, up to the blank line.
        trailer = 0
        while (line := await self._line(MAX_HEAD)) not in (b"", b"\r"):
            trailer += len(line)
            if trailer > MAX_HEAD:
                raise httpx.RemoteProtocolError("the reply's trailer is too large")
            if _HEADER.fullmatch(line) is None:
                raise httpx.RemoteProtocolError("the reply holds an invalid trailer line")

    def _release(self) -> None:
        if not self._released:
            self._released = True
            self._transport.release(self._conn, reuse=self._complete and self._keep)

    async def aclose(self) -> None:
        self._release()


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
        self._max_keepalive = max_keepalive
        self._expiry = keepalive_expiry
        self._idle: dict[_Origin, list[_Connection]] = {}
        self._idle_count = 0
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
        return len(self._open) - self._idle_count

    @property
    def waiting(self) -> int:
        """Requests waiting for a connection."""
        return sum(1 for waiter in self._waiters if not waiter.done())

    @property
    def idle(self) -> int:
        """Open connections kept for reuse."""
        return self._idle_count

    # -- the pool -----------------------------------------------------------------
    #
    # A request takes an idle connection to its origin, else a free slot (or
    # one freed by closing an idle connection to another origin), else waits.
    # A release wakes the first waiter, which then looks again; a waiter that
    # leaves after being woken, for any reason, passes the turn on, so a free
    # slot never sits unused while someone waits.

    def _take_idle(self, origin: _Origin, loop: asyncio.AbstractEventLoop) -> _Connection | None:
        idle = self._idle.get(origin)
        if not idle:
            return None
        now = time.monotonic()
        conn = None
        while idle:
            candidate = idle.pop()
            self._idle_count -= 1
            candidate.idle = False
            # A connection belongs to the event loop that opened it.
            fresh = now - candidate.idle_since <= self._expiry
            if candidate.clean and fresh and candidate.loop is loop:
                conn = candidate
                break
            self._discard(candidate)
        if not idle:
            del self._idle[origin]
        return conn

    def _evict_one(self) -> bool:
        # At the limit with idle connections to other origins: close the oldest.
        for origin, idle in self._idle.items():
            conn = idle.pop(0)
            self._idle_count -= 1
            if not idle:
                del self._idle[origin]
            self._discard(conn)
            return True
        return False

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

    async def _acquire(self, origin: _Origin, timeouts: dict[str, float | None]) -> _Connection:
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

    async def _connect(self, origin: _Origin, timeout: float | None) -> _Connection:
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
        if reuse and not self._closed and self._idle_count < self._max_keepalive and conn.clean:
            conn.idle = True
            conn.idle_since = time.monotonic()
            self._idle.setdefault(conn.origin, []).append(conn)
            self._idle_count += 1
        else:
            self._discard(conn)
        self._wake_one()

    # -- httpx.AsyncBaseTransport -------------------------------------------------

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        scheme = url.scheme
        if scheme not in ("http", "https"):
            raise httpx.UnsupportedProtocol(f"unsupported URL scheme {scheme!r}")
        # The host as it is on the wire (ASCII, punycode kept): url.host is the
        # IDNA-decoded form, which the socket layer would encode again, maybe
        # differently (IDNA 2003 maps "xn--fa-hia.de" to "fass.de").
        try:
            host = url.raw_host.decode("ascii")
        except UnicodeDecodeError:
            raise httpx.UnsupportedProtocol("the URL's host is not ASCII") from None
        port = url.port if url.port is not None else 443 if scheme == "https" else 80
        origin = (scheme, host, port)
        timeouts: dict[str, float | None] = request.extensions.get("timeout", {})
        try:
            body = request.content
        except httpx.RequestNotRead:
            body = await request.aread()
        data = _head(request, body)

        conn = await self._acquire(origin, timeouts)
        handed_over = False
        try:
            await conn.write(data, timeouts.get("write"))
            read_timeout = timeouts.get("read")
            version, status, reason, headers = await _read_head(conn, read_timeout)
            framing, length, keep = _framing(status, headers, request.method)
            stream = _Body(
                self,
                conn,
                framing=framing,
                length=length,
                keep=keep and version == 1,
                read_timeout=read_timeout,
            )
            handed_over = True
        finally:
            if not handed_over:
                self.release(conn, reuse=False)
        return httpx.Response(
            status,
            headers=headers,
            stream=stream,
            extensions={"http_version": b"HTTP/1.%d" % version, "reason_phrase": reason},
        )

    async def aclose(self) -> None:
        self._closed = True
        for conn in list(self._open):
            self._discard(conn)
        self._idle.clear()
        self._idle_count = 0
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(True)
        # Let the aborted transports run their connection_lost (closing the sockets).
        await asyncio.sleep(0)


async def _read_head(
    conn: _Connection, timeout: float | None
) -> tuple[int, int, bytes, list[tuple[bytes, bytes]]]:
    """The final response's version, status, reason and headers; 1xx replies skipped."""
    while True:
        scanned = 0
        while True:
            end = _HEAD_END.search(conn.buffer, max(scanned - 3, 0))
            if end is not None:
                break
            scanned = len(conn.buffer)
            if scanned > MAX_HEAD:
                raise httpx.RemoteProtocolError("the reply's headers are too large")
            if conn.eof:
                if conn.error is not None:
                    raise conn.ended("a reply")
                if conn.buffer:
                    raise httpx.RemoteProtocolError("the connection closed in the reply's headers")
                raise httpx.RemoteProtocolError("Server disconnected without sending a response.")
            await conn.more(timeout)
        if end.start() > MAX_HEAD:
            raise httpx.RemoteProtocolError("the reply's headers are too large")
        head = conn.take(end.end())[: end.start()]
        lines = head.split(b"\n")
        status_line = _STATUS.fullmatch(lines[0])
        if status_line is None:
            raise httpx.RemoteProtocolError("the reply does not start with an HTTP/1 status line")
        status = int(status_line[2])
        if status < 100:
            raise httpx.RemoteProtocolError("the reply's status code is below 100")
        headers: list[tuple[bytes, bytes]] = []
        for line in lines[1:]:
            field = _HEADER.fullmatch(line)
            if field is None:
                raise httpx.RemoteProtocolError("the reply holds an invalid header line")
            headers.append((field[1], field[2]))
        if status == 101:
            raise httpx.RemoteProtocolError("the server switched protocols unasked")
        if status >= 200:
            return int(status_line[1]), status, status_line[3] or b"", headers
        # An interim reply (100 Continue, 103 Early Hints): the final one follows.
