"""build_request and parse_response: wire tables both ways and total properties."""

from __future__ import annotations

import json
import pickle
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cognito_raw import (
    CognitoError,
    FeedbackValue,
    HttpRequest,
    InternalErrorException,
    InvalidParameterException,
    NotAuthorizedException,
    OperationNotEnabledException,
    ProtocolError,
    ResourceNotFoundException,
    ServiceError,
    TooManyRequestsException,
    UpdateAuthEventFeedbackRequest,
    UserNotFoundException,
    UserPoolAddOnNotEnabledException,
    ValidationError,
    __version__,
    build_request,
    is_retryable,
    parse_response,
    sanitize_error_code,
)
from cognito_raw._core.errors import ERROR_CLASSES
from cognito_raw.testing import strategies as cst

REQUEST = UpdateAuthEventFeedbackRequest(
    user_pool_id="us-east-1_AbC123xyz",
    username="alice",
    event_id="c2c2cf89-c0d3-482d-aba6-99d78a5b0bfe",
    feedback_token="FeedbackTokenValue123=",
    feedback_value="invalid",
)
JSON = {"Content-Type": "application/x-amz-json-1.1"}
RID = {"x-amzn-RequestId": "5090ed1c-b098-47e5-8397-e2f3ef4b41d5"}


def test_build_request_example() -> None:
    http = build_request(REQUEST)
    assert http.method == "POST"
    assert http.url == "https://cognito-idp.us-east-1.amazonaws.com/"
    assert http.headers == {
        "Content-Type": "application/x-amz-json-1.1",
        "X-Amz-Target": "AWSCognitoIdentityProviderService.UpdateAuthEventFeedback",
        "Content-Length": str(len(http.body)),
        "User-Agent": http.headers["User-Agent"],
        "Accept-Encoding": "identity",
    }
    assert http.headers["User-Agent"].startswith(f"cognito-raw/{__version__} python/")
    assert json.loads(http.body) == {
        "UserPoolId": "us-east-1_AbC123xyz",
        "Username": "alice",
        "EventId": "c2c2cf89-c0d3-482d-aba6-99d78a5b0bfe",
        "FeedbackToken": "FeedbackTokenValue123=",
        "FeedbackValue": "Invalid",
    }
    assert not {k.lower() for k in http.headers} & {"authorization", "x-amz-date"}


@pytest.mark.parametrize(
    ("kwargs", "url"),
    [
        ({}, "https://cognito-idp.us-east-1.amazonaws.com/"),
        ({"region": "eu-west-1"}, "https://cognito-idp.eu-west-1.amazonaws.com/"),
        ({"use_fips": True}, "https://cognito-idp-fips.us-east-1.amazonaws.com/"),
        # The ruleset's special case: us-east-1 serves dual-stack on amazonaws.com.
        ({"use_dualstack": True}, "https://cognito-idp.us-east-1.amazonaws.com/"),
        (
            {"region": "eu-west-1", "use_fips": True, "use_dualstack": True},
            "https://cognito-idp-fips.eu-west-1.api.aws/",
        ),
        ({"endpoint_url": "http://127.0.0.1:9229"}, "http://127.0.0.1:9229/"),
        (
            {"endpoint_url": "https://proxy.example.com/cognito/"},
            "https://proxy.example.com/cognito/",
        ),
        (
            {"endpoint_url": "http://fake.internal:80", "allow_http": True},
            "http://fake.internal:80/",
        ),
    ],
)
def test_build_request_endpoint(kwargs: dict[str, Any], url: str) -> None:
    assert build_request(REQUEST, **kwargs).url == url


@pytest.mark.parametrize(
    ("pool_id", "kwargs"),
    [
        ("evil.com#_x", {}),
        ("us-east-1.attacker.example_x", {}),
        ("127.0.0.1_x", {}),
        ("us-east-1_x", {"region": "evil.com#"}),
        ("us-east-1_x", {"region": "us-east-1.attacker.example"}),
        ("us-east-1_x", {"endpoint_url": "http://attacker.example"}),
        ("us-east-1_x", {"endpoint_url": "http://127.0.0.1:1", "use_fips": True}),
        ("us-east-1_x", {"endpoint_url": "http://127.0.0.1:1", "use_dualstack": True}),
    ],
)
def test_build_request_refuses_to_be_steered(pool_id: str, kwargs: dict[str, Any]) -> None:
    request = UpdateAuthEventFeedbackRequest.unchecked(
        user_pool_id=pool_id,
        username="u",
        event_id="e",
        feedback_token="t",
        feedback_value="Valid",
    )
    with pytest.raises(ValidationError):
        build_request(request, **kwargs)


