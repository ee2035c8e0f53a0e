"""FakeCognito: its model, its replies, its faults, and the three ways to run it."""

from __future__ import annotations

import asyncio
import dataclasses
import email.message
import json
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from cognito_raw import (
    AsyncClient,
    Client,
    CognitoError,
    FeedbackValue,
    HttpRequest,
    InternalErrorException,
    InvalidParameterException,
    NotAuthorizedException,
    OperationNotEnabledException,
    ResourceNotFoundException,
    ServiceError,
    TooManyRequestsException,
    UpdateAuthEventFeedbackRequest,
    UpdateAuthEventFeedbackResponse,
    UserNotFoundException,
    UserPoolAddOnNotEnabledException,
    ValidationError,
    build_request,
    parse_response,
)
from cognito_raw.testing import (
    AuthEvent,
    FakeCognito,
    FakeReply,
    ReceivedRequest,
    load_recording,
)
from cognito_raw.testing import strategies as cst
from cognito_raw.testing._fake_http import _BadFraming, request_body_length
from tests.asgi_support import exchange

URL = "https://cognito-idp.us-east-1.amazonaws.com/"
UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
TOKEN_RE = re.compile(r"[A-Za-z0-9\-_=.]+")
MISSING_POOL = "us-east-1_Missing00"
UNKNOWN_OP = {
    "code": "BadRequest",
    "message": "The server did not understand the operation that was requested.",
    "type": "client",
}

# --- drivers ---------------------------------------------------------------------------

Sender = Callable[[FakeCognito, HttpRequest], httpx.Response]


def send_sync(fake: FakeCognito, http: HttpRequest) -> httpx.Response:
    with httpx.Client(transport=fake.transport) as client:
        return client.post(http.url, headers=http.headers, content=http.body)


def send_async(fake: FakeCognito, http: HttpRequest) -> httpx.Response:
    async def go() -> httpx.Response:
        async with httpx.AsyncClient(transport=fake.transport) as client:
            return await client.post(http.url, headers=http.headers, content=http.body)

    return asyncio.run(go())


SENDERS = pytest.mark.parametrize("send", [send_sync, send_async], ids=["sync", "async"])


def decode(reply: httpx.Response) -> UpdateAuthEventFeedbackResponse | CognitoError:
    try:
        return parse_response(reply.status_code, reply.headers.multi_items(), reply.content)
    except CognitoError as exc:
        return exc


def raw(http: HttpRequest, **changes: Any) -> HttpRequest:
    """``http`` with its headers or body changed (for requests a client would not send)."""
    headers = {**http.headers, **changes.pop("headers", {})}
    body = changes.pop("body", http.body)
    headers["Content-Length"] = str(len(body))
    return HttpRequest(
        changes.pop("method", http.method), changes.pop("url", http.url), headers, body
    )


def with_body(http: HttpRequest, **members: object) -> HttpRequest:
    data = json.loads(http.body)
    for key, value in members.items():
        if value is ...:
            data.pop(key, None)
        else:
            data[key] = value
    return raw(http, body=json.dumps(data).encode())


@pytest.fixture
def fake() -> FakeCognito:
    return FakeCognito()


@pytest.fixture
def event(fake: FakeCognito) -> AuthEvent:
    return fake.seed()


# --- the model -------------------------------------------------------------------------


def test_pool_ids_have_the_real_form(fake: FakeCognito) -> None:
    ids = {fake.create_user_pool() for _ in range(20)}
    assert len(ids) == 20
    assert all(re.fullmatch(r"us-east-1_[A-Za-z0-9]{9}", pool) for pool in ids)
    assert re.fullmatch(r"eu-west-1_[A-Za-z0-9]{9}", fake.create_user_pool(region="eu-west-1"))
    with pytest.raises(ValidationError):
        fake.create_user_pool(region="not a region")


def test_auth_events(fake: FakeCognito) -> None:
    pool = fake.create_user_pool()
    sub = fake.create_user(pool, "robert-user", aliases=["bob@example.com", "+15555550100"])
    assert UUID_RE.fullmatch(sub)
    by_alias = fake.create_auth_event(pool, "bob@example.com")
    by_sub = fake.create_auth_event(pool, sub)
    for event in (by_alias, by_sub):
        assert event.username == "robert-user"  # the canonical name, whatever found the user
        assert event.user_pool_id == pool
        assert UUID_RE.fullmatch(event.event_id)
        assert TOKEN_RE.fullmatch(event.feedback_token)
        assert len(event.feedback_token) >= 32
        assert event.feedback_token not in repr(event)
        assert "robert-user" not in repr(event)
        assert event.event_id in repr(event)
    assert by_alias.event_id != by_sub.event_id
    assert by_alias.feedback_token != by_sub.feedback_token
    with pytest.raises(dataclasses.FrozenInstanceError):
        by_alias.event_id = "x"  # type: ignore[misc]
    assert fake.feedback(pool, by_alias.event_id) is None
    request = by_alias.request("invalid")
    assert request.feedback_value is FeedbackValue.INVALID
    assert request.feedback_token == by_alias.feedback_token


def test_setup_mistakes_are_refused(fake: FakeCognito) -> None:
    pool = fake.create_user_pool()
    fake.create_user(pool, "carol", aliases=["c@example.com"], sub="sub-1")
    with pytest.raises(ValueError, match="already used"):
        fake.create_user(pool, "c@example.com")
    with pytest.raises(ValueError, match="already used"):
        fake.create_user(pool, "dave", sub="sub-1")
    with pytest.raises(ValueError, match="differ"):
        fake.create_user(pool, "erin", aliases=["erin"])
    with pytest.raises(ValidationError):
        fake.create_user(pool, "has space")
    with pytest.raises(KeyError):
        fake.create_user(MISSING_POOL, "x")
    with pytest.raises(KeyError):
        fake.create_auth_event(pool, "nobody")
    with pytest.raises(KeyError):
        fake.feedback(pool, str(uuid.uuid4()))
    with pytest.raises(KeyError):
        fake.feedback(MISSING_POOL, str(uuid.uuid4()))


def test_seed(fake: FakeCognito) -> None:
    event = fake.seed(region="eu-central-1", username="zoe", aliases=())
    assert event.user_pool_id.startswith("eu-central-1_")
    assert event.username == "zoe"
    assert decode(send_sync(fake, build_request(event.request("Valid")))).status_code == 200


