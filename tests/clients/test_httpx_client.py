"""Client and AsyncClient against a real loopback server and against respx.

Every behaviour runs through both clients (the ``flavor`` fixture), so the
two drivers are held to one specification.
"""

from __future__ import annotations

import asyncio
import gc
import gzip
import json
import logging
import threading
import time
import warnings
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import respx

from cognito_raw import (
    AsyncClient,
    AttemptInfo,
    Client,
    CognitoError,
    FeedbackValue,
    InternalErrorException,
    InvalidParameterException,
    NotAuthorizedException,
    OperationNotEnabledException,
    ProtocolError,
    RequestTimeoutError,
    ResourceNotFoundException,
    RetryPolicy,
    ServiceError,
    Timeout,
    TooManyRequestsException,
    TransportError,
    UpdateAuthEventFeedbackRequest,
    UpdateAuthEventFeedbackResponse,
    UserNotFoundException,
    UserPoolAddOnNotEnabledException,
    ValidationError,
)
from cognito_raw.testing import list_recordings, load_recording
from tests import loopback
from tests.loopback import CLOSE, HANG, RESET, TRICKLE, error, reply

FEEDBACK: dict[str, str] = {
    "user_pool_id": "us-east-1_AbC123",
    "username": "alice-secret-user",
    "event_id": "c2c2cf89-c0d3-482d-aba6-99d78a5b0bfe",
    "feedback_token": "SecretFeedbackToken123",
    "feedback_value": "invalid",
}
FAST = RetryPolicy(max_attempts=3, base_delay=0.001, max_delay=0.002)

Call = Callable[..., UpdateAuthEventFeedbackResponse]


