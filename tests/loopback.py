"""A scripted HTTP/1.1 server on 127.0.0.1 for client tests, on raw sockets.

Each request takes the next step of the script (the last step repeats):
a reply ``(status, headers, body)``, raw ``bytes`` sent as they are, a
callable given the socket (it answers as it likes; the connection stays open
if it returns True), or a fault: ``RESET`` (RST before the status line),
``HANG`` (read the request, never answer), ``TRICKLE`` (send a byte every
``trickle_interval`` seconds), ``CLOSE`` (close without a reply).
It records every request it read. Bounded: it binds loopback only, every
socket has a timeout, and ``stop()`` ends it.
"""

from __future__ import annotations

import contextlib
import json
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Final

RESET: Final = "reset"
HANG: Final = "hang"
TRICKLE: Final = "trickle"
CLOSE: Final = "close"

Step = tuple[int, dict[str, str], bytes] | str | bytes | Callable[[socket.socket], bool | None]


def reply(
    status: int, body: object | bytes = b"{}", headers: dict[str, str] | None = None
) -> Step:
    """A JSON reply step (``body`` may be raw bytes)."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    base = {"Content-Type": "application/x-amz-json-1.1", "x-amzn-RequestId": "req-loopback"}
    return (status, {**base, **(headers or {})}, raw)


def error(code: str, message: str = "m", status: int = 400) -> Step:
    """A Cognito-style error reply step."""
    return reply(status, {"__type": code, "message": message}, {"x-amzn-ErrorType": f"{code}:"})


@dataclass
class Recorded:
    """A request the server read."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class LoopbackServer:
    """See the module docstring."""

    script: list[Step] = field(default_factory=lambda: [reply(200)])
    trickle_interval: float = 0.2
    hang_for: float = 5.0
    requests: list[Recorded] = field(default_factory=list)
    connections: int = 0

    def __post_init__(self) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(256)
        self._sock.settimeout(0.2)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._step = 0
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        self._acceptor = threading.Thread(target=self._accept, daemon=True)
        self._acceptor.start()

    def _next_step(self) -> Step:
        with self._lock:
            step = self.script[min(self._step, len(self.script) - 1)]
            self._step += 1
            return step

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self.connections += 1
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _read_request(self, conn: socket.socket, buf: bytes) -> tuple[Recorded, bytes] | None:
        while b"\r\n\r\n" not in buf:
            chunk = conn.recv(65536)
            if not chunk:
                return None
            buf += chunk
        head, _, rest = buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, path, _version = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        while len(rest) < length:
            chunk = conn.recv(65536)
            if not chunk:
                return None
            rest += chunk
        return Recorded(method, path, headers, rest[:length]), rest[length:]

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(10)
        buf = b""
        with contextlib.closing(conn):
            while not self._stop.is_set():
                try:
                    got = self._read_request(conn, buf)
                except OSError:
                    return
                if got is None:
                    return
                request, buf = got
                with self._lock:
                    self.requests.append(request)
                step = self._next_step()
                if step == RESET:
                    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    return
                if step == CLOSE:
                    return
                if step == HANG:
                    self._stop.wait(self.hang_for)
                    return
                if step == TRICKLE:
                    self._trickle(conn)
                    return
                if callable(step) or isinstance(step, bytes):
                    try:
                        keep = step(conn) if callable(step) else conn.sendall(step) or True
                    except OSError:
                        return
                    if keep:
                        continue
                    return
                assert isinstance(step, tuple)
                status, headers, body = step
                head = [f"HTTP/1.1 {status} X"]
                head += [f"{k}: {v}" for k, v in headers.items()]
                head.append(f"Content-Length: {len(body)}")
                try:
                    conn.sendall(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)
                except OSError:
                    return

    def _trickle(self, conn: socket.socket) -> None:
        # The head at once, then the body a byte at a time: what both clients
        # bound by the attempt's total (a trickled head is the async client's
        # alone to bound; see tests/test_faults.py).
        body = b"{" + b" " * 38 + b"}"
        try:
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 40\r\n\r\n")
        except OSError:
            return
        deadline = time.monotonic() + self.hang_for
        for byte in body:
            if self._stop.is_set() or time.monotonic() > deadline:
                return
            try:
                conn.sendall(bytes([byte]))
            except OSError:
                return
            self._stop.wait(self.trickle_interval)

    def stop(self) -> None:
        """Stop accepting, end every connection's thread, close the socket."""
        self._stop.set()
        self._sock.close()
        self._acceptor.join(timeout=2)
        for thread in self._threads:
            thread.join(timeout=2)


@contextlib.contextmanager
def serve(*script: Step, **kwargs: float) -> Iterator[LoopbackServer]:
    """Run a ``LoopbackServer`` for the ``with`` block."""
    server = LoopbackServer(script=list(script) or [reply(200)], **kwargs)  # type: ignore[arg-type]
    try:
        yield server
    finally:
        server.stop()


def closed_port() -> str:
    """A loopback URL on which nothing listens (connection refused)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}"
