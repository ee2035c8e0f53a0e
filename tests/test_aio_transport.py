"""The AsyncClient's own HTTP/1.1 transport (``cognito_raw._aio``).

Two halves. In memory, bytes fed to a connection in any segmentation must be
read exactly as h11 (httpcore's parser, the reference) reads them: the same
status, headers and body for every valid reply, and never a reply where h11
sees an error. Over real loopback sockets: keep-alive reuse and when it must
not happen, the pool's limit and its timeout, cancellation, a server that
closes an idle connection, a request that cannot be written, and header
injection refused before anything is sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import itertools
import socket
import struct
import time
import warnings
from typing import Any, Final

import h11
import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cognito_raw._aio import AsyncioTransport, _Connection
from cognito_raw._deadline import ATTEMPT_DEADLINE
from tests import loopback

LIMITS: Final = {"max_connections": 4, "max_keepalive": 4, "keepalive_expiry": 30.0}
TIMEOUT: Final = {"connect": 2.0, "read": 2.0, "write": 2.0, "pool": 2.0}


# --- in memory: the parser against h11 -------------------------------------------------


class _Wire(asyncio.Transport):
    """The socket side of an in-memory connection: records what is written."""

    def __init__(self) -> None:
        super().__init__()
        self.written = bytearray()
        self.closed = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written += data

    def is_closing(self) -> bool:
        return self.closed

    def abort(self) -> None:
        self.closed = True

    def close(self) -> None:
        self.closed = True

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


class _Scripted(AsyncioTransport):
    """Each new connection receives ``segments`` one loop turn apart, then EOF if ``eof``."""

    def __init__(self, segments: list[bytes], *, eof: bool) -> None:
        super().__init__(None, **LIMITS)  # type: ignore[arg-type]
        self.segments = segments
        self.eof = eof
        self.wires: list[_Wire] = []
        self.origins: list[tuple[str, str, int]] = []

    async def _connect(self, origin: tuple[str, str, int], timeout: float | None) -> _Connection:
        self.origins.append(origin)
        conn = _Connection(asyncio.get_running_loop(), origin)
        wire = _Wire()
        conn.connection_made(wire)
        self.wires.append(wire)
        self._open.add(conn)

        async def feed() -> None:
            for segment in self.segments:
                await asyncio.sleep(0)
                conn.data_received(segment)
            if self.eof:
                await asyncio.sleep(0)
                conn.eof_received()

        self._feeder = asyncio.get_running_loop().create_task(feed())
        return conn


Parsed = tuple[int, list[tuple[bytes, bytes]], bytes]


def ours(segments: list[bytes], *, eof: bool) -> Parsed | type[Exception]:
    async def go() -> Parsed | type[Exception]:
        transport = _Scripted(segments, eof=eof)
        request = httpx.Request("POST", "http://127.0.0.1/", content=b"{}")
        request.extensions["timeout"] = {"connect": 1, "read": 0.2, "write": 1, "pool": 1}
        try:
            response = await transport.handle_async_request(request)
            body = b"".join([chunk async for chunk in response.aiter_raw()])
            await response.aclose()
        except httpx.TransportError as exc:
            return type(exc)
        finally:
            await transport.aclose()
        # h11 lowercases names and the Transfer-Encoding value.
        headers = [
            (name.lower(), value.lower() if name.lower() == b"transfer-encoding" else value)
            for name, value in response.headers.raw
        ]
        return response.status_code, headers, body

    return asyncio.run(go())


def reference(data: bytes, *, eof: bool) -> Parsed | type[Exception]:
    """What h11, as a client that sent one POST, makes of ``data``."""
    conn = h11.Connection(h11.CLIENT)
    conn.send(
        h11.Request(method="POST", target="/", headers=[("Host", "x"), ("Content-Length", "2")])
    )
    conn.send(h11.Data(data=b"{}"))
    conn.send(h11.EndOfMessage())
    conn.receive_data(data)
    if eof:
        conn.receive_data(b"")
    status, headers, body = 0, [], bytearray()
    try:
        while True:
            event = conn.next_event()
            if isinstance(event, h11.Response):
                status, headers = event.status_code, list(event.headers)
            elif isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, h11.EndOfMessage):
                return status, headers, bytes(body)
            elif event in (h11.NEED_DATA, h11.PAUSED) or isinstance(event, h11.ConnectionClosed):
                return TimeoutError if event is h11.NEED_DATA else h11.RemoteProtocolError
    except h11.RemoteProtocolError:
        return h11.RemoteProtocolError


token = st.text(
    "abcdefghijklmnopqrstuvwxyz-ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=1, max_size=12
)
value = st.binary(max_size=30).map(
    lambda b: bytes(c for c in b if c == 0x20 or 0x21 <= c <= 0x7E or c >= 0x80).strip(b" ")
)
FRAMED: Final = ("content-length", "transfer-encoding", "connection")


@st.composite
def replies(draw: st.DrawFn) -> tuple[bytes, bool]:
    """A valid HTTP/1.x reply (maybe after 1xx ones), and whether the server then closes."""
    version = draw(st.sampled_from([b"1.1", b"1.1", b"1.0"]))
    status = draw(st.sampled_from([200, 201, 204, 304, 400, 404, 429, 500, 502, 503]))
    reason = draw(st.sampled_from([b" OK", b" Bad Request", b" ", b"", b" x\ty"]))
    headers = [
        (name.encode(), val)
        for name, val in draw(st.lists(st.tuples(token, value), max_size=6))
        if name.lower() not in FRAMED
    ]
    body = draw(st.binary(max_size=300))
    framing = draw(st.sampled_from(["length", "chunked", "close"]))
    if status in (204, 304):
        body, framing = b"", "length"
    interim = b"".join(
        b"HTTP/1.1 %d Continue\r\n\r\n" % code
        for code in draw(st.lists(st.sampled_from([100, 102, 103]), max_size=2))
    )
    if framing == "length":
        headers.append((b"Content-Length", str(len(body)).encode()))
        payload = body
    elif framing == "chunked":
        headers.append((b"Transfer-Encoding", draw(st.sampled_from([b"chunked", b"Chunked"]))))
        cuts = sorted(draw(st.lists(st.integers(0, len(body)), max_size=4)))
        pieces = segmented(body, cuts)
        ext = draw(st.sampled_from([b"", b";name=value", b"; q"]))
        payload = b"".join(b"%x%s\r\n%s\r\n" % (len(p), ext, p) for p in pieces)
        trailer = draw(st.sampled_from([b"", b"X-Trailer: 1\r\n"]))
        payload += b"0\r\n" + trailer + b"\r\n"
    else:
        payload = body
    shuffled = draw(st.permutations(headers))
    head = b"HTTP/" + version + b" %d" % status + reason + b"\r\n"
    head += b"".join(name + b": " + val + b"\r\n" for name, val in shuffled) + b"\r\n"
    closes = framing == "close" or draw(st.booleans())
    return interim + head + payload, closes


def segmented(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({min(c, len(data)) for c in cuts} | {0, len(data)})
    return [data[a:b] for a, b in itertools.pairwise(points) if b > a]


@given(reply=replies(), cuts=st.lists(st.integers(0, 600), max_size=8))
def test_valid_replies_read_as_h11_reads_them_in_any_segmentation(
    reply: tuple[bytes, bool], cuts: list[int]
) -> None:
    data, eof = reply
    expected = reference(data, eof=eof)
    assert isinstance(expected, tuple), expected
    assert ours(segmented(data, cuts), eof=eof) == expected


def _mutations() -> st.SearchStrategy[tuple[bytes, bool]]:
    def mutate(reply: tuple[bytes, bool], at: int, junk: bytes, drop: int) -> tuple[bytes, bool]:
        data, _ = reply
        at = at % (len(data) + 1)
        # The server then closes, so that neither parser waits for more.
        return data[:at] + junk + data[at + drop :], True

    junk = st.sampled_from(
        [b"", b"\r", b"\n", b"\r\n", b" ", b"\t", b":", b"\x00", b"\x01", b"\x7f", b"0", b"f"]
    ) | st.binary(max_size=4)
    return st.builds(mutate, replies(), st.integers(0, 10_000), junk, st.integers(0, 3))


@given(reply=_mutations(), cuts=st.lists(st.integers(0, 600), max_size=4))
def test_we_never_accept_what_h11_refuses_and_agree_on_what_both_accept(
    reply: tuple[bytes, bool], cuts: list[int]
) -> None:
    data, eof = reply
    expected = reference(data, eof=eof)
    got = ours(segmented(data, cuts), eof=eof)
    if isinstance(got, tuple):
        # What we read, h11 reads the same (we may refuse more: obs-fold,
        # HTTP/2 in a status line, a bare LF in chunk framing).
        assert got == expected
    else:
        assert issubclass(got, httpx.TransportError)


async def read_all(transport: AsyncioTransport, request: httpx.Request) -> bytes:
    response = await transport.handle_async_request(request)
    return b"".join([chunk async for chunk in response.aiter_raw()])


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}", "Content-Length"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 2, 3\r\n\r\n{}", "Content-Length"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "Content-Length"),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
            "Transfer-Encoding",
        ),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n{}", "Transfer-Encoding"),
        (b"HTTP/1.1 200 OK\r\n folded: x\r\n\r\n", "header line"),
        (b"HTTP/1.1 200 OK\r\nBad Name: x\r\nContent-Length: 0\r\n\r\n", "header line"),
        (b"HTTP/1.1 200 OK\r\nX: a\x01b\r\nContent-Length: 0\r\n\r\n", "header line"),
        (b"HTTP/2 200\r\nContent-Length: 0\r\n\r\n", "status line"),
        (b"SSH-2.0-OpenSSH_9.2\r\n\r\n", "status line"),
        (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n", "switched"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "chunk header"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}XX0\r\n\r\n", "CRLF"),
        (b"HTTP/1.1 200 OK\r\n" + b"X: " + b"a" * 70_000 + b"\r\n\r\n", "too large"),
        (b"HTTP/1.1 099 Odd\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", "below 100"),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nnot a field\r\n\r\n",
            "trailer",
        ),
        (b"HTTP/1.1 204 No Content\r\nContent-Length:\r\n\r\n", "Content-Length"),
        # Linear time on hostile lines (a backtracking pattern took seconds here).
        (b"HTTP/1.1 200 OK\r\nX: a" + b" " * 60_000 + b"\x01\r\n\r\n", "header line"),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1;"
            + b" " * 64_000
            + b"\x01\r\n",
            "too long",
        ),
    ],
)
def test_malformed_replies_are_protocol_errors(raw: bytes, error: str) -> None:
    started = time.monotonic()

    async def go() -> None:
        transport = _Scripted([raw], eof=False)
        request = httpx.Request("POST", "http://127.0.0.1/", content=b"{}")
        request.extensions["timeout"] = TIMEOUT
        try:
            with pytest.raises(httpx.RemoteProtocolError, match=error):
                await read_all(transport, request)
            assert transport.busy == 0
        finally:
            await transport.aclose()

    asyncio.run(go())
    assert time.monotonic() - started < 1.0  # refused at once, not after a timeout


def test_what_is_written_is_the_request_httpx_describes() -> None:
    async def go() -> bytes:
        transport = _Scripted([b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"], eof=False)
        request = httpx.Request(
            "POST", "http://127.0.0.1:8080/a?b=c", headers={"X-One": "1"}, content=b'{"k":1}'
        )
        request.extensions["timeout"] = TIMEOUT
        response = await transport.handle_async_request(request)
        await response.aread()
        await transport.aclose()
        return bytes(transport.wires[0].written)

    assert asyncio.run(go()) == (
        b"POST /a?b=c HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nX-One: 1\r\n"
        b'Content-Length: 7\r\n\r\n{"k":1}'
    )


@pytest.mark.parametrize(
    "headers",
    [{"X-Evil": "a\r\nX-Injected: 1"}, {"X-Evil": "a\nb"}, {"X-Evil": "a\x00b"}],
)
def test_header_injection_is_refused_before_anything_is_sent(headers: dict[str, str]) -> None:
    async def go() -> None:
        transport = _Scripted([], eof=False)
        request = httpx.Request("POST", "http://127.0.0.1/", headers=headers, content=b"{}")
        request.extensions["timeout"] = TIMEOUT
        with pytest.raises(httpx.LocalProtocolError):
            await transport.handle_async_request(request)
        assert transport.wires == []
        await transport.aclose()

    asyncio.run(go())


# --- over real sockets ---------------------------------------------------------------------

OK: Final = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.1\r\nContent-Length: 2\r\n\r\n{}"
)


def held(reply: bytes, seconds: float) -> loopback.Step:
    """A step that answers ``reply`` after ``seconds``, keeping the connection."""

    def step(conn: socket.socket) -> bool:
        time.sleep(seconds)
        conn.sendall(reply)
        return True

    return step


def then_close(reply: bytes) -> loopback.Step:
    """A step that answers ``reply`` and closes the connection."""
    return lambda conn: conn.sendall(reply)


async def post(transport: AsyncioTransport, url: str, **timeouts: float) -> httpx.Response:
    request = httpx.Request("POST", url, content=b"{}")
    request.extensions["timeout"] = {**TIMEOUT, **timeouts}
    response = await transport.handle_async_request(request)
    await response.aread()
    await response.aclose()
    return response


def run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 20))


def test_keep_alive_reuses_one_connection() -> None:
    async def go(url: str) -> None:
        transport = AsyncioTransport(None, **LIMITS)  # type: ignore[arg-type]
        for _ in range(20):
            assert (await post(transport, url)).status_code == 200
        assert (transport.idle, transport.busy) == (1, 0)
        await transport.aclose()

    with loopback.serve(OK) as server:
        run(go(server.url))
    assert (server.connections, len(server.requests)) == (1, 20)


# Replies after which a connection must not carry another request.
UNTRUSTED: Final = [
    b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}",
    b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n{}",
    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}EXTRA",  # stray bytes after the body
    b"HTTP/1.1 204 No Content\r\nContent-Length: 2\r\n\r\n{}",  # a body that stays on the wire
    # Both framings: Transfer-Encoding wins, and the connection must close.
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n"
    b"2\r\n{}\r\n0\r\n\r\n",
]


@pytest.mark.parametrize("reply", UNTRUSTED)
def test_no_reuse_when_the_connection_cannot_be_trusted(reply: bytes) -> None:
    async def go(url: str) -> None:
        transport = AsyncioTransport(None, **LIMITS)  # type: ignore[arg-type]
        for _ in range(3):
            await post(transport, url)
            # Let a stray byte arrive before the next request looks for an idle connection.
            await asyncio.sleep(0.05)
        await transport.aclose()

    with loopback.serve(reply) as server:
        run(go(server.url))
    assert server.connections == 3


def test_a_connection_the_server_closed_while_idle_is_not_used() -> None:
    async def go(url: str) -> None:
        transport = AsyncioTransport(None, **LIMITS)  # type: ignore[arg-type]
        for _ in range(3):
            assert (await post(transport, url)).status_code == 200
            await asyncio.sleep(0.05)  # the FIN arrives while the connection is idle
        await transport.aclose()

    with loopback.serve(then_close(OK)) as server:
        run(go(server.url))
    assert (server.connections, len(server.requests)) == (3, 3)


def test_the_pool_never_opens_more_than_its_limit_and_serves_waiters_in_turn() -> None:
    async def go(url: str) -> None:
        transport = AsyncioTransport(
            None, max_connections=2, max_keepalive=2, keepalive_expiry=30.0
        )
        replies = await asyncio.gather(*(post(transport, url) for _ in range(10)))
        assert [r.status_code for r in replies] == [200] * 10
        assert (transport.busy, transport.waiting) == (0, 0)
        await transport.aclose()

    with loopback.serve(held(OK, 0.02)) as server:
        run(go(server.url))
    assert server.connections == 2
    assert len(server.requests) == 10


def test_pool_timeout_when_every_connection_stays_busy() -> None:
    async def go(url: str) -> None:
        transport = AsyncioTransport(
            None, max_connections=1, max_keepalive=1, keepalive_expiry=30.0
        )
        slow = asyncio.create_task(post(transport, url))
        await asyncio.sleep(0.1)
        started = time.monotonic()
        with pytest.raises(httpx.PoolTimeout):
            await post(transport, url, pool=0.2)
        assert 0.15 < time.monotonic() - started < 1.0
        assert (await slow).status_code == 200
        assert (transport.busy, transport.waiting) == (0, 0)
        await transport.aclose()

    with loopback.serve(held(OK, 0.6)) as server:
        run(go(server.url))


def test_cancelling_a_call_closes_its_connection_and_frees_its_slot() -> None:
    async def go(url: str) -> None:
        transport = AsyncioTransport(
            None, max_connections=1, max_keepalive=1, keepalive_expiry=30.0
        )
        waiting = asyncio.create_task(post(transport, url))
        queued = asyncio.create_task(post(transport, url))
        await asyncio.sleep(0.1)
        assert transport.waiting == 1
        queued.cancel()  # a waiter leaves
        waiting.cancel()  # the connection's request is abandoned mid-reply
        for task in (queued, waiting):
            with pytest.raises(asyncio.CancelledError):
                await task
        assert (transport.busy, transport.waiting, transport.idle) == (0, 0, 0)
        # The slot is free again: a new call gets a (new) connection.
        assert (await post(transport, url, read=3)).status_code == 200
        await transport.aclose()

    with loopback.serve(held(OK, 0.5)) as server:
        run(go(server.url))
    assert server.connections == 2


def test_read_timeout_and_the_attempt_deadline() -> None:
    async def go(url: str) -> None:
        transport = AsyncioTransport(None, **LIMITS)  # type: ignore[arg-type]
        started = time.monotonic()
        with pytest.raises(httpx.ReadTimeout):
            await post(transport, url, read=0.2)
        assert 0.15 < time.monotonic() - started < 1.0
        assert transport.busy == 0
        await transport.aclose()

    with loopback.serve(held(OK, 2.0)) as server:
        run(go(server.url))


def test_connect_refused_is_a_connect_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, never listening: refused

        async def go() -> None:
            transport = AsyncioTransport(None, **LIMITS)  # type: ignore[arg-type]
            with pytest.raises(httpx.ConnectError):
                await post(transport, f"http://127.0.0.1:{port}/")
            assert (transport.busy, transport.waiting, transport.idle) == (0, 0, 0)
            await transport.aclose()

        run(go())


def test_a_request_the_server_never_reads_is_a_write_timeout() -> None:
    # The server accepts but never reads: a big enough body fills both socket
    # buffers, asyncio pauses writing, and the write timeout ends the attempt.
    listener = socket.create_server(("127.0.0.1", 0))
    try:

        async def go() -> None:
            transport = AsyncioTransport(None, **LIMITS)  # type: ignore[arg-type]
            request = httpx.Request(
                "POST", f"http://127.0.0.1:{listener.getsockname()[1]}/", content=b" " * (64 << 20)
            )
            request.extensions["timeout"] = {**TIMEOUT, "write": 0.3}
            started = time.monotonic()
            with pytest.raises(httpx.WriteTimeout):
                await transport.handle_async_request(request)
            assert time.monotonic() - started < 2.0
            assert transport.busy == 0
            await transport.aclose()

        run(go())
    finally:
        listener.close()


def test_https_without_a_tls_context_is_refused() -> None:
    async def go() -> None:
        transport = AsyncioTransport(None, **LIMITS)  # type: ignore[arg-type]
        with pytest.raises(httpx.UnsupportedProtocol):
            await post(transport, "https://127.0.0.1:9/")
        await transport.aclose()

    run(go())


def test_closed_transport_refuses_new_requests_and_leaves_no_socket() -> None:
    async def go(url: str) -> None:
        transport = AsyncioTransport(None, **LIMITS)  # type: ignore[arg-type]
        await post(transport, url)
        await transport.aclose()
        assert transport.idle == 0
        with pytest.raises(httpx.ConnectError):
            await post(transport, url)

    with loopback.serve(OK) as server:
        run(go(server.url))


def test_one_transport_across_event_loops() -> None:
    # A client kept across asyncio.run calls (one per Lambda invocation, say):
    # the closed loop's connection is dropped, never reused, and a new one is
    # opened on the new loop. Its socket is closed when the garbage collector
    # takes the transport (a ResourceWarning, as asyncio warns of any transport
    # whose loop closed under it).
    transport = AsyncioTransport(None, **LIMITS)  # type: ignore[arg-type]
    with loopback.serve(OK) as server, warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        for _ in range(3):
            assert asyncio.run(post(transport, server.url)).status_code == 200
        asyncio.run(transport.aclose())
        gc.collect()
    assert (server.connections, len(server.requests)) == (3, 3)


def test_the_wire_host_is_the_urls_ascii_host() -> None:
    # url.host is IDNA-decoded; the socket layer would encode it again with
    # IDNA 2003, which maps "xn--fa-hia.de" (fass-with-eszett) to "fass.de".
    transport = _Scripted([OK], eof=False)

    async def go() -> None:
        await post(transport, "http://xn--fa-hia.de/")
        await transport.aclose()

    asyncio.run(go())
    assert transport.origins == [("http", "xn--fa-hia.de", 80)]


# --- the pool's turns (regressions from review) ---------------------------------------


def _slow_ok(conn: socket.socket) -> None:
    time.sleep(0.3)
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}")
    # and closes


def test_a_caller_whose_deadline_passed_leaves_no_waiter_behind() -> None:
    async def go(url: str) -> None:
        transport = AsyncioTransport(None, max_connections=1, max_keepalive=1, keepalive_expiry=5)
        first = asyncio.create_task(post(transport, url))
        await asyncio.sleep(0.05)  # it holds the only slot for 0.3 s

        async def expired() -> httpx.Response:
            ATTEMPT_DEADLINE.set(time.monotonic() - 0.001)
            return await post(transport, url)

        with pytest.raises(httpx.PoolTimeout):
            await asyncio.create_task(expired())  # a task: its deadline stays its own
        started = time.monotonic()
        assert (await post(transport, url, pool=2.0)).status_code == 200
        assert time.monotonic() - started < 1.0  # served when the slot freed, not at 2 s
        await first
        assert transport.waiting == 0
        await transport.aclose()

    with loopback.serve(_slow_ok) as server:
        run(go(server.url))


def test_a_woken_waiter_that_fails_passes_its_turn_on() -> None:
    async def go(url: str) -> None:
        transport = AsyncioTransport(None, max_connections=1, max_keepalive=1, keepalive_expiry=5)

        async def first_then_busy() -> None:
            await post(transport, url)  # frees the slot at ~0.3 s, waking the next
            time.sleep(0.3)  # the loop is busy: the woken one's deadline passes

        async def doomed() -> httpx.Response:
            ATTEMPT_DEADLINE.set(time.monotonic() + 0.5)
            return await post(transport, url)

        first = asyncio.create_task(first_then_busy())
        await asyncio.sleep(0.05)
        woken = asyncio.create_task(doomed())
        await asyncio.sleep(0.01)
        started = time.monotonic()
        assert (await post(transport, url, pool=2.0)).status_code == 200
        assert time.monotonic() - started < 1.5  # not its own 2 s pool timeout
        with pytest.raises(httpx.TimeoutException):
            await woken
        await first
        await transport.aclose()

    with loopback.serve(_slow_ok) as server:
        run(go(server.url))


def test_a_connect_cancelled_after_the_socket_opened_frees_its_turn(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    victim: list[asyncio.Task[Any]] = []
    made = _Connection.connection_made

    def cancel_on_connect(self: _Connection, wire: asyncio.BaseTransport) -> None:
        made(self, wire)
        if victim:
            victim.pop().cancel()  # lands in the one-iteration window before _connect resumes

    monkeypatch.setattr(_Connection, "connection_made", cancel_on_connect)

    async def go(url: str) -> None:
        transport = AsyncioTransport(None, max_connections=1, max_keepalive=1, keepalive_expiry=5)
        first = asyncio.create_task(post(transport, url, connect=None))  # type: ignore[arg-type]
        victim.append(first)
        await asyncio.sleep(0)
        started = time.monotonic()
        assert (await post(transport, url, pool=2.0)).status_code == 200
        assert time.monotonic() - started < 1.0
        with pytest.raises(asyncio.CancelledError):
            await first
        await transport.aclose()

    with loopback.serve(OK) as server:
        run(go(server.url))


def test_a_body_drained_while_reading_was_paused_leaves_no_stale_bytes() -> None:
    big = 300_000  # over the 256 KiB at which reading pauses

    def first(conn: socket.socket) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % big + b"x" * big)
        time.sleep(0.3)
        with contextlib.suppress(OSError):  # unsolicited: must never be read as a reply
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nSTALE")
            time.sleep(0.5)

    fresh = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nFRESH"

    async def go(url: str) -> None:
        transport = AsyncioTransport(None, **LIMITS)  # type: ignore[arg-type]
        request = httpx.Request("POST", url, content=b"{}")
        request.extensions["timeout"] = TIMEOUT
        response = await transport.handle_async_request(request)
        await asyncio.sleep(0.15)  # the whole body is buffered (and reading paused) first
        assert len(await response.aread()) == big
        await asyncio.sleep(0.5)  # the stray reply arrives while the connection is idle
        assert (await post(transport, url)).content == b"FRESH"
        await transport.aclose()

    with loopback.serve(first, fresh) as server:
        run(go(server.url))


def test_a_reset_inside_a_read_to_close_body_is_a_read_error() -> None:
    def cut(conn: socket.socket) -> None:
        conn.sendall(b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{"a": 1, "b": "cu')
        time.sleep(0.2)
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    async def go(url: str) -> None:
        transport = AsyncioTransport(None, **LIMITS)  # type: ignore[arg-type]
        with pytest.raises(httpx.ReadError):
            await post(transport, url)
        assert transport.busy == 0
        await transport.aclose()

    with loopback.serve(cut) as server:
        run(go(server.url))


def test_a_cancel_landing_as_the_connect_completes_is_not_lost(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Before Python 3.12, asyncio.wait_for returns the result when a cancel
    # arrives after its inner task finished: the cancelled call would go on.
    async def go(url: str) -> None:
        loop = asyncio.get_running_loop()
        transport = AsyncioTransport(None, **LIMITS)  # type: ignore[arg-type]
        victim: list[asyncio.Task[Any]] = []
        connect = loop.create_connection

        async def create_connection(*args: Any, **kwargs: Any) -> Any:
            made = await connect(*args, **kwargs)
            # Two loop turns on: the connect is done, its awaiter not yet resumed.
            loop.call_soon(lambda: loop.call_soon(victim[0].cancel))
            return made

        monkeypatch.setattr(loop, "create_connection", create_connection)
        task = asyncio.create_task(post(transport, url))
        victim.append(task)
        with pytest.raises(asyncio.CancelledError):
            await task
        assert (transport.busy, transport.waiting) == (0, 0)
        await transport.aclose()

    with loopback.serve(OK) as server:
        run(go(server.url))


@pytest.mark.parametrize("host", ["a" * 64 + ".example", "a..example"])
def test_a_host_the_socket_layer_refuses_is_a_connect_error(host: str) -> None:
    async def go() -> None:
        transport = AsyncioTransport(None, **LIMITS)  # type: ignore[arg-type]
        with pytest.raises(httpx.ConnectError, match="invalid host name"):
            await post(transport, f"http://{host}/")
        assert (transport.busy, transport._connecting) == (0, 0)
        await transport.aclose()

    run(go())


def test_an_explicit_port_zero_is_not_port_80() -> None:
    transport = _Scripted([OK], eof=False)

    async def go() -> None:
        await post(transport, "http://127.0.0.1:0/")
        await transport.aclose()

    asyncio.run(go())
    assert transport.origins == [("http", "127.0.0.1", 0)]


def test_a_response_closed_mid_iteration_never_lends_its_connection_out() -> None:
    # Closed while its iterator is paused after the last piece: reusing the
    # connection would let the old iterator, resumed, read the next reply.
    async def go(url: str) -> None:
        transport = AsyncioTransport(None, max_connections=1, max_keepalive=1, keepalive_expiry=5)
        request = httpx.Request("POST", url, content=b"{}")
        request.extensions["timeout"] = TIMEOUT
        first = await transport.handle_async_request(request)
        pieces = first.stream.__aiter__()  # type: ignore[union-attr]
        assert await pieces.__anext__() == b"{}"
        await first.aclose()
        assert (transport.idle, transport.busy) == (0, 0)
        assert (await post(transport, url)).content == b"{}"
        with pytest.raises(httpx.ReadError):
            await pieces.__anext__()
        await transport.aclose()

    with loopback.serve(OK) as server:
        run(go(server.url))
    assert server.connections == 2
