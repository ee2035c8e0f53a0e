"""Hypothesis strategies for UpdateAuthEventFeedback inputs and replies.

For property tests of your own code::

    from hypothesis import given
    from cognito_raw.testing import strategies as cst

    @given(cst.requests())
    def test_my_handler(request): ...

Valid inputs follow the service model exactly (spec/cognito-idp.json);
``invalid_request_kwargs()`` breaks exactly one field by one rule and says
which.
"""

from __future__ import annotations

import json
import re
import string
from typing import Any, Final

from hypothesis import strategies as st

from cognito_raw._core.model import (
    EVENT_ID_MAX,
    USER_POOL_ID_MAX,
    USERNAME_MAX,
    FeedbackValue,
    UpdateAuthEventFeedbackRequest,
)

__all__ = [
    "ERROR_REPLY_CODES",
    "FIELDS",
    "REGIONS",
    "decorated_codes",
    "error_codes",
    "error_replies",
    "event_ids",
    "feedback_tokens",
    "feedback_values",
    "invalid_request_kwargs",
    "request_kwargs",
    "requests",
    "success_replies",
    "user_pool_ids",
    "usernames",
]

FIELDS: Final = ("user_pool_id", "username", "event_id", "feedback_token", "feedback_value")

# A sample of real regions, so generated pool IDs resolve to real endpoints.
REGIONS: Final = (
    "us-east-1",
    "us-east-2",
    "us-west-2",
    "eu-west-1",
    "eu-central-1",
    "ap-southeast-2",
    "ap-northeast-1",
    "ca-central-1",
    "sa-east-1",
    "cn-north-1",
    "us-gov-west-1",
)

_ALNUM: Final = string.ascii_letters + string.digits
_WORD: Final = _ALNUM + "_"
# The characters of FEEDBACK_TOKEN_PATTERN, as a set (tests/test_spec.py checks).
_TOKEN_CHARS: Final = _ALNUM + "-_=."
# USERNAME_CATEGORIES as hypothesis wants it: a literal tuple (tests/test_spec.py checks).
_USERNAME_CATEGORIES: Final = ("L", "M", "S", "N", "P")


def user_pool_ids(*, regional: bool = True) -> st.SearchStrategy[str]:
    """Valid user pool IDs; ``regional`` ones start with a real region."""
    if regional:
        return st.builds(
            lambda region, suffix: f"{region}_{suffix}",
            st.sampled_from(REGIONS),
            st.text(_ALNUM, min_size=1, max_size=20),
        )
    return st.from_regex(re.compile(r"[\w-]+_[0-9a-zA-Z]+", re.ASCII), fullmatch=True).filter(
        lambda s: len(s) <= USER_POOL_ID_MAX
    )


def usernames() -> st.SearchStrategy[str]:
    """Valid usernames: 1-128 letters, marks, symbols, numbers or punctuation.

    The categories are USERNAME_CATEGORIES (tests/test_spec.py checks).
    """
    return st.text(
        st.characters(categories=_USERNAME_CATEGORIES),
        min_size=1,
        max_size=USERNAME_MAX,
    )


def event_ids() -> st.SearchStrategy[str]:
    """Valid event IDs: mostly UUIDs, as Cognito sends, and any model-valid string."""
    return st.one_of(
        st.uuids().map(str),
        st.text(_WORD + "+-", min_size=1, max_size=EVENT_ID_MAX),
    )


def feedback_tokens() -> st.SearchStrategy[str]:
    """Valid feedback tokens (the model sets no length bound)."""
    return st.text(_TOKEN_CHARS, min_size=1, max_size=600)


def feedback_values() -> st.SearchStrategy[FeedbackValue | str]:
    """Members and the spellings that normalise to them (``valid``, ``INVALID``...)."""
    return st.one_of(
        st.sampled_from(FeedbackValue),
        st.sampled_from(["Valid", "Invalid", "valid", "invalid", "VALID", "INVALID"]),
    )


def request_kwargs(*, regional: bool = True) -> st.SearchStrategy[dict[str, Any]]:
    """Keyword arguments for a valid ``UpdateAuthEventFeedbackRequest``."""
    return st.fixed_dictionaries(
        {
            "user_pool_id": user_pool_ids(regional=regional),
            "username": usernames(),
            "event_id": event_ids(),
            "feedback_token": feedback_tokens(),
            "feedback_value": feedback_values(),
        }
    )