def test_users_are_found_by_username_alias_and_sub(fake: FakeCognito) -> None:
    pool = fake.create_user_pool()
    sub = fake.create_user(pool, "sam", aliases=["sam@example.com"])
    event = fake.create_auth_event(pool, "sam")
    for name in ("sam", "sam@example.com", sub):
        assert decode(send_sync(fake, _request(event, username=name))).status_code == 200
    assert fake.feedback_count(pool, event.event_id) == 3
    # Another user's name does not reach sam's event.
    fake.create_user(pool, "tom")
    assert type(decode(send_sync(fake, _request(event, username="tom")))) is NotAuthorizedException


# --- every outcome, sync and async -----------------------------------------------------

Scenario = Callable[[FakeCognito, AuthEvent], HttpRequest]


def _request(event: AuthEvent, **changes: str) -> HttpRequest:
    kwargs = {
        "user_pool_id": event.user_pool_id,
        "username": event.username,
        "event_id": event.event_id,
        "feedback_token": event.feedback_token,
        "feedback_value": "Invalid",
        **changes,
    }
    return build_request(UpdateAuthEventFeedbackRequest(**kwargs))


def _other_users_event(fake: FakeCognito, event: AuthEvent) -> HttpRequest:
    fake.create_user(event.user_pool_id, "mallory")
    theirs = fake.create_auth_event(event.user_pool_id, "mallory")
    return _request(event, event_id=theirs.event_id, feedback_token=theirs.feedback_token)


def _no_threat_protection(fake: FakeCognito, event: AuthEvent) -> HttpRequest:
    pool = fake.create_user_pool(threat_protection=False)
    fake.create_user(pool, "alice")
    return _request(event, user_pool_id=pool)


def _expired(fake: FakeCognito, event: AuthEvent) -> HttpRequest:
    fake.expire_auth_event(event.user_pool_id, event.event_id)
    return _request(event)


def _throttled(fake: FakeCognito, event: AuthEvent) -> HttpRequest:
    fake.throttle()
    return _request(event)


def _failed(fake: FakeCognito, event: AuthEvent) -> HttpRequest:
    fake.fail()
    return _request(event)


def _not_enabled(fake: FakeCognito, event: AuthEvent) -> HttpRequest:
    fake.fail_with("OperationNotEnabledException", "Not here.")
    return _request(event)


OUTCOMES: list[tuple[str, Scenario, type[Exception] | None, str | None, int]] = [
    ("username", lambda f, e: _request(e), None, None, 200),
    ("alias", lambda f, e: _request(e, username="alice@example.com"), None, None, 200),
    (
        "unknown pool",
        lambda f, e: _request(e, user_pool_id=MISSING_POOL),
        ResourceNotFoundException,
        "ResourceNotFoundException",
        400,
    ),
    (
        "no threat protection",
        _no_threat_protection,
        UserPoolAddOnNotEnabledException,
        "UserPoolAddOnNotEnabledException",
        400,
    ),
    (
        "unknown user",
        lambda f, e: _request(e, username="nobody"),
        UserNotFoundException,
        "UserNotFoundException",
        400,
    ),
    (
        "unknown event",
        lambda f, e: _request(e, event_id=str(uuid.uuid4())),
        NotAuthorizedException,
        "NotAuthorizedException",
        400,
    ),
    (
        "wrong token",
        lambda f, e: _request(e, feedback_token=e.feedback_token[:-1] + "."),
        NotAuthorizedException,
        "NotAuthorizedException",
        400,
    ),
    (
        "other user's event",
        _other_users_event,
        NotAuthorizedException,
        "NotAuthorizedException",
        400,
    ),
    ("expired", _expired, NotAuthorizedException, "NotAuthorizedException", 400),
    (
        "invalid member",
        lambda f, e: with_body(_request(e), UserPoolId="no pool"),
        InvalidParameterException,
        "InvalidParameterException",
        400,
    ),
    (
        "other operation",
        lambda f, e: raw(
            _request(e), headers={"X-Amz-Target": "AWSCognitoIdentityProviderService.InitiateAuth"}
        ),
        ServiceError,
        "BadRequest",
        404,
    ),
    (
        "body not JSON",
        lambda f, e: raw(_request(e), body=b"{not json"),
        ServiceError,
        "SerializationException",
        400,
    ),
    ("throttled", _throttled, TooManyRequestsException, "TooManyRequestsException", 400),
    ("internal error", _failed, InternalErrorException, "InternalErrorException", 500),
    (
        "not enabled",
        _not_enabled,
        OperationNotEnabledException,
        "OperationNotEnabledException",
        400,
    ),
]


@SENDERS
@pytest.mark.parametrize(
    ("scenario", "cls", "code", "status"),
    [pytest.param(*row[1:], id=row[0]) for row in OUTCOMES],
)
def test_every_outcome(
    fake: FakeCognito,
    event: AuthEvent,
    send: Sender,
    scenario: Scenario,
    cls: type[Exception] | None,
    code: str | None,
    status: int,
) -> None:
    http = scenario(fake, event)
    reply = send(fake, http)
    result = decode(reply)
    assert reply.status_code == status
    request_id = reply.headers["x-amzn-RequestId"]
    assert UUID_RE.fullmatch(request_id)
    assert reply.headers["Content-Type"] == "application/x-amz-json-1.1"
    if cls is None:
        assert isinstance(result, UpdateAuthEventFeedbackResponse)
        assert reply.content == b"{}"
        assert "x-amzn-ErrorType" not in reply.headers
        assert fake.feedback(event.user_pool_id, event.event_id) == "Invalid"
        assert fake.feedback_count(event.user_pool_id, event.event_id) == 1
    else:
        assert type(result) is cls
        assert isinstance(result, ServiceError)
        assert result.code == code
        assert result.request_id == request_id
        assert reply.headers["x-amzn-ErrorType"] == f"{code}:"
        assert reply.headers["x-amzn-ErrorMessage"] == result.message
        assert fake.feedback(event.user_pool_id, event.event_id) is None
        assert fake.feedback_history == []
    (received,) = fake.requests
    assert received.request_id == request_id
    assert received.status == status
    assert received.error_code == code
    assert received.applied is (cls is None)


