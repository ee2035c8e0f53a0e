"""``cognito_raw.stdlib.Client``: the http.client shell, on real loopback sockets.

- the 42-fault table of ``tests/test_faults.py``, row for row, with the same
  bounds (outcome, attempts, time, memory, no socket or thread left, no
  redirect followed), its recovery and next-call checks, and rounds on one
  client that must not grow; a trickled reply head ends at the attempt's
  total, as in the async client;
- the FakeCognito over HTTP: success, modeled errors, throttling retried to
  a success, request IDs, the same results as the httpx client;
- keep-alive: one connection for sequential calls, none reused after a cut
  or a close, an idle connection the server closed never sent on, threads
  sharing a client within ``max_connections``;
- TLS (a self-signed certificate): refused by default in one handshake and
  not retried; trusted through a CA bundle path or an ``ssl.SSLContext``;
  ``verify=False``; bad ``verify`` values; contexts built once per setting,
  never for http://;
- proxies: ``HTTP_PROXY`` (absolute-form request), ``HTTPS_PROXY``
  (``CONNECT``), ``NO_PROXY``, a proxy URL that is not http://; a slow
  answer to ``CONNECT`` and a trickled TLS handshake (direct, or after a
  proxy's late answer) end with the attempt's total;
- a hypothesis property on the body limit; secrets in no outcome's text;
- a fresh interpreter imports nothing outside the standard library.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import subprocess
import textwrap
import threading
import time
from pathlib import Path
from typing import Any, Final

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cognito_raw
from cognito_raw import (
    CognitoError,
    NotAuthorizedException,
    ProtocolError,
    RetryPolicy,
    TooManyRequestsException,
    TransportError,
    UserNotFoundException,
    ValidationError,
    stdlib,
)
from cognito_raw._clients import stdlib_client
from cognito_raw.testing import FakeCognito
from tests import faultserver, loopback
from tests.clients.test_httpx_stack import _Proxy, _raw_server, no_real_network
from tests.loopback import reply
from tests.test_faults import FAST as FAST_ROWS
from tests.test_faults import (
    FEEDBACK,
    NOT_RETRIED,
    POLICY,
    RECOVERABLE,
    SLACK,
    TABLE,
    TIMEOUT,
    Outcome,
    Row,
    blocking_outcome,
    check_outcome,
    peak_memory,
    resources,
    settled,
)
from tests.test_faults import MAX_PEAK as BOTH_CLIENTS_PEAK
from tests.test_imports import (
    COUNT_CA_LOADS,
    modules_loaded_by,
    outside_the_standard_library,
    probe_output,
)
from tests.test_secrets import ONCE as SECRETS_ONCE
from tests.test_secrets import (
    SOCKET_EXAMPLES,
    THRICE,
    Secrets,
    every_log_record,
    rendered,
    retried_script,
    secret_pairs,
    single_attempt_script,
    texts_of,
)
from tests.test_ssrf import self_signed

__all__ = ["no_real_network", "self_signed"]  # fixtures, used by name

QUICK: Final = RetryPolicy(max_attempts=3, base_delay=0.001, max_delay=0.002)
ONCE: Final = RetryPolicy(max_attempts=1)


def _read_head(conn: socket.socket) -> bytes | None:
    """A request head (through its blank line; 4 KiB at most), or None if the client hung up."""
    head = b""
    while b"\r\n\r\n" not in head and len(head) < 4096:
        chunk = conn.recv(4096)
        if not chunk:
            return None
        head += chunk
    return head


def call(client: stdlib.Client) -> Outcome:
    def pool_problems() -> list[str]:
        busy = client._pool.in_use
        return [f"{busy} connections in use"] if busy else []

    return blocking_outcome(lambda: client.update_auth_event_feedback(**FEEDBACK), pool_problems)


def calls(url: str, n: int = 1) -> list[Outcome]:
    with stdlib.Client(endpoint_url=url, timeout=TIMEOUT, retry=POLICY) as client:
        return [call(client) for _ in range(n)]


# --- the fault table -----------------------------------------------------------------


@pytest.mark.parametrize("row", TABLE, ids=[row.fault for row in TABLE])
def test_fault_table(row: Row) -> None:
    with faultserver.serve(row.fault) as server:
        before = resources()
        with peak_memory() as peak:
            (outcome,) = calls(server.url)
        assert server.wait_idle(), "the server still serves a connection"
        after = settled(before)
    where = f"{row.fault} (stdlib)"
    check_outcome(row, outcome, where)
    assert server.exchanges == row.attempts, f"{where}: each attempt, and no more"
    assert server.paths == ["/"] * row.attempts, f"{where}: no redirect followed"
    backoff = (row.attempts - 1) * POLICY.max_delay
    assert outcome.elapsed < row.attempts * TIMEOUT + backoff + SLACK, where
    if row.timed_out:
        assert outcome.elapsed >= row.attempts * TIMEOUT * 0.95, where
    assert outcome.pool_problems == [], where
    assert peak[0] < BOTH_CLIENTS_PEAK // 2, f"{peak[0]} bytes allocated at peak"
    assert after == before, "(open file descriptors, threads) before and after"


@pytest.mark.parametrize("row", RECOVERABLE, ids=[row.fault for row in RECOVERABLE])
def test_a_retried_fault_then_a_good_reply_is_a_success(row: Row) -> None:
    with faultserver.serve(row.fault, "ok") as server:
        (outcome,) = calls(server.url)
    assert outcome.error is None, repr(outcome.error)
    assert outcome.result is not None
    assert outcome.result.attempts == 2


@pytest.mark.parametrize("row", NOT_RETRIED, ids=[row.fault for row in NOT_RETRIED])
def test_the_next_call_on_the_same_client_still_works(row: Row) -> None:
    with faultserver.serve(row.fault, "ok") as server:
        first, second = calls(server.url, n=2)
    assert first.error is None or type(first.error) is row.outcome
    assert second.error is None, f"{row.fault}: {second.error!r}"
    assert second.result is not None
    assert second.pool_problems == []


def test_repeated_runs_do_not_grow_sockets_or_threads() -> None:
    counts: list[tuple[int, int]] = []
    with faultserver.serve("ok") as server:
        before = resources()
        for _ in range(3):
            with stdlib.Client(endpoint_url=server.url, timeout=TIMEOUT, retry=POLICY) as client:
                for row in FAST_ROWS:
                    server.set_script(row.fault)
                    outcome = call(client)
                    if row.outcome is None:
                        assert outcome.error is None, f"{row.fault}: {outcome.error!r}"
                    else:
                        assert type(outcome.error) is row.outcome, row.fault
                    assert outcome.pool_problems == []
            assert server.wait_idle()
            counts.append(settled(before))
    assert counts == [before] * 3


def test_a_trickled_head_ends_at_the_attempts_total() -> None:
    """A reply head sent a byte every 0.2 s: each read gets the attempt's time left then."""
    with faultserver.serve("trickle_under_read_timeout") as server:
        (outcome,) = calls(server.url)
    assert type(outcome.error) is cognito_raw.RequestTimeoutError, repr(outcome.error)
    assert outcome.error.attempts == POLICY.max_attempts
    assert POLICY.max_attempts * TIMEOUT * 0.95 <= outcome.elapsed
    assert outcome.elapsed < POLICY.max_attempts * TIMEOUT + POLICY.max_delay + SLACK
    assert outcome.pool_problems == []


