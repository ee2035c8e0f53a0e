"""Contract tests: what we send equals what botocore sends (unsigned).

botocore is the oracle here only; the package never imports it. Where botocore
is known to be wrong, the tests state where we differ instead of following it:
it ignores the error-type header and the body ``code``, keeps a comma-joined
code whole, and fills in ``""``, the HTTP reason phrase or the body itself as
the message of a reply that carries none (ours is then ``None``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from botocore import UNSIGNED
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.client import BaseClient
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.session import Session
from hypothesis import HealthCheck, given, settings

from cognito_raw import (
    ServiceError,
    UpdateAuthEventFeedbackRequest,
    build_request,
    parse_response,
)
from cognito_raw.testing import strategies as cst


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body


class Stubbed:
    """A botocore client whose network is a before-send handler."""

    def __init__(self, region: str = "us-east-1") -> None:
        self.client: BaseClient = Session().create_client(
            "cognito-idp",
            region_name=region,
            config=Config(signature_version=UNSIGNED, retries={"max_attempts": 0}),
        )
        self.sent: list[AWSPreparedRequest] = []
        self.reply: tuple[int, dict[str, str], bytes] = (200, {}, b"{}")
        self.client.meta.events.register("before-send.cognito-idp.*", self._send)

    def _send(self, request: AWSPreparedRequest, **_: Any) -> AWSResponse:
        self.sent.append(request)
        status, headers, body = self.reply
        return AWSResponse(request.url, status, headers, _Raw(body))

    def call(self, request: UpdateAuthEventFeedbackRequest) -> Any:
        return self.client.update_auth_event_feedback(
            UserPoolId=request.user_pool_id,
            Username=request.username,
            EventId=request.event_id,
            FeedbackToken=request.feedback_token,
            FeedbackValue=str(request.feedback_value),
        )


@pytest.fixture(scope="module")
def botocore_client() -> Stubbed:
    return Stubbed()


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=100)
@given(cst.requests())
def test_request_equals_botocore(
    botocore_client: Stubbed, request: UpdateAuthEventFeedbackRequest
) -> None:
    botocore_client.sent.clear()
    botocore_client.call(request)
    (theirs,) = botocore_client.sent
    ours = build_request(request)
    assert theirs.method == ours.method
    assert json.loads(theirs.body) == json.loads(ours.body)
    for header in ("Content-Type", "X-Amz-Target"):
        value = theirs.headers[header]
        assert (value.decode() if isinstance(value, bytes) else value) == ours.headers[header]
    assert "Authorization" not in theirs.headers  # the operation is noAuth: both unsigned
    assert "Authorization" not in ours.headers


@pytest.mark.parametrize(
    "region",
    ["us-east-1", "eu-west-1", "ap-southeast-2", "cn-north-1", "us-gov-west-1", "ca-west-1"],
)
def test_url_equals_botocore(region: str) -> None:
    stub = Stubbed(region)
    request = UpdateAuthEventFeedbackRequest(
        user_pool_id=f"{region}_AbC123",
        username="u",
        event_id="e",
        feedback_token="t",
        feedback_value="Valid",
    )
    stub.call(request)
    assert stub.sent[0].url == build_request(request).url


REQUEST = UpdateAuthEventFeedbackRequest(
    user_pool_id="us-east-1_AbC123",
    username="u",
    event_id="e",
    feedback_token="t",
    feedback_value="Valid",
)

# Error replies botocore reads correctly (the code in __type): both must agree on
# the code and the message.
AGREED = [
    (400, b'{"__type":"NotAuthorizedException","message":"Invalid token."}'),
    (400, b'{"__type":"com.amazonaws.cognito#UserNotFoundException","message":"nope"}'),
    (400, b'{"__type":"TooManyRequestsException","message":"Rate exceeded"}'),
    (500, b'{"__type":"InternalErrorException","message":"x"}'),
    (400, b'{"__type":"InvalidParameterException","message":"x","reasonCode":"R"}'),
    (
        400,
        b'{"__type":"com.amazon.coral.service#SerializationException","Message":"Expected map"}',
    ),
    (400, b'{"__type":"ResourceNotFoundException","message":"User pool x does not exist."}'),
    (400, b'{"__type":"UserPoolAddOnNotEnabledException","message":"x"}'),
]


@pytest.mark.parametrize(("status", "body"), AGREED)
def test_error_codes_agree_with_botocore(status: int, body: bytes) -> None:
    stub = Stubbed()
    headers = {"x-amzn-RequestId": "rid-1"}
    stub.reply = (status, headers, body)
    with pytest.raises(ClientError) as theirs:
        stub.call(REQUEST)
    with pytest.raises(ServiceError) as ours:
        parse_response(status, headers, body)
    error = theirs.value.response["Error"]
    assert ours.value.code == error["Code"]
    assert ours.value.message == error["Message"]
    assert ours.value.request_id == theirs.value.response["ResponseMetadata"]["RequestId"]


@pytest.mark.parametrize(
    ("status", "headers", "body", "their_code", "our_code", "our_request_id"),
    [
        # The header names the error; botocore ignores it and falls back to the status.
        (
            400,
            {"x-amzn-ErrorType": "UserNotFoundException:"},
            b"",
            "400",
            "UserNotFoundException",
            None,
        ),
        # A body `code` field; botocore reads only __type.
        (404, {}, b'{"code":"BadRequest","message":"m"}', "404", "BadRequest", None),
        # An HTML 5xx with a request ID: botocore drops the ID, we keep it.
        (502, {"x-amzn-RequestId": "rid-2"}, b"<html>Bad gateway</html>", "502", None, "rid-2"),
    ],
)
def test_where_we_do_better_than_botocore(
    status: int,
    headers: dict[str, str],
    body: bytes,
    their_code: str,
    our_code: str | None,
    our_request_id: str | None,
) -> None:
    stub = Stubbed()
    stub.reply = (status, headers, body)
    with pytest.raises(ClientError) as theirs:
        stub.call(REQUEST)
    assert theirs.value.response["Error"]["Code"] == their_code
    with pytest.raises(ServiceError) as ours:
        parse_response(status, headers, body)
    assert ours.value.code == our_code
    assert ours.value.request_id == our_request_id


@pytest.mark.parametrize(
    ("status", "headers", "body", "their_message", "their_code", "our_code"),
    [
        # No message in the reply. botocore says "" (a JSON body) or fills in the
        # HTTP reason phrase, or the body itself for a body that is not JSON;
        # our .message is None for all three: it only ever holds the reply's own
        # message. (What the body was goes into .hint, shown by str().)
        (
            400,
            {"x-amzn-ErrorType": "NotAuthorizedException"},
            b"{}",
            "",
            "400",
            "NotAuthorizedException",
        ),
        (
            400,
            {},
            b'{"__type":"NotAuthorizedException"}',
            "",
            "NotAuthorizedException",
            "NotAuthorizedException",
        ),
        (502, {}, b"", "Bad Gateway", "502", None),
        (403, {}, b"<html>Forbidden</html>", "<html>Forbidden</html>", "403", None),
    ],
)
def test_where_messages_differ_from_botocore(
    status: int,
    headers: dict[str, str],
    body: bytes,
    their_message: str,
    their_code: str,
    our_code: str | None,
) -> None:
    stub = Stubbed()
    stub.reply = (status, headers, body)
    with pytest.raises(ClientError) as theirs:
        stub.call(REQUEST)
    assert theirs.value.response["Error"] == {"Code": their_code, "Message": their_message}
    with pytest.raises(ServiceError) as ours:
        parse_response(status, headers, body)
    assert ours.value.message is None
    assert ours.value.code == our_code


def test_comma_joined_codes_differ_from_botocore() -> None:
    # botocore keeps a comma-joined __type whole (so no modeled class matches);
    # we take the first value, as the AWS SDK for JavaScript v3 does.
    body = b'{"__type":"TooManyRequestsException, BadRequestException","message":"m"}'
    stub = Stubbed()
    stub.reply = (400, {}, body)
    with pytest.raises(ClientError) as theirs:
        stub.call(REQUEST)
    assert theirs.value.response["Error"]["Code"] == (
        "TooManyRequestsException, BadRequestException"
    )
    with pytest.raises(ServiceError) as ours:
        parse_response(400, {}, body)
    assert (ours.value.code, ours.value.retryable) == ("TooManyRequestsException", True)