@pytest.fixture(params=["sync", "async"])
def flavor(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def make_call(flavor: str, **client_kwargs: Any) -> Call:
    """One feedback call through a fresh client of the given flavor."""

    def call(**overrides: Any) -> UpdateAuthEventFeedbackResponse:
        kwargs = {**FEEDBACK, **overrides}
        if flavor == "sync":
            with Client(**client_kwargs) as client:
                return client.update_auth_event_feedback(**kwargs)

        async def go() -> UpdateAuthEventFeedbackResponse:
            async with AsyncClient(**client_kwargs) as client:
                return await client.update_auth_event_feedback(**kwargs)

        return asyncio.run(go())

    return call


def test_success_over_a_real_socket(flavor: str) -> None:
    with loopback.serve(reply(200, {})) as server:
        result = make_call(flavor, endpoint_url=server.url)()
    assert result.request_id == "req-loopback"
    assert result.attempts == 1
    (sent,) = server.requests
    assert (sent.method, sent.path) == ("POST", "/")
    assert sent.headers["x-amz-target"] == (
        "AWSCognitoIdentityProviderService.UpdateAuthEventFeedback"
    )
    assert sent.headers["content-type"] == "application/x-amz-json-1.1"
    assert "authorization" not in sent.headers
    assert json.loads(sent.body)["FeedbackValue"] == "Invalid"
    assert json.loads(sent.body)["Username"] == FEEDBACK["username"]


MODELED = [
    ("InvalidParameterException", InvalidParameterException, 400),
    ("ResourceNotFoundException", ResourceNotFoundException, 400),
    ("TooManyRequestsException", TooManyRequestsException, 400),
    ("NotAuthorizedException", NotAuthorizedException, 400),
    ("UserNotFoundException", UserNotFoundException, 400),
    ("UserPoolAddOnNotEnabledException", UserPoolAddOnNotEnabledException, 400),
    ("OperationNotEnabledException", OperationNotEnabledException, 400),
    ("InternalErrorException", InternalErrorException, 500),
]


@pytest.mark.parametrize(("code", "cls", "status"), MODELED)
def test_every_modeled_error(flavor: str, code: str, cls: type[ServiceError], status: int) -> None:
    with loopback.serve(error(code, "msg", status)) as server, pytest.raises(cls) as info:
        make_call(flavor, endpoint_url=server.url, retry=FAST)()
    expected_attempts = 3 if info.value.retryable else 1
    assert len(server.requests) == expected_attempts
    assert info.value.attempts == expected_attempts
    assert len(info.value.errors) == expected_attempts - 1
    assert info.value.request_id == "req-loopback"
    assert info.value.status_code == status


def test_throttled_then_success(flavor: str) -> None:
    sleeps: list[float] = []
    script = [error("TooManyRequestsException", "Rate exceeded")] * 2 + [reply(200)]
    with loopback.serve(*script) as server:
        result = make_call(
            flavor, endpoint_url=server.url, retry=FAST, **_sleeper(flavor, sleeps)
        )()
    assert result.attempts == 3
    assert len(server.requests) == 3
    assert len(sleeps) == 2
    assert all(0 <= s <= 0.002 for s in sleeps)


def _sleeper(flavor: str, sleeps: list[float]) -> dict[str, Any]:
    if flavor == "sync":
        return {"sleep": sleeps.append}

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    return {"sleep": sleep}


@pytest.mark.parametrize(
    "step",
    [
        error("NotAuthorizedException"),
        error("LimitExceededException"),
        error("UserNotFoundException"),
        reply(403, b"<html>WAF</html>"),
    ],
)
def test_no_retry_on_client_errors(flavor: str, step: loopback.Step) -> None:
    with loopback.serve(step, reply(200)) as server, pytest.raises(ServiceError) as info:
        make_call(flavor, endpoint_url=server.url, retry=FAST)()
    assert len(server.requests) == 1
    assert info.value.attempts == 1
    assert not info.value.retryable


def test_retries_exhausted_keeps_every_error(flavor: str) -> None:
    script = [error("InternalErrorException", status=500), reply(503, b""), RESET]
    with loopback.serve(*script) as server, pytest.raises(TransportError) as info:
        make_call(flavor, endpoint_url=server.url, retry=FAST)()
    assert info.value.attempts == 3
    assert [type(e) for e in info.value.errors] == [InternalErrorException, ServiceError]
    assert "after 3 attempts" in str(info.value)


def test_connection_refused(flavor: str) -> None:
    url = loopback.closed_port()
    started = time.monotonic()
    with pytest.raises(TransportError) as info:
        make_call(flavor, endpoint_url=url, retry=FAST)()
    assert time.monotonic() - started < 5
    assert info.value.attempts == 3
    assert isinstance(info.value.__cause__, httpx.ConnectError)


@pytest.mark.parametrize("fault", [RESET, CLOSE])
def test_connection_reset_or_closed_is_retried(flavor: str, fault: str) -> None:
    with loopback.serve(fault, reply(200)) as server:
        result = make_call(flavor, endpoint_url=server.url, retry=FAST)()
    assert result.attempts == 2
    assert len(server.requests) == 2


def test_timeout_when_the_server_never_answers(flavor: str) -> None:
    with loopback.serve(HANG, hang_for=3.0) as server:
        started = time.monotonic()
        with pytest.raises(RequestTimeoutError) as info:
            make_call(
                flavor, endpoint_url=server.url, timeout=0.3, retry=RetryPolicy(max_attempts=1)
            )()
        elapsed = time.monotonic() - started
    assert elapsed < 2
    if flavor == "sync":
        # httpx's read timeout ended it; the async client's attempt scope
        # may end it first, with no httpx exception behind it.
        assert isinstance(info.value.__cause__, httpx.TimeoutException)
    assert isinstance(info.value, TransportError)


def test_total_timeout_bounds_a_trickling_server(flavor: str) -> None:
    # Body bytes every 0.2 s stay under the 1 s read timeout for 8 s; the
    # total (1 s per attempt here) is what ends it.
    with loopback.serve(TRICKLE, trickle_interval=0.2, hang_for=6.0) as server:
        started = time.monotonic()
        with pytest.raises(RequestTimeoutError):
            make_call(
                flavor,
                endpoint_url=server.url,
                timeout=Timeout(connect=1, read=1, write=1, pool=1, total=1.0),
                retry=RetryPolicy(max_attempts=1),
            )()
        elapsed = time.monotonic() - started
    assert 0.9 <= elapsed < 2.0


def test_deadline_stops_retries(flavor: str) -> None:
    with loopback.serve(HANG, hang_for=3.0) as server:
        started = time.monotonic()
        with pytest.raises(RequestTimeoutError):
            make_call(
                flavor,
                endpoint_url=server.url,
                timeout=5.0,
                retry=RetryPolicy(max_attempts=10, base_delay=0.01, deadline=0.5),
            )()
    assert time.monotonic() - started < 1.5


def test_redirects_are_never_followed(flavor: str) -> None:
    script = [reply(302, b"", {"Location": "http://127.0.0.1:1/elsewhere"})]
    with loopback.serve(*script) as server, pytest.raises(ProtocolError):
        make_call(flavor, endpoint_url=server.url, retry=FAST)()
    assert len(server.requests) == 1


def test_huge_error_body_is_read_only_to_the_limit(flavor: str) -> None:
    body = b'{"__type":"X","message":"' + b"m" * 500_000 + b'"}'
    with loopback.serve(reply(400, body, {"x-amzn-ErrorType": "UserNotFoundException"})) as server:
        with pytest.raises(UserNotFoundException) as info:
            make_call(flavor, endpoint_url=server.url, max_body=1024)()
    # The first KiB is not a JSON document: the header names the code, and the
    # reply's message is not known (str() says why).
    assert info.value.message is None
    assert "not a JSON object" in str(info.value)


def test_200_concurrent_async_calls_through_one_client() -> None:
    with loopback.serve(reply(200)) as server:

        async def go() -> list[UpdateAuthEventFeedbackResponse]:
            async with AsyncClient(endpoint_url=server.url, timeout=10) as client:
                return await asyncio.gather(
                    *(
                        client.update_auth_event_feedback(**{**FEEDBACK, "event_id": f"e{i}"})
                        for i in range(200)
                    )
                )

        results = asyncio.run(go())
    assert len(results) == 200
    assert len(server.requests) == 200
    assert {json.loads(r.body)["EventId"] for r in server.requests} == {
        f"e{i}" for i in range(200)
    }


def test_one_sync_client_shared_by_threads() -> None:
    errors: list[BaseException] = []
    with loopback.serve(reply(200)) as server, Client(endpoint_url=server.url) as client:

        def worker(n: int) -> None:
            for i in range(10):
                try:
                    client.update_auth_event_feedback(**{**FEEDBACK, "event_id": f"t{n}-{i}"})
                except CognitoError as exc:  # pragma: no cover - reported below
                    errors.append(exc)

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=20)
    assert errors == []
    assert len(server.requests) == 160


