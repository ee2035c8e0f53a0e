"""What both transports do alike with httpx's objects, around ``_http11``.

An ``httpx.Request`` becomes bytes and an origin; ``_http11``'s errors become
httpx's transport exceptions (which ``_client._translate`` maps once more, to
ours); an ``httpx.Response`` is made of a reply's head.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Final, Generic, Protocol, TypeVar

import httpx

from ._http11 import End, Head, ReplyError, ReplyReader, RequestError, chunked, request_head

Origin = tuple[str, str, int]


class Pooled(Protocol):
    """What the pool knows of a connection."""

    origin: Origin
    idle_since: float


C = TypeVar("C", bound=Pooled)

_DEFAULT_PORTS: Final = {"http": 80, "https": 443}


def origin_of(url: httpx.URL) -> Origin:
    """Scheme, host as on the wire, and port; ``UnsupportedProtocol`` for anything else."""
    scheme = url.scheme
    if scheme not in _DEFAULT_PORTS:
        raise httpx.UnsupportedProtocol(f"unsupported URL scheme {scheme!r}")
    # The host as it is on the wire (ASCII, punycode kept): url.host is the
    # IDNA-decoded form, which the socket layer would encode again, maybe
    # differently (IDNA 2003 maps "xn--fa-hia.de" to "fass.de").
    try:
        host = url.raw_host.decode("ascii")
    except UnicodeDecodeError:
        raise httpx.UnsupportedProtocol("the URL's host is not ASCII") from None
    return scheme, host, url.port if url.port is not None else _DEFAULT_PORTS[scheme]


def encode(request: httpx.Request, body: bytes) -> bytes:
    """The request as bytes on the wire, head and body."""
    headers = request.headers.raw
    try:
        head = request_head(request.method, request.url.raw_path, headers)
    except RequestError as exc:
        raise httpx.LocalProtocolError(str(exc)) from None
    if any(name.lower() == b"transfer-encoding" for name, _ in headers):
        return head + chunked(body)  # httpx's choice for a body of unknown length
    return head + body


def remote(exc: ReplyError) -> httpx.TransportError:
    """The httpx exception for a reply that broke the protocol or the connection."""
    if exc.lost:
        return httpx.ReadError(str(exc))
    return httpx.RemoteProtocolError(str(exc))


def head_of(reader: ReplyReader) -> Head | None:
    """The reply's head, or None until more arrives (errors as httpx's)."""
    try:
        return reader.head()
    except ReplyError as exc:
        raise remote(exc) from None


def piece_of(reader: ReplyReader) -> bytes | End | None:
    """The body's next piece, None until more arrives, or ``END`` (errors as httpx's)."""
    try:
        return reader.body()
    except ReplyError as exc:
        raise remote(exc) from None


class BodyClaim:
    """A response's claim on its connection, given back to the pool exactly once.

    Both transports' body streams use it, so the rule lives here once: the
    connection is reusable only when the body was read to the end by an
    iteration that finished; a close while an iteration is paused at a yield
    never reuses it (that iteration could still read the next request's reply),
    and two threads closing one response give it back once.
    """

    __slots__ = ("_give_back", "_guard", "_reader", "iterating", "released")

    def __init__(self, give_back: Callable[[bool], None], reader: ReplyReader) -> None:
        self._give_back = give_back
        self._reader = reader
        self._guard = threading.Lock()
        self.iterating = False
        self.released = False

    def finished(self) -> None:
        """The iteration ended (to the end, by an error, or abandoned)."""
        self.iterating = False
        self._release(self._reader.reusable)

    def close(self) -> None:
        """The consumer closed the response."""
        self._release(not self.iterating and self._reader.reusable)

    def _release(self, reuse: bool) -> None:
        with self._guard:
            if self.released:
                return
            self.released = True
        self._give_back(reuse)


def closed_under_us() -> httpx.ReadError:
    """The error for an iteration resumed after its response was closed."""
    return httpx.ReadError("the response was closed while its body was read")


def response(
    head: tuple[int, int, bytes, list[tuple[bytes, bytes]]],
    stream: httpx.SyncByteStream | httpx.AsyncByteStream,
) -> httpx.Response:
    """The ``httpx.Response`` for a reply's head, its body to come from ``stream``."""
    version, status, reason, headers = head
    return httpx.Response(
        status,
        headers=headers,
        stream=stream,
        extensions={"http_version": b"HTTP/1.%d" % version, "reason_phrase": reason},
    )


class IdleConnections(Generic[C]):
    """A pool's idle connections by origin, newest last: bookkeeping only.

    No I/O and no locking: the transports close what this hands back and hold
    their own lock (sync) or loop (async) around every call.
    """

    def __init__(self, *, limit: int, expiry: float) -> None:
        self._by_origin: dict[Origin, list[C]] = {}
        self._limit = limit
        self._expiry = expiry
        self.count = 0

    def put(self, conn: C) -> bool:
        """Keep ``conn`` for reuse; False when the pool keeps enough idle already."""
        if self.count >= self._limit:
            return False
        conn.idle_since = time.monotonic()
        self._by_origin.setdefault(conn.origin, []).append(conn)
        self.count += 1
        return True

    def take(self, origin: Origin, fit: Callable[[C], bool]) -> tuple[C | None, list[C]]:
        """The newest connection to ``origin`` still fresh and ``fit``, and the rest passed over.

        Passed-over connections (expired, closed by the server, unfit) are no
        longer idle: the caller closes them.
        """
        idle = self._by_origin.get(origin)
        if not idle:
            return None, []
        now = time.monotonic()
        found = None
        dropped = []
        while idle:
            conn = idle.pop()
            self.count -= 1
            if now - conn.idle_since <= self._expiry and fit(conn):
                found = conn
                break
            dropped.append(conn)
        if not idle:
            del self._by_origin[origin]
        return found, dropped

    def oldest(self) -> C | None:
        """Remove and return the longest-kept idle connection of any origin (to close it)."""
        for origin, idle in self._by_origin.items():
            conn = idle.pop(0)
            self.count -= 1
            if not idle:
                del self._by_origin[origin]
            return conn
        return None

    def drain(self) -> list[C]:
        """Remove and return every idle connection."""
        conns = [conn for idle in self._by_origin.values() for conn in idle]
        self._by_origin.clear()
        self.count = 0
        return conns
