"""The sync Client's own HTTP/1.1 transport (``cognito_raw._sync``), and the shared reader.

``_http11.ReplyReader`` is fed bytes in any segmentation and must read every
valid reply exactly as h11 does (the async transport's tests check the same
through asyncio). Then the blocking transport on real loopback sockets:
keep-alive reuse and when it must not happen, a connection the server closed
while idle, the pool's limit and timeout under threads, read and write
timeouts, refused connects and resets. The fault table (``test_faults.py``)
and the TLS tests (``test_ssrf.py``) run through this transport too.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from pathlib import Path
from typing import Final

import h11
import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cognito_raw._http11 import END, ReplyError, ReplyReader
from cognito_raw._sync import SyncTransport
from tests import loopback
from tests.fuzz.fuzz_reply_reader import check as check_reader
from tests.fuzz.fuzz_reply_reader import read as fuzz_read
from tests.test_aio_transport import (
    OK,
    TIMEOUT,
    UNTRUSTED,
    held,
    reference,
    replies,
    segmented,
    then_close,
)

LIMITS: Final = {"max_connections": 4, "max_keepalive": 4, "keepalive_expiry": 30.0}


# --- the shared reader, sans I/O ------------------------------------------------------


def read(segments: list[bytes], *, eof: bool) -> object:
    """What ``ReplyReader`` makes of ``segments`` (then EOF if ``eof``), h11's way round."""
    reader = ReplyReader()
    pending = list(segments)

    def more() -> bool:
        if pending:
            reader.feed(pending.pop(0))
            return True
        if eof and not reader.eof:
            reader.close()
            return True
        return False

    try:
        while (head := reader.head()) is None:
            if not more():
                return TimeoutError
        _, status, _, headers = head
        body = bytearray()
        while (piece := reader.body()) is not END:
            if isinstance(piece, bytes):
                body += piece
            elif not more():
                return TimeoutError
    except ReplyError:
        return h11.RemoteProtocolError
    named = [
        (name.lower(), value.lower() if name.lower() == b"transfer-encoding" else value)
        for name, value in headers
    ]
    return status, named, bytes(body)


@given(reply=replies(), cuts=st.lists(st.integers(0, 600), max_size=8))
def test_the_reader_reads_valid_replies_as_h11_does(
    reply: tuple[bytes, bool], cuts: list[int]
) -> None:
    data, eof = reply
    expected = reference(data, eof=eof)
    assert isinstance(expected, tuple)
    assert read(segmented(data, cuts), eof=eof) == expected


def test_the_reader_is_ready_for_the_next_reply_on_the_same_connection() -> None:
    reader = ReplyReader()
    reader.feed(OK + OK)
    for _ in range(2):
        reader.start("POST")
        assert reader.head() is not None
        assert reader.body() == b"{}"
        assert reader.body() is END
    assert reader.reusable


# --- the blocking transport over loopback ---------------------------------------------


def post(transport: SyncTransport, url: str, **timeouts: float) -> httpx.Response:
    request = httpx.Request("POST", url, content=b"{}")
    request.extensions["timeout"] = {**TIMEOUT, **timeouts}
    response = transport.handle_request(request)
    response.read()
    response.close()
    return response


def test_keep_alive_reuses_one_connection() -> None:
    with loopback.serve(OK) as server:
        transport = SyncTransport(None, **LIMITS)  # type: ignore[arg-type]
        for _ in range(20):
            assert post(transport, server.url).content == b"{}"
        assert (transport.idle, transport.busy) == (1, 0)
        transport.close()
    assert (server.connections, len(server.requests)) == (1, 20)


@pytest.mark.parametrize("reply", UNTRUSTED)
def test_no_reuse_when_the_connection_cannot_be_trusted(reply: bytes) -> None:
    with loopback.serve(reply) as server:
        transport = SyncTransport(None, **LIMITS)  # type: ignore[arg-type]
        for _ in range(3):
            post(transport, server.url)
            time.sleep(0.05)  # a stray byte arrives before the next request
        transport.close()
    assert server.connections == 3


def test_a_connection_the_server_closed_while_idle_is_not_used() -> None:
    with loopback.serve(then_close(OK)) as server:
        transport = SyncTransport(None, **LIMITS)  # type: ignore[arg-type]
        for _ in range(3):
            assert post(transport, server.url).status_code == 200
            time.sleep(0.05)  # the FIN arrives while the connection is idle
        transport.close()
    assert (server.connections, len(server.requests)) == (3, 3)


def test_threads_share_the_pool_within_its_limit() -> None:
    transport = SyncTransport(None, max_connections=2, max_keepalive=2, keepalive_expiry=30.0)
    statuses: list[int] = []

    def worker(url: str) -> None:
        statuses.append(post(transport, url).status_code)

    with loopback.serve(held(OK, 0.02)) as server:
        threads = [threading.Thread(target=worker, args=(server.url,)) for _ in range(10)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=10)
        assert (transport.busy, transport.waiting) == (0, 0)
        transport.close()
    assert statuses == [200] * 10
    assert server.connections == 2


def test_pool_timeout_when_every_connection_stays_busy() -> None:
    transport = SyncTransport(None, max_connections=1, max_keepalive=1, keepalive_expiry=30.0)
    with loopback.serve(held(OK, 0.6)) as server:
        slow = threading.Thread(target=post, args=(transport, server.url))
        slow.start()
        time.sleep(0.1)
        started = time.monotonic()
        with pytest.raises(httpx.PoolTimeout):
            post(transport, server.url, pool=0.2)
        assert 0.15 < time.monotonic() - started < 1.0
        slow.join(timeout=5)
        # The slot came back: the next call is served.
        assert post(transport, server.url).status_code == 200
        assert (transport.busy, transport.waiting) == (0, 0)
        transport.close()