def test_user_agent_extra_is_appended() -> None:
    ua = build_request(REQUEST, user_agent_extra="my-app/2").headers["User-Agent"]
    assert ua.endswith(" my-app/2")
    assert ua.startswith("cognito-raw/")


@given(cst.requests())
def test_any_valid_request_round_trips_through_the_body(
    request: UpdateAuthEventFeedbackRequest,
) -> None:
    http = build_request(request)
    assert http.headers["Content-Length"] == str(len(http.body))
    body = json.loads(http.body)
    assert list(body) == ["UserPoolId", "Username", "EventId", "FeedbackToken", "FeedbackValue"]
    again = UpdateAuthEventFeedbackRequest(
        user_pool_id=body["UserPoolId"],
        username=body["Username"],
        event_id=body["EventId"],
        feedback_token=body["FeedbackToken"],
        feedback_value=body["FeedbackValue"],
    )
    assert again == request
    assert body["FeedbackValue"] in ("Valid", "Invalid")
    http.body.decode("ascii")  # non-ASCII is escaped, as botocore does
    # repr never shows the body: it is the same for any body of that length.
    blank = HttpRequest(http.method, http.url, http.headers, b"x" * len(http.body))
    assert repr(http) == repr(blank)


@given(cst.request_kwargs(regional=False))
def test_any_model_valid_pool_id_builds_with_an_endpoint(kwargs: dict[str, Any]) -> None:
    request = UpdateAuthEventFeedbackRequest(**kwargs)
    http = build_request(request, endpoint_url="http://127.0.0.1:9")
    assert json.loads(http.body)["UserPoolId"] == kwargs["user_pool_id"]


def test_redacted_body() -> None:
    http = build_request(REQUEST)
    shown = json.loads(http.redacted_body())
    assert shown["Username"] == shown["FeedbackToken"] == "<redacted>"
    assert shown["EventId"] == REQUEST.event_id
    assert "FeedbackTokenValue123" not in repr(http)


# --- parse_response ------------------------------------------------------------------