def test_messages_of_the_lookup_errors(fake: FakeCognito, event: AuthEvent) -> None:
    result = decode(send_sync(fake, _request(event, user_pool_id=MISSING_POOL)))
    assert isinstance(result, ResourceNotFoundException)
    assert result.message == f"User pool {MISSING_POOL} does not exist."
    result = decode(send_sync(fake, _request(event, username="nobody")))
    assert isinstance(result, UserNotFoundException)
    assert result.message == "User does not exist."
    # Unknown event and wrong token get one answer: nothing tells which part was wrong.
    unknown_event = decode(send_sync(fake, _request(event, event_id=str(uuid.uuid4()))))
    wrong_token = decode(send_sync(fake, _request(event, feedback_token="AAAA")))
    assert isinstance(unknown_event, NotAuthorizedException)
    assert isinstance(wrong_token, NotAuthorizedException)
    assert unknown_event.message == wrong_token.message


def test_reply_bodies_match_the_documented_forms(fake: FakeCognito, event: AuthEvent) -> None:
    other = raw(_request(event), headers={"X-Amz-Target": "X.Y"})
    reply = send_sync(fake, other)
    assert (reply.status_code, reply.json()) == (404, UNKNOWN_OP)
    reply = send_sync(fake, raw(_request(event), body=b"[1]"))
    assert reply.json() == {
        "__type": "com.amazon.coral.service#SerializationException",
        "Message": "Expected map or null",
    }
    reply = send_sync(fake, _request(event, username="nobody"))
    assert reply.json() == {"__type": "UserNotFoundException", "message": "User does not exist."}


# The fake's replies have the same shape as the recordings: same status, same
# header names (less framing and dates), same body keys.
SHAPES = [
    ("resource-not-found", lambda f, e: _request(e, user_pool_id=MISSING_POOL)),
    ("user-pool-add-on-not-enabled", _no_threat_protection),
    ("user-not-found", lambda f, e: _request(e, username="nobody")),
    ("not-authorized", lambda f, e: _request(e, event_id=str(uuid.uuid4()))),
    ("invalid-parameter", lambda f, e: with_body(_request(e), UserPoolId="xyz")),
    ("too-many-requests", _throttled),
    ("internal-error", _failed),
    ("operation-not-enabled", _not_enabled),
    ("unknown-operation", lambda f, e: raw(_request(e), headers={"X-Amz-Target": "X.Y"})),
    ("success", lambda f, e: _request(e)),
]


@pytest.mark.parametrize(("name", "scenario"), SHAPES, ids=[row[0] for row in SHAPES])
def test_replies_have_the_shape_of_the_recordings(
    fake: FakeCognito, event: AuthEvent, name: str, scenario: Scenario
) -> None:
    recording = load_recording(name)
    reply = send_sync(fake, scenario(fake, event))
    ignore = {"date", "content-length", "connection"}
    assert reply.status_code == recording.status
    assert {k.lower() for k, _ in recording.headers} - ignore <= set(reply.headers)
    assert set(json.loads(recording.body)) == set(reply.json())
    expected = type(decode(recording.to_httpx()))
    assert type(decode(reply)) is expected


# --- validation --------------------------------------------------------------------------

POOL_RULE = r"Member must satisfy regular expression pattern: [\w-]+_[0-9a-zA-Z]+"
NAME_RULE = r"Member must satisfy regular expression pattern: [\p{L}\p{M}\p{S}\p{N}\p{P}]+"


@pytest.mark.parametrize(
    ("members", "message"),
    [
        (
            {"UserPoolId": "xyz"},
            f"1 validation error detected: Value 'xyz' at 'userPoolId' "
            f"failed to satisfy constraint: {POOL_RULE}",
        ),
        (
            {"UserPoolId": "a_" + "b" * 54},
            f"1 validation error detected: Value '{'a_' + 'b' * 54}' at 'userPoolId' failed to "
            "satisfy constraint: Member must have length less than or equal to 55",
        ),
        (
            {"Username": "has space"},
            f"1 validation error detected: Value at 'username' failed to satisfy constraint: "
            f"{NAME_RULE}",
        ),
        (
            {"Username": "x" * 129},
            "1 validation error detected: Value at 'username' failed to satisfy constraint: "
            "Member must have length less than or equal to 128",
        ),
        (
            {"FeedbackToken": "tok en"},
            "1 validation error detected: Value at 'feedbackToken' failed to satisfy "
            "constraint: Member must satisfy regular expression pattern: [A-Za-z0-9-_=.]+",
        ),
        (
            {"EventId": ""},
            "1 validation error detected: Value '' at 'eventId' failed to satisfy constraint: "
            "Member must have length greater than or equal to 1",
        ),
        (
            {"FeedbackValue": "valid"},  # the client normalises; the wire enum is exact
            "1 validation error detected: Value 'valid' at 'feedbackValue' failed to satisfy "
            "constraint: Member must satisfy enum value set: [Valid, Invalid]",
        ),
        (
            {"UserPoolId": ..., "Username": None},
            "2 validation errors detected: Value null at 'userPoolId' failed to satisfy "
            "constraint: Member must not be null; Value at 'username' failed to satisfy "
            "constraint: Member must not be null",
        ),
        (
            {"EventId": "e v", "FeedbackValue": ...},
            "2 validation errors detected: Value 'e v' at 'eventId' failed to satisfy "
            "constraint: Member must satisfy regular expression pattern: [\\w+-]+; "
            "Value null at 'feedbackValue' failed to satisfy constraint: Member must not be null",
        ),
    ],
)
def test_validation_messages(
    fake: FakeCognito, event: AuthEvent, members: dict[str, object], message: str
) -> None:
    reply = send_sync(fake, with_body(_request(event), **members))
    result = decode(reply)
    assert isinstance(result, InvalidParameterException)
    assert result.message == message
    assert reply.json() == {"__type": "InvalidParameterException", "message": message}
    assert reply.headers["x-amzn-ErrorMessage"] == message


def test_secrets_are_never_echoed(fake: FakeCognito, event: AuthEvent) -> None:
    username, token = "sécret user", "tok!en-secret"
    reply = send_sync(fake, with_body(_request(event), Username=username, FeedbackToken=token))
    assert b"cret" not in reply.content
    assert "cret" not in str(reply.headers)
    result = decode(reply)
    assert isinstance(result, InvalidParameterException)
    assert result.message.count("Value at") == 2