# --- construction, validation, endpoints -------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {"endpoint_url": "http://example.com"},
        {"endpoint_url": "ftp://127.0.0.1"},
        {"endpoint_url": "https://xn--ls8h.la"},  # punycode that IDNA 2008 cannot decode
        {"endpoint_url": "http://127.0.0.1:1", "use_fips": True},
        {"region": "evil.com#"},
        {"user_agent_extra": "bad\r\nheader"},
        {"timeout": -1},
        {"timeout": float("nan")},
    ],
)
def test_bad_configuration_is_refused_at_creation(flavor: str, kwargs: dict[str, Any]) -> None:
    cls = Client if flavor == "sync" else AsyncClient
    with pytest.raises(ValidationError):
        cls(**kwargs)


def test_http_to_a_remote_host_needs_an_explicit_allow() -> None:
    Client(endpoint_url="http://cognito.internal:9229", allow_http=True).close()


@pytest.mark.parametrize(
    "overrides",
    [
        {"username": "two words"},
        {"feedback_value": "maybe"},
        {"user_pool_id": "evil.com#_x"},
        {"event_id": ""},
    ],
)
def test_bad_input_sends_nothing(flavor: str, overrides: dict[str, str]) -> None:
    with loopback.serve(reply(200)) as server, pytest.raises(ValidationError):
        make_call(flavor, endpoint_url=server.url)(**overrides)
    assert server.requests == []


@respx.mock(assert_all_called=True, assert_all_mocked=True)
def test_endpoint_comes_from_the_pool_id_per_call(respx_mock: respx.MockRouter) -> None:
    eu = respx_mock.post("https://cognito-idp.eu-west-1.amazonaws.com/").respond(200, json={})
    us = respx_mock.post("https://cognito-idp.us-east-2.amazonaws.com/").respond(200, json={})
    with Client() as client:
        client.update_auth_event_feedback(**{**FEEDBACK, "user_pool_id": "eu-west-1_X"})
        client.update_auth_event_feedback(**{**FEEDBACK, "user_pool_id": "us-east-2_Y"})
    assert eu.call_count == us.call_count == 1


@respx.mock(assert_all_called=True, assert_all_mocked=True)
def test_region_pins_the_endpoint(respx_mock: respx.MockRouter) -> None:
    route = respx_mock.post("https://cognito-idp-fips.us-west-2.amazonaws.com/").respond(200)
    with Client(region="us-west-2", use_fips=True) as client:
        client.update_auth_event_feedback(**FEEDBACK)
    request = route.calls.last.request
    assert request.headers["accept-encoding"] == "identity"
    assert request.headers["user-agent"].startswith("cognito-raw/")