# (status, headers, body, expected class, expected code, expected retryable).
# Read forwards by test_error_table (reply -> exception); test_every_modeled_error_has_a_row
# reads it backwards (every class -> at least one reply that produces it).
ERRORS: list[tuple[int, dict[str, str], bytes, type[ServiceError], str | None, bool]] = [
    (
        400,
        {**JSON, **RID, "x-amzn-ErrorType": "NotAuthorizedException:", "x-amzn-ErrorMessage": "m"},
        b'{"__type":"NotAuthorizedException","message":"Invalid Refresh Token."}',
        NotAuthorizedException,
        "NotAuthorizedException",
        False,
    ),
    (
        400,
        JSON,
        b'{"__type":"ResourceNotFoundException",'
        b'"message":"User pool us-east-1_x does not exist."}',
        ResourceNotFoundException,
        "ResourceNotFoundException",
        False,
    ),
    (
        400,
        JSON,
        b'{"__type":"TooManyRequestsException","message":"Rate exceeded"}',
        TooManyRequestsException,
        "TooManyRequestsException",
        True,
    ),
    (
        400,
        JSON,
        b'{"__type":"UserNotFoundException","message":"User does not exist."}',
        UserNotFoundException,
        "UserNotFoundException",
        False,
    ),
    (
        400,
        JSON,
        b'{"__type":"UserPoolAddOnNotEnabledException","message":"not enabled"}',
        UserPoolAddOnNotEnabledException,
        "UserPoolAddOnNotEnabledException",
        False,
    ),
    (
        400,
        JSON,
        b'{"__type":"OperationNotEnabledException","message":"not in a replica region"}',
        OperationNotEnabledException,
        "OperationNotEnabledException",
        False,
    ),
    (
        500,
        JSON,
        b'{"__type":"InternalErrorException","message":"oops"}',
        InternalErrorException,
        "InternalErrorException",
        True,
    ),
    (
        400,
        JSON,
        b'{"__type":"InvalidParameterException","message":"bad","reasonCode":"X"}',
        InvalidParameterException,
        "InvalidParameterException",
        False,
    ),
    # Namespaces and URI suffixes are cut away.
    (
        400,
        JSON,
        b'{"__type":"com.amazonaws.cognito#NotAuthorizedException:http://internal/x"}',
        NotAuthorizedException,
        "NotAuthorizedException",
        False,
    ),
    # The header wins over the body, and the body's code over __type.
    (
        400,
        {"X-AMZN-ERRORTYPE": "UserNotFoundException:http://x"},
        b'{"__type":"NotAuthorizedException"}',
        UserNotFoundException,
        "UserNotFoundException",
        False,
    ),
    (
        400,
        {},
        b'{"code":"ResourceNotFoundException","__type":"NotAuthorizedException"}',
        ResourceNotFoundException,
        "ResourceNotFoundException",
        False,
    ),
    # Throttling dispatches on the code, whatever the status.
    (
        429,
        {"x-amzn-ErrorType": "TooManyRequestsException"},
        b"",
        TooManyRequestsException,
        "TooManyRequestsException",
        True,
    ),
    # Unmodeled codes are kept on a plain ServiceError.
    (
        400,
        JSON,
        b'{"__type":"com.amazon.coral.service#SerializationException","Message":"Expected map"}',
        ServiceError,
        "SerializationException",
        False,
    ),
    (400, JSON, b'{"__type":"ThrottlingException"}', ServiceError, "ThrottlingException", True),
    (
        400,
        JSON,
        b'{"__type":"LimitExceededException"}',
        ServiceError,
        "LimitExceededException",
        False,
    ),
    (
        404,
        {},
        b'{"code":"BadRequest","message":"The server did not understand the operation.",'
        b'"type":"client"}',
        ServiceError,
        "BadRequest",
        False,
    ),
    # Capital Code is not the code; nested __type does not count.
    (400, {}, b'{"Code":"NotAuthorizedException"}', ServiceError, None, False),
    (400, {}, b'{"error":{"__type":"NotAuthorizedException"}}', ServiceError, None, False),
    # No code at all.
    (400, {}, b'{"message":"Rate exceeded"}', ServiceError, None, True),
    (400, {}, b'{"message":"Bad thing"}', ServiceError, None, False),
    (500, RID, b"", ServiceError, None, True),
    (502, RID, b"<html><body>Bad Gateway</body></html>", ServiceError, None, True),
    (403, RID, b"<html><body>Forbidden by WAF</body></html>", ServiceError, None, False),
    (
        503,
        {"x-amzn-ErrorType": "ServiceUnavailable"},
        b"",
        ServiceError,
        "ServiceUnavailable",
        True,
    ),
    (
        400,
        {"x-amzn-ErrorType": ":"},
        b'{"__type":"UserNotFoundException"}',
        UserNotFoundException,
        "UserNotFoundException",
        False,
    ),
]


@pytest.mark.parametrize(("status", "headers", "body", "cls", "code", "retryable"), ERRORS)
def test_error_table(
    status: int,
    headers: dict[str, str],
    body: bytes,
    cls: type[ServiceError],
    code: str | None,
    retryable: bool,
) -> None:
    with pytest.raises(ServiceError) as info:
        parse_response(status, headers, body)
    error = info.value
    assert type(error) is cls
    assert (error.code, error.status_code, error.retryable) == (code, status, retryable)
    lowered = {k.lower(): v for k, v in headers.items()}
    assert error.request_id == lowered.get("x-amzn-requestid")


def test_every_modeled_error_has_a_row() -> None:
    classes = {cls for *_, cls, _code, _r in ERRORS}
    assert set(ERROR_CLASSES.values()) <= classes
    assert ServiceError in classes


