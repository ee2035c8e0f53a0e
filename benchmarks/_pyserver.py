"""The fallback loopback server: a canned Cognito success over HTTPS, HTTP/1.1 keep-alive.

Used only when nginx cannot be had. asyncio, one process (started by run.py,
so it does not share the client's GIL); it prints its port on the first line
and stops by itself after ``lifetime`` seconds. Binds 127.0.0.1 only.

    python _pyserver.py LIFETIME CERT KEY
"""

from __future__ import annotations

import asyncio
import ssl
import sys

REQUEST_ID = "5090ed1c-b098-47e5-8397-e2f3ef4b41d5"
REPLY = (
    b"HTTP/1.1 200 OK\r\n"
    b"Server: cognito-raw-bench\r\n"
    b"Content-Type: application/x-amz-json-1.1\r\n"
    b"Content-Length: 2\r\n"
    b"Connection: keep-alive\r\n"
    b"x-amzn-RequestId: " + REQUEST_ID.encode() + b"\r\n"
    b"\r\n"
    b"{}"
)
_MAX_HEAD = 64 * 1024


class _Reply(asyncio.Protocol):
    def __init__(self) -> None:
        self._buffer = b""
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        assert self._transport is not None
        self._buffer += data
        while True:
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self._buffer) > _MAX_HEAD:
                    self._transport.close()
                return
            length = 0
            for line in self._buffer[:end].split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value.strip() or b"0")
            if len(self._buffer) < end + 4 + length:
                return
            self._buffer = self._buffer[end + 4 + length :]
            self._transport.write(REPLY)


async def _serve(lifetime: float, context: ssl.SSLContext) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(_Reply, "127.0.0.1", 0, backlog=1024, ssl=context)
    port = server.sockets[0].getsockname()[1]
    sys.stdout.write(f"{port}\n")
    sys.stdout.flush()
    async with server:
        await asyncio.sleep(lifetime)


def main() -> None:
    lifetime, cert, key = float(sys.argv[1]), sys.argv[2], sys.argv[3]
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    asyncio.run(_serve(lifetime, context))


if __name__ == "__main__":
    main()