def test_echoed_values_are_safe_in_headers(fake: FakeCognito, event: AuthEvent) -> None:
    reply = send_sync(fake, with_body(_request(event), UserPoolId="é\r\nX-Evil: 1_" + "x" * 2000))
    assert "X-Evil" not in reply.headers
    assert reply.headers["x-amzn-ErrorMessage"].startswith("1 validation error detected: ")
    assert len(reply.headers["x-amzn-ErrorMessage"]) <= 512
    assert "\\u00e9\\u000d\\u000aX-Evil" in reply.headers["x-amzn-ErrorMessage"]
    # The body echoes the value whole, as JSON.
    assert "é\r\nX-Evil: 1_" in reply.json()["message"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "Expected map or null"),
        (b"[]", "Expected map or null"),
        (b'"x"', "Expected map or null"),
        (b"{", "Could not parse the request body as JSON."),
        (b"\xff", "Could not parse the request body as JSON."),
        (b"[" * 100_000, "Could not parse the request body as JSON."),
        (
            b'{"UserPoolId": 5}',
            "class com.amazon.coral.value.json.numbers.TruncatingBigNumber "
            "can not be converted to an String",
        ),
        (b'{"Username": true}', "class java.lang.Boolean can not be converted to an String"),
        (b'{"EventId": []}', "Start of list found where not expected"),
        (b'{"FeedbackValue": {}}', "Start of structure or map found where not expected."),
    ],
)
def test_serialization_errors(
    fake: FakeCognito, event: AuthEvent, body: bytes, message: str
) -> None:
    result = decode(send_sync(fake, raw(_request(event), body=body)))
    assert isinstance(result, ServiceError)
    assert (result.code, result.message, result.status_code) == (
        "SerializationException",
        message,
        400,
    )


def test_a_null_body_is_an_empty_request(fake: FakeCognito, event: AuthEvent) -> None:
    result = decode(send_sync(fake, raw(_request(event), body=b"null")))
    assert isinstance(result, InvalidParameterException)
    assert result.message.startswith("5 validation errors detected: ")


@pytest.mark.parametrize(
    "change",
    [
        {"method": "GET"},
        {"method": "PUT"},
        {"url": "https://cognito-idp.us-east-1.amazonaws.com/UpdateAuthEventFeedback"},
        {"headers": {"Content-Type": "application/json"}},
        {"headers": {"X-Amz-Target": "AWSCognitoIdentityProviderService.updateautheventfeedback"}},
        {"headers": {"X-Amz-Target": ""}},
    ],
)
def test_anything_but_the_operation_is_unknown(
    fake: FakeCognito, event: AuthEvent, change: dict[str, Any]
) -> None:
    http = raw(_request(event), **change)
    with httpx.Client(transport=fake.transport) as client:
        reply = client.request(http.method, http.url, headers=http.headers, content=http.body)
    assert (reply.status_code, reply.json()) == (404, UNKNOWN_OP)
    assert fake.feedback(event.user_pool_id, event.event_id) is None


def test_content_type_parameters_are_accepted(fake: FakeCognito, event: AuthEvent) -> None:
    http = raw(
        _request(event), headers={"Content-Type": "Application/X-Amz-Json-1.1; charset=utf-8"}
    )
    assert send_sync(fake, http).status_code == 200


# --- state and records -----------------------------------------------------------------


def test_feedback_can_be_given_again_and_the_last_value_wins(
    fake: FakeCognito, event: AuthEvent
) -> None:
    pool, event_id = event.user_pool_id, event.event_id
    for value in ("Valid", "Invalid", "Valid"):
        assert send_sync(fake, build_request(event.request(value))).status_code == 200
    assert fake.feedback(pool, event_id) == "Valid"
    assert fake.feedback_count(pool, event_id) == 3
    history = fake.feedback_history
    assert [r.value for r in history] == ["Valid", "Invalid", "Valid"]
    assert [r.request_id for r in history] == [r.request_id for r in fake.requests]
    assert history[0].time <= history[1].time <= history[2].time
    assert fake.feedback_count(pool, str(uuid.uuid4())) == 0


def test_requests_are_recorded(fake: FakeCognito, event: AuthEvent) -> None:
    http = build_request(event.request("Invalid"))
    before = time.monotonic()
    send_sync(fake, http)
    (received,) = fake.requests
    assert isinstance(received, ReceivedRequest)
    assert (received.method, received.path, received.body) == ("POST", "/", http.body)
    assert received.header("x-amz-target") == http.headers["X-Amz-Target"]
    assert received.header("USER-AGENT") == http.headers["User-Agent"]
    assert received.header("nope") is None
    assert received.data == json.loads(http.body)
    assert before <= received.time <= time.monotonic()
    assert (received.status, received.error_code, received.fault) == (200, None, None)
    assert received.applied
    shown = repr(received)
    assert event.feedback_token not in shown
    assert '"Username": "<redacted>"' in shown
    fake.requests.clear()  # a copy
    assert len(fake.requests) == 1
    fake.clear_requests()
    assert fake.requests == []
    assert fake.feedback_count(event.user_pool_id, event.event_id) == 1


def test_handle_is_the_one_entry_point(fake: FakeCognito, event: AuthEvent) -> None:
    http = build_request(event.request("Valid"))
    reply = fake.handle("POST", "/", http.headers, http.body)
    assert isinstance(reply, FakeReply)
    assert (reply.status, reply.body, reply.delay, reply.drop) == (200, b"{}", 0.0, False)
    assert reply.header("content-type") == "application/x-amz-json-1.1"
    byte_headers = [(k.encode(), v.encode()) for k, v in http.headers.items()]
    assert fake.handle("POST", "/", byte_headers, http.body).status == 200
    assert fake.feedback_count(event.user_pool_id, event.event_id) == 2


# --- faults ------------------------------------------------------------------------------


def _outcome(fake: FakeCognito, event: AuthEvent, send: Sender = send_sync) -> str:
    result = decode(send(fake, build_request(event.request("Invalid"))))
    return (
        "ok"
        if isinstance(result, UpdateAuthEventFeedbackResponse)
        else str(getattr(result, "code", result))
    )