def test_error_fields_example() -> None:
    with pytest.raises(InvalidParameterException) as info:
        parse_response(
            400,
            {**JSON, **RID},
            b'{"__type":"InvalidParameterException","message":"bad","reasonCode":"R"}',
        )
    error = info.value
    assert (error.message, error.reason_code) == ("bad", "R")
    assert str(error) == (
        "InvalidParameterException: bad "
        "(HTTP 400, request ID 5090ed1c-b098-47e5-8397-e2f3ef4b41d5)"
    )


@pytest.mark.parametrize(
    ("headers", "body", "message"),
    [
        ({}, b'{"message":"lower"}', "lower"),
        ({}, b'{"Message":"upper"}', "upper"),
        ({}, b'{"message":"lower","Message":"upper"}', "lower"),
        ({"x-amzn-ErrorMessage": "from header"}, b"{}", "from header"),
        ({"x-amzn-ErrorMessage": "from header"}, b'{"Message":"body"}', "body"),
        ({}, b'{"message":""}', ""),
        # None when the reply carries no message, whatever its body was.
        ({}, b"", None),
        ({}, b"<html>", None),
        ({}, b"{}", None),
        ({}, b"[1, 2]", None),
        ({}, b'{"message": 7, "Message": null}', None),
        # The reported reply: "{}" is JSON, and it carries no message.
        ({"X-Amzn-ErrorType": "NotAuthorizedException"}, b"{}", None),
    ],
)
def test_message_sources(headers: dict[str, str], body: bytes, message: str | None) -> None:
    with pytest.raises(ServiceError) as info:
        parse_response(400, headers, body)
    assert info.value.message == message


@pytest.mark.parametrize(
    ("body", "hint"),
    [
        (b"", "the reply body is empty"),
        (b" \r\n", "the reply body is empty"),
        (b"<html><body>403 Forbidden</body></html>", "it looks like HTML or XML"),
        (b"\n <?xml version='1.0'?><Error/>", "it looks like HTML or XML"),
        (b"[1, 2]", "the reply body is not a JSON object"),
        (b"\xff\xfe", "the reply body is not a JSON object"),
        (b"{}", None),
        (b'{"__type": "X"}', None),
        (b'{"message": "m"}', None),
    ],
)
def test_a_hint_goes_into_str_only(body: bytes, hint: str | None) -> None:
    with pytest.raises(ServiceError) as info:
        parse_response(502, {"x-amzn-RequestId": "r1"}, body)
    error = info.value
    assert error.hint is None if hint is None else hint in error.hint
    if hint is not None:
        assert error.message is None
        assert str(error) == f"error reply without a code (HTTP 502, request ID r1, {error.hint})"
        assert hint not in repr(error)


def test_the_reported_empty_object_reply() -> None:
    with pytest.raises(NotAuthorizedException) as info:
        parse_response(400, {"X-Amzn-ErrorType": "NotAuthorizedException"}, b"{}")
    error = info.value
    assert (error.code, error.message, error.hint) == ("NotAuthorizedException", None, None)
    assert str(error) == "NotAuthorizedException (HTTP 400)"
    assert "JSON" not in str(error)


def test_query_error_header_is_ignored() -> None:
    with pytest.raises(ServiceError) as info:
        parse_response(
            400,
            {"x-amzn-query-error": "AWS.SimpleQueueService.NonExistentQueue;Sender"},
            b'{"__type":"UserNotFoundException"}',
        )
    assert info.value.code == "UserNotFoundException"


@pytest.mark.parametrize("body", [b"", b"{}", b"  \n", b'{"Unknown": 1, "x": [1, 2]}'])
def test_success(body: bytes) -> None:
    response = parse_response(200, RID, body)
    assert response.request_id == RID["x-amzn-RequestId"]
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (200, b"[]"),
        (200, b"null"),
        (200, b"<html>ok</html>"),
        (200, b'"string"'),
        (200, b"\xff\xfe{"),
        (204, b"1"),
        (301, b""),
        (302, b'{"__type":"NotAuthorizedException"}'),
        (100, b""),
        (199, b""),
        (600, b""),
        (0, b""),
    ],
)
def test_not_a_cognito_answer(status: int, body: bytes) -> None:
    with pytest.raises(ProtocolError) as info:
        parse_response(status, RID, body)
    assert not isinstance(info.value, ServiceError)
    assert info.value.request_id == RID["x-amzn-RequestId"]