# --- the fake Cognito ----------------------------------------------------------------


def test_the_fake_success_errors_throttling_and_request_ids() -> None:
    fake = FakeCognito()
    event = fake.seed()
    stale = fake.create_auth_event(event.user_pool_id, event.username)
    fake.expire_auth_event(event.user_pool_id, stale.event_id)
    with fake.serve() as url, stdlib.Client(endpoint_url=url, retry=QUICK) as client:
        first = client.send(event.request("invalid"))
        fake.throttle(2)
        throttled = client.send(event.request("valid"))
        with pytest.raises(NotAuthorizedException) as refused:
            client.send(stale.request("valid"))
        with pytest.raises(UserNotFoundException):
            client.update_auth_event_feedback(
                user_pool_id=event.user_pool_id,
                username="nobody",
                event_id=event.event_id,
                feedback_token=event.feedback_token,
                feedback_value="valid",
            )
        fake.throttle(3)
        with pytest.raises(TooManyRequestsException) as exhausted:
            client.send(event.request("valid"))
    assert (first.status_code, first.attempts) == (200, 1)
    assert throttled.attempts == 3
    assert fake.feedback(event.user_pool_id, event.event_id) == "Valid"
    received = fake.requests
    ids = {first.request_id, throttled.request_id, refused.value.request_id}
    assert None not in ids
    assert len(ids) == 3
    assert refused.value.attempts == 1
    assert refused.value.retryable is False
    assert exhausted.value.attempts == 3
    assert len(received) == 1 + 3 + 1 + 1 + 3