def requests(*, regional: bool = True) -> st.SearchStrategy[UpdateAuthEventFeedbackRequest]:
    """Valid request objects."""
    return request_kwargs(regional=regional).map(lambda kw: UpdateAuthEventFeedbackRequest(**kw))


def _bad_username_chars() -> st.SearchStrategy[str]:
    return st.characters(categories=["Zs", "Zl", "Zp", "Cc", "Cf", "Co", "Cn"])


# One strategy per (field, rule): each yields a value that breaks that rule only.
_INVALID: Final[dict[tuple[str, str], st.SearchStrategy[Any]]] = {
    ("user_pool_id", "length"): st.one_of(
        st.just(""),
        st.text(_ALNUM, min_size=USER_POOL_ID_MAX - 1, max_size=80).map(lambda s: f"a_{s}"),
    ),
    ("user_pool_id", "pattern"): st.one_of(
        st.text(_ALNUM + "-", min_size=1, max_size=50),
        st.builds(
            lambda a, bad, b: f"{a}{bad}_{b}",
            st.text(_ALNUM, max_size=10),
            st.characters(exclude_characters=_WORD + "-", exclude_categories=["Cs"]),
            st.text(_ALNUM, min_size=1, max_size=10),
        ),
        st.text(_WORD + "-", min_size=1, max_size=20).map(lambda s: f"{s}_"),
    ),
    ("user_pool_id", "type"): st.one_of(st.none(), st.integers(), st.binary(max_size=5)),
    ("username", "length"): st.one_of(
        st.just(""), st.text("ab", min_size=USERNAME_MAX + 1, max_size=USERNAME_MAX + 40)
    ),
    ("username", "characters"): st.builds(
        lambda a, bad, b: a + bad + b,
        st.text("xy", max_size=10),
        _bad_username_chars(),
        st.text("z", max_size=10),
    ),
    ("event_id", "length"): st.one_of(
        st.just(""), st.text(_WORD, min_size=EVENT_ID_MAX + 1, max_size=EVENT_ID_MAX + 20)
    ),
    ("event_id", "pattern"): st.builds(
        lambda a, bad: a + bad,
        st.text(_WORD, max_size=20),
        st.characters(exclude_characters=_WORD + "+-", exclude_categories=["Cs"]),
    ).filter(lambda s: len(s) <= EVENT_ID_MAX),
    ("feedback_token", "length"): st.just(""),
    ("feedback_token", "pattern"): st.builds(
        lambda a, bad: a + bad,
        st.text(_TOKEN_CHARS, max_size=20),
        st.characters(exclude_characters=_TOKEN_CHARS, exclude_categories=["Cs"]),
    ),
    ("feedback_value", "enum"): st.text(max_size=12).filter(
        lambda s: s.casefold() not in ("valid", "invalid")
    ),
    ("feedback_value", "type"): st.one_of(st.none(), st.booleans(), st.integers()),
}


def invalid_request_kwargs() -> st.SearchStrategy[tuple[str, str, dict[str, Any]]]:
    """``(field, rule, kwargs)``: valid keyword arguments with one field broken."""

    def corrupt(
        key: tuple[str, str], base: dict[str, Any]
    ) -> st.SearchStrategy[tuple[str, str, dict[str, Any]]]:
        return _INVALID[key].map(lambda bad: (key[0], key[1], {**base, key[0]: bad}))

    return st.tuples(st.sampled_from(sorted(_INVALID)), request_kwargs()).flatmap(
        lambda pair: corrupt(*pair)
    )


# --- replies ---------------------------------------------------------------------------