# --- repeated header values -----------------------------------------------------------
# One rule for every header the core reads as a token or a number: the first value
# counts, whether the header came twice (two entries) or folded into one entry joined
# with "," (what httpx.Headers.get and .items() give).


def both_forms(name: str, first: str, second: str) -> list[Any]:
    """The same reply headers as two entries, as one comma-joined entry, and via httpx."""
    return [
        [(name, first), (name, second)],
        [(name.lower().encode(), first.encode()), (name.upper().encode(), second.encode())],
        {name: f"{first}, {second}"},
        {name: f"{first},{second}"},
        httpx.Headers([(name, first), (name, second)]),
    ]


ERROR_TYPE_FORMS = both_forms(
    "x-amzn-ErrorType", "TooManyRequestsException", "BadRequestException"
)


@pytest.mark.parametrize("headers", ERROR_TYPE_FORMS)
def test_the_first_error_type_counts(headers: Any) -> None:
    # The reported reply: an API gateway in front added its own code second.
    with pytest.raises(TooManyRequestsException) as info:
        parse_response(400, headers, b'{"message":"Rate exceeded"}')
    assert info.value.code == "TooManyRequestsException"
    assert info.value.retryable is True


def test_the_reported_repeated_error_type() -> None:
    with pytest.raises(ServiceError) as info:
        parse_response(
            400,
            [
                ("x-amzn-ErrorType", "TooManyRequestsException"),
                ("x-amzn-ErrorType", "BadRequestException"),
            ],
            b'{"message":"Rate exceeded"}',
        )
    assert (info.value.code, info.value.retryable) == ("TooManyRequestsException", True)


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        # Split on "," before cutting at ":" and "#", as the JS SDK v3 does.
        ("NotAuthorizedException:http://x/, BadRequestException:", "NotAuthorizedException"),
        ("aws.cognito#UserNotFoundException, other#BadRequest", "UserNotFoundException"),
        ("UserNotFoundException, ", "UserNotFoundException"),
        # An empty first value is absent: the body's code is used.
        (", BadRequestException", "ResourceNotFoundException"),
    ],
)
def test_error_type_is_split_before_it_is_cut(raw: str, code: str) -> None:
    with pytest.raises(ServiceError) as info:
        parse_response(400, {"x-amzn-ErrorType": raw}, b'{"__type":"ResourceNotFoundException"}')
    assert info.value.code == code


@pytest.mark.parametrize(
    "name", ["x-amzn-RequestId", "x-amz-request-id", "X-AMZN-REQUESTID", "X-Amz-Request-Id"]
)
@pytest.mark.parametrize("status", [200, 400, 502, 302])
def test_the_first_request_id_counts(name: str, status: int) -> None:
    for headers in both_forms(name, "rid-service", "rid-proxy"):
        try:
            result: Any = parse_response(status, headers, b"{}")
        except (ServiceError, ProtocolError) as exc:
            result = exc
        assert result.request_id == "rid-service", headers


@pytest.mark.parametrize(
    ("name", "first", "second", "expected"),
    [
        ("Retry-After", "3", "120", 3.0),
        ("x-amz-retry-after", "1500", "9000", 1.5),
        # The HTTP-date form is ignored in either position (no trusted clock),
        # and its own comma cannot smuggle a number in.
        ("Retry-After", "Wed, 21 Oct 2015 07:28:00 GMT", "5", None),
        ("Retry-After", "7", "Wed, 21 Oct 2015 07:28:00 GMT", 7.0),
        # A first value that is not a delay is not replaced by the second.
        ("Retry-After", "soon", "5", None),
    ],
)
def test_the_first_retry_after_counts(
    name: str, first: str, second: str, expected: float | None
) -> None:
    throttled = ("x-amzn-ErrorType", "TooManyRequestsException")
    for form in both_forms(name, first, second):
        headers: Any
        if isinstance(form, dict):
            headers = {**form, throttled[0]: throttled[1]}
        elif isinstance(form, httpx.Headers):
            headers = [*form.multi_items(), throttled]
        else:
            headers = [*form, throttled]
        with pytest.raises(ServiceError) as info:
            parse_response(400, headers, b"")
        assert info.value.retry_after == expected, headers


