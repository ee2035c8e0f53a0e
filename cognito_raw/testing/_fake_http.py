"""The three drivers of FakeCognito: an httpx transport, an ASGI app, a loopback server.

Each one turns its kind of request into ``FakeCognito.handle(method, path,
headers, body)`` and delivers the ``FakeReply``: it sleeps for ``delay``
(``time.sleep``, ``asyncio.sleep``, or an interruptible wait in the server)
and closes the connection for ``drop``. No protocol knowledge lives here.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import re
import socket
import socketserver
import threading
import time
from collections.abc import Awaitable, Callable, Generator, MutableMapping
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, Final, Protocol
from urllib.parse import urlsplit

import httpx

from cognito_raw._asgi import BodyTooLarge, acknowledge_lifespan, read_body

if TYPE_CHECKING:
    from cognito_raw._core.protocol import Headers


class FakeReply(Protocol):
    """A reply as the drivers deliver it (``_fake.FakeReply`` is one)."""

    @property
    def status(self) -> int: ...
    @property
    def headers(self) -> tuple[tuple[str, str], ...]: ...
    @property
    def body(self) -> bytes: ...
    @property
    def delay(self) -> float: ...
    @property
    def drop(self) -> bool: ...


class FakeCognito(Protocol):
    """What the drivers serve: the fake's two entry points (``_fake.FakeCognito`` is one).

    A structural type, so that this module, which the fake imports, needs
    nothing of the fake's.
    """

    def handle(self, method: str, path: str, headers: Headers, body: bytes) -> FakeReply: ...
    def refuse_oversized(self, method: str, path: str, headers: Headers) -> FakeReply: ...


__all__ = ["MAX_REQUEST_BODY", "FakeASGIApp", "FakeTransport", "serve_fake"]

_log = logging.getLogger("cognito_raw.testing.fake")

# The fake reads at most this much of a request body (over a socket or ASGI);
# a real request is a few hundred bytes.
MAX_REQUEST_BODY: Final = 1 << 20
# Bounds for the loopback server: an idle keep-alive connection is closed after
# this long, and exit waits at most this long for connection threads.
_IDLE_TIMEOUT: Final = 30.0
_JOIN_TIMEOUT: Final = 5.0
_MAX_CHUNKS: Final = 4096
_MAX_LINE: Final = 1024
# Hop-by-hop and framing headers are the driver's business, not the reply's.
_FRAMING: Final = frozenset({"content-length", "transfer-encoding", "connection"})

_Scope = MutableMapping[str, Any]
_Message = MutableMapping[str, Any]
_Receive = Callable[[], Awaitable[_Message]]
_Send = Callable[[_Message], Awaitable[None]]


def _dropped(request: httpx.Request) -> httpx.RemoteProtocolError:
    # The message httpcore gives when a server closes before the status line.
    return httpx.RemoteProtocolError(
        "Server disconnected without sending a response.", request=request
    )


def _read_timeout(request: httpx.Request) -> float | None:
    timeout = request.extensions.get("timeout", {})
    value = timeout.get("read") if isinstance(timeout, dict) else None
    return float(value) if isinstance(value, (int, float)) else None


def _response(reply: FakeReply) -> httpx.Response:
    headers = [(k, v) for k, v in reply.headers if k.lower() not in _FRAMING]
    return httpx.Response(reply.status, headers=headers, content=reply.body)


class FakeTransport(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """An httpx transport, sync and async, that hands every request to a FakeCognito.

    ``delay`` sleeps (and raises ``httpx.ReadTimeout`` after the request's read
    timeout if the delay is longer); ``drop`` raises ``httpx.RemoteProtocolError``.
    """

    def __init__(self, fake: FakeCognito) -> None:
        self.fake = fake

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Answer a request from ``httpx.Client``."""
        body = request.read()
        reply = self.fake.handle(request.method, request.url.path, request.headers.raw, body)
        if reply.delay:
            limit = _read_timeout(request)
            if limit is not None and reply.delay > limit:
                time.sleep(limit)
                raise httpx.ReadTimeout("timed out (FakeCognito delay)", request=request)
            time.sleep(reply.delay)
        if reply.drop:
            raise _dropped(request)
        return _response(reply)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Answer a request from ``httpx.AsyncClient``."""
        body = await request.aread()
        reply = self.fake.handle(request.method, request.url.path, request.headers.raw, body)
        if reply.delay:
            limit = _read_timeout(request)
            if limit is not None and reply.delay > limit:
                await asyncio.sleep(limit)
                raise httpx.ReadTimeout("timed out (FakeCognito delay)", request=request)
            await asyncio.sleep(reply.delay)
        if reply.drop:
            raise _dropped(request)
        return _response(reply)


class FakeASGIApp:
    """An ASGI 3 application (no framework) serving a FakeCognito.

    It answers ``http`` and ``lifespan`` scopes. ASGI has no way to drop a
    connection: a scripted drop raises ``ConnectionAbortedError`` from the app
    (httpx's ``ASGITransport`` re-raises it; a server logs it and answers 500).
    """

    def __init__(self, fake: FakeCognito) -> None:
        self.fake = fake

    async def __call__(self, scope: _Scope, receive: _Receive, send: _Send) -> None:
        """The ASGI entry point."""
        kind = scope.get("type")
        if kind == "lifespan":
            await acknowledge_lifespan(receive, send)
            return
        if kind != "http":
            raise ValueError(f"FakeASGIApp serves http and lifespan scopes, not {kind!r}")
        method = str(scope["method"])
        path = str(scope.get("path") or "/")
        root = str(scope.get("root_path") or "")
        if root and path.startswith(root):
            path = path[len(root) :] or "/"
        headers: list[tuple[bytes, bytes]] = [(bytes(k), bytes(v)) for k, v in scope["headers"]]
        reply = await self._reply(method, path, headers, receive)
        if reply is None:
            return  # the client went away: there is no one to answer
        raw = [
            (k.encode("latin-1"), v.encode("latin-1"))
            for k, v in reply.headers
            if k.lower() not in _FRAMING
        ]
        raw.append((b"content-length", str(len(reply.body)).encode()))
        await send({"type": "http.response.start", "status": reply.status, "headers": raw})
        await send({"type": "http.response.body", "body": reply.body, "more_body": False})

    async def _reply(
        self, method: str, path: str, headers: Headers, receive: _Receive
    ) -> FakeReply | None:
        # The fake's reply once the body is in; None if the client went away.
        try:
            body = await read_body(receive, limit=MAX_REQUEST_BODY)
        except BodyTooLarge:
            return self.fake.refuse_oversized(method, path, headers)
        if body is None:
            return None
        reply = self.fake.handle(method, path, headers, body)
        if reply.delay:
            await asyncio.sleep(reply.delay)
        if reply.drop:
            raise ConnectionAbortedError("FakeCognito dropped the connection (scripted fault)")
        return reply


# --- the loopback server ----------------------------------------------------------


def _loopback(host: str) -> tuple[str, socket.AddressFamily]:
    """The address to bind for ``host``, which must be loopback; else ValueError."""
    if host == "localhost":
        # Not resolved: a hosts file could map it anywhere.
        return "127.0.0.1", socket.AF_INET
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"FakeCognito serves on a loopback address only, not {host!r}") from None
    if not address.is_loopback:
        raise ValueError(f"FakeCognito serves on a loopback address only, not {host!r}")
    family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
    return str(address), family


class _BadFraming(Exception):
    """The request's framing is not HTTP/1.1's: answer ``status`` and close."""

    def __init__(self, why: str, status: int = 400) -> None:
        super().__init__(why)
        self.status = status


# RFC 9112's request framing, as the fake reads it (each a "MUST" or the
# "SHOULD" it names):
# - Content-Length = 1*DIGIT (RFC 9110 8.6), ASCII digits only: int() would
#   also take "1_0", "+5", " 7" and non-ASCII digits. Repeated fields (or a
#   list) must all be the same number, else 400 (RFC 9112 6.3, item 5).
# - Transfer-Encoding: chunked must be the final coding, applied once, else
#   400 (6.3 item 4; 7); any other coding is not implemented here: 501 (6.1).
#   Both Transfer-Encoding and Content-Length, or Transfer-Encoding in an
#   HTTP/1.0 request, is a smuggling shape: 400 (6.1, 6.3 item 3).
# - chunk = chunk-size [ chunk-ext ] CRLF chunk-data CRLF (7.1), chunk-size =
#   1*HEXDIG, the line bounded; trailers are bounded lines up to a blank one.
# Every refusal closes the connection: the rest of the stream cannot be framed.
_LENGTH_RE: Final = re.compile(r"[0-9]+", re.ASCII)
_CHUNK_LINE_RE: Final = re.compile(rb"([0-9A-Fa-f]{1,8})[ \t]*(?:;[^\r\n]*)?\r?\n")
# More digits than this is more than MAX_REQUEST_BODY whatever they say; int()
# is never asked to read a huge digit string.
_MAX_LENGTH_DIGITS: Final = 12


def _list_values(values: list[str] | None) -> list[str]:
    # A header's elements across repeated fields and commas (RFC 9110 5.3,
    # 5.6.1), empty elements dropped.
    return [item.strip(" \t") for raw in values or () for item in raw.split(",") if item.strip()]


def request_body_length(version: str, headers: Message) -> int | None:
    """How the request body is framed: its length, or ``None`` for chunked.

    ``_BadFraming`` (with 400 or 501) for anything RFC 9112 does not frame.
    """
    codings = [coding.lower() for coding in _list_values(headers.get_all("Transfer-Encoding"))]
    lengths = _list_values(headers.get_all("Content-Length"))
    if codings:
        if lengths or version == "HTTP/1.0":
            raise _BadFraming("Transfer-Encoding with Content-Length, or in HTTP/1.0")
        if codings[-1] != "chunked" or codings.count("chunked") > 1:
            raise _BadFraming("chunked must be the final transfer coding, applied once")
        if any(coding != "chunked" for coding in codings):
            raise _BadFraming("transfer coding not implemented", status=501)
        return None
    if not lengths:
        return 0
    if len(set(lengths)) != 1 or _LENGTH_RE.fullmatch(lengths[0]) is None:
        raise _BadFraming("Content-Length is not one number of ASCII digits")
    if len(lengths[0]) > _MAX_LENGTH_DIGITS:
        return MAX_REQUEST_BODY + 1
    return int(lengths[0])


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeCognito"
    sys_version = ""
    timeout = _IDLE_TIMEOUT
    # A reply is written once: head and body buffered, then one flush (with
    # wbufsize 0, the default, the head and the body are two writes, and with
    # Nagle's algorithm on the second waits for the client's delayed ACK on a
    # kept-alive connection). TCP_NODELAY as well, for bodies past the buffer.
    wbufsize = -1
    disable_nagle_algorithm = True
    server: _Server

    def do_POST(self) -> None:
        self._serve()

    do_GET = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD = do_POST

    def handle_expect_100(self) -> bool:
        # The interim 100 must reach the client before it sends the body: with
        # a buffered wfile, end_headers alone would leave it in the buffer.
        accepted = super().handle_expect_100()
        self.wfile.flush()
        return accepted

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base's name
        _log.debug("%s " + format, self.address_string(), *args)

    def _serve(self) -> None:
        fake = self.server.fake
        path = urlsplit(self.path).path or "/"
        headers = list(self.headers.items())
        try:
            body = self._read_body()
        except _BadFraming as exc:
            # send_error closes the connection (it says "Connection: close").
            self.send_error(exc.status, str(exc))
            return
        if body is None:
            self._write(fake.refuse_oversized(self.command, path, headers))
            return
        reply = fake.handle(self.command, path, headers, body)
        # Wait on the server's stop event, so that leaving serve() is never
        # held up by a scripted delay.
        if reply.delay and self.server.stopping.wait(reply.delay):
            self.close_connection = True
            return
        if reply.drop:
            # No status line: the client sees the connection close.
            self.close_connection = True
            return
        self._write(reply)

    def _read_body(self) -> bytes | None:
        # None: too large; _BadFraming: not framed as RFC 9112 says. Either
        # way the connection is closed with the rest of the body unread.
        length = request_body_length(self.request_version, self.headers)
        if length is None:
            return self._read_chunked()
        if length > MAX_REQUEST_BODY:
            self.close_connection = True
            return None
        body = self.rfile.read(length)
        if len(body) != length:
            raise _BadFraming("the body ended before its Content-Length")
        return body

    def _line(self) -> bytes:
        line = self.rfile.readline(_MAX_LINE)
        if not line.endswith(b"\n"):
            raise _BadFraming("a chunk or trailer line is too long, or the body ended")
        return line

    def _read_chunked(self) -> bytes | None:
        parts: list[bytes] = []
        size = 0
        for _ in range(_MAX_CHUNKS):
            match = _CHUNK_LINE_RE.fullmatch(self._line())
            if match is None:
                raise _BadFraming("bad chunk-size line")
            chunk = int(match.group(1), 16)
            if chunk == 0:
                for _ in range(_MAX_CHUNKS):  # trailers, up to the blank line
                    if self._line() in (b"\r\n", b"\n"):
                        return b"".join(parts)
                raise _BadFraming("too many trailer lines")
            size += chunk
            if size > MAX_REQUEST_BODY:
                self.close_connection = True
                return None
            data = self.rfile.read(chunk)
            if len(data) != chunk or self._line() not in (b"\r\n", b"\n"):
                raise _BadFraming("chunk data is not followed by CRLF")
            parts.append(data)
        raise _BadFraming("too many chunks")

    def _write(self, reply: FakeReply) -> None:
        self.send_response(reply.status)
        for key, value in reply.headers:
            if key.lower() not in _FRAMING:
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(reply.body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(reply.body)
        self.wfile.flush()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver listens with a backlog of 5: a burst of clients would see
    # dropped SYNs and second-long connect retries. Take what the OS allows.
    request_queue_size = socket.SOMAXCONN
    # serve_fake() joins the connection threads itself, with a time bound.
    block_on_close = False

    def __init__(
        self, address: tuple[str, int], family: socket.AddressFamily, fake: FakeCognito
    ) -> None:
        self.address_family = family
        self.fake = fake
        self.stopping = threading.Event()
        self._open_lock = threading.Lock()
        self._open: dict[socket.socket, threading.Thread] = {}
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind calls socket.getfqdn(), a reverse DNS lookup
        # that can take seconds; the fake knows its name.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def process_request(self, request: Any, client_address: Any) -> None:
        thread = threading.Thread(
            target=self._run, args=(request, client_address), daemon=True, name="FakeCognito"
        )
        with self._open_lock:
            self._open[request] = thread
        thread.start()

    def _run(self, request: socket.socket, client_address: Any) -> None:
        try:
            self.process_request_thread(request, client_address)
        finally:
            with self._open_lock:
                self._open.pop(request, None)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up mid-request is routine here; keep stderr clean.
        _log.debug("connection from %s failed", client_address, exc_info=True)

    def close_connections(self) -> None:
        self.stopping.set()
        with self._open_lock:
            open_now = list(self._open.items())
        for sock, _ in open_now:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        deadline = time.monotonic() + _JOIN_TIMEOUT
        for _, thread in open_now:
            thread.join(max(0.0, deadline - time.monotonic()))


@contextlib.contextmanager
def serve_fake(fake: FakeCognito, *, host: str, port: int) -> Generator[str, None, None]:
    """Run ``fake`` on ``host:port`` (loopback only) in a thread; yield the base URL."""
    address, family = _loopback(host)
    if not 0 <= port <= 65535:
        raise ValueError(f"port must be 0-65535, not {port}")
    server = _Server((address, port), family, fake)
    bound = server.server_address[1]
    shown = f"[{address}]" if family == socket.AF_INET6 else address
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": 0.05},
        daemon=True,
        name="FakeCognito-server",
    )
    thread.start()
    try:
        yield f"http://{shown}:{bound}"
    finally:
        server.shutdown()
        server.close_connections()
        server.server_close()
        thread.join(_JOIN_TIMEOUT)