ERROR_REPLY_CODES: Final = (
    "InvalidParameterException",
    "ResourceNotFoundException",
    "TooManyRequestsException",
    "NotAuthorizedException",
    "UserNotFoundException",
    "UserPoolAddOnNotEnabledException",
    "OperationNotEnabledException",
    "InternalErrorException",
    # Unmodeled codes that reach clients all the same.
    "SerializationException",
    "ThrottlingException",
    "ValidationException",
    "LimitExceededException",
    "UnknownOperationException",
    "BadRequest",
)
# The service answers its modeled client errors, throttling included, with 400.
_MODELED_CLIENT_ERRORS: Final = frozenset(ERROR_REPLY_CODES[:7])
# Namespaces and URI suffixes seen on AWS error codes (Smithy's awsJson1.1 tests
# and Coral services); sanitising must strip both.
_NAMESPACES: Final = (
    "com.amazonaws.cognito.identity.idp.model",
    "com.amazon.coral.service",
    "com.amazon.coral.validate",
    "aws.protocoltests.restjson",
)
_URI_SUFFIXES: Final = (
    "http://internal.amazon.com/coral/com.amazonaws.cognito.identity.idp.model/",
    "http://internal.amazon.com/coral/com.amazon.coral.validate/",
)
_HTML_BODIES: Final = (
    b"<html><head><title>403 Forbidden</title></head><body><h1>403 Forbidden</h1>"
    b"<p>Request blocked.</p></body></html>",
    b"<!DOCTYPE html>\n<html><body><h1>502 Bad Gateway</h1></body></html>\n",
    b"<html><body>Service Unavailable</body></html>",
)
# Printable ASCII: a message must also fit in the x-amzn-ErrorMessage header.
_MESSAGE_CHARS: Final = "".join(chr(c) for c in range(0x20, 0x7F))

ErrorReplyTuple = tuple[int, dict[str, str], bytes, str | None]
SuccessReplyTuple = tuple[int, dict[str, str], bytes, str | None]


def error_codes() -> st.SearchStrategy[str]:
    """Bare error codes: the modeled ones, unmodeled AWS ones, and made-up names."""
    return st.one_of(
        st.sampled_from(ERROR_REPLY_CODES),
        st.from_regex(re.compile(r"[A-Z][A-Za-z0-9]{0,30}", re.ASCII), fullmatch=True),
    )


def decorated_codes(code: str) -> st.SearchStrategy[str]:
    """``code`` as it may appear on the wire: bare, ``ns#X``, ``X:``, ``X:uri``, ``ns#X:uri``."""
    namespaces = st.sampled_from(_NAMESPACES)
    suffixes = st.sampled_from(_URI_SUFFIXES)
    return st.one_of(
        st.just(code),
        st.just(f"{code}:"),
        namespaces.map(lambda ns: f"{ns}#{code}"),
        suffixes.map(lambda uri: f"{code}:{uri}"),
        st.builds(lambda ns, uri: f"{ns}#{code}:{uri}", namespaces, suffixes),
    )


def _json_bytes(data: object) -> bytes:
    return json.dumps(data).encode()


def _header_name(name: str) -> st.SearchStrategy[str]:
    # Header names are case-insensitive; clients must not care how they come.
    return st.sampled_from((name, name.lower(), name.upper()))


@st.composite
def _error_reply(draw: st.DrawFn) -> ErrorReplyTuple:
    code = draw(st.none() | error_codes())
    place = draw(st.sampled_from(("header", "code", "__type")))
    headers: dict[str, str] = {}
    fields: dict[str, object] = {}
    if draw(st.booleans()):
        headers[draw(_header_name("x-amzn-RequestId"))] = str(draw(st.uuids()))
    if code is not None:
        _put_code(draw, code, place, headers, fields)
    _put_decoys(draw, fields)
    _put_message(draw, headers, fields)
    # The body: JSON whenever it must carry the code; otherwise any of the
    # shapes that reach clients (empty, HTML from a proxy, plain text).
    if code is not None and place != "header":
        shape = "json"
    else:
        shape = draw(st.sampled_from(("json", "empty", "html", "text")))
    body = _error_body(draw, shape, headers, fields)
    return _error_status(draw, code), headers, body, code


def _put_code(
    draw: st.DrawFn, code: str, place: str, headers: dict[str, str], fields: dict[str, object]
) -> None:
    wire = draw(decorated_codes(code))
    if place == "header":
        headers[draw(_header_name("X-Amzn-ErrorType"))] = wire
    else:
        fields[place] = wire
    # Decoys of lower precedence: the header beats body "code", which beats
    # body "__type".
    lower = {"header": ("code", "__type"), "code": ("__type",), "__type": ()}[place]
    for key in lower:
        if draw(st.booleans()):
            fields[key] = draw(error_codes().flatmap(decorated_codes))