def test_the_first_error_message_entry_counts_whole() -> None:
    # A message is free text: its own commas stay, and a second entry (a proxy's)
    # is not the service's message.
    pairs = [("x-amzn-ErrorMessage", "Slow down, please"), ("x-amzn-ErrorMessage", "other")]
    with pytest.raises(ServiceError) as info:
        parse_response(400, pairs, b"")
    assert info.value.message == "Slow down, please"


@given(
    first=st.sampled_from(sorted(ERROR_CLASSES)),
    rest=st.lists(st.sampled_from(["BadRequestException", "Forbidden", "x:y#z"]), max_size=3),
    joined=st.booleans(),
)
def test_any_later_error_type_never_overrides_the_first(
    first: str, rest: list[str], joined: bool
) -> None:
    values = [first, *rest]
    headers: Any = (
        {"x-amzn-ErrorType": ", ".join(values)}
        if joined
        else [("x-amzn-ErrorType", value) for value in values]
    )
    with pytest.raises(ServiceError) as info:
        parse_response(400, headers, b"{}")
    assert type(info.value) is ERROR_CLASSES[first]


def test_header_forms() -> None:
    pairs = [(b"X-Amzn-RequestId", b"r1"), (b"x-amzn-errortype", b"UserNotFoundException")]
    with pytest.raises(UserNotFoundException) as info:
        parse_response(400, pairs, b"")
    assert info.value.request_id == "r1"
    with pytest.raises(UserNotFoundException):
        parse_response(400, [("X-Amzn-ErrorType", "UserNotFoundException")], b"")


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"x-amz-retry-after": "1500"}, 1.5),
        ({"Retry-After": "3"}, 3.0),
        ({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, None),
        ({"Retry-After": "-1"}, None),
        ({"Retry-After": "nan"}, None),
        # Digits only (RFC 9110 10.2.3): what float() would also accept is not a delay.
        ({"Retry-After": "1_0"}, None),
        ({"Retry-After": "1e3"}, None),
        ({"Retry-After": "+5"}, None),
        ({"Retry-After": "\u0662"}, None),  # ARABIC-INDIC DIGIT TWO
        ({"Retry-After": "inf"}, None),
        ({"Retry-After": " 2.5 "}, 2.5),
        ({"x-amz-retry-after": "9" * 13}, None),
        ({}, None),
    ],
)
def test_retry_after(headers: dict[str, str], expected: float | None) -> None:
    with pytest.raises(ServiceError) as info:
        parse_response(400, {**headers, "x-amzn-ErrorType": "TooManyRequestsException"}, b"")
    assert info.value.retry_after == expected


def test_secrets_are_scrubbed_from_messages() -> None:
    with pytest.raises(ServiceError) as info:
        parse_response(
            400,
            {},
            b'{"__type":"InvalidParameterException","message":"Value alice-smith bad",'
            b'"reasonCode":"tok123456"}',
            secrets=("alice-smith", "tok123456"),
        )
    assert "alice-smith" not in str(info.value)
    assert info.value.message == "Value <redacted> bad"
    assert isinstance(info.value, InvalidParameterException)
    assert info.value.reason_code == "<redacted>"


def test_messages_are_bounded() -> None:
    body = json.dumps({"__type": "X" * 10_000, "message": "m" * 1_000_000}).encode()
    with pytest.raises(ServiceError) as info:
        parse_response(400, {}, body)
    assert len(info.value.message) <= 1100
    assert info.value.code is not None
    assert len(info.value.code) <= 128


# --- sanitising and retry classification -----------------------------------------------