def test_read_timeout() -> None:
    with loopback.serve(held(OK, 2.0)) as server:
        transport = SyncTransport(None, **LIMITS)  # type: ignore[arg-type]
        started = time.monotonic()
        with pytest.raises(httpx.ReadTimeout):
            post(transport, server.url, read=0.2)
        assert 0.15 < time.monotonic() - started < 1.0
        assert transport.busy == 0
        transport.close()


def test_connect_refused_is_a_connect_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))  # bound, never listening: refused
        transport = SyncTransport(None, **LIMITS)  # type: ignore[arg-type]
        with pytest.raises(httpx.ConnectError):
            post(transport, f"http://127.0.0.1:{sock.getsockname()[1]}/")
        assert (transport.busy, transport.waiting, transport.idle) == (0, 0, 0)


def test_a_request_the_server_never_reads_is_a_write_timeout() -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        transport = SyncTransport(None, **LIMITS)  # type: ignore[arg-type]
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/"
        request = httpx.Request("POST", url, content=b" " * (64 << 20))
        request.extensions["timeout"] = {**TIMEOUT, "write": 0.3}
        started = time.monotonic()
        with pytest.raises(httpx.WriteTimeout):
            transport.handle_request(request)
        assert time.monotonic() - started < 2.0
        assert transport.busy == 0


def test_a_reset_inside_a_read_to_close_body_is_a_read_error() -> None:
    def cut(conn: socket.socket) -> None:
        conn.sendall(b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{"a": 1, "b"')
        time.sleep(0.2)
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    with loopback.serve(cut) as server:
        transport = SyncTransport(None, **LIMITS)  # type: ignore[arg-type]
        with pytest.raises(httpx.ReadError):
            post(transport, server.url)
        assert transport.busy == 0


@pytest.mark.parametrize("host", ["a" * 64 + ".example", "a..example"])
def test_a_host_the_resolver_refuses_is_a_connect_error(host: str) -> None:
    transport = SyncTransport(None, **LIMITS)  # type: ignore[arg-type]
    with pytest.raises(httpx.ConnectError):
        post(transport, f"http://{host}/")
    assert transport.busy == 0


def test_closed_transport_refuses_new_requests() -> None:
    with loopback.serve(OK) as server:
        transport = SyncTransport(None, **LIMITS)  # type: ignore[arg-type]
        post(transport, server.url)
        transport.close()
        assert transport.idle == 0
        with pytest.raises(httpx.ConnectError):
            post(transport, server.url)


def test_a_response_closed_mid_iteration_never_lends_its_connection_out() -> None:
    # Closed (from another thread) while its iterator is paused after the last
    # piece: the connection must not be reused, or the old iterator, resumed,
    # would read the next request's reply.
    def numbered(conn: socket.socket) -> bool:
        body = b"reply-%d" % threading.get_native_id()
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        return True

    with loopback.serve(numbered) as server:
        transport = SyncTransport(None, max_connections=1, max_keepalive=1, keepalive_expiry=30.0)
        request = httpx.Request("POST", server.url, content=b"{}")
        request.extensions["timeout"] = TIMEOUT
        first = transport.handle_request(request)
        pieces = iter(first.stream)  # type: ignore[call-overload]
        assert next(pieces).startswith(b"reply-")
        closer = threading.Thread(target=first.close)
        closer.start()
        closer.join()
        assert (transport.idle, transport.busy) == (0, 0)
        second = post(transport, server.url)
        with pytest.raises(httpx.ReadError):
            next(pieces)
        assert second.content.startswith(b"reply-")
        transport.close()
    assert server.connections == 2


EMPTY_200: Final = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
CHUNKED_200: Final = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"


@pytest.mark.parametrize(
    "raw",
    [
        b"HTTP/1.1 100 Continue\r\nContent-Length: x\r\n\r\n" + EMPTY_200,
        b"HTTP/1.1 103 Hints\r\nTransfer-Encoding: gzip\r\n\r\n" + EMPTY_200,
        CHUNKED_200 + b"0\r\nContent-Length: x\r\n\r\n",
        CHUNKED_200 + b"0\r\nTransfer-Encoding: gzip\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n{}",
        b"HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\nX: y\r\n\r\n{}",
    ],
)
def test_framing_fields_are_checked_and_given_as_h11_does(raw: bytes) -> None:
    # In 1xx replies and trailers too; one Content-Length field when equal ones repeat.
    assert read([raw], eof=True) == reference(raw, eof=True)


READER_CORPUS: Final = sorted((Path(__file__).parent / "fuzz" / "reader_corpus").iterdir())


@pytest.mark.parametrize("path", READER_CORPUS, ids=lambda p: p.name)
def test_the_reader_fuzz_corpus_holds(path: Path) -> None:
    check_reader(path.read_bytes())


def test_the_reader_fuzz_corpus_is_read_as_replies() -> None:
    assert len(READER_CORPUS) >= 5
    outcomes = [fuzz_read([p.read_bytes()[1:]]) for p in READER_CORPUS]
    assert all(isinstance(outcome, tuple) for outcome in outcomes), outcomes


@given(data=st.binary(max_size=400))
def test_the_reader_property_on_any_bytes(data: bytes) -> None:
    check_reader(data)
