"""A blocking HTTP/1.1 transport for ``httpx``: the sync Client's default.

Why our own: the protocol is ``_http11``'s, shared with the async transport,
and what is left is sockets, so httpcore (with h11, anyio and certifi) need not
be imported: about 18 ms and 1.5 MiB of every cold start (benchmarks/RESULTS.md),
which is what a Lambda pays before its first reply.

- A keep-alive pool shared by threads (a lock and a condition; at most
  ``max_connections`` open, waiters wait up to their pool timeout in all);
  an idle connection with anything readable on it (a close, stray bytes) is
  never reused.
- Every connect, TLS handshake, write and read is bounded by its httpx
  timeout and by the attempt's deadline (``_deadline``): each ``recv`` gets
  only the time left, so a server trickling bytes cannot hold a call.

It raises only httpx's transport exceptions; ``_client._translate`` maps them.
"""

from __future__ import annotations

import select
import socket
import ssl
import threading
import time
from collections.abc import Iterator

import httpx

from . import _wire
from ._deadline import bounded
from ._http11 import Head, ReplyReader
from ._wire import Origin

__all__ = ["SyncTransport"]

_RECV: int = 65536
_poll = getattr(select, "poll", None)


def _open_socket(host: str, port: int, timeout: float | None) -> socket.socket:
    # socket.create_connection, but resolving the host as bytes: it is ASCII
    # already (``_wire.origin_of``), and a str would load the IDNA codec and
    # its tables (stringprep) for nothing.
    error: OSError | None = None
    until = None if timeout is None else time.monotonic() + timeout
    for family, kind, proto, _, address in socket.getaddrinfo(
        host.encode("ascii"), port, type=socket.SOCK_STREAM
    ):
        # One limit for all the addresses tried, not one each.
        left = None if until is None else until - time.monotonic()
        if left is not None and left <= 0:
            raise TimeoutError("timed out connecting")
        sock = socket.socket(family, kind, proto)
        try:
            sock.settimeout(left)
            sock.connect(address)
        except OSError as exc:
            sock.close()
            error = exc
            if isinstance(exc, TimeoutError):
                raise  # the time is spent: do not try the next address
            continue
        except BaseException:
            sock.close()
            raise
        return sock
    raise error or OSError(f"no address for {host!r}")


class _Connection:
    """One socket and its reply reader; used by one thread at a time."""

    __slots__ = ("idle_since", "origin", "reader", "sock")

    def __init__(self, sock: socket.socket, origin: Origin) -> None:
        self.sock = sock
        self.origin = origin
        self.reader = ReplyReader()
        self.idle_since = 0.0

    def fit(self) -> bool:
        """Nothing unread and nothing readable: the server has neither closed nor spoken."""
        reader = self.reader
        if reader.eof or reader.buffer:
            return False
        sock = self.sock
        if isinstance(sock, ssl.SSLSocket) and sock.pending():
            return False
        try:
            if _poll is not None:  # no FD_SETSIZE limit, unlike select
                poller = _poll()
                poller.register(sock, select.POLLIN)
                return not poller.poll(0)
            readable, _, _ = select.select([sock], [], [], 0)
        except (OSError, ValueError):  # closed under us
            return False
        return not readable

    def write(self, data: bytes, timeout: float | None) -> None:
        try:
            self.sock.settimeout(bounded(timeout, httpx.WriteTimeout))
            self.sock.sendall(data)
        except TimeoutError:
            raise httpx.WriteTimeout("timed out sending the request") from None
        except OSError as exc:
            raise httpx.WriteError(str(exc) or type(exc).__name__) from exc

    def fill(self, timeout: float | None) -> None:
        """Wait for more bytes (or the end), at most ``timeout`` and the attempt's time left."""
        try:
            self.sock.settimeout(bounded(timeout, httpx.ReadTimeout))
            data = self.sock.recv(_RECV)
        except TimeoutError:
            raise httpx.ReadTimeout("timed out waiting for the reply") from None
        except OSError as exc:
            self.reader.close(exc)
            return
        if data:
            self.reader.feed(data)
        else:
            self.reader.close()

    def read_head(self, timeout: float | None) -> Head:
        """The final reply's head."""
        while True:
            head = _wire.head_of(self.reader)
            if head is not None:
                return head
            self.fill(timeout)

    def close(self) -> None:
        self.sock.close()


class _Body(httpx.SyncByteStream):
    """A reply body read from its connection as the consumer iterates."""

    def __init__(
        self, transport: SyncTransport, conn: _Connection, read_timeout: float | None
    ) -> None:
        self._conn = conn
        self._timeout = read_timeout
        self._claim = _wire.BodyClaim(
            lambda reuse: transport.release(conn, reuse=reuse), conn.reader
        )

    def __iter__(self) -> Iterator[bytes]:
        # The connection goes back as soon as the body ends (_wire.BodyClaim).
        conn, claim = self._conn, self._claim
        claim.iterating = True
        try:
            while not claim.released:
                piece = _wire.piece_of(conn.reader)
                if piece is None:
                    conn.fill(self._timeout)
                elif isinstance(piece, bytes):
                    yield piece
                else:  # END
                    return
            raise _wire.closed_under_us()
        finally:
            claim.finished()

    def close(self) -> None:
        self._claim.close()