def test_the_same_results_as_the_httpx_client() -> None:
    fake = FakeCognito()
    event = fake.seed()
    outcomes: dict[str, list[Any]] = {}
    with fake.serve() as url:
        for cls in (cognito_raw.Client, stdlib.Client):
            got: list[Any] = []
            with cls(endpoint_url=url, retry=ONCE) as client:
                got.append(client.send(event.request("valid")).status_code)
                fake.fail_with("InvalidParameterException", "bad", status=400)
                try:
                    client.send(event.request("valid"))
                except CognitoError as exc:
                    got.append((type(exc), exc.code, exc.message, exc.status_code, exc.attempts))
            outcomes[cls.__module__] = got
    assert (
        outcomes["cognito_raw._clients.stdlib_client"]
        == outcomes["cognito_raw._clients.httpx_client"]
    )
    assert (
        outcomes["cognito_raw._clients.stdlib_client"][1][0]
        is cognito_raw.InvalidParameterException
    )


def test_the_docs_lambda_handler_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    # docs/edge.md's handler.py, as written, its Client pointed at the fake
    # (the page's has the region come from the user pool ID).
    page = (Path(__file__).resolve().parents[2] / "docs" / "edge.md").read_text()
    code = page.split("```python\n# handler.py\n", 1)[1].split("```", 1)[0]
    fake = FakeCognito()
    event = fake.seed()
    feedback = {
        "user_pool_id": event.user_pool_id,
        "username": event.username,
        "event_id": event.event_id,
        "feedback_token": event.feedback_token,
        "feedback_value": "invalid",
    }
    with fake.serve() as url:
        real = stdlib.Client
        monkeypatch.setattr(stdlib, "Client", lambda: real(endpoint_url=url))
        module: dict[str, Any] = {}
        exec(compile(code, "docs/edge.md", "exec"), module)  # noqa: S102 - our own docs
        recorded = module["handler"]({"feedback": feedback}, None)
        refused = module["handler"]({"feedback": {**feedback, "feedback_token": "x"}}, None)
        module["cognito"].close()
    assert recorded == {"recorded": True}
    assert refused == {"recorded": False, "error": "NotAuthorizedException"}
    assert fake.feedback(event.user_pool_id, event.event_id) == "Invalid"


# --- connections ---------------------------------------------------------------------


def test_sequential_calls_share_one_connection() -> None:
    with loopback.serve(reply(200)) as server:
        with stdlib.Client(endpoint_url=server.url) as client:
            for _ in range(5):
                assert client.update_auth_event_feedback(**FEEDBACK).attempts == 1
    assert server.connections == 1
    assert len(server.requests) == 5


def _reply_and_close(conn: socket.socket) -> bool:
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
    return False  # the server closes the kept-alive connection at once


def test_an_idle_connection_the_server_closed_is_not_sent_on() -> None:
    with loopback.serve(_reply_and_close) as server:
        with stdlib.Client(endpoint_url=server.url, retry=ONCE) as client:
            for _ in range(3):
                client.update_auth_event_feedback(**FEEDBACK)
                # Let the server's FIN arrive before the next call looks.
                idle = [conn for stack in client._pool._idle.values() for conn in stack]
                deadline = time.monotonic() + 2
                while idle and stdlib_client._still_open(idle[0]) and time.monotonic() < deadline:
                    time.sleep(0.01)
    assert server.connections == 3
    assert len(server.requests) == 3


def test_threads_share_a_client_within_max_connections() -> None:
    def slow_reply(conn: socket.socket) -> bool:
        threading.Event().wait(0.2)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
        return True

    results: list[int] = []
    with loopback.serve(slow_reply) as server:
        with stdlib.Client(endpoint_url=server.url, max_connections=3) as client:

            def one() -> None:
                results.append(client.update_auth_event_feedback(**FEEDBACK).status_code)

            threads = [threading.Thread(target=one) for _ in range(12)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=30)
    assert results == [200] * 12
    assert server.connections == 3


