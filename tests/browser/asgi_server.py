"""A tiny threaded HTTP/1.1 server for one ASGI app, on 127.0.0.1, for browser tests.

``http.server`` parses HTTP in a thread per connection; every request is
handed, as one ASGI ``http`` call, to a single event loop running in its own
thread, so the app's state (its dedupe map, its in-flight tasks, the
``AsyncClient``'s pool) lives on one loop as under a real ASGI server. The
app is built on that loop by an async context manager factory, and closed
there on exit. Not a general server: whole bodies, no streaming, no
keep-alive tuning, no access log (a feedback link's query holds the token).
Every request's method, target and headers are recorded for assertions.
"""

from __future__ import annotations

import asyncio
import contextlib
import socketserver
import threading
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final

__all__ = [
    "ASGIApp",
    "Message",
    "Receive",
    "RecordedRequest",
    "Scope",
    "Send",
    "ServedApp",
    "serve_asgi",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_MAX_BODY: Final = 1 << 20
_CALL_TIMEOUT: Final = 30.0
_IDLE_TIMEOUT: Final = 10.0
_START_TIMEOUT: Final = 10.0


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the server read it (header names lower-cased)."""

    method: str
    target: str
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def header(self, name: str) -> str | None:
        """The first value of a header, or None."""
        return next((v for k, v in self.headers if k == name.lower()), None)


@dataclass
class ServedApp:
    """The running server: its base URL and what it received."""

    url: str
    requests: list[RecordedRequest] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def received(self) -> list[RecordedRequest]:
        """A copy of the requests so far."""
        with self.lock:
            return list(self.requests)

    def clear(self) -> None:
        """Forget the requests so far."""
        with self.lock:
            self.requests.clear()


class _LoopThread:
    """An event loop in a thread that holds the app for the server's lifetime."""

    def __init__(self, factory: Callable[[], AbstractAsyncContextManager[ASGIApp]]) -> None:
        self._factory = factory
        self._ready = threading.Event()
        self._failure: BaseException | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.app: ASGIApp | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="asgi-loop", daemon=True)

    def start(self) -> None:
        self._thread.start()
        if not self._ready.wait(_START_TIMEOUT):
            raise RuntimeError("the ASGI app did not start")
        if self._failure is not None:
            raise RuntimeError("the ASGI app failed to start") from self._failure

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except Exception as exc:  # reported by start(): the thread must not die silently
            self._failure = exc
            self._ready.set()

    async def _main(self) -> None:
        async with self._factory() as app:
            self.app = app
            self.loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            self._ready.set()
            await self._stop.wait()

    def call(self, scope: Scope, body: bytes) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        assert self.loop is not None
        future = asyncio.run_coroutine_threadsafe(self._call(scope, body), self.loop)
        return future.result(_CALL_TIMEOUT)

    async def _call(
        self, scope: Scope, body: bytes
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        assert self.app is not None
        delivered = False
        start: Message = {}
        chunks: list[bytes] = []

        async def receive() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return {"type": "http.disconnect"}

        async def send(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                chunks.append(bytes(message.get("body", b"")))

        await self.app(scope, receive, send)
        if not start:
            return 500, [(b"content-type", b"text/plain")], b"the app sent no response"
        headers = [(bytes(k), bytes(v)) for k, v in start.get("headers", [])]
        return int(start["status"]), headers, b"".join(chunks)

    def stop(self) -> None:
        if self.loop is not None and self._stop is not None:
            self.loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(_START_TIMEOUT)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "asgi-bridge"
    sys_version = ""
    timeout = _IDLE_TIMEOUT
    server: _Server

    def do_GET(self) -> None:
        self._serve()

    do_HEAD = do_POST = do_PUT = do_DELETE = do_OPTIONS = do_PATCH = do_GET

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base's name
        # No access log: the request line of a feedback link holds the token.
        return

    def _serve(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        if not 0 <= length <= _MAX_BODY or "chunked" in self.headers.get("transfer-encoding", ""):
            self.send_error(400)
            self.close_connection = True
            return
        body = self.rfile.read(length)
        headers = tuple((k.lower(), v) for k, v in self.headers.items())
        with self.server.served.lock:
            self.server.served.requests.append(
                RecordedRequest(method=self.command, target=self.path, headers=headers, body=body)
            )
        path, _, query = self.path.partition("?")
        host, port = self.server.server_address[:2]
        scope: Scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": self.command,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode("latin-1"),
            "query_string": query.encode("latin-1"),
            "root_path": "",
            "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers],
            "client": self.client_address[:2],
            "server": (str(host), int(port)),
        }
        status, response_headers, content = self.server.loop.call(scope, body)
        self.send_response(status)
        for name, value in response_headers:
            if self.command == "HEAD" or name.lower() != b"content-length":
                self.send_header(name.decode("latin-1"), value.decode("latin-1"))
        if self.command != "HEAD":
            # The length of what is sent (a test's middleware may rewrite it).
            self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(content)
        self.wfile.flush()


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, loop: _LoopThread) -> None:
        self.loop = loop
        super().__init__(("127.0.0.1", 0), _Handler)
        self.served = ServedApp(url=f"http://127.0.0.1:{self.server_address[1]}")

    def server_bind(self) -> None:
        # HTTPServer.server_bind calls getfqdn(), a reverse lookup that can be slow.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = "127.0.0.1", int(self.server_address[1])


@contextlib.contextmanager
def serve_asgi(
    factory: Callable[[], AbstractAsyncContextManager[ASGIApp]],
) -> Iterator[ServedApp]:
    """Serve the app that ``factory()`` yields on 127.0.0.1 for the ``with`` block."""
    loop = _LoopThread(factory)
    loop.start()
    try:
        server = _Server(loop)
    except BaseException:
        loop.stop()
        raise
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield server.served
    finally:
        server.shutdown()
        server.server_close()
        thread.join(_START_TIMEOUT)
        loop.stop()