@respx.mock(assert_all_called=True, assert_all_mocked=True)
def test_send_takes_a_prebuilt_or_unchecked_request(respx_mock: respx.MockRouter) -> None:
    route = respx_mock.post("http://127.0.0.1:9/").respond(200)
    unchecked = UpdateAuthEventFeedbackRequest.unchecked(
        user_pool_id="not valid",
        username="a b",
        event_id="",
        feedback_token="/",
        feedback_value="x",
    )
    with Client(endpoint_url="http://127.0.0.1:9") as client:
        client.send(unchecked)
    assert json.loads(route.calls.last.request.content)["Username"] == "a b"


def test_caller_owned_http_client_is_not_closed() -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json={}))
    http = httpx.Client(transport=transport)
    with Client(endpoint_url="http://127.0.0.1:9", http_client=http) as client:
        client.update_auth_event_feedback(**FEEDBACK)
    assert not http.is_closed
    http.close()


def test_user_agent_extra() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200)

    http = httpx.Client(transport=httpx.MockTransport(handler))
    with Client(
        endpoint_url="http://127.0.0.1:9", http_client=http, user_agent_extra="app/1"
    ) as client:
        client.update_auth_event_feedback(**FEEDBACK)
    assert seen[0].headers["user-agent"].endswith(" app/1")


@pytest.mark.parametrize("status", [200, 400])
def test_gzip_bomb_is_bounded(flavor: str, status: int) -> None:
    # 50 MB of spaces, 50 KB on the wire, sent although we asked for identity.
    bomb = gzip.compress(b"{" + b" " * 50_000_000, compresslevel=9)
    headers = {"Content-Encoding": "gzip", "x-amzn-ErrorType": "UserNotFoundException"}
    with loopback.serve(reply(status, bomb, headers)) as server:
        with pytest.raises((ProtocolError, UserNotFoundException)):
            make_call(flavor, endpoint_url=server.url, max_body=4096)()


def test_gzip_reply_is_decoded(flavor: str) -> None:
    body = gzip.compress(b'{"__type":"NotAuthorizedException","message":"zipped"}')
    with loopback.serve(reply(400, body, {"Content-Encoding": "gzip"})) as server:
        with pytest.raises(NotAuthorizedException) as info:
            make_call(flavor, endpoint_url=server.url)()
    assert info.value.message == "zipped"


# --- observability ----------------------------------------------------------------------


def test_attempt_hook_and_logs_hold_no_secrets(
    flavor: str, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[AttemptInfo] = []
    script = [error("TooManyRequestsException", "Rate exceeded"), reply(200)]
    caplog.set_level(logging.DEBUG)
    with loopback.serve(*script) as server:
        make_call(flavor, endpoint_url=server.url, retry=FAST, on_attempt=seen.append)()
    assert [(a.attempt, a.status_code, a.code) for a in seen] == [
        (1, 400, "TooManyRequestsException"),
        (2, 200, None),
    ]
    assert seen[0].retry_in is not None
    assert seen[1].retry_in is None
    assert all(a.duration >= 0 for a in seen)
    ours = [r for r in caplog.records if r.name == "cognito_raw"]
    assert len(ours) == 2
    everything = "\n".join(r.getMessage() for r in caplog.records) + repr(seen)
    assert FEEDBACK["username"] not in everything
    assert FEEDBACK["feedback_token"] not in everything
    assert "<redacted>" in ours[0].getMessage()


def test_exception_text_holds_no_secrets(flavor: str) -> None:
    # A hostile endpoint echoing the secrets back: scrubbed from the message.
    echo = f"bad user {FEEDBACK['username']} token {FEEDBACK['feedback_token']}"
    with loopback.serve(error("InvalidParameterException", echo)) as server:
        with pytest.raises(InvalidParameterException) as info:
            make_call(flavor, endpoint_url=server.url)()
    for text in (str(info.value), repr(info.value)):
        assert FEEDBACK["username"] not in text
        assert FEEDBACK["feedback_token"] not in text


def test_client_repr_holds_no_secrets() -> None:
    client = Client(endpoint_url="http://127.0.0.1:9")
    assert repr(client) == "Client('http://127.0.0.1:9')"
    client.close()


def test_feedback_value_member_is_accepted() -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json={}))
    with Client(
        endpoint_url="http://127.0.0.1:9", http_client=httpx.Client(transport=transport)
    ) as client:
        result = client.update_auth_event_feedback(
            **{**FEEDBACK, "feedback_value": FeedbackValue.VALID}
        )
    assert result.status_code == 200