SANITIZE = [
    ("FooError", "FooError"),
    ("FooError:http://internal.amazon.com/coral/com.amazon.coral.validate/", "FooError"),
    ("aws.protocoltests.restjson#FooError", "FooError"),
    ("aws.protocoltests.restjson#FooError:http://internal.amazon.com/coral/", "FooError"),
    ("NotAuthorizedException:", "NotAuthorizedException"),
    ("a#b#c", "c"),
    (" Spaced ", "Spaced"),
    (":", ""),
    # Comma-joined values (a proxy's second code): the first counts, cut after the split.
    ("FooError, BarError", "FooError"),
    ("FooError:http://x/,BarError", "FooError"),
    ("a.b#FooError, c#BarError", "FooError"),
    (",FooError", ""),
]


@pytest.mark.parametrize(("raw", "code"), SANITIZE)
def test_sanitize_table(raw: str, code: str) -> None:
    assert sanitize_error_code(raw) == code
    assert sanitize_error_code(code) == code  # the table read backwards: a fixed point


@given(st.text())
def test_sanitize_is_idempotent(raw: str) -> None:
    once = sanitize_error_code(raw)
    assert sanitize_error_code(once) == once
    assert ":" not in once
    assert "#" not in once
    assert "," not in once


@pytest.mark.parametrize(
    ("code", "status", "message", "retryable"),
    [
        ("TooManyRequestsException", 400, "", True),
        ("ThrottlingException", 400, "", True),
        ("InternalErrorException", 500, "", True),
        ("LimitExceededException", 400, "", False),
        ("LimitExceededException", 503, "", False),
        ("NotAuthorizedException", 400, "", False),
        ("NotAuthorizedException", 500, "", False),
        ("Whatever", 503, "", True),
        (None, 500, "", True),
        (None, 599, "", True),
        (None, 400, "Rate exceeded", True),
        (None, 400, "too many requests", True),
        (None, 429, "", True),
        (None, 400, "", False),
        (None, 403, "Rate exceeded later", False),
    ],
)
def test_retry_classification(
    code: str | None, status: int, message: str, retryable: bool
) -> None:
    assert is_retryable(code, status, message) is retryable


# --- totality ---------------------------------------------------------------------------

_header_names = st.sampled_from(
    [
        "x-amzn-ErrorType",
        "X-Amzn-RequestId",
        "x-amzn-ErrorMessage",
        "Retry-After",
        "x-amz-retry-after",
        "Content-Type",
        "X",
    ]
)
_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=10,
)
_bodies = st.one_of(
    st.binary(max_size=200),
    st.dictionaries(
        st.sampled_from(["__type", "code", "message", "Message", "reasonCode", "Code"]),
        _json_values,
    ).map(lambda d: json.dumps(d).encode()),
    _json_values.map(lambda v: json.dumps(v).encode()),
)


@given(
    st.integers(min_value=-10, max_value=1000),
    st.lists(st.tuples(_header_names | st.text(max_size=10), st.text(max_size=40)), max_size=5),
    _bodies,
)
def test_parse_response_is_total(status: int, headers: list[tuple[str, str]], body: bytes) -> None:
    try:
        response = parse_response(status, headers, body)
    except CognitoError as exc:
        str(exc)
        repr(exc)
        if isinstance(exc, ServiceError):
            assert 400 <= status <= 599
            assert exc.code is None or (exc.code and ":" not in exc.code and "#" not in exc.code)
    else:
        assert 200 <= status < 300
        assert response.status_code == status


def test_deeply_nested_json_is_not_a_crash() -> None:
    body = b"[" * 100_000
    with pytest.raises(ProtocolError):
        parse_response(200, {}, body)
    with pytest.raises(ServiceError):
        parse_response(500, {}, body)


@pytest.mark.parametrize("row", ERRORS)
def test_service_errors_pickle(row: tuple[Any, ...]) -> None:
    status, headers, body, *_ = row
    with pytest.raises(ServiceError) as info:
        parse_response(status, headers, body)
    clone = pickle.loads(pickle.dumps(info.value))
    assert type(clone) is type(info.value)
    assert repr(clone) == repr(info.value)
    assert str(clone) == str(info.value)


