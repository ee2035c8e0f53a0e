"""What standing on stock httpx gives the clients' users, and the rules at its edges.

The default ``Client`` and ``AsyncClient`` own an ``httpx.Client`` /
``httpx.AsyncClient`` with httpx's default transport, so:

- respx (a strict router) and pytest-httpx intercept them, with name
  resolution of every non-loopback host blocked, so that a miss fails loudly
  instead of reaching AWS;
- ``HTTP_PROXY``/``HTTPS_PROXY`` are honoured (a loopback proxy records the
  absolute-form request line and the ``CONNECT``), ``NO_PROXY`` bypasses them;
- the ``AsyncClient`` runs under trio as well as asyncio;
- replies are read as httpx reads them: a folded header line (RFC 9112
  §5.2) is a space, an early ``413 … Connection: close`` sent before the
  upload finished is the answer.

And the rules of the edges: a closed client raises ``RuntimeError`` at once
(never a ``TransportError``, never retried); a sync/async mix-up of
``http_client`` is a ``TypeError`` and ``verify=`` with ``http_client=`` a
``ValidationError``, both at creation; ``max_connections`` bounds the
connections; a failed certificate verification is one handshake, not retried.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
import ssl
import subprocess
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import httpx
import pytest
import respx
import trio
from pytest_httpx import HTTPXMock

from cognito_raw import (
    AsyncClient,
    Client,
    CognitoError,
    NotAuthorizedException,
    RequestTimeoutError,
    RetryPolicy,
    ServiceError,
    TooManyRequestsException,
    TransportError,
    ValidationError,
)
from cognito_raw.testing import FakeCognito
from tests import loopback
from tests.loopback import reply
from tests.test_imports import probe_output

POOL: Final = "us-east-1_AbC123"
COGNITO: Final = "https://cognito-idp.us-east-1.amazonaws.com/"
FEEDBACK: Final = {
    "user_pool_id": POOL,
    "username": "stack-user",
    "event_id": "c2c2cf89-c0d3-482d-aba6-99d78a5b0bfe",
    "feedback_token": "StackToken123",
    "feedback_value": "valid",
}
ONCE: Final = RetryPolicy(max_attempts=1)
FAST: Final = RetryPolicy(max_attempts=3, base_delay=0.001, max_delay=0.002)
PROXY_VARIABLES: Final = (
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
    "no_proxy",
)


@pytest.fixture(autouse=True)
def no_real_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every name but a loopback address fails to resolve, and proxies come from the test only."""
    real = socket.getaddrinfo

    def loopback_only(host: Any, *args: Any, **kwargs: Any) -> Any:
        text = host.decode() if isinstance(host, bytes) else str(host)
        with contextlib.suppress(ValueError):
            if ipaddress.ip_address(text).is_loopback:
                return real(host, *args, **kwargs)
        if text == "localhost":
            return real(host, *args, **kwargs)
        raise socket.gaierror(socket.EAI_NONAME, f"{text}: resolution blocked in this test")

    monkeypatch.setattr(socket, "getaddrinfo", loopback_only)
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def call(flavor: str, token: str = FEEDBACK["feedback_token"], **options: Any) -> Any:
    """One call (with ``token``) through a fresh client of ``flavor``; its result."""
    feedback = {**FEEDBACK, "feedback_token": token}
    if flavor == "sync":
        with Client(**options) as client:
            return client.update_auth_event_feedback(**feedback)

    async def go() -> Any:
        async with AsyncClient(**options) as client:
            return await client.update_auth_event_feedback(**feedback)

    return asyncio.run(go())