def test_waiting_for_a_connection_is_bounded_by_the_pool_timeout() -> None:
    with loopback.serve(loopback.HANG, hang_for=3.0) as server:
        timeout = cognito_raw.Timeout(connect=1, read=2, write=1, pool=0.3, total=2.5)
        with stdlib.Client(
            endpoint_url=server.url, max_connections=1, timeout=timeout, retry=ONCE
        ) as client:
            hung = threading.Thread(target=lambda: call(client))
            hung.start()
            deadline = time.monotonic() + 5
            while not server.requests and time.monotonic() < deadline:
                time.sleep(0.01)
            assert server.requests, "the first call holds the only connection"
            started = time.monotonic()
            with pytest.raises(cognito_raw.RequestTimeoutError, match="waiting for a connection"):
                client.update_auth_event_feedback(**FEEDBACK)
            waited = time.monotonic() - started
            hung.join(timeout=10)
    assert waited < 2.0
    assert len(server.requests) == 1


def test_a_closed_client_raises_at_once_and_sends_nothing() -> None:
    with loopback.serve(reply(200)) as server:
        client = stdlib.Client(endpoint_url=server.url)
        client.update_auth_event_feedback(**FEEDBACK)
        client.close()
        with pytest.raises(RuntimeError, match="closed") as info:
            client.update_auth_event_feedback(**FEEDBACK)
    assert not isinstance(info.value, CognitoError)
    assert len(server.requests) == 1


def test_bad_input_sends_nothing_and_the_repr_holds_no_secret() -> None:
    with loopback.serve(reply(200)) as server:
        with stdlib.Client(endpoint_url=server.url) as client:
            with pytest.raises(ValidationError) as info:
                client.update_auth_event_feedback(**{**FEEDBACK, "feedback_value": "maybe"})
            text = repr(client)
    assert info.value.field == "feedback_value"
    assert server.requests == []
    assert text == f"Client({server.url!r})"


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"max_connections": 0}, "max_connections"),
        ({"verify": 1.5}, "verify"),
        ({"verify": "/nonexistent/ca.pem"}, "verify"),
        ({"endpoint_url": "https://example.com", "use_fips": True}, "endpoint_url"),
        ({"endpoint_url": "https://a\u0300\u200d.example"}, "endpoint_url"),
        ({"user_agent_extra": "x\r\ny: z"}, "user_agent_extra"),
    ],
)
def test_bad_options_name_the_field(options: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        stdlib.Client(**options)
    assert info.value.field == field


# --- TLS -----------------------------------------------------------------------------


def _handshake_server(cert: Path, key: Path) -> Any:
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert, key)
    seen: list[str] = []

    def handle(conn: socket.socket) -> None:
        seen.append("hello")
        try:
            with tls.wrap_socket(conn, server_side=True) as secure:
                data = b""
                while b"\r\n\r\n" not in data:
                    data += secure.recv(65536)
                head, _, body = data.partition(b"\r\n\r\n")
                length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
                while len(body) < length:
                    body += secure.recv(65536)
                secure.sendall(
                    b"HTTP/1.1 200 OK\r\nx-amzn-RequestId: tls\r\nConnection: close\r\n"
                    b"Content-Length: 2\r\n\r\n{}"
                )
        except (OSError, ssl.SSLError):
            return

    return handle, seen


def test_an_untrusted_certificate_is_one_handshake_and_not_retried(
    self_signed: tuple[Path, Path],
) -> None:
    handle, seen = _handshake_server(*self_signed)
    with _raw_server(handle) as url:
        https = url.replace("http://", "https://")
        with stdlib.Client(endpoint_url=https, retry=QUICK) as client:
            with pytest.raises(TransportError) as info:
                client.update_auth_event_feedback(**FEEDBACK)
    assert "CERTIFICATE_VERIFY_FAILED" in str(info.value)
    assert info.value.retryable is False
    assert info.value.attempts == 1
    assert seen == ["hello"]