# --- recorded replies through both clients -----------------------------------------------


@pytest.mark.parametrize("name", list_recordings())
def test_every_recording_through_both_clients(flavor: str, name: str) -> None:
    recording = load_recording(name)
    url = "https://cognito-idp.us-east-1.amazonaws.com/"
    # respx intercepts the clients' own httpx clients.
    extra: dict[str, Any] = {}
    with respx.mock(assert_all_called=True, assert_all_mocked=True) as router:
        route = router.post(url).mock(side_effect=lambda _: recording.to_httpx())
        try:
            result: object = make_call(flavor, retry=FAST, **extra)()
        except CognitoError as exc:
            result = exc
    assert type(result).__name__ == recording.expect.class_name
    retried = recording.expect.retryable is True
    assert route.call_count == (FAST.max_attempts if retried else 1)
    if isinstance(result, ServiceError):
        assert result.code == recording.expect.code
        assert result.retryable == recording.expect.retryable
        assert result.request_id == recording.expect.request_id
        assert result.message == recording.expect.message
    elif isinstance(result, UpdateAuthEventFeedbackResponse):
        assert result.request_id == recording.expect.request_id


@pytest.mark.parametrize("name", list_recordings())
def test_every_recording_over_a_real_socket(flavor: str, name: str) -> None:
    # The same replies through each client's default transport, over loopback.
    recording = load_recording(name)
    headers = {k: v for k, v in recording.headers if k.lower() != "content-length"}
    with loopback.serve((recording.status, headers, recording.body)) as server:
        try:
            result: object = make_call(flavor, endpoint_url=server.url, retry=FAST)()
        except CognitoError as exc:
            result = exc
    assert type(result).__name__ == recording.expect.class_name
    retried = recording.expect.retryable is True
    assert len(server.requests) == (FAST.max_attempts if retried else 1)
    if isinstance(result, ServiceError):
        assert (result.code, result.request_id) == (
            recording.expect.code,
            recording.expect.request_id,
        )
    elif isinstance(result, UpdateAuthEventFeedbackResponse):
        assert result.request_id == recording.expect.request_id


def test_one_async_client_per_event_loop() -> None:
    # httpx's async connections belong to the loop that opened them: a client
    # used again under another asyncio.run() says so at once, sending nothing,
    # instead of failing inside httpcore ("Event loop is closed").
    with loopback.serve(reply(200)) as server, warnings.catch_warnings():
        # The first loop's idle connection can only be closed by that loop;
        # it is reclaimed at garbage collection.
        warnings.simplefilter("ignore", ResourceWarning)
        client = AsyncClient(endpoint_url=server.url, timeout=5)
        assert asyncio.run(client.update_auth_event_feedback(**FEEDBACK)).attempts == 1
        with pytest.raises(RuntimeError, match="one AsyncClient per event loop"):
            asyncio.run(client.update_auth_event_feedback(**FEEDBACK))
        assert len(server.requests) == 1
        del client
        gc.collect()

        async def fresh() -> int:
            async with AsyncClient(endpoint_url=server.url, timeout=5) as again:
                return (await again.update_auth_event_feedback(**FEEDBACK)).attempts

        assert asyncio.run(fresh()) == 1
        assert len(server.requests) == 2


TWICE = RetryPolicy(max_attempts=2, base_delay=0.001, max_delay=0.002)


def test_a_repeated_error_type_header_is_read_by_its_first_value(flavor: str) -> None:
    # The field report over a real socket: a gateway in front appended its own
    # x-amzn-ErrorType. The first (the service's throttle) counts: retried.
    twice = (
        b"HTTP/1.1 400 Bad Request\r\nContent-Type: application/x-amz-json-1.1\r\n"
        b"x-amzn-RequestId: first-id\r\nx-amzn-RequestId: gateway-id\r\n"
        b"x-amzn-ErrorType: TooManyRequestsException\r\n"
        b"x-amzn-ErrorType: BadRequestException\r\n"
        b'Content-Length: 27\r\n\r\n{"message":"Rate exceeded"}'
    )
    with loopback.serve(twice, twice) as server:
        with pytest.raises(TooManyRequestsException) as info:
            make_call(flavor, endpoint_url=server.url, retry=TWICE)()
    assert len(server.requests) == 2
    assert (info.value.code, info.value.request_id) == ("TooManyRequestsException", "first-id")
    assert info.value.retryable is True