@pytest.fixture(params=["sync", "async"])
def flavor(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_name_resolution_is_really_blocked(flavor: str) -> None:
    # The guard the interception tests rely on: unmocked, a call fails.
    with pytest.raises(TransportError, match="resolution blocked"):
        call(flavor, retry=ONCE)


def test_respx_strict_router_intercepts_the_default_clients(flavor: str) -> None:
    with respx.mock(assert_all_mocked=True, assert_all_called=True) as router:
        route = router.post(COGNITO).respond(
            200, json={}, headers={"x-amzn-RequestId": "respx-request"}
        )
        result = call(flavor, retry=ONCE)
    assert result.request_id == "respx-request"
    sent = route.calls.last.request
    assert sent.headers["x-amz-target"] == (
        "AWSCognitoIdentityProviderService.UpdateAuthEventFeedback"
    )
    assert sent.headers["content-type"] == "application/x-amz-json-1.1"
    assert (
        b'"FeedbackValue": "Valid"' in sent.content or b'"FeedbackValue":"Valid"' in sent.content
    )


def test_respx_sees_every_retry(flavor: str) -> None:
    with respx.mock(assert_all_mocked=True) as router:
        route = router.post(COGNITO)
        route.side_effect = [
            httpx.Response(400, json={"__type": "TooManyRequestsException"}),
            httpx.Response(200, json={}),
        ]
        result = call(flavor, retry=FAST)
    assert (result.attempts, route.call_count) == (2, 2)


def test_pytest_httpx_intercepts_the_default_clients(flavor: str, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(
        method="POST",
        url=COGNITO,
        status_code=400,
        json={"__type": "NotAuthorizedException", "message": "Invalid token"},
        headers={"x-amzn-RequestId": "pytest-httpx-request"},
    )
    with pytest.raises(NotAuthorizedException) as info:
        call(flavor, retry=FAST)
    assert info.value.request_id == "pytest-httpx-request"
    assert info.value.attempts == 1
    (sent,) = httpx_mock.get_requests()
    assert sent.headers["x-amz-target"].endswith(".UpdateAuthEventFeedback")


class _Proxy:
    """A forward proxy's front door: records each request line, answers without forwarding.

    An absolute-form request gets a Cognito success; a ``CONNECT`` gets a 403
    (the tunnel's far end, AWS, is out of reach here).
    """

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.url = ""

    def __call__(self, conn: socket.socket) -> None:
        data = b""
        with contextlib.suppress(OSError):
            while b"\r\n\r\n" not in data and len(data) < 65536:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                data += chunk
            line = data.split(b"\r\n", 1)[0].decode("latin-1")
            self.lines.append(line)
            if line.startswith("CONNECT "):
                conn.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
                return
            conn.sendall(
                b"HTTP/1.1 200 OK\r\nx-amzn-RequestId: via-proxy\r\nConnection: close\r\n"
                b"Content-Length: 2\r\n\r\n{}"
            )


@pytest.fixture
def proxy() -> Iterator[_Proxy]:
    front = _Proxy()
    with _raw_server(front) as url:
        front.url = url
        yield front


def test_http_proxy_is_honoured(
    flavor: str, proxy: _Proxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    target = "http://127.0.0.1:9"  # nothing listens there: only the proxy can answer
    result = call(flavor, endpoint_url=target, retry=ONCE)
    assert result.request_id == "via-proxy"
    assert proxy.lines == [f"POST {target}/ HTTP/1.1"]


def test_https_proxy_gets_the_connect_for_cognito(
    flavor: str, proxy: _Proxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The Cognito host is never resolved here: only the proxy is asked.
    monkeypatch.setenv("HTTPS_PROXY", proxy.url)
    with pytest.raises(TransportError):
        call(flavor, retry=ONCE)
    assert proxy.lines == ["CONNECT cognito-idp.us-east-1.amazonaws.com:443 HTTP/1.1"]


def test_no_proxy_bypasses_the_proxy(
    flavor: str, proxy: _Proxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeCognito()
    event = fake.seed()
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    with fake.serve() as url:
        if flavor == "sync":
            with Client(endpoint_url=url, retry=ONCE) as client:
                client.send(event.request("valid"))
        else:

            async def go() -> None:
                async with AsyncClient(endpoint_url=url, retry=ONCE) as client:
                    await client.send(event.request("valid"))

            asyncio.run(go())
    assert proxy.lines == []
    assert fake.feedback(event.user_pool_id, event.event_id) == "Valid"


def test_the_async_client_runs_under_trio() -> None:
    fake = FakeCognito()
    event = fake.seed()
    fake.throttle(1)  # a retry: anyio's sleep, under trio
    with fake.serve() as url:

        async def main() -> int:
            async with AsyncClient(endpoint_url=url, retry=FAST) as client:
                return (await client.send(event.request("invalid"))).attempts

        assert trio.run(main) == 2
    assert fake.feedback(event.user_pool_id, event.event_id) == "Invalid"


def test_the_async_client_times_out_under_trio() -> None:
    with loopback.serve(loopback.HANG, hang_for=3.0) as server:

        async def main() -> None:
            async with AsyncClient(endpoint_url=server.url, timeout=0.3, retry=ONCE) as client:
                await client.update_auth_event_feedback(**FEEDBACK)

        with pytest.raises(RequestTimeoutError):
            trio.run(main)


def test_a_folded_header_line_is_read_as_a_space(flavor: str) -> None:
    # RFC 9112 §5.2: a recipient must replace obs-fold with a space. A
    # recorded success with one must stay one success, sent once.
    raw = (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.1\r\n"
        b"x-amzn-RequestId: folded\r\n request-id\r\nContent-Length: 2\r\n\r\n{}"
    )
    with loopback.serve(raw) as server:
        result = call(flavor, endpoint_url=server.url, retry=FAST)
    assert result.attempts == 1
    assert result.request_id == "folded request-id"
    assert len(server.requests) == 1


def _early_413(conn: socket.socket) -> None:
    body = b'{"message":"Request entity too large"}'
    conn.sendall(
        b"HTTP/1.1 413 Payload Too Large\r\nContent-Type: application/json\r\n"
        b"Connection: close\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )


def test_an_early_413_is_the_answer(flavor: str) -> None:
    # The server answers after the head and closes without reading the 8 MiB
    # body: the upload fails part-way, and the 413 it sent is the answer
    # (httpcore reads the reply after a failed write), sent once.
    token = "T" * (8 * 1024 * 1024)
    served: list[int] = []

    def head_only(conn: socket.socket) -> None:
        served.append(1)
        with contextlib.suppress(OSError):
            data = b""
            while b"\r\n\r\n" not in data:
                data += conn.recv(4096)
            _early_413(conn)
            conn.shutdown(socket.SHUT_WR)
            # A lingering close, as servers do: drain what still comes (at
            # most 2 s) so that no RST destroys the reply in flight.
            conn.settimeout(2)
            while conn.recv(65536):
                pass

    with _raw_server(head_only) as url, pytest.raises(ServiceError) as info:
        call(flavor, endpoint_url=url, retry=FAST, timeout=5, token=token)
    assert info.value.status_code == 413
    assert info.value.attempts == 1
    assert served == [1]


@contextlib.contextmanager
def _raw_server(handle: Any) -> Iterator[str]:
    """A server on 127.0.0.1 that hands each connection to ``handle``, one at a time."""
    sock = socket.create_server(("127.0.0.1", 0))
    sock.settimeout(0.1)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                conn.settimeout(5)
                handle(conn)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(timeout=5)
        sock.close()


def test_a_closed_client_raises_at_once_and_sends_nothing(flavor: str) -> None:
    with loopback.serve(reply(200)) as server:
        if flavor == "sync":
            client = Client(endpoint_url=server.url, retry=FAST)
            client.close()
            with pytest.raises(RuntimeError, match="closed") as info:
                client.update_auth_event_feedback(**FEEDBACK)
        else:

            async def go() -> None:
                client = AsyncClient(endpoint_url=server.url, retry=FAST)
                await client.aclose()
                await client.update_auth_event_feedback(**FEEDBACK)

            with pytest.raises(RuntimeError, match="closed") as info:
                asyncio.run(go())
    assert not isinstance(info.value, CognitoError)
    assert server.requests == []


def test_a_closed_http_client_of_yours_raises_at_once(flavor: str) -> None:
    with loopback.serve(reply(200)) as server:
        if flavor == "sync":
            http = httpx.Client()
            http.close()
            with pytest.raises(RuntimeError, match="closed"):
                call(flavor, endpoint_url=server.url, retry=FAST, http_client=http)
        else:

            async def go() -> None:
                http = httpx.AsyncClient()
                await http.aclose()
                async with AsyncClient(endpoint_url=server.url, http_client=http) as client:
                    await client.update_auth_event_feedback(**FEEDBACK)

            with pytest.raises(RuntimeError, match="closed"):
                asyncio.run(go())
        assert server.requests == []


@pytest.mark.parametrize(
    ("cls", "http_client"),
    [(AsyncClient, httpx.Client), (Client, httpx.AsyncClient), (Client, object)],
)
def test_a_wrong_kind_of_http_client_is_a_type_error(cls: Any, http_client: Any) -> None:
    with pytest.raises(TypeError, match="http_client must be an httpx"):
        cls(http_client=http_client())


@pytest.mark.parametrize("verify", [True, False, "/etc/ssl/certs", ssl.create_default_context()])
def test_verify_with_your_http_client_is_refused(flavor: str, verify: Any) -> None:
    cls, http = (Client, httpx.Client) if flavor == "sync" else (AsyncClient, httpx.AsyncClient)
    with pytest.raises(ValidationError, match="verify") as info:
        cls(http_client=http(), verify=verify)
    assert info.value.field == "verify"


@pytest.mark.parametrize("path", ["/nonexistent/ca.pem", ""])
def test_a_ca_bundle_path_with_nothing_there_is_a_validation_error(flavor: str, path: str) -> None:
    cls = Client if flavor == "sync" else AsyncClient
    for _ in range(2):  # every client checks its own path: no failure or success is kept
        with pytest.raises(ValidationError, match="verify") as info:
            cls(verify=path)
        assert info.value.field == "verify"


_FILTER_PROBE = textwrap.dedent(
    """
    import importlib, logging, sys
    sys.path.insert(0, sys.argv[1])
    from cognito_raw._clients import httpx_client as _client
    names = ["httpcore.http11", "httpcore.http2", "httpcore.connection", "httpcore.proxy", "httpx"]
    def counts():
        return [len(logging.getLogger(name).filters) for name in names]
    before = counts()
    importlib.reload(_client)
    _client._hide_reply_heads_in_httpcore_logs()
    _client.Client().close()
    print(before, counts())
    """
)


def test_the_log_filters_are_installed_at_import_once() -> None:
    # Before any client is made (a caller's http_client is filtered too), and
    # never twice: not by a reload, nor by running the installer again.
    assert probe_output(_FILTER_PROBE).split() == ["[1,", "1,", "1,", "1,", "1]"] * 2


_LOOKALIKE_PROBE = textwrap.dedent(
    """
    import logging, sys
    sys.path.insert(0, sys.argv[1])
    class _HideReplyHeads(logging.Filter):  # a user's filter that only shares the name
        pass
    logging.getLogger("httpcore.http11").addFilter(_HideReplyHeads())
    from cognito_raw._clients import httpx_client as _client
    print(sorted(type(f).__module__ for f in logging.getLogger("httpcore.http11").filters))
    """
)


def test_a_filter_that_only_shares_the_name_does_not_stand_in_for_ours() -> None:
    assert probe_output(_LOOKALIKE_PROBE).strip() == (
        "['__main__', 'cognito_raw._clients.httpx_client']"
    )


@pytest.mark.parametrize("value", [0, -1, 2.5, "10", None])
def test_max_connections_is_checked(flavor: str, value: Any) -> None:
    cls = Client if flavor == "sync" else AsyncClient
    with pytest.raises(ValidationError, match="max_connections"):
        cls(max_connections=value)


def test_max_connections_bounds_the_connections(flavor: str) -> None:
    # 12 calls at once, each reply held 0.2 s, through a pool of 3.
    def slow_reply(conn: socket.socket) -> bool:
        threading.Event().wait(0.2)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
        return True

    with loopback.serve(slow_reply) as server:
        if flavor == "sync":
            with Client(endpoint_url=server.url, max_connections=3) as client:
                threads = [
                    threading.Thread(target=client.update_auth_event_feedback, kwargs=FEEDBACK)
                    for _ in range(12)
                ]
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join(timeout=30)
        else:

            async def go() -> None:
                async with AsyncClient(endpoint_url=server.url, max_connections=3) as client:
                    await asyncio.gather(
                        *(client.update_auth_event_feedback(**FEEDBACK) for _ in range(12))
                    )

            asyncio.run(go())
        assert len(server.requests) == 12
        assert server.connections == 3


@pytest.fixture(scope="module")
def self_signed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    where = tmp_path_factory.mktemp("tls")
    cert, key = where / "cert.pem", where / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


def test_a_failed_certificate_check_is_one_handshake_and_not_retried(
    flavor: str, self_signed: tuple[Path, Path]
) -> None:
    handshakes: list[str] = []
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(*self_signed)

    def handshake(conn: socket.socket) -> None:
        handshakes.append("hello")
        with contextlib.suppress(OSError, ssl.SSLError):
            tls.wrap_socket(conn, server_side=True).close()

    with _raw_server(handshake) as url:
        https = url.replace("http://", "https://")
        with pytest.raises(TransportError) as info:
            call(flavor, endpoint_url=https, retry=FAST)
    assert "certificate verification failed" in str(info.value)
    assert "CERTIFICATE_VERIFY_FAILED" in str(info.value)
    assert info.value.retryable is False
    assert info.value.attempts == 1
    assert handshakes == ["hello"]


def test_other_transport_errors_stay_retryable(flavor: str) -> None:
    with loopback.serve(loopback.RESET, reply(200)) as server:
        assert call(flavor, endpoint_url=server.url, retry=FAST).attempts == 2


def test_throttling_through_respx_is_retried_like_any_reply(flavor: str) -> None:
    with respx.mock(assert_all_mocked=True) as router:
        router.post(COGNITO).respond(400, json={"__type": "TooManyRequestsException"})
        with pytest.raises(TooManyRequestsException) as info:
            call(flavor, retry=FAST)
    assert info.value.attempts == 3


def test_the_docs_respx_example_runs(capsys: pytest.CaptureFixture[str]) -> None:
    # docs/testing.md's respx example, as written.
    page = (Path(__file__).resolve().parents[2] / "docs" / "testing.md").read_text()
    section = page.split("respx and pytest-httpx intercept the default clients", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    exec(compile(code, "docs/testing.md", "exec"), {})  # noqa: S102 - our own docs
    assert capsys.readouterr().out == "rejected: Invalid token\n"


@pytest.mark.parametrize("value", [0, -1, 1.5, "x", True, None])
def test_max_body_is_checked(flavor: str, value: Any) -> None:
    # A limit of 0 or less would also lift the decompression bound.
    cls = Client if flavor == "sync" else AsyncClient
    with pytest.raises(ValidationError, match="max_body") as info:
        cls(max_body=value)
    assert info.value.field == "max_body"
