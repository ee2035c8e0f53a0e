"""The awsJson1.1 wire for UpdateAuthEventFeedback, with no I/O.

``build_request`` turns a request object into method, URL, headers and body;
``parse_response`` turns status, headers and body into a response or raises.
Every client, the CLI and the fake drive these two; nothing else in the package
knows the wire. Each rule names its public source where it is applied.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable, Mapping

from cognito_raw._version import __version__

from .endpoints import service_url
from .errors import (
    ERROR_CLASSES,
    InvalidParameterException,
    ProtocolError,
    ServiceError,
    ValidationError,
)
from .model import UpdateAuthEventFeedbackRequest, UpdateAuthEventFeedbackResponse, region_of
from .record import Record

# typing costs milliseconds at import; annotations alone need it (PEP 563).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final

# What parse_response accepts as headers: any mapping (dict, httpx.Headers) or
# an iterable of (name, value) pairs, str or bytes. A plain union, no typing.
Headers = Mapping[str, str] | Iterable[tuple[str, str]] | Iterable[tuple[bytes, bytes]]

__all__ = [
    "CONTENT_TYPE",
    "NON_RETRYABLE_CODES",
    "OPERATION",
    "RETRYABLE_CODES",
    "TARGET",
    "TARGET_PREFIX",
    "Headers",
    "HttpRequest",
    "build_request",
    "check_user_agent_extra",
    "is_retryable",
    "parse_response",
    "redact_body",
    "sanitize_error_code",
    "user_agent",
]

# spec/cognito-idp.json: metadata.targetPrefix, metadata.jsonVersion.
TARGET_PREFIX: Final = "AWSCognitoIdentityProviderService"
OPERATION: Final = "UpdateAuthEventFeedback"
TARGET: Final = f"{TARGET_PREFIX}.{OPERATION}"
CONTENT_TYPE: Final = "application/x-amz-json-1.1"

# Retryable codes: the AWS SDKs' standard-mode throttling and transient lists,
# less LimitExceededException, which in Cognito is a hard quota (too many
# verification attempts): retrying it only burns the quota further.
RETRYABLE_CODES: Final = frozenset(
    {
        "TooManyRequestsException",
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "RequestThrottled",
        "SlowDown",
        "PriorRequestNotComplete",
        "EC2ThrottledException",
        "RequestTimeout",
        "RequestTimeoutException",
        "InternalErrorException",
        "InternalFailure",
        "InternalServerError",
        "ServiceUnavailable",
        "ServiceUnavailableException",
    }
)
NON_RETRYABLE_CODES: Final = frozenset({"LimitExceededException"})
_KNOWN_CODES: Final = RETRYABLE_CODES | NON_RETRYABLE_CODES | frozenset(ERROR_CLASSES)
# Messages Cognito (or its front door) sends with no code when throttling
# (aws-amplify/amplify-js#6767).
_THROTTLE_MESSAGES: Final = frozenset({"rate exceeded", "too many requests"})
# Gateway statuses are transient whatever code a load balancer put on them.
_TRANSIENT_STATUSES: Final = frozenset({502, 503, 504})

# Bounds on what an error reply can put into an exception: a hostile endpoint
# must not be able to make us carry megabytes around in a message.
_MAX_MESSAGE: Final = 1024
_MAX_CODE: Final = 128
_REDACTED: Final = "<redacted>"
# Secrets shorter than this are not scrubbed from server messages: replacing
# every "a" in "Rate exceeded" would destroy the message and hide nothing.
_MIN_SCRUB: Final = 4


def check_user_agent_extra(extra: str) -> str:
    """Check text to append to the User-Agent: printable ASCII (a CR/LF would inject headers)."""
    if not (isinstance(extra, str) and extra.isascii() and extra.isprintable()):
        raise ValidationError(
            field="user_agent_extra", rule="must be printable ASCII (it is a header value)"
        )
    return extra


def user_agent(extra: str | None = None) -> str:
    """The User-Agent header value: cognito-raw's version and Python's, then ``extra``."""
    return f"{_USER_AGENT} {extra}" if extra else _USER_AGENT


_USER_AGENT: Final = (
    f"cognito-raw/{__version__} python/{sys.version_info[0]}.{sys.version_info[1]}"
    f".{sys.version_info[2]}"
)


class HttpRequest(Record, kw_only=False):
    """A request ready to send: ``method``, ``url``, ``headers`` and ``body``.

    Built positionally, ``HttpRequest(method, url, headers, body)``. Its
    ``repr()`` leaves the body out (it holds the username and token); use
    ``redacted_body()`` to show it.
    """

    method: str
    url: str
    headers: dict[str, str]
    body: bytes

    def __hash__(self) -> int:
        # The headers are a dict, which does not hash.
        return hash((self.method, self.url, self.body))

    def redacted_body(self) -> str:
        """The body with ``Username`` and ``FeedbackToken`` replaced."""
        return redact_body(self.body)

    def __repr__(self) -> str:
        return (
            f"HttpRequest(method={self.method!r}, url={self.url!r}, "
            f"headers={self.headers!r}, body=<{len(self.body)} bytes, redacted>)"
        )


def redact_body(body: bytes) -> str:
    """A request body as text with the secret members replaced by ``<redacted>``.

    A body that is not a JSON object is not shown at all.
    """
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return f"<{len(body)} bytes, not JSON>"
    if not isinstance(data, dict):
        return f"<{len(body)} bytes, not a JSON object>"
    for key in ("Username", "FeedbackToken"):
        if key in data:
            data[key] = _REDACTED
    return json.dumps(data)


def build_request(
    request: UpdateAuthEventFeedbackRequest,
    *,
    region: str | None = None,
    endpoint_url: str | None = None,
    use_fips: bool = False,
    use_dualstack: bool = False,
    allow_http: bool = False,
    user_agent_extra: str | None = None,
) -> HttpRequest:
    """Build the HTTP request for one UpdateAuthEventFeedback call.

    The endpoint is ``endpoint_url`` when given (``http://`` only to a loopback
    host unless ``allow_http``; never with ``use_fips`` or ``use_dualstack``),
    else the cognito-idp endpoint of ``region``, which defaults to the user
    pool ID's prefix. The region always passes a strict host-label check, so a
    pool ID from an untrusted link cannot steer the request to another host.
    Raises ``ValidationError`` and sends nothing.
    """
    if user_agent_extra is not None:
        check_user_agent_extra(user_agent_extra)
    if endpoint_url is None and region is None:
        region = region_of(request.user_pool_id)
    url = service_url(
        region,
        endpoint_url=endpoint_url,
        use_fips=use_fips,
        use_dualstack=use_dualstack,
        allow_http=allow_http,
    )
    body = _json_body(request)
    headers = {
        "Content-Type": CONTENT_TYPE,
        "X-Amz-Target": TARGET,
        "Content-Length": str(len(body)),
        "User-Agent": user_agent(user_agent_extra),
        # Cognito's replies are tiny; asking for them uncompressed lets the
        # clients bound what they read without decompressing first.
        "Accept-Encoding": "identity",
    }
    return HttpRequest("POST", url, headers, body)


# Compact, as the AWS SDKs for JavaScript write it; NaN and Infinity are not
# JSON, so an unchecked request holding one is refused rather than sent. The
# object encoded is the flat one built below: no container of ours can hold
# itself, and an unchecked member that does ends in RecursionError, refused
# like any other value that is not JSON.
_JSON: Final = json.JSONEncoder(separators=(",", ":"), allow_nan=False, check_circular=False)


def _json_body(request: UpdateAuthEventFeedbackRequest) -> bytes:
    # Members in the model's order. An unchecked request sends its values as
    # given (any JSON value, for fuzzing a server: numbers, null, lists...);
    # a FeedbackValue is a str, which json writes as its value.
    try:
        return _JSON.encode(
            {
                "UserPoolId": request.user_pool_id,
                "Username": request.username,
                "EventId": request.event_id,
                "FeedbackToken": request.feedback_token,
                "FeedbackValue": request.feedback_value,
            }
        ).encode()
    except (TypeError, ValueError, RecursionError) as exc:
        raise ValidationError(
            field="request", rule="an unchecked request's members must be JSON values"
        ) from exc


def sanitize_error_code(raw: str) -> str:
    """Reduce a wire error code to its shape name.

    Keep what precedes the first ``,`` (a proxy in front may have added a
    second code, joined with a comma: the first is the service's), then what
    precedes the first ``:`` (a URI suffix), then what follows the last ``#``
    (a namespace). The AWS SDK for JavaScript v3 cuts in this order
    (aws/aws-sdk-js-v3 PR #3852); the ``:`` and ``#`` rules are Smithy's
    awsJson1.1 ones. Idempotent: the result has none of the three characters.
    """
    code = raw.split(",", 1)[0]
    code = code.split(":", 1)[0]
    code = code.rpartition("#")[2]
    return code.strip()


def is_retryable(code: str | None, status_code: int, message: str = "") -> bool:
    """Whether an error reply is worth retrying (the operation is idempotent).

    Throttling and transient codes, ``InternalErrorException``, gateway
    statuses, a 5xx with no code, and a codeless throttle (``Rate exceeded``,
    or HTTP 429) are retryable. ``LimitExceededException`` and every other
    4xx are not.
    """
    if code is not None:
        if code in NON_RETRYABLE_CODES:
            return False
        return code in RETRYABLE_CODES or status_code in _TRANSIENT_STATUSES
    if status_code >= 500 or status_code == 429:
        return True
    return message.strip().casefold() in _THROTTLE_MESSAGES


def _header_dict(headers: Headers) -> dict[str, str]:
    # Any mapping (dict, httpx.Headers) or an iterable of pairs, str or bytes;
    # names lower-cased. A name that repeats keeps its first entry (the
    # header rule: see _first_value).
    items = headers.items() if hasattr(headers, "items") else headers
    out: dict[str, str] = {}
    for name, value in items:
        key = name if isinstance(name, str) else name.decode("latin-1")
        text = value if isinstance(value, str) else value.decode("latin-1")
        out.setdefault(key.lower(), text)
    return out


def _first_value(headers: Mapping[str, str], name: str) -> str | None:
    # The one rule for every header the core reads as a token or a number
    # (x-amzn-ErrorType, x-amzn-RequestId, x-amz-request-id, Retry-After,
    # x-amz-retry-after): the first value counts. A header sent twice arrives
    # as two entries or, once an HTTP stack has folded it (RFC 9110 5.3;
    # httpx's Headers.get and .items() do), as one entry joined with ",":
    # _header_dict keeps the first entry, and this keeps what precedes its
    # first ",". The service's own value comes first; a proxy or gateway in
    # front appends its own (the AWS SDK for JavaScript v3 and Amplify read
    # x-amzn-ErrorType the same way: aws/aws-sdk-js-v3 PR #3852). An empty
    # first value is absent. (Retry-After's HTTP-date form holds a comma,
    # "Wed, 21 Oct 2015 07:28:00 GMT"; the core ignores that form anyway,
    # having no trusted clock, so the cut loses nothing that was used.)
    raw = headers.get(name)
    if raw is None:
        return None
    # Only HTTP's optional whitespace (RFC 9110 5.6.3) is trimmed.
    return raw.partition(",")[0].strip(" \t") or None


def _request_id(headers: Mapping[str, str]) -> str | None:
    return _first_value(headers, "x-amzn-requestid") or _first_value(headers, "x-amz-request-id")


# Retry-After is delay-seconds, 1*DIGIT (RFC 9110 10.2.3); the AWS SDKs send
# x-amz-retry-after as whole milliseconds. A fraction is tolerated; anything
# else (signs, exponents, "1_0", "nan", non-ASCII digits, which float() and
# int() would accept) is not a delay. The length bound keeps the number finite.
# A string, compiled by re on first use: only an error reply reads a delay.
_DELAY_RE: Final = r"[0-9]{1,12}(?:\.[0-9]{1,9})?"


def _parse_retry_after(headers: Mapping[str, str]) -> float | None:
    # x-amz-retry-after is in milliseconds; Retry-After in seconds. HTTP-date
    # forms are ignored: without a trusted clock the core cannot turn them
    # into a delay.
    for name, scale in (("x-amz-retry-after", 0.001), ("retry-after", 1.0)):
        raw = _first_value(headers, name)
        if raw is not None and re.fullmatch(_DELAY_RE, raw, re.ASCII):
            return float(raw) * scale
    return None


def _scrub(text: str, secrets: Iterable[str]) -> str:
    # Longest first: a username inside the token must not break the token's
    # match by being replaced before it.
    for secret in sorted(secrets, key=len, reverse=True):
        if len(secret) < _MIN_SCRUB:
            continue
        # A header carries bytes, read here as Latin-1: a non-ASCII secret
        # echoed in one arrives as its UTF-8 bytes in that reading.
        as_header = secret.encode("utf-8", "surrogatepass").decode("latin-1")
        for form in (secret, as_header):
            if form in text:
                text = text.replace(form, _REDACTED)
    if len(text) > _MAX_MESSAGE:
        text = text[:_MAX_MESSAGE] + "..."
    return text


def _load_object(body: bytes) -> dict[str, object] | None:
    # json.loads raises RecursionError for deeply nested input, ValueError for
    # bad JSON or bad UTF-8: both mean "not a JSON object" here.
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) else None


def parse_response(
    status_code: int,
    headers: Headers,
    body: bytes,
    *,
    secrets: Iterable[str] = (),
    truncated: bool = False,
) -> UpdateAuthEventFeedbackResponse:
    """Decode a reply: return the response, or raise.

    A 2xx with an empty body or any JSON object is success. An error reply
    raises the ``ServiceError`` subclass named by its code (header
    ``X-Amzn-ErrorType``, else body ``code``, else body ``__type``), or a
    plain ``ServiceError``. Anything that is not a Cognito answer (a 1xx or
    3xx, a 2xx whose body is not a JSON object, a 2xx whose body was cut off
    at the reader's limit: ``truncated``) raises ``ProtocolError``.

    ``.code`` and ``.message`` say what the reply carried, ``None`` when it
    carried none: the message is the body's ``message`` (else ``Message``),
    else the first ``x-amzn-ErrorMessage`` header, never a text of ours.
    What the core noticed about a reply without one (an empty body, HTML)
    goes into ``.hint``, shown by ``str()`` only. Of every header read as a
    token or a number the first value counts, in the repeated and the
    comma-joined form alike (``_first_value`` states the rule).
    ``secrets`` (the username and token sent) are scrubbed from messages.
    Total: for any input it returns or raises a ``CognitoError``.
    """
    h = _header_dict(headers)
    request_id = _request_id(h)
    if request_id is not None:
        request_id = _scrub(request_id, secrets)
    if 200 <= status_code < 300:
        _check_success_body(status_code, body, request_id, truncated=truncated)
        return UpdateAuthEventFeedbackResponse(request_id=request_id, status_code=status_code)
    if status_code < 400 or status_code > 599:
        what = "a redirect, not followed" if 300 <= status_code < 400 else "not a Cognito reply"
        raise ProtocolError(
            f"unexpected HTTP {status_code}: {what}",
            status_code=status_code,
            request_id=request_id,
        )
    raise _service_error(status_code, h, body, request_id, secrets)


def _check_success_body(
    status_code: int, body: bytes, request_id: str | None, *, truncated: bool
) -> None:
    # Cognito's success is "{}" (read without json): a body cut off at the reader's limit is not
    # Cognito's, whatever its first bytes say, and neither is one that is not
    # a JSON object. Either way the feedback may not have been recorded.
    if truncated:
        problem = f"whose body exceeds {len(body)} bytes"
    elif body.strip() not in (b"", b"{}") and _load_object(body) is None:
        problem = "whose body is not a JSON object"
    else:
        return
    raise ProtocolError(
        f"HTTP {status_code} reply {problem} (the feedback may not have been recorded)",
        status_code=status_code,
        request_id=request_id,
    )


def _service_error(
    status_code: int,
    h: Mapping[str, str],
    body: bytes,
    request_id: str | None,
    secrets: Iterable[str],
) -> ServiceError:
    # An error reply (4xx, 5xx) as the exception to raise.
    data = _load_object(body)
    fields = data or {}
    code = _error_code(h, fields, secrets)
    message = _error_message(h, fields, secrets)
    retryable = is_retryable(code, status_code, message or "")
    cls = ERROR_CLASSES.get(code, ServiceError) if code is not None else ServiceError
    error = cls(
        code=code,
        message=message,
        status_code=status_code,
        request_id=request_id,
        retryable=retryable,
        retry_after=_parse_retry_after(h),
        hint=None if message is not None else _body_hint(body, data),
    )
    if isinstance(error, InvalidParameterException):
        reason = fields.get("reasonCode")
        error.reason_code = _scrub(reason, secrets) if isinstance(reason, str) else None
    return error


def _error_code(
    h: Mapping[str, str], data: Mapping[str, object], secrets: Iterable[str]
) -> str | None:
    # Header, then body "code", then body "__type"; the first usable one.
    for raw in (h.get("x-amzn-errortype"), data.get("code"), data.get("__type")):
        if isinstance(raw, str):
            # A code is one printable token or none: it goes into str(), logs
            # and the CLI, where a newline would forge a line. A source that
            # is not one counts as absent. (sanitize_error_code keeps the
            # first of comma-joined values: the header rule.)
            code = sanitize_error_code(raw)[:_MAX_CODE].strip() or None
            if code is not None and code not in _KNOWN_CODES:
                # An unknown code may be an echo of what we sent; a known one
                # cannot be (scrubbing it would break dispatch for a username
                # like "Internal").
                code = _scrub(code, secrets)
            if code is not None and code.isprintable():
                return code
    return None


def _error_message(
    h: Mapping[str, str], data: Mapping[str, object], secrets: Iterable[str]
) -> str | None:
    # Body "message", else "Message" (SerializationException's spelling), else
    # the x-amzn-ErrorMessage header, else None. The header is free text: its
    # first entry counts whole (_header_dict), commas included, since a
    # message's own commas cannot be told from a folded second value.
    message: object = data.get("message")
    if not isinstance(message, str):
        message = data.get("Message")
    if not isinstance(message, str):
        message = h.get("x-amzn-errormessage")
    return _scrub(message, secrets) if isinstance(message, str) else None


def _body_hint(body: bytes, data: dict[str, object] | None) -> str | None:
    # For people reading str(exc) of a reply that carried no message: what
    # the body was instead. Never the body itself (it may echo a secret).
    if data is not None:
        return None
    if not body.strip():
        return "the reply body is empty"
    if body.lstrip()[:1] == b"<":
        return "the reply body is not JSON (it looks like HTML or XML)"
    return "the reply body is not a JSON object"