def test_faults_are_consumed_in_order_before_the_request_is_applied(
    fake: FakeCognito, event: AuthEvent
) -> None:
    fake.throttle(2)
    fake.fail()
    fake.script((503, {"Content-Type": "text/plain"}, "busy"))
    fake.fail_with("ThrottlingException", "slow down", status=400, n=1)
    assert fake.pending_faults == 5
    outcomes = [_outcome(fake, event) for _ in range(6)]
    assert outcomes == [
        "TooManyRequestsException",
        "TooManyRequestsException",
        "InternalErrorException",
        "None",
        "ThrottlingException",
        "ok",
    ]
    assert fake.pending_faults == 0
    assert [r.fault for r in fake.requests] == [
        "throttle",
        "throttle",
        "fail",
        "script",
        "fail",
        None,
    ]
    assert [r.applied for r in fake.requests] == [False] * 5 + [True]
    assert fake.feedback_count(event.user_pool_id, event.event_id) == 1


def test_scripted_replies_are_sent_as_given(fake: FakeCognito, event: AuthEvent) -> None:
    recording = load_recording("waf-forbidden-html")
    fake.script(recording)
    fake.script(FakeReply(status=302, headers=(("Location", "https://x.example/"),), body=b""))
    reply = send_sync(fake, build_request(event.request("Valid")))
    assert (reply.status_code, reply.content) == (403, recording.body)
    assert "x-amzn-RequestId" not in reply.headers
    reply = send_sync(fake, build_request(event.request("Valid")))
    assert (reply.status_code, reply.headers["Location"]) == (302, "https://x.example/")
    assert fake.feedback(event.user_pool_id, event.event_id) is None


def test_fault_arguments_are_checked(fake: FakeCognito) -> None:
    for bad in (lambda: fake.throttle(0), lambda: fake.fail(-1), lambda: fake.drop_connection(0)):
        with pytest.raises(ValueError, match="n must be at least 1"):
            bad()
    for seconds in (-1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="seconds"):
            fake.delay(seconds)
    fake.throttle(3)
    fake.clear_faults()
    assert fake.pending_faults == 0


@SENDERS
def test_delay_holds_the_reply_back(fake: FakeCognito, event: AuthEvent, send: Sender) -> None:
    fake.delay(0.1)
    start = time.monotonic()
    assert _outcome(fake, event, send) == "ok"
    assert 0.1 <= time.monotonic() - start < 2
    assert fake.requests[0].fault == "delay"


@SENDERS
def test_a_delay_past_the_read_timeout_times_out_but_is_applied(
    fake: FakeCognito, event: AuthEvent, send: Sender
) -> None:
    fake.delay(30)
    http = build_request(event.request("Valid"))
    start = time.monotonic()

    async def post_async() -> None:
        async with httpx.AsyncClient(transport=fake.transport, timeout=0.1) as client:
            await client.post(http.url, headers=http.headers, content=http.body)

    def post_sync() -> None:
        with httpx.Client(transport=fake.transport, timeout=0.1) as client:
            client.post(http.url, headers=http.headers, content=http.body)

    go = post_sync if send is send_sync else lambda: asyncio.run(post_async())
    with pytest.raises(httpx.ReadTimeout):
        go()
    assert time.monotonic() - start < 2
    # The request arrived; only the reply was late.
    assert fake.feedback(event.user_pool_id, event.event_id) == "Valid"


@SENDERS
def test_drop_connection(fake: FakeCognito, event: AuthEvent, send: Sender) -> None:
    fake.drop_connection()
    fake.drop_connection(applied=True)
    for _ in range(2):
        with pytest.raises(httpx.RemoteProtocolError):
            send(fake, build_request(event.request("Valid")))
    assert [(r.fault, r.applied) for r in fake.requests] == [("drop", False), ("drop", True)]
    assert fake.feedback_count(event.user_pool_id, event.event_id) == 1
    assert _outcome(fake, event, send) == "ok"


def test_thread_safety(fake: FakeCognito) -> None:
    threads_n, calls = 16, 50
    pool = fake.create_user_pool()
    events = []
    for i in range(threads_n):
        fake.create_user(pool, f"user{i}")
        events.append(fake.create_auth_event(pool, f"user{i}"))
    fake.throttle(100)
    fake.fail(20)
    outcomes: dict[int, list[str]] = {i: [] for i in range(threads_n)}
    client = httpx.Client(transport=fake.transport)
    start = threading.Barrier(threads_n)

    def work(i: int) -> None:
        start.wait(timeout=5)
        for n in range(calls):
            http = build_request(events[i].request("Valid" if n % 2 else "Invalid"))
            reply = client.post(http.url, headers=http.headers, content=http.body)
            outcomes[i].append(_code(decode(reply)))

    workers = [threading.Thread(target=work, args=(i,)) for i in range(threads_n)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=20)
    client.close()
    assert not any(worker.is_alive() for worker in workers)
    every = [o for per in outcomes.values() for o in per]
    assert len(every) == threads_n * calls
    assert every.count("TooManyRequestsException") == 100
    assert every.count("InternalErrorException") == 20
    assert every.count("ok") == threads_n * calls - 120
    assert len(fake.requests) == threads_n * calls
    assert len(fake.feedback_history) == every.count("ok")
    for i, event in enumerate(events):
        assert fake.feedback_count(pool, event.event_id) == outcomes[i].count("ok")
    assert len({r.request_id for r in fake.requests}) == threads_n * calls


def _code(result: object) -> str:
    if isinstance(result, UpdateAuthEventFeedbackResponse):
        return "ok"
    assert isinstance(result, ServiceError)
    return str(result.code)


# --- ASGI --------------------------------------------------------------------------------