def test_feedback_value_enum_on_the_wire() -> None:
    for value in FeedbackValue:
        req = UpdateAuthEventFeedbackRequest(
            user_pool_id="us-east-1_x",
            username="u",
            event_id="e",
            feedback_token="t",
            feedback_value=value.value.lower(),
        )
        assert json.loads(build_request(req).body)["FeedbackValue"] == value.value


@pytest.mark.parametrize(
    ("value", "wire"),
    [(None, None), (7, 7), (["a"], ["a"]), ("x", "x")],
)
def test_unchecked_members_may_be_any_json_value(value: Any, wire: Any) -> None:
    request = UpdateAuthEventFeedbackRequest.unchecked(
        user_pool_id="us-east-1_x",
        username=value,
        event_id="e",
        feedback_token="t",
        feedback_value=value,
    )
    body = json.loads(build_request(request).body)
    assert (body["Username"], body["FeedbackValue"]) == (wire, wire)


def _circular() -> list[Any]:
    loop: list[Any] = []
    loop.append(loop)
    return loop


@pytest.mark.parametrize(
    "value",
    [b"bytes", object(), {1, 2}, float("nan"), float("inf"), -float("inf"), _circular()],
)
def test_unchecked_members_that_are_not_json_are_a_validation_error(value: Any) -> None:
    request = UpdateAuthEventFeedbackRequest.unchecked(
        user_pool_id="us-east-1_x",
        username=value,
        event_id="e",
        feedback_token="t",
        feedback_value="Valid",
    )
    with pytest.raises(ValidationError) as info:
        build_request(request)
    assert info.value.field == "request"


@given(cst.requests())
def test_body_is_the_members_as_compact_json_in_the_models_order(
    request: UpdateAuthEventFeedbackRequest,
) -> None:
    expected = json.dumps(
        {
            "UserPoolId": request.user_pool_id,
            "Username": request.username,
            "EventId": request.event_id,
            "FeedbackToken": request.feedback_token,
            "FeedbackValue": str(request.feedback_value),
        },
        separators=(",", ":"),
    ).encode()
    assert build_request(request).body == expected


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["X-Amzn-RequestId", "x-amz-request-id", "Other-16-chars!!", "X"]),
            st.text(st.sampled_from("r1 ,\t\xe9\r"), max_size=5),
        ),
        max_size=4,
    )
)
def test_request_id_is_found_in_any_header_form(pairs: list[tuple[str, str]]) -> None:
    def first(name: str) -> str | None:
        # The stated rule: the first entry, up to its first ",", without OWS.
        values = [value for key, value in pairs if key.lower() == name]
        return values[0].split(",")[0].strip(" \t") or None if values else None

    expected = first("x-amzn-requestid") or first("x-amz-request-id")
    raw = [(n.encode("latin-1"), v.encode("latin-1")) for n, v in pairs]  # wire bytes
    # httpx.Headers.items() folds repeated names with ", " (given bytes: latin-1).
    joined = httpx.Headers(raw)
    for form in (pairs, dict(pairs), raw, joined):
        if isinstance(form, dict) and len(form) != len(pairs):
            continue
        assert parse_response(200, form, b"{}").request_id == expected
        with pytest.raises(ServiceError) as info:
            parse_response(400, form, b"{}")
        assert info.value.request_id == expected


def test_url_cache_is_bounded_and_never_caches_a_refusal() -> None:
    from cognito_raw._core import endpoints as _endpoints

    for i in range(300):
        build_request(
            UpdateAuthEventFeedbackRequest(
                user_pool_id=f"eu-west-1_P{i}",
                username="u",
                event_id="e",
                feedback_token="t",
                feedback_value="Valid",
            ),
            region=f"eu-west-{i}",
        )
    assert _endpoints._cached_service_url.cache_info().currsize <= 256
    hostile = UpdateAuthEventFeedbackRequest.unchecked(
        user_pool_id="evil.com#_x",
        username="u",
        event_id="e",
        feedback_token="t",
        feedback_value="Valid",
    )
    for _ in range(2):
        with pytest.raises(ValidationError):
            build_request(hostile)
    before = _endpoints._cached_service_url.cache_info()
    with pytest.raises(ValidationError):
        build_request(hostile)
    assert _endpoints._cached_service_url.cache_info().misses == before.misses + 1