@pytest.mark.parametrize("how", ["path", "directory", "context", "off"])
def test_a_trusted_certificate(self_signed: tuple[Path, Path], how: str, tmp_path: Path) -> None:
    cert, _ = self_signed
    verify: Any = {
        "path": str(cert),
        "context": ssl.create_default_context(cafile=str(cert)),
        "off": False,
    }.get(how)
    if how == "directory":
        # A c_rehash-style directory: the certificate under its subject hash.
        digest = subprocess.run(
            ["openssl", "x509", "-hash", "-noout", "-in", str(cert)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        (tmp_path / f"{digest}.0").write_bytes(cert.read_bytes())
        verify = str(tmp_path)
    handle, seen = _handshake_server(*self_signed)
    with _raw_server(handle) as url:
        https = url.replace("http://", "https://")
        with stdlib.Client(endpoint_url=https, retry=ONCE, verify=verify) as client:
            result = client.update_auth_event_feedback(**FEEDBACK)
    assert (result.status_code, result.request_id) == (200, "tls")
    assert seen == ["hello"]


_CONTEXT_PROBE = (
    textwrap.dedent(
        """
        import sys
        sys.path.insert(0, sys.argv[1])
        from cognito_raw import stdlib
        """
    )
    + COUNT_CA_LOADS
    + textwrap.dedent(
        """
        stdlib.Client(endpoint_url="http://127.0.0.1:9").close()
        assert CA_LOADS == [], "no CA store loaded for http://"
        stdlib.Client().close()
        first = len(CA_LOADS)
        assert first >= 1, CA_LOADS
        stdlib.Client(verify=False).close()
        assert len(CA_LOADS) == first, "verify=False loads no CA store"
        stdlib.Client().close()
        assert len(CA_LOADS) == 2 * first, "one load per https client, when it is made"
        print("ok")
        """
    )
)


def test_a_tls_context_is_built_per_https_client_and_never_for_http() -> None:
    assert probe_output(_CONTEXT_PROBE).strip() == "ok"


# --- proxies -------------------------------------------------------------------------


@pytest.fixture
def proxy() -> Any:
    front = _Proxy()
    with _raw_server(front) as url:
        front.url = url
        yield front


def test_http_proxy_is_honoured(proxy: _Proxy, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    target = "http://127.0.0.1:9"  # nothing listens there: only the proxy can answer
    with stdlib.Client(endpoint_url=target, retry=ONCE) as client:
        result = client.update_auth_event_feedback(**FEEDBACK)
    assert result.request_id == "via-proxy"
    assert proxy.lines == [f"POST {target}/ HTTP/1.1"]


def test_https_proxy_gets_the_connect_for_cognito(
    proxy: _Proxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("https_proxy", proxy.url)
    with stdlib.Client(retry=ONCE) as client, pytest.raises(TransportError) as info:
        client.update_auth_event_feedback(**FEEDBACK)
    # http.client says HTTP/1.0 in a CONNECT before Python 3.12.
    (line,) = proxy.lines
    assert line.startswith("CONNECT cognito-idp.us-east-1.amazonaws.com:443 HTTP/1.")
    assert "403" in str(info.value)


def test_no_proxy_bypasses_the_proxy(proxy: _Proxy, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    with loopback.serve(reply(200)) as server:
        with stdlib.Client(endpoint_url=server.url, retry=ONCE) as client:
            client.update_auth_event_feedback(**FEEDBACK)
    assert proxy.lines == []
    assert len(server.requests) == 1


def _slow_proxy(how: str, seen: list[bytes]) -> Any:
    """A proxy that takes the CONNECT, then trickles its answer or never gives one.

    Bounded: it gives up after a few seconds, or as soon as the client hangs up.
    """

    def handle(conn: socket.socket) -> None:
        head = _read_head(conn)
        if head is None:
            return
        seen.append(head.split(b"\r\n", 1)[0])
        if how == "silent":
            conn.settimeout(4.0)
            with contextlib.suppress(OSError):
                conn.recv(1)  # returns when the client hangs up
            return
        try:
            conn.sendall(b"HTTP/1.1 200 Connection established\r\nX-Pad: ")
            for _ in range(80):  # a byte each 50 ms: 4 s at most
                conn.sendall(b"a")
                time.sleep(0.05)
        except OSError:
            return  # the client hung up

    return handle


# (how the proxy answers CONNECT, the attempt's timeout): the connect timeout
# (3 s) alone would let both run on for seconds; the attempt's total (0.5 s)
# must end them. A trickle restarts each read's wait, so only a bound on every
# read ends it; a silent proxy is ended by the connect's wait cut to the total.
SLOW_PROXIES = [
    ("trickle", cognito_raw.Timeout(connect=3, read=3, write=3, pool=3, total=0.5)),
    ("silent", cognito_raw.Timeout(connect=3, read=3, write=3, pool=3, total=0.5)),
]


@pytest.mark.parametrize(("how", "timeout"), SLOW_PROXIES, ids=[row[0] for row in SLOW_PROXIES])
def test_a_slow_answer_to_connect_ends_with_the_attempt(
    how: str, timeout: cognito_raw.Timeout, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[bytes] = []
    with _raw_server(_slow_proxy(how, seen)) as url:
        monkeypatch.setenv("HTTPS_PROXY", url)
        with stdlib.Client(retry=ONCE, timeout=timeout) as client:
            started = time.monotonic()
            with pytest.raises(cognito_raw.RequestTimeoutError):
                client.update_auth_event_feedback(**FEEDBACK)
            elapsed = time.monotonic() - started
    assert len(seen) == 1
    assert seen[0].startswith(b"CONNECT cognito-idp.us-east-1.amazonaws.com:443 ")
    assert elapsed < 1.5, f"the attempt outlived its total: {elapsed:.2f} s"


def _trickled_handshake(how: str, hellos: list[bytes]) -> Any:
    """A TLS server that takes the ClientHello, then trickles the start of a long record.

    ``how`` is ``direct`` or ``late-proxy`` (a proxy that answers CONNECT
    after 2 s and is then the server). Bounded: a byte each 50 ms, 80 bytes
    (4 s) at most, or until the client hangs up.
    """

    def handle(conn: socket.socket) -> None:
        if how == "late-proxy":
            if _read_head(conn) is None:
                return
            time.sleep(2.0)
            conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        with contextlib.suppress(OSError):
            hellos.append(conn.recv(65536))
            # A handshake record 16 KiB long, of which 75 bytes ever come.
            for byte in b"\x16\x03\x03\x40\x00" + bytes(75):
                conn.sendall(bytes([byte]))
                time.sleep(0.05)

    return handle


# (how the handshake is reached, the attempt's timeout, the most the call may
# take). The connect limit alone would let each run on; the attempt's total
# must end them. Late-proxy: the 2 s the proxy took to answer CONNECT count
# against the total, so the handshake gets the 1 s left, not the 3 s the
# total allowed when the answer was awaited.
SLOW_HANDSHAKES = [
    ("direct", cognito_raw.Timeout(connect=3, read=3, write=3, pool=3, total=0.5), 2.5),
    ("late-proxy", cognito_raw.Timeout(connect=5, read=5, write=5, pool=5, total=3), 4.0),
]


@pytest.mark.parametrize(
    ("how", "timeout", "most"), SLOW_HANDSHAKES, ids=[row[0] for row in SLOW_HANDSHAKES]
)
def test_a_trickled_tls_handshake_ends_with_the_attempt(
    how: str, timeout: cognito_raw.Timeout, most: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    hellos: list[bytes] = []
    with _raw_server(_trickled_handshake(how, hellos)) as url:
        if how == "late-proxy":
            monkeypatch.setenv("HTTPS_PROXY", url)
            options: dict[str, Any] = {}
        else:
            options = {"endpoint_url": url.replace("http://", "https://"), "verify": False}
        with stdlib.Client(retry=ONCE, timeout=timeout, **options) as client:
            started = time.monotonic()
            with pytest.raises(cognito_raw.RequestTimeoutError) as info:
                client.update_auth_event_feedback(**FEEDBACK)
            elapsed = time.monotonic() - started
    assert info.value.attempts == 1
    assert info.value.retryable is True
    # The handshake began: the client sent its ClientHello (a TLS handshake record).
    assert len(hellos) == 1
    assert hellos[0][:1] == b"\x16"
    assert elapsed < most, f"the attempt outlived its total: {elapsed:.2f} s"


def test_no_handshake_begins_once_the_attempt_has_no_time_left(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The proxy's answer to CONNECT comes once the attempt's time is up: no handshake."""
    skipped = [0.0]
    hellos: list[bytes] = []

    def handle(conn: socket.socket) -> None:
        if _read_head(conn) is None:
            return
        # While the client waits for the answer (it began waiting at once),
        # its clock passes the attempt's end: the answer comes too late.
        time.sleep(0.2)
        skipped[0] = 60.0
        with contextlib.suppress(OSError):
            conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            conn.settimeout(2.0)
            hellos.append(conn.recv(65536))  # b"" once the client hangs up

    with _raw_server(handle) as url:
        monkeypatch.setenv("HTTPS_PROXY", url)
        with stdlib.Client(
            retry=ONCE, timeout=5, clock=lambda: time.monotonic() + skipped[0]
        ) as client:
            with pytest.raises(cognito_raw.RequestTimeoutError) as info:
                client.update_auth_event_feedback(**FEEDBACK)
    assert info.value.attempts == 1
    assert hellos == [b""], "the client hung up without a ClientHello"


def test_a_proxy_that_is_not_http_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "https://proxy.example:3128")
    with pytest.raises(ValidationError, match="http:// proxy"):
        stdlib.Client()


# --- properties and secrets ----------------------------------------------------------


@settings(max_examples=25, deadline=None)
@given(
    limit=st.integers(min_value=2, max_value=300),
    size=st.integers(min_value=2, max_value=400),
    status=st.sampled_from([200, 400]),
)
def test_a_body_past_the_limit_is_never_read_as_complete(
    limit: int, size: int, status: int
) -> None:
    body = b"{" + b" " * (size - 2) + b"}"
    step = (status, {"x-amzn-ErrorType": "NotAuthorizedException:"}, body)
    with loopback.serve(step) as server:
        with stdlib.Client(endpoint_url=server.url, retry=ONCE, max_body=limit) as client:
            try:
                outcome: object = client.update_auth_event_feedback(**FEEDBACK)
            except CognitoError as exc:
                outcome = exc
    if status == 200:
        # Cognito's "{}" padded: a success unless it went past the limit.
        assert isinstance(outcome, ProtocolError) == (size > limit), outcome
    else:
        assert isinstance(outcome, NotAuthorizedException), outcome


def _stdlib_calls(url: str, s: Secrets, n: int, policy: RetryPolicy) -> list[Any]:
    seen: list[Any] = []
    with stdlib.Client(endpoint_url=url, retry=policy, on_attempt=seen.append) as client:
        for _ in range(n):
            try:
                seen.append(client.send(s.request()))
            except CognitoError as exc:
                seen.append(exc)
        seen.append(client)
    return seen


@settings(max_examples=SOCKET_EXAMPLES)
@given(s=secret_pairs())
def test_no_outcome_shows_the_secrets(s: Secrets) -> None:
    """tests/test_secrets.py's outcomes (a status line echoing the secrets among them)."""
    outcomes: list[Any] = []
    single = single_attempt_script(s)  # a status line echoing the secrets among them
    with every_log_record() as records:
        with faultserver.serve(*single, *retried_script(s)) as server:
            outcomes += _stdlib_calls(server.url, s, len(single), SECRETS_ONCE)
            outcomes += _stdlib_calls(server.url, s, 1, THRICE)
        outcomes += _stdlib_calls(loopback.closed_port(), s, 1, SECRETS_ONCE)
    kinds = {type(item) for item in outcomes}
    assert len(kinds) >= 12, kinds
    for text in texts_of(outcomes):
        assert s.leaks(text) == [], text
    assert records, "the client logs at DEBUG"
    for record in records:
        assert s.leaks(rendered(record)) == [], rendered(record)


# --- imports -------------------------------------------------------------------------

_IMPORT_PROBE = textwrap.dedent(
    """
    import json, os, sys
    sys.path.insert(0, sys.argv[1])
    for name in list(os.environ):
        if name.lower().endswith("_proxy"):
            del os.environ[name]
    os.environ["NO_PROXY"] = "127.0.0.1"  # alone, it sends nothing through a proxy
    before = set(sys.modules)
    from cognito_raw import stdlib, TransportError, RetryPolicy
    with stdlib.Client(
        endpoint_url="http://127.0.0.1:9", retry=RetryPolicy(max_attempts=1)
    ) as client:
        try:
            client.update_auth_event_feedback(
                user_pool_id="eu-west-1_AbC", username="u", event_id="e",
                feedback_token="t", feedback_value="valid",
            )
        except TransportError:
            pass
    print(json.dumps(sorted(set(sys.modules) - before)))
    """
)


def test_the_stdlib_client_imports_only_the_standard_library() -> None:
    loaded = modules_loaded_by(_IMPORT_PROBE)
    assert outside_the_standard_library(loaded) == []
    assert "cognito_raw.stdlib" in loaded
    assert "httpx" not in loaded
    assert "cognito_raw._clients.httpx_client" not in loaded
    # Without proxy variables, urllib.request (milliseconds of imports) stays out.
    assert "urllib.request" not in loaded