def _put_decoys(draw: st.DrawFn, fields: dict[str, object]) -> None:
    # Decoys that never count: capital "Code" and a nested "__type".
    if draw(st.booleans()):
        fields["Code"] = draw(error_codes())
    if draw(st.booleans()):
        fields["error"] = {"__type": draw(error_codes())}


def _put_message(draw: st.DrawFn, headers: dict[str, str], fields: dict[str, object]) -> None:
    message = draw(st.text(_MESSAGE_CHARS, max_size=60))
    where = draw(st.sampled_from(("message", "Message", "header", "none")))
    if where == "header":
        headers[draw(_header_name("x-amzn-ErrorMessage"))] = message
    elif where != "none":
        fields[where] = message


def _error_body(
    draw: st.DrawFn, shape: str, headers: dict[str, str], fields: dict[str, object]
) -> bytes:
    if shape == "json":
        headers["Content-Type"] = "application/x-amz-json-1.1"
        return _json_bytes(fields)
    if shape == "html":
        headers["Content-Type"] = "text/html"
        return draw(st.sampled_from(_HTML_BODIES))
    if shape == "text":
        headers["Content-Type"] = "text/plain"
        body = draw(st.text(_MESSAGE_CHARS, min_size=1, max_size=40)).encode()
        return body if body.strip()[:1] not in (b"{", b"[") else b"x" + body
    return b""


def _error_status(draw: st.DrawFn, code: str | None) -> int:
    if code == "InternalErrorException":
        return 500
    if code in _MODELED_CLIENT_ERRORS:
        return 400
    return draw(st.sampled_from((400, 403, 404, 429, 500, 502, 503, 504)) | st.integers(400, 599))


def error_replies() -> st.SearchStrategy[ErrorReplyTuple]:
    """Error replies in every form awsJson1.1 allows: ``(status, headers, body, code)``.

    ``code`` is what ``parse_response`` must report: the bare shape name, or
    None for a reply that carries no code. The code comes from the
    ``X-Amzn-ErrorType`` header, a body ``code`` or a body ``__type`` (with
    lower-precedence decoys beside it), decorated with a namespace
    (``com.amazonaws.cognito#X``), a URI suffix (``X:http://internal...``) or
    a trailing colon; the message is in ``message``, ``Message``, the
    ``x-amzn-ErrorMessage`` header or nowhere; codeless replies have JSON,
    empty, HTML or plain-text bodies. Statuses are the service's (400, and 500
    for InternalErrorException) for modeled codes, any 4xx/5xx otherwise::

        @given(cst.error_replies())
        def test_decodes(reply):
            status, headers, body, code = reply
            with pytest.raises(ServiceError) as info:
                parse_response(status, headers, body)
            assert info.value.code == code
    """
    return _error_reply()


@st.composite
def _success_reply(draw: st.DrawFn) -> SuccessReplyTuple:
    headers: dict[str, str] = {}
    if draw(st.booleans()):
        headers[draw(_header_name("Content-Type"))] = "application/x-amz-json-1.1"
    request_id = draw(st.none() | st.uuids().map(str))
    if request_id is not None:
        headers[draw(_header_name("x-amzn-RequestId"))] = request_id
    body = draw(
        st.sampled_from((b"{}", b"", b"{ }\n", b" {}"))
        | st.dictionaries(
            st.text(string.ascii_letters, min_size=1, max_size=10),
            st.integers() | st.text(max_size=10) | st.none(),
            max_size=3,
        ).map(_json_bytes)
    )
    return 200, headers, body, request_id


def success_replies() -> st.SearchStrategy[SuccessReplyTuple]:
    """Successful replies: ``(status, headers, body, request_id)``.

    Status 200 with an empty body, ``{}`` (with any whitespace) or a JSON
    object holding members this version does not know (the output may grow);
    with or without ``Content-Type`` and ``x-amzn-RequestId`` (``request_id``
    is its value, or None).
    """
    return _success_reply()
