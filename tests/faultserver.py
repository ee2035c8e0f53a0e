"""A fault-injecting HTTP server on 127.0.0.1, on raw sockets, for the fault tests.

Each exchange takes the next step of the script (the last step repeats). A
step is one named fault from ``FAULTS``, or a caller's own: what the server
does once a request has arrived on a connection. The faults are what a broken
network, a hostile endpoint or a confused proxy can do to an HTTP/1.1 client:
reset or close at any point, answer nothing, trickle, lie about the body
length, send megabytes or a gzip bomb, send bytes that are not UTF-8 or JSON
that is not an object, redirect, answer with 1xx/204/205 oddly, speak HTTP/1.0.

Bounded, as everything on this machine must be: it binds 127.0.0.1 only,
every socket has a timeout, a fault that holds a connection open lets go as
soon as the client closes it (or after ``hold_for`` seconds, or at ``stop()``),
a huge body is at most ``HUGE_BODY`` bytes sent in fixed chunks (the server
never holds it in memory), and ``stop()`` joins every thread it started.
"""

from __future__ import annotations

import contextlib
import functools
import json
import socket
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Final

# A body of this many bytes is "huge": over 150 times what a client may read.
HUGE_BODY: Final = 10 * 1024 * 1024 + 1
# The decompressed size of the gzip bomb; it is about 50 KB on the wire.
BOMB_SIZE: Final = 50 * 1024 * 1024
_CHUNK: Final = b" " * 65536
_MAX_REQUEST: Final = 1 << 20
_SOCKET_TIMEOUT: Final = 5.0
_POLL: Final = 0.02

JSON_TYPE: Final = "application/x-amz-json-1.1"


@functools.cache
def gzip_bomb(first: bytes = b"{") -> bytes:
    """``first`` then spaces, ``BOMB_SIZE`` bytes, gzip-compressed (built once, in chunks)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: a gzip header and trailer
    parts = [packer.compress(first)]
    parts += [packer.compress(_CHUNK) for _ in range(BOMB_SIZE // len(_CHUNK))]
    parts.append(packer.flush())
    return b"".join(parts)


class _Gone(Exception):
    """The client closed the connection (or the server is stopping)."""


@dataclass(frozen=True)
class Conn:
    """One accepted connection, as a fault sees it."""

    sock: socket.socket
    server: FaultServer

    def send(self, data: bytes) -> None:
        try:
            self.sock.sendall(data)
        except OSError:
            raise _Gone from None

    def reset(self) -> None:
        """Abort: close with RST (SO_LINGER 0) instead of FIN."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    def wait(self, seconds: float) -> None:
        """Wait ``seconds``, draining what the client sends; ``_Gone`` when it closes."""
        deadline = time.monotonic() + seconds
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            if self.server.stopping.is_set():
                raise _Gone
            self.sock.settimeout(min(left, _POLL * 5))
            try:
                if self.sock.recv(65536) == b"":
                    raise _Gone
            except TimeoutError:
                continue
            except OSError:
                raise _Gone from None
            finally:
                self.sock.settimeout(_SOCKET_TIMEOUT)

    def hold(self) -> None:
        """Keep the connection open, answering nothing, until the client gives up."""
        with contextlib.suppress(_Gone):
            self.wait(self.server.hold_for)


Fault = Callable[[Conn], bool]
"""A fault acts on a connection whose request has been read; True keeps it alive."""
Step = str | Fault
"""A script step: the name of one of ``FAULTS``, or a fault of the caller's own."""


