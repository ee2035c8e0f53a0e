"""Contract: botocore and cognito-raw get the same outcome from the fake over HTTP.

botocore (unsigned, ``endpoint_url`` at ``fake.serve()``) is the reference
client here; the package never imports it. For success and every modeled
error the fake can produce, botocore's ``ClientError`` code must equal the
code of the exception ``build_request`` + httpx + ``parse_response`` gives,
and both clients must send the same request body.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from botocore import UNSIGNED
from botocore.client import BaseClient
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.session import Session

from cognito_raw import (
    CognitoError,
    ServiceError,
    UpdateAuthEventFeedbackRequest,
    UpdateAuthEventFeedbackResponse,
    build_request,
    parse_response,
)
from cognito_raw._core.errors import ERROR_CLASSES
from cognito_raw.testing import AuthEvent, FakeCognito

SERVER = FakeCognito()


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with SERVER.serve() as base:
        yield base


@pytest.fixture(scope="module")
def boto(url: str) -> Iterator[BaseClient]:
    client = Session().create_client(
        "cognito-idp",
        region_name="us-east-1",
        endpoint_url=url,
        # total_max_attempts=1: no retries at all, so a scripted fault answers
        # exactly one call. ({"max_attempts": 1} would allow one retry.)
        config=Config(signature_version=UNSIGNED, retries={"total_max_attempts": 1}),
    )
    yield client
    client.close()


@pytest.fixture(scope="module")
def http(url: str) -> Iterator[httpx.Client]:
    with httpx.Client() as client:
        yield client


def ours(client: httpx.Client, url: str, request: UpdateAuthEventFeedbackRequest) -> str:
    sent = build_request(request, endpoint_url=url)
    reply = client.post(sent.url, headers=sent.headers, content=sent.body)
    try:
        result = parse_response(reply.status_code, reply.headers.multi_items(), reply.content)
    except ServiceError as exc:
        return f"{type(exc).__name__}:{exc.code}"
    except CognitoError as exc:  # pragma: no cover - a failure message, not an outcome
        return repr(exc)
    assert isinstance(result, UpdateAuthEventFeedbackResponse)
    return "ok"


def theirs(boto: BaseClient, request: UpdateAuthEventFeedbackRequest) -> str:
    try:
        boto.update_auth_event_feedback(
            UserPoolId=request.user_pool_id,
            Username=request.username,
            EventId=request.event_id,
            FeedbackToken=request.feedback_token,
            FeedbackValue=str(request.feedback_value),
        )
    except ClientError as exc:
        code = exc.response["Error"]["Code"]
        # Map botocore's code to our class name the way our core does.
        return (
            f"{ERROR_CLASSES[code].__name__ if code in ERROR_CLASSES else 'ServiceError'}:{code}"
        )
    return "ok"


def _req(event: AuthEvent, **changes: str) -> UpdateAuthEventFeedbackRequest:
    fields: dict[str, Any] = {
        "user_pool_id": event.user_pool_id,
        "username": event.username,
        "event_id": event.event_id,
        "feedback_token": event.feedback_token,
        "feedback_value": "Invalid",
        **changes,
    }
    return UpdateAuthEventFeedbackRequest(**fields)


def _unchecked_pool(event: AuthEvent) -> UpdateAuthEventFeedbackRequest:
    # botocore checks only required members and minimum lengths; a pool ID
    # that breaks the pattern reaches the service (here, the fake).
    return UpdateAuthEventFeedbackRequest.unchecked(
        user_pool_id="not a pool",
        username=event.username,
        event_id=event.event_id,
        feedback_token=event.feedback_token,
        feedback_value="Invalid",
    )


def _no_addon(fake: FakeCognito, event: AuthEvent) -> UpdateAuthEventFeedbackRequest:
    pool = fake.create_user_pool(threat_protection=False)
    fake.create_user(pool, event.username)
    return _req(event, user_pool_id=pool)


def _scripted(
    fault: Callable[[FakeCognito], None],
) -> Callable[..., UpdateAuthEventFeedbackRequest]:
    def scenario(fake: FakeCognito, event: AuthEvent) -> UpdateAuthEventFeedbackRequest:
        fault(fake)
        return _req(event)

    return scenario


SCENARIOS: dict[
    str, tuple[Callable[[FakeCognito, AuthEvent], UpdateAuthEventFeedbackRequest], str]
] = {
    "success": (lambda f, e: _req(e), "ok"),
    "success by alias": (lambda f, e: _req(e, username="alice@example.com"), "ok"),
    "InvalidParameterException": (
        lambda f, e: _unchecked_pool(e),
        "InvalidParameterException:InvalidParameterException",
    ),
    "ResourceNotFoundException": (
        lambda f, e: _req(e, user_pool_id="us-east-1_Missing00"),
        "ResourceNotFoundException:ResourceNotFoundException",
    ),
    "UserPoolAddOnNotEnabledException": (
        _no_addon,
        "UserPoolAddOnNotEnabledException:UserPoolAddOnNotEnabledException",
    ),
    "UserNotFoundException": (
        lambda f, e: _req(e, username="nobody"),
        "UserNotFoundException:UserNotFoundException",
    ),
    "NotAuthorizedException": (
        lambda f, e: _req(e, event_id=str(uuid.uuid4())),
        "NotAuthorizedException:NotAuthorizedException",
    ),
    "NotAuthorizedException (token)": (
        lambda f, e: _req(e, feedback_token="wrong-token"),
        "NotAuthorizedException:NotAuthorizedException",
    ),
    "TooManyRequestsException": (
        _scripted(lambda f: f.throttle()),
        "TooManyRequestsException:TooManyRequestsException",
    ),
    "InternalErrorException": (
        _scripted(lambda f: f.fail()),
        "InternalErrorException:InternalErrorException",
    ),
    "OperationNotEnabledException": (
        _scripted(lambda f: f.fail_with("OperationNotEnabledException", "Not in this Region.")),
        "OperationNotEnabledException:OperationNotEnabledException",
    ),
}


def test_every_modeled_error_is_covered() -> None:
    covered = {expected.split(":")[0] for _, expected in SCENARIOS.values()}
    assert set(ERROR_CLASSES) <= covered


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_same_outcome_as_botocore(
    name: str, url: str, boto: BaseClient, http: httpx.Client
) -> None:
    scenario, expected = SCENARIOS[name]
    outcomes = []
    bodies = []
    for call in (lambda r: ours(http, url, r), lambda r: theirs(boto, r)):
        # A fresh pool, user and event for each client: both start from the same state.
        event = SERVER.seed()
        request = scenario(SERVER, event)
        before = len(SERVER.requests)
        outcomes.append(call(request))
        (received,) = SERVER.requests[before:]
        assert received.header("X-Amz-Target") == (
            "AWSCognitoIdentityProviderService.UpdateAuthEventFeedback"
        )
        assert received.header("Authorization") is None
        body = json.loads(received.body)
        # The per-call members compare as "this call's own" or "another".
        own = {"UserPoolId": event.user_pool_id, "EventId": event.event_id}
        own["FeedbackToken"] = event.feedback_token
        for key, value in own.items():
            body[key] = "own" if body.get(key) == value else "other"
        bodies.append(body)
        if expected == "ok":
            assert SERVER.feedback(event.user_pool_id, event.event_id) == "Invalid"
            assert SERVER.feedback_count(event.user_pool_id, event.event_id) == 1
    assert outcomes == [expected, expected]
    # Same members and values, whatever the key order.
    assert bodies[0] == bodies[1]


def test_botocore_reads_the_fakes_request_id_and_message(url: str, boto: BaseClient) -> None:
    event = SERVER.seed()
    with pytest.raises(ClientError) as info:
        boto.update_auth_event_feedback(
            UserPoolId=event.user_pool_id,
            Username="nobody",
            EventId=event.event_id,
            FeedbackToken=event.feedback_token,
            FeedbackValue="Valid",
        )
    error = info.value.response
    assert error["Error"] == {"Code": "UserNotFoundException", "Message": "User does not exist."}
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error["ResponseMetadata"]["RequestId"] == SERVER.requests[-1].request_id