def test_asgi(fake: FakeCognito, event: AuthEvent) -> None:
    async def go() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=fake.asgi)
        async with httpx.AsyncClient(transport=transport, base_url=URL) as client:
            replies = []
            for request in (event.request("Invalid"), _bad_pool(event)):
                http = build_request(request)
                replies.append(await client.post("/", headers=http.headers, content=http.body))
            fake.delay(0.05)
            replies.append(await client.post("/", headers=http.headers, content=http.body))
            fake.drop_connection()
            with pytest.raises(ConnectionAbortedError):
                await client.post("/", headers=http.headers, content=http.body)
            replies.append(await client.post("/", content=b"x" * ((1 << 20) + 1)))
            return replies

    ok, bad, late, big = asyncio.run(go())
    assert isinstance(decode(ok), UpdateAuthEventFeedbackResponse)
    assert int(ok.headers["content-length"]) == 2
    assert type(decode(bad)) is ResourceNotFoundException
    assert type(decode(late)) is ResourceNotFoundException
    assert big.status_code == 413
    assert fake.feedback(event.user_pool_id, event.event_id) == "Invalid"
    assert [r.status for r in fake.requests] == [200, 400, 400, 0, 413]


def _bad_pool(event: AuthEvent) -> UpdateAuthEventFeedbackRequest:
    return UpdateAuthEventFeedbackRequest(
        user_pool_id=MISSING_POOL,
        username=event.username,
        event_id=event.event_id,
        feedback_token=event.feedback_token,
        feedback_value="Valid",
    )


def test_asgi_root_path_and_other_scopes(fake: FakeCognito, event: AuthEvent) -> None:
    # The lifespan is tests/test_asgi.py's, with the feedback app's.
    http = build_request(event.request("Valid"))
    messages = [
        {"type": "http.request", "body": http.body[:10], "more_body": True},
        {"type": "http.request", "body": http.body[10:], "more_body": False},
    ]
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/cognito/",
        "root_path": "/cognito",
        "headers": [(k.lower().encode(), v.encode()) for k, v in http.headers.items()],
    }
    sent = exchange(fake.asgi, scope, messages)
    assert sent[0]["status"] == 200
    assert sent[1]["body"] == b"{}"
    with pytest.raises(ValueError, match="websocket"):
        exchange(fake.asgi, {"type": "websocket"}, [])


# --- the loopback server -----------------------------------------------------------------


def test_serve(fake: FakeCognito, event: AuthEvent) -> None:
    with fake.serve() as url, httpx.Client(base_url=url) as client:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", url)

        def post(request: UpdateAuthEventFeedbackRequest | HttpRequest) -> httpx.Response:
            http = (
                request
                if isinstance(request, HttpRequest)
                else build_request(request, endpoint_url=url)
            )
            return client.post(http.url, headers=http.headers, content=http.body)

        ok = post(event.request("Invalid"))
        assert ok.http_version == "HTTP/1.1"
        assert isinstance(decode(ok), UpdateAuthEventFeedbackResponse)
        assert type(decode(post(_bad_pool(event)))) is ResourceNotFoundException
        fake.throttle()
        assert type(decode(post(event.request("Valid")))) is TooManyRequestsException
        fake.drop_connection()
        with pytest.raises(httpx.RemoteProtocolError):
            post(event.request("Valid"))
        fake.script(load_recording("redirect-302"))
        redirect = post(event.request("Valid"))
        assert (redirect.status_code, redirect.headers["location"]) == (
            302,
            "https://login.example.com/?next=%2F",
        )
        fake.delay(0.05)
        assert decode(post(event.request("Valid"))).status_code == 200
        # A chunked body (an iterator: httpx sends Transfer-Encoding: chunked).
        http = build_request(event.request("Invalid"), endpoint_url=url)
        headers = {k: v for k, v in http.headers.items() if k != "Content-Length"}
        chunked = client.post(
            http.url, headers=headers, content=iter([http.body[:7], http.body[7:]])
        )
        assert chunked.status_code == 200
        assert fake.requests[-1].body == http.body
        head = client.head("/")
        assert (head.status_code, head.content) == (404, b"")
    assert fake.feedback(event.user_pool_id, event.event_id) == "Invalid"
    assert fake.feedback_count(event.user_pool_id, event.event_id) == 3


def test_serve_exits_promptly_with_open_and_waiting_connections(
    fake: FakeCognito, event: AuthEvent
) -> None:
    errors: list[BaseException] = []
    with fake.serve() as url:
        idle = httpx.Client(base_url=url)
        idle.post("/", content=b"{}")  # leaves a keep-alive connection open
        fake.delay(30)
        http = build_request(event.request("Valid"), endpoint_url=url)

        def waiting() -> None:
            try:
                httpx.post(http.url, headers=http.headers, content=http.body, timeout=10)
            except httpx.HTTPError as exc:
                errors.append(exc)

        waiter = threading.Thread(target=waiting)
        waiter.start()
        deadline = time.monotonic() + 5
        while len(fake.requests) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        start = time.monotonic()
    assert time.monotonic() - start < 2
    waiter.join(timeout=5)
    idle.close()
    assert not waiter.is_alive()
    assert len(errors) == 1
    with pytest.raises(httpx.ConnectError), httpx.Client() as client:
        client.post(url, content=b"{}")


def _raw_exchange(url: str, data: bytes, *, close: bool = False) -> bytes:
    host, port = url.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(data)
        if close:
            # No more requests: a server that keeps the connection ends it too.
            sock.shutdown(socket.SHUT_WR)
        chunks = []
        for _ in range(100):  # until the server closes
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)


GOOD_BODY = b"{}"  # the fake answers 404 BadRequest: no target, but framed right