class SyncTransport(httpx.BaseTransport):
    """HTTP/1.1 over blocking sockets with a keep-alive pool; see the module docstring."""

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
        self._lock = threading.Lock()
        self._freed = threading.Condition(self._lock)
        self._idle: _wire.IdleConnections[_Connection] = _wire.IdleConnections(
            limit=max_keepalive, expiry=keepalive_expiry
        )
        # Open connections plus those being opened: the pool's slots in use.
        self._used = 0
        self._waiting = 0
        self._closed = False

    # -- introspection (tests, benchmarks) ----------------------------------------

    @property
    def busy(self) -> int:
        """Connections carrying a request or an unread reply (or being opened)."""
        with self._lock:
            return self._used - self._idle.count

    @property
    def waiting(self) -> int:
        """Requests waiting for a connection."""
        return self._waiting

    @property
    def idle(self) -> int:
        """Open connections kept for reuse."""
        return self._idle.count

    # -- the pool (every method here runs with the lock held) -----------------------

    def _take_idle(self, origin: Origin) -> _Connection | None:
        conn, dropped = self._idle.take(origin, _Connection.fit)
        for stale in dropped:
            self._used -= 1
            stale.close()
        return conn

    def _evict_one(self) -> None:
        # At the limit with idle connections to other origins: close the oldest.
        conn = self._idle.oldest()
        if conn is not None:
            self._used -= 1
            conn.close()

    def _reserve(self, origin: Origin, timeout: float | None) -> _Connection | None:
        """An idle connection, or None with a slot reserved for a new one."""
        until = None if timeout is None else time.monotonic() + timeout
        while True:
            if self._closed:
                raise httpx.ConnectError("the client has been closed")
            conn = self._take_idle(origin)
            if conn is not None:
                return conn
            if self._used >= self._max_connections:
                self._evict_one()
            if self._used < self._max_connections:
                self._used += 1
                return None
            left = None if until is None else until - time.monotonic()
            if left is not None and left <= 0:
                # A wake-up this thread took may have been the only one: pass it on.
                self._freed.notify()
                raise httpx.PoolTimeout("timed out waiting for a connection")
            self._waiting += 1
            try:
                self._freed.wait(left)
            except BaseException:
                self._freed.notify()  # a wake-up this thread took: pass it on
                raise
            finally:
                self._waiting -= 1

    def _connect(self, origin: Origin, timeout: float | None) -> _Connection:
        scheme, host, port = origin
        sock = None
        try:
            if scheme == "https" and self._tls is None:
                raise httpx.UnsupportedProtocol("this client was built for http:// only")
            sock = _open_socket(host, port, bounded(timeout, httpx.ConnectTimeout))
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if scheme == "https" and self._tls is not None:
                sock.settimeout(bounded(timeout, httpx.ConnectTimeout))
                # As bytes, like the address: no IDNA codec for an ASCII name.
                sock = self._tls.wrap_socket(sock, server_hostname=host.encode("ascii"))
        except TimeoutError:
            if sock is not None:
                sock.close()
            raise httpx.ConnectTimeout("timed out connecting") from None
        except (OSError, ValueError) as exc:  # ValueError: a name ssl refuses
            if sock is not None:
                sock.close()
            raise httpx.ConnectError(str(exc) or type(exc).__name__) from exc
        except BaseException:
            if sock is not None:
                sock.close()
            raise
        return _Connection(sock, origin)

    def _acquire(self, origin: Origin, timeouts: dict[str, float | None]) -> _Connection:
        with self._lock:
            conn = self._reserve(origin, bounded(timeouts.get("pool"), httpx.PoolTimeout))
        if conn is not None:
            return conn
        try:
            return self._connect(origin, timeouts.get("connect"))
        except BaseException:
            with self._lock:
                self._used -= 1
                self._freed.notify()
            raise

    def release(self, conn: _Connection, *, reuse: bool) -> None:
        """Return a connection after its reply: keep it idle, or close it."""
        with self._lock:
            if not (reuse and not self._closed and self._idle.put(conn)):
                self._used -= 1
                conn.close()
            self._freed.notify()

    # -- httpx.BaseTransport ------------------------------------------------------

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        origin = _wire.origin_of(request.url)
        timeouts: dict[str, float | None] = request.extensions.get("timeout", {})
        data = _wire.encode(request, request.read())

        conn = self._acquire(origin, timeouts)
        handed_over = False
        try:
            conn.reader.start(request.method)
            conn.write(data, timeouts.get("write"))
            read_timeout = timeouts.get("read")
            head = conn.read_head(read_timeout)
            stream = _Body(self, conn, read_timeout)
            handed_over = True
        finally:
            if not handed_over:
                self.release(conn, reuse=False)
        return _wire.response(head, stream)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            for conn in self._idle.drain():
                self._used -= 1
                conn.close()
            self._freed.notify_all()
