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
import socket
import socketserver
import threading
import time
from collections.abc import Awaitable, Callable, Generator, MutableMapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

import httpx

if TYPE_CHECKING:
    from ._fake import FakeCognito, FakeReply

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
_MAX_ASGI_MESSAGES: Final = 65536
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
            await _lifespan(receive, send)
            return
        if kind != "http":
            raise ValueError(f"FakeASGIApp serves http and lifespan scopes, not {kind!r}")
        method = str(scope["method"])
        path = str(scope.get("path") or "/")
        root = str(scope.get("root_path") or "")
        if root and path.startswith(root):
            path = path[len(root) :] or "/"
        headers: list[tuple[bytes, bytes]] = [(bytes(k), bytes(v)) for k, v in scope["headers"]]
        body = await _receive_body(receive)
        if body is None:
            reply = self.fake.refuse_oversized(method, path, headers)
        else:
            reply = self.fake.handle(method, path, headers, body)
            if reply.delay:
                await asyncio.sleep(reply.delay)
            if reply.drop:
                raise ConnectionAbortedError("FakeCognito dropped the connection (scripted fault)")
        raw = [
            (k.encode("latin-1"), v.encode("latin-1"))
            for k, v in reply.headers
            if k.lower() not in _FRAMING
        ]
        raw.append((b"content-length", str(len(reply.body)).encode()))
        await send({"type": "http.response.start", "status": reply.status, "headers": raw})
        await send({"type": "http.response.body", "body": reply.body, "more_body": False})


async def _lifespan(receive: _Receive, send: _Send) -> None:
    # Nothing to start or stop; acknowledge both (at most two messages).
    for _ in range(2):
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _receive_body(receive: _Receive) -> bytes | None:
    # None: the body was larger than MAX_REQUEST_BODY, or came in more pieces
    # than any sane server sends. Otherwise the loop ends when the server says
    # there is no more body, or the client went away.
    parts: list[bytes] = []
    size = 0
    for _ in range(_MAX_ASGI_MESSAGES):
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(parts)
        chunk = bytes(message.get("body", b""))
        size += len(chunk)
        if size > MAX_REQUEST_BODY:
            return None
        parts.append(chunk)
        if not message.get("more_body", False):
            return b"".join(parts)
    return None


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
    """The request's Content-Length or chunked framing is malformed."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeCognito"
    sys_version = ""
    timeout = _IDLE_TIMEOUT
    server: _Server

    def do_POST(self) -> None:
        self._serve()

    do_GET = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD = do_POST

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base's name
        _log.debug("%s " + format, self.address_string(), *args)

    def _serve(self) -> None:
        fake = self.server.fake
        path = urlsplit(self.path).path or "/"
        headers = list(self.headers.items())
        try:
            body = self._read_body()
        except _BadFraming:
            self.send_error(400, "Bad Content-Length or chunked encoding")
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
        # None: too large; _BadFraming: a malformed length or chunk. Either
        # way the connection is closed with the rest of the body unread.
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            return self._read_chunked()
        raw = self.headers.get("Content-Length")
        if raw is None:
            return b""
        try:
            length = int(raw)
        except ValueError:
            length = -1
        if length < 0:
            raise _BadFraming
        if length > MAX_REQUEST_BODY:
            self.close_connection = True
            return None
        return self.rfile.read(length)

    def _read_chunked(self) -> bytes | None:
        parts: list[bytes] = []
        size = 0
        for _ in range(_MAX_CHUNKS):
            line = self.rfile.readline(_MAX_LINE)
            try:
                chunk = int(line.split(b";", 1)[0].strip() or b"x", 16)
            except ValueError:
                raise _BadFraming from None
            if chunk < 0:
                raise _BadFraming from None
            if chunk == 0:
                for _ in range(_MAX_CHUNKS):  # trailers, up to the blank line
                    if self.rfile.readline(_MAX_LINE) in (b"\r\n", b"\n", b""):
                        return b"".join(parts)
                raise _BadFraming from None
            size += chunk
            if size > MAX_REQUEST_BODY:
                self.close_connection = True
                return None
            parts.append(self.rfile.read(chunk))
            self.rfile.readline(_MAX_LINE)
        raise _BadFraming

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