# RFC 9112 request framing over a real socket: (what follows the request line and
# Host, status). Every refusal closes the connection; every acceptance keeps it.
FRAMING = [
    # Content-Length = 1*DIGIT; what int() also accepts is not a length.
    (b"Content-Length: 2\r\n\r\n{}", b"404"),
    (b"Content-Length: 02\r\n\r\n{}", b"404"),
    (b"Content-Length: 2\r\nContent-Length: 2\r\n\r\n{}", b"404"),  # repeated, same
    (b"Content-Length: 2, 2\r\n\r\n{}", b"404"),  # a list of the same
    (b"Content-Length: 1_0\r\n\r\n0123456789", b"400"),  # the reported one
    (b"Content-Length: +2\r\n\r\n{}", b"400"),
    (b"Content-Length: -5\r\n\r\n", b"400"),
    (b"Content-Length: abc\r\n\r\n", b"400"),
    (b"Content-Length: 0x2\r\n\r\n{}", b"400"),
    (b"Content-Length: 2.0\r\n\r\n{}", b"400"),
    (b"Content-Length: \xb2\r\n\r\n{}", b"400"),  # SUPERSCRIPT TWO, latin-1
    (b"Content-Length: \xd9\xa2\r\n\r\n{}", b"400"),  # ARABIC-INDIC TWO, UTF-8
    (b"Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}x", b"400"),
    (b"Content-Length: 2, 3\r\n\r\n{}x", b"400"),
    (b"Content-Length: 2000000\r\n\r\n", b"413"),
    (b"Content-Length: " + b"9" * 40 + b"\r\n\r\n", b"413"),
    (b"Content-Length: 5\r\n\r\n{}", b"400"),  # the body ends early
    # Transfer-Encoding: chunked last and once; anything else not implemented.
    (b"Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n", b"404"),
    (b"Transfer-Encoding: CHUNKED\r\n\r\n2;ext=1\r\n{}\r\n0\r\nX-T: 1\r\n\r\n", b"404"),
    (b"Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", b"501"),
    (b"Transfer-Encoding: br\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", b"501"),
    (b"Transfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n", b"400"),
    (b"Transfer-Encoding: gzip\r\n\r\n", b"400"),
    (b"Transfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n", b"400"),
    (b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n", b"400"),
    (b"Transfer-Encoding: chunked\r\n\r\nzz", b"400"),
    (b"Transfer-Encoding: chunked\r\n\r\n+2\r\n{}\r\n0\r\n\r\n", b"400"),
    (b"Transfer-Encoding: chunked\r\n\r\n0x2\r\n{}\r\n0\r\n\r\n", b"400"),
    (b"Transfer-Encoding: chunked\r\n\r\n1_0\r\n{}\r\n0\r\n\r\n", b"400"),
    (b"Transfer-Encoding: chunked\r\n\r\n" + b"0" * 2000 + b"2\r\n{}\r\n0\r\n\r\n", b"400"),
    (b"Transfer-Encoding: chunked\r\n\r\n2\r\n{}XX0\r\n\r\n", b"400"),  # no CRLF
    (b"Transfer-Encoding: chunked\r\n\r\n2\r\n{", b"400"),  # ends mid-chunk
    (b"Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\nX: " + b"x" * 2000, b"400"),
    (b"Transfer-Encoding: chunked\r\n\r\nFFFFFFF\r\n", b"413"),
]


@pytest.mark.parametrize(("head", "status"), FRAMING)
def test_serve_frames_requests_as_rfc_9112_says(
    fake: FakeCognito, head: bytes, status: bytes
) -> None:
    request = b"POST / HTTP/1.1\r\nHost: x\r\n" + head
    with fake.serve() as url:
        if status == b"404":
            # Framed right: a second request on the same connection is answered.
            second = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}"
            reply = _raw_exchange(url, request + second, close=True)
            assert reply.count(b"HTTP/1.1 404") == 2, reply
        else:
            # Refused: one reply, then the server closes (_raw_exchange reads to
            # EOF). The client has sent all it will (a body that ends early).
            reply = _raw_exchange(url, request, close=True)
            assert reply.startswith(b"HTTP/1.1 " + status), reply[:80]
            assert reply.count(b"HTTP/1.1 ") == 1
            assert b"Connection: close" in reply


def test_transfer_encoding_in_http_10_is_refused(fake: FakeCognito) -> None:
    with fake.serve() as url:
        reply = _raw_exchange(
            url, b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
        )
    assert reply.startswith(b"HTTP/1.1 400")


@given(value=st.text(st.characters(max_codepoint=0x7FF, exclude_categories=("Cc",)), max_size=6))
def test_a_content_length_is_ascii_digits_or_refused(value: str) -> None:
    message = email.message.Message()
    message["Content-Length"] = value
    elements = {part.strip(" \t") for part in value.split(",") if part.strip()}
    if not elements:
        assert request_body_length("HTTP/1.1", message) == 0  # no length: no body
    elif len(elements) == 1 and all(c in "0123456789" for c in min(elements)):
        assert request_body_length("HTTP/1.1", message) == int(min(elements))
    else:
        with pytest.raises(_BadFraming) as info:
            request_body_length("HTTP/1.1", message)
        assert info.value.status == 400


def test_expect_100_continue_is_answered_before_the_body(fake: FakeCognito) -> None:
    with fake.serve() as url:
        host, port = url.removeprefix("http://").rsplit(":", 1)
        with socket.create_connection((host, int(port)), timeout=5) as sock:
            sock.sendall(
                b"POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n"
            )
            assert sock.recv(100).startswith(b"HTTP/1.1 100")
            sock.sendall(b"{}")
            assert sock.recv(1000).startswith(b"HTTP/1.1 404")


def test_serve_on_a_chosen_port_and_localhost(fake: FakeCognito) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with fake.serve(port=port, host="localhost") as url:
        assert url == f"http://127.0.0.1:{port}"
        assert httpx.post(url + "/", content=b"{}").status_code == 404


def test_serve_on_ipv6_loopback(fake: FakeCognito) -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        pytest.skip("no IPv6 loopback")
    with fake.serve(host="::1") as url:
        assert re.fullmatch(r"http://\[::1\]:\d+", url)
        assert httpx.post(url + "/", content=b"{}").status_code == 404


@pytest.mark.parametrize(
    "host",
    ["0.0.0.0", "::", "192.0.2.1", "10.0.0.1", "example.com", ""],  # noqa: S104 - refused
)
def test_serve_refuses_non_loopback_hosts(fake: FakeCognito, host: str) -> None:
    with pytest.raises(ValueError, match="loopback"), fake.serve(host=host):
        pytest.fail("bound")


@pytest.mark.parametrize("port", [-1, 65536])
def test_serve_refuses_bad_ports(fake: FakeCognito, port: int) -> None:
    with pytest.raises(ValueError, match="port"), fake.serve(port=port):
        pytest.fail("bound")


# --- properties --------------------------------------------------------------------------

EMPTY = FakeCognito()
EMPTY_CLIENT = httpx.Client(transport=EMPTY.transport)


@given(cst.requests())
def test_any_valid_request_to_an_unknown_pool_is_resource_not_found(
    request: UpdateAuthEventFeedbackRequest,
) -> None:
    http = build_request(request)
    result = decode(EMPTY_CLIENT.post(http.url, headers=http.headers, content=http.body))
    assert isinstance(result, ResourceNotFoundException)
    assert result.message == f"User pool {request.user_pool_id} does not exist."