def head(status: str, headers: list[tuple[str, str]], *, version: str = "HTTP/1.1") -> bytes:
    """A status line and header block."""
    lines = [f"{version} {status}", *(f"{k}: {v}" for k, v in headers)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def reply(
    status: str = "200 OK",
    body: bytes = b"{}",
    headers: list[tuple[str, str]] | None = None,
    *,
    length: int | None = None,
) -> Fault:
    """A well-framed reply (``length`` overrides the Content-Length sent)."""
    base = [("Content-Type", JSON_TYPE), ("x-amzn-RequestId", "req-fault")]
    shown = len(body) if length is None else length

    def act(conn: Conn) -> bool:
        fields = [*base, *(headers or []), ("Content-Length", str(shown))]
        conn.send(head(status, fields) + body)
        return True

    return act


def json_reply(status: int, data: object, headers: list[tuple[str, str]] | None = None) -> Fault:
    """A reply with ``data`` as its JSON body (bytes are sent as they are)."""
    body = data if isinstance(data, bytes) else json.dumps(data).encode()
    return reply(f"{status} X", body, headers)


def error(code: str, status: str = "400 Bad Request", body: bytes | None = None) -> Fault:
    """A Cognito-style error reply."""
    payload = body if body is not None else f'{{"__type":"{code}","message":"m"}}'.encode()
    return reply(status, payload, [("x-amzn-ErrorType", f"{code}:")])


def _reset_before_status(conn: Conn) -> bool:
    conn.reset()
    return False


def _close_before_status(conn: Conn) -> bool:
    return False


def _reset_mid_body(conn: Conn) -> bool:
    conn.send(head("200 OK", [("Content-Type", JSON_TYPE), ("Content-Length", "100")]))
    conn.send(b'{"partial":')
    conn.wait(0.05)  # let the client read the head before the RST
    conn.reset()
    return False


def _never_answer(conn: Conn) -> bool:
    conn.hold()
    return False


def _trickle(interval: float) -> Fault:
    def act(conn: Conn) -> bool:
        payload = head("200 OK", [("Content-Length", "2")]) + b"{}"
        for byte in payload:
            conn.send(bytes([byte]))
            conn.wait(interval)
        return False

    return act


def _trickle_body(interval: float) -> Fault:
    def act(conn: Conn) -> bool:
        body = b"{" + b" " * 38 + b"}"
        conn.send(head("200 OK", [("Content-Length", str(len(body)))]))
        for byte in body:
            conn.send(bytes([byte]))
            conn.wait(interval)
        return False

    return act


def _truncated_body(conn: Conn) -> bool:
    conn.send(head("200 OK", [("Content-Type", JSON_TYPE), ("Content-Length", "100")]))
    conn.send(b'{"truncated": "after twenty')
    return False  # FIN: the body ends 72 bytes early


def _length_too_long(conn: Conn) -> bool:
    conn.send(head("200 OK", [("Content-Type", JSON_TYPE), ("Content-Length", "52")]) + b"{}")
    conn.hold()  # the other 50 bytes never come
    return False


def _huge(status: str, headers: list[tuple[str, str]], *, first: bytes = b"{") -> Fault:
    # ``first`` then spaces: "{" makes it unparseable, " " makes it blank.
    def act(conn: Conn) -> bool:
        fields = [*headers, ("Content-Length", str(HUGE_BODY))]
        conn.send(head(status, fields) + first)
        sent = len(first)
        while sent < HUGE_BODY:
            piece = _CHUNK[: HUGE_BODY - sent]
            conn.send(piece)
            sent += len(piece)
        return False

    return act


def _gzip(status: str, headers: list[tuple[str, str]], *, first: bytes = b"{") -> Fault:
    return reply(status, gzip_bomb(first), [("Content-Encoding", "gzip"), *headers])


def _redirect(status: str) -> Fault:
    def act(conn: Conn) -> bool:
        location = f"{conn.server.url}/elsewhere"
        conn.send(head(status, [("Location", location), ("Content-Length", "0")]))
        return True

    return act


def _continue_then(final: Fault) -> Fault:
    def act(conn: Conn) -> bool:
        conn.send(b"HTTP/1.1 100 Continue\r\n\r\n")
        return final(conn)

    return act


def _bare_1xx_then_close(conn: Conn) -> bool:
    conn.send(b"HTTP/1.1 103 Early Hints\r\nLink: </x>; rel=preload\r\n\r\n")
    return False


def _switching_protocols(conn: Conn) -> bool:
    conn.send(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x-evil\r\nConnection: Upgrade\r\n\r\n"
    )
    conn.send(b"not http any more")
    conn.hold()
    return False


def _no_content_with_body(conn: Conn) -> bool:
    # A 204 has no body whatever its headers say: the "body" stays on the wire
    # and is read as the start of the next reply on this connection.
    conn.send(head("204 No Content", [("Content-Length", "24")]) + b'{"leftover": "on wire"} ')
    return True


def _http10(status: str, body: bytes) -> Fault:
    def act(conn: Conn) -> bool:
        conn.send(head(status, [("Content-Type", JSON_TYPE)], version="HTTP/1.0") + body)
        return False  # the close is what ends the body

    return act


def _garbage(conn: Conn) -> bool:
    conn.send(b"SSH-2.0-OpenSSH_9.6\r\n\r\n")
    return False


def _header_flood(conn: Conn) -> bool:
    conn.send(b"HTTP/1.1 200 OK\r\n")
    for i in range(2000):  # ~200 KB of headers, sent until the client gives up
        conn.send(f"X-Flood-{i}: {'f' * 90}\r\n".encode())
    conn.send(b"Content-Length: 2\r\n\r\n{}")
    return False


def _endless_chunked(conn: Conn) -> bool:
    conn.send(head("200 OK", [("Content-Type", JSON_TYPE), ("Transfer-Encoding", "chunked")]))
    conn.send(b"1\r\n{\r\n")
    chunk = b"%x\r\n%s\r\n" % (len(_CHUNK), _CHUNK)
    for _ in range(HUGE_BODY // len(_CHUNK)):  # ~10 MB; the client stops at 64 KiB
        conn.send(chunk)
    conn.send(b"0\r\n\r\n")
    return False


_UNKNOWN_JSON = [("Content-Type", JSON_TYPE), ("x-amzn-RequestId", "req-fault")]

FAULTS: Final[dict[str, Fault]] = {
    "ok": reply(),
    "reset_before_status": _reset_before_status,
    "close_before_status": _close_before_status,
    "reset_mid_body": _reset_mid_body,
    "never_answer": _never_answer,
    "trickle_slower_than_read_timeout": _trickle(1.5),
    "trickle_under_read_timeout": _trickle(0.2),
    "trickle_body_under_read_timeout": _trickle_body(0.2),
    "truncated_body": _truncated_body,
    "content_length_too_long": _length_too_long,
    "content_length_too_short": reply(body=b'{"ok": true}', length=5),
    "huge_body_200": _huge("200 OK", _UNKNOWN_JSON),
    "huge_body_400_coded": _huge(
        "400 Bad Request", [*_UNKNOWN_JSON, ("x-amzn-ErrorType", "NotAuthorizedException:")]
    ),
    "huge_body_500": _huge("500 Internal Server Error", _UNKNOWN_JSON),
    "huge_blank_body_200": _huge("200 OK", _UNKNOWN_JSON, first=b" "),
    "gzip_bomb_200": _gzip("200 OK", []),
    "gzip_bomb_400_coded": _gzip(
        "400 Bad Request", [("x-amzn-ErrorType", "UserNotFoundException:")]
    ),
    "gzip_blank_bomb_200": _gzip("200 OK", [], first=b" "),
    "invalid_utf8_200": reply(body=b'{"message": "\xff\xfe\xc3("}'),
    "invalid_utf8_400": reply("400 Bad Request", b'{"__type": "\xffNotAuthorized\xfe"}'),
    "invalid_utf8_header": reply(
        "400 Bad Request",
        b"",
        [("x-amzn-ErrorType", "NotAuthorizedException:"), ("x-amzn-ErrorMessage", "\xff\xfe")],
    ),
    "json_array_200": reply(body=b"[]"),
    "json_string_200": reply(body=b'"ok"'),
    "json_null_200": reply(body=b"null"),
    "json_array_400": reply("400 Bad Request", b'["TooManyRequestsException"]'),
    "redirect_301": _redirect("301 Moved Permanently"),
    "redirect_302": _redirect("302 Found"),
    "redirect_307": _redirect("307 Temporary Redirect"),
    "redirect_308": _redirect("308 Permanent Redirect"),
    "no_content_204": reply("204 No Content", b""),
    "reset_content_205": reply("205 Reset Content", b""),
    "no_content_204_with_body": _no_content_with_body,
    "continue_100_then_200": _continue_then(reply()),
    "continue_100_then_throttle": _continue_then(error("TooManyRequestsException")),
    "bare_103_then_close": _bare_1xx_then_close,
    "switching_protocols_101": _switching_protocols,
    "http10_no_length_200": _http10("200 OK", b"{}"),
    "http10_no_length_400": _http10(
        "400 Bad Request", b'{"__type":"NotAuthorizedException","message":"m"}'
    ),
    "garbage_status_line": _garbage,
    "header_flood": _header_flood,
    "endless_chunked_200": _endless_chunked,
    "html_502": reply(
        "502 Bad Gateway", b"<html>bad gateway</html>", [("Content-Type", "text/html")]
    ),
    "throttled": error("TooManyRequestsException"),
    "internal_error_500": error("InternalErrorException", "500 Internal Server Error"),
}


class FaultServer:
    """See the module docstring. ``exchanges`` counts the steps taken (one per request)."""

    def __init__(self, script: list[Step], *, hold_for: float = 10.0) -> None:
        self.hold_for = hold_for
        self.connections = 0
        self.script: list[Step] = []
        self.exchanges = 0
        self.paths: list[str] = []
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self.set_script(*script)
        self._open: dict[socket.socket, threading.Thread] = {}
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self._listener.settimeout(1.0)
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._acceptor = threading.Thread(target=self._accept, daemon=True, name="faultserver")
        self._acceptor.start()

    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                sock, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if self.stopping.is_set():
                sock.close()
                return
            thread = threading.Thread(
                target=self._serve, args=(sock,), daemon=True, name="faultserver-conn"
            )
            with self._lock:
                self.connections += 1
                self._open[sock] = thread
            thread.start()

    def set_script(self, *script: Step) -> None:
        """Serve ``script`` from the next exchange on (the count starts again)."""
        unknown = [name for name in script if isinstance(name, str) and name not in FAULTS]
        if unknown or not script:
            raise ValueError(f"unknown or no faults: {unknown}")
        with self._lock:
            self.script = list(script)
            self.exchanges = 0
            self.paths.clear()

    def _take(self) -> Fault:
        with self._lock:
            step = self.script[min(self.exchanges, len(self.script) - 1)]
            self.exchanges += 1
        return FAULTS[step] if isinstance(step, str) else step

    def _read_request(self, sock: socket.socket) -> bool:
        # Read one request (head and Content-Length body); False if the client left.
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = sock.recv(65536)
            if not chunk or len(buf) > _MAX_REQUEST:
                return False
            buf += chunk
        head_bytes, _, rest = buf.partition(b"\r\n\r\n")
        lines = head_bytes.decode("latin-1").split("\r\n")
        with self._lock:
            self.paths.append(lines[0].split(" ")[1] if " " in lines[0] else "")
        length = 0
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                length = min(int(value.strip() or 0), _MAX_REQUEST)
        while len(rest) < length:
            chunk = sock.recv(65536)
            if not chunk:
                return False
            rest += chunk
        return True

    def _serve(self, sock: socket.socket) -> None:
        sock.settimeout(_SOCKET_TIMEOUT)
        conn = Conn(sock, self)
        try:
            keep = True
            while keep and not self.stopping.is_set():
                try:
                    if not self._read_request(sock):
                        return
                    keep = self._take()(conn)
                except (_Gone, OSError):
                    return
        finally:
            with contextlib.suppress(OSError):
                sock.close()
            with self._lock:
                self._open.pop(sock, None)

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """Wait until no connection is being served; False if some still are."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if not self._open:
                    return True
            time.sleep(_POLL)
        return False

    def stop(self) -> None:
        """Stop accepting, end every connection, join every thread (bounded)."""
        self.stopping.set()
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes a blocked accept()
        self._acceptor.join(timeout=2)
        self._listener.close()
        with self._lock:
            open_now = list(self._open.items())
        for sock, _ in open_now:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        for _, thread in open_now:
            thread.join(timeout=2)


@contextlib.contextmanager
def serve(*script: Step, hold_for: float = 10.0) -> Iterator[FaultServer]:
    """Run a ``FaultServer`` for the ``with`` block."""
    server = FaultServer(list(script), hold_for=hold_for)
    try:
        yield server
    finally:
        server.stop()