WIRE = {
    "user_pool_id": ("userPoolId", False, 1, 55, r"[\w-]+_[0-9a-zA-Z]+"),
    "username": ("username", True, 1, 128, r"[\p{L}\p{M}\p{S}\p{N}\p{P}]+"),
    "event_id": ("eventId", False, 1, 50, r"[\w+-]+"),
    "feedback_token": ("feedbackToken", True, 1, None, r"[A-Za-z0-9-_=.]+"),
}


def expected_message(field: str, value: object) -> str:
    if field == "feedback_value" and value is None:
        return (
            "Value null at 'feedbackValue' failed to satisfy constraint: Member must not be null"
        )
    if field == "feedback_value":
        return (
            f"Value '{value}' at 'feedbackValue' failed to satisfy constraint: "
            "Member must satisfy enum value set: [Valid, Invalid]"
        )
    wire, sensitive, low, high, pattern = WIRE[field]
    shown = "Value" if sensitive else ("Value null" if value is None else f"Value '{value}'")
    if value is None:
        rule = "Member must not be null"
    else:
        assert isinstance(value, str)
        if len(value) < low:
            rule = f"Member must have length greater than or equal to {low}"
        elif high is not None and len(value) > high:
            rule = f"Member must have length less than or equal to {high}"
        else:
            rule = f"Member must satisfy regular expression pattern: {pattern}"
    return f"{shown} at '{wire}' failed to satisfy constraint: {rule}"


@given(cst.invalid_request_kwargs())
def test_any_invalid_request_is_refused_without_echoing_secrets(
    case: tuple[str, str, dict[str, Any]],
) -> None:
    field, rule, kwargs = case
    bad = kwargs[field]
    assume(not isinstance(bad, bytes))  # not JSON: cannot be sent at all
    if field != "feedback_value":
        kwargs["feedback_value"] = FeedbackValue(kwargs["feedback_value"])
    request = UpdateAuthEventFeedbackRequest.unchecked(**kwargs)
    http = build_request(request, endpoint_url="http://127.0.0.1:9")
    reply = EMPTY_CLIENT.post(http.url, headers=http.headers, content=http.body)
    result = decode(reply)
    if rule == "type" and bad is not None:
        # A number where a string belongs fails deserialisation, before validation.
        assert isinstance(result, ServiceError)
        assert result.code == "SerializationException"
        return
    assert isinstance(result, InvalidParameterException)
    message = "1 validation error detected: " + expected_message(field, bad)
    assert result.message == message
    for secret in (kwargs["username"], kwargs["feedback_token"]):
        if isinstance(secret, str) and field in ("username", "feedback_token"):
            assert f"'{secret}'" not in reply.text


@given(st.binary(max_size=300), st.sampled_from(["POST", "GET", "PUT"]), st.booleans())
def test_handle_is_total(body: bytes, method: str, right_target: bool) -> None:
    headers = {
        "Content-Type": "application/x-amz-json-1.1",
        "X-Amz-Target": "AWSCognitoIdentityProviderService.UpdateAuthEventFeedback"
        if right_target
        else "x",
    }
    reply = EMPTY.handle(method, "/", headers, body)
    assert reply.status in (400, 404)
    assert reply.header("x-amzn-ErrorType")
    reply.body.decode("ascii")
    json.loads(reply.body)
    for _, value in reply.headers:
        value.encode("ascii")
        assert "\r" not in value
        assert "\n" not in value


@pytest.fixture(autouse=True, scope="module")
def _close_clients() -> Iterator[None]:
    yield
    EMPTY_CLIENT.close()


# --- with cognito-raw's own clients ------------------------------------------------------


def test_the_client_in_process_retries_the_fakes_faults(
    fake: FakeCognito, event: AuthEvent
) -> None:
    kwargs = {
        "user_pool_id": event.user_pool_id,
        "username": event.username,
        "event_id": event.event_id,
        "feedback_token": event.feedback_token,
    }
    http_client = httpx.Client(transport=fake.transport)
    with Client(
        endpoint_url="http://127.0.0.1:1", http_client=http_client, sleep=lambda _: None
    ) as client:
        fake.throttle(2)
        assert client.update_auth_event_feedback(**kwargs, feedback_value="Valid").attempts == 3
    http_client.close()

    async def go() -> int:
        async with (
            httpx.AsyncClient(transport=fake.transport) as http,
            AsyncClient(endpoint_url="http://127.0.0.1:1", http_client=http) as client,
        ):
            fake.fail()
            fake.drop_connection()
            reply = await client.update_auth_event_feedback(**kwargs, feedback_value="Invalid")
            return reply.attempts

    assert asyncio.run(go()) == 3
    assert fake.feedback(event.user_pool_id, event.event_id) == "Invalid"
    assert fake.feedback_count(event.user_pool_id, event.event_id) == 2
    assert [r.fault for r in fake.requests] == ["throttle", "throttle", None, "fail", "drop", None]


def test_the_client_over_http(fake: FakeCognito, event: AuthEvent) -> None:
    with fake.serve() as url, Client(endpoint_url=url, timeout=2) as client:
        fake.drop_connection()
        reply = client.send(event.request("Invalid"))
        assert reply.attempts == 2
        with pytest.raises(UserNotFoundException):
            client.update_auth_event_feedback(
                user_pool_id=event.user_pool_id,
                username="nobody",
                event_id=event.event_id,
                feedback_token=event.feedback_token,
                feedback_value="Valid",
            )
    assert fake.feedback(event.user_pool_id, event.event_id) == "Invalid"


def test_testing_all_is_sorted_complete_and_documented() -> None:
    from cognito_raw import testing

    assert testing.__all__ == sorted(testing.__all__)
    public = {n for n in vars(testing) if not n.startswith("_") and n != "annotations"}
    assert public - {"strategies"} <= set(testing.__all__)
    for name in testing.__all__:
        assert getattr(testing, name).__doc__, name
    for name in cst.__all__:
        assert getattr(cst, name) is not None, name


def test_the_readme_example_runs() -> None:
    # The README's "Test your code against a fake Cognito" block, as written.
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("## Test your code against a fake Cognito", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    exec(compile(code, "README.md", "exec"), {})  # noqa: S102 - our own README
