"""FakeCognito: the server side of UpdateAuthEventFeedback, in memory.

Owns the fake's model (pools, users, auth events, recorded feedback), the
scripted faults and ``FakeCognito.handle``, the one function that turns a
request into a reply. The httpx transport, the ASGI app and the loopback HTTP
server in ``_fake_http`` are thin drivers around ``handle``, so all three ways
of running the fake answer identically.

Replies follow docs/protocol.md. Members are checked with the client's
own validators (``cognito_raw._core.model``), so the fake and the client can never
disagree about what is valid; only the message text is the service's.
"""

from __future__ import annotations

import collections
import contextlib
import hmac
import json
import math
import secrets
import string
import threading
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Final, Literal, Protocol

from cognito_raw._core.errors import ValidationError
from cognito_raw._core.model import (
    MEMBERS,
    FeedbackValue,
    Member,
    UpdateAuthEventFeedbackRequest,
    validate_user_pool_id,
    validate_username,
)
from cognito_raw._core.protocol import CONTENT_TYPE, TARGET, Headers, _load_object, redact_body

from ._fake_http import FakeASGIApp, FakeTransport, serve_fake

if TYPE_CHECKING:
    from collections.abc import Generator

__all__ = [
    "AuthEvent",
    "FakeCognito",
    "FakeReply",
    "FeedbackRecord",
    "ReceivedRequest",
    "ReplyLike",
]

# The unknown-operation reply, as docs/protocol.md quotes it (a 404 with a "code").
_UNKNOWN_OPERATION: Final = {
    "code": "BadRequest",
    "message": "The server did not understand the operation that was requested.",
    "type": "client",
}
# Coral's codes for what the fake answers itself; messages marked "constructed"
# follow the documented form but were not captured from the service.
_SERIALIZATION_TYPE: Final = "com.amazon.coral.service#SerializationException"
_THROTTLE_MESSAGE: Final = "Rate exceeded"
_INTERNAL_MESSAGE: Final = "Internal server error."  # constructed
_ADDON_MESSAGE: Final = "Threat protection is not enabled for this user pool."  # constructed
_EVENT_MESSAGE: Final = "The feedback token is not valid for this event."  # constructed
_USER_MESSAGE: Final = "User does not exist."
# x-amzn-ErrorMessage is a header: keep it short enough for any client's
# header limits (h11 refuses header blocks over 16 KiB).
_MAX_HEADER_MESSAGE: Final = 512
_POOL_SUFFIX_CHARS: Final = string.ascii_letters + string.digits
_POOL_SUFFIX_LEN: Final = 9

HeaderPairs = tuple[tuple[str, str], ...]


class ReplyLike(Protocol):
    """Anything with ``status``, ``headers`` and ``body``: a FakeReply or a Recording."""

    @property
    def status(self) -> int: ...
    @property
    def headers(self) -> Sequence[tuple[str, str]]: ...
    @property
    def body(self) -> bytes: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class FakeReply:
    """What ``FakeCognito.handle`` answers: the HTTP reply and how to deliver it.

    ``delay`` is how long the driver holds the reply back (seconds); ``drop``
    means close the connection instead of replying.
    """

    status: int
    headers: HeaderPairs
    body: bytes
    delay: float = 0.0
    drop: bool = False

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (case-insensitive), or None."""
        return _find_header(self.headers, name)


@dataclass(frozen=True, slots=True, kw_only=True)
class AuthEvent:
    """A risky sign-in the fake knows about, with the token its email would carry.

    ``repr()`` hides ``username`` and ``feedback_token``.
    """

    user_pool_id: str
    username: str
    event_id: str
    feedback_token: str

    def request(self, value: FeedbackValue | str) -> UpdateAuthEventFeedbackRequest:
        """The UpdateAuthEventFeedback request that gives this event ``value``."""
        # The event's fields are the request's, less the value.
        return UpdateAuthEventFeedbackRequest(**asdict(self), feedback_value=value)

    def __repr__(self) -> str:
        return (
            f"AuthEvent(user_pool_id={self.user_pool_id!r}, username=<redacted>, "
            f"event_id={self.event_id!r}, feedback_token=<redacted>)"
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class ReceivedRequest:
    """One request the fake received, and how it answered.

    ``data`` is the parsed JSON body when it was an object, else None; ``time``
    is ``time.monotonic()`` on arrival; ``fault`` names the scripted fault that
    answered it (``"throttle"``, ``"fail"``, ``"script"``, ``"drop"``,
    ``"delay"``), if any; ``applied`` is true when it recorded feedback.
    ``repr()`` hides the username and token.
    """

    method: str
    path: str
    headers: HeaderPairs
    body: bytes
    data: dict[str, object] | None
    time: float
    request_id: str | None
    status: int
    error_code: str | None
    fault: str | None
    applied: bool

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (case-insensitive), or None."""
        return _find_header(self.headers, name)

    def __repr__(self) -> str:
        return (
            f"ReceivedRequest(method={self.method!r}, path={self.path!r}, "
            f"target={self.header('x-amz-target')!r}, body={redact_body(self.body)!r}, "
            f"status={self.status!r}, error_code={self.error_code!r}, fault={self.fault!r}, "
            f"applied={self.applied!r})"
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class FeedbackRecord:
    """One application of feedback to an event (the operation may be repeated)."""

    user_pool_id: str
    event_id: str
    value: str
    time: float
    request_id: str


@dataclass(slots=True, kw_only=True)
class _User:
    username: str
    sub: str
    aliases: tuple[str, ...]


@dataclass(slots=True, kw_only=True)
class _Event:
    username: str
    token: str
    expired: bool = False
    feedback: str | None = None


@dataclass(slots=True, kw_only=True)
class _Pool:
    threat_protection: bool
    users: dict[str, _User] = field(default_factory=dict)
    # username, alias or sub -> canonical username.
    names: dict[str, str] = field(default_factory=dict)
    events: dict[str, _Event] = field(default_factory=dict)


FaultKind = Literal["throttle", "fail", "script", "drop", "delay"]


@dataclass(slots=True, kw_only=True)
class _Fault:
    kind: FaultKind
    remaining: int
    # For error faults: (status, code, message); the reply is built per call
    # so each one carries its own request ID.
    error: tuple[int, str, str] | None = None
    reply: FakeReply | None = None
    delay: float = 0.0
    applied: bool = False


# Every member the request deserialises, in the model's order: validation
# messages list violations in this order.
_MEMBER_KEYS: Final = (*(member.key for member in MEMBERS), "FeedbackValue")
_WIRE_VALUES: Final = frozenset(value.value for value in FeedbackValue)
_FEEDBACK_VALUE_ENUM: Final = "[" + ", ".join(v.value for v in FeedbackValue) + "]"

# Coral's deserialisation messages for a member of the wrong JSON type.
_TYPE_MESSAGES: Final[Mapping[type, str]] = {
    bool: "class java.lang.Boolean can not be converted to an String",
    int: "class com.amazon.coral.value.json.numbers.TruncatingBigNumber "
    "can not be converted to an String",
    float: "class com.amazon.coral.value.json.numbers.TruncatingBigNumber "
    "can not be converted to an String",
    list: "Start of list found where not expected",
    dict: "Start of structure or map found where not expected.",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class _Call:
    user_pool_id: str
    username: str
    event_id: str
    feedback_token: str
    feedback_value: str


@dataclass(frozen=True, slots=True, kw_only=True)
class _Refusal:
    status: int
    code: str
    message: str
    type_field: str | None = None  # body __type when it differs from the code
    message_key: str = "message"


def _find_header(headers: Iterable[tuple[str, str]], name: str) -> str | None:
    wanted = name.lower()
    for key, value in headers:
        if key.lower() == wanted:
            return value
    return None


def _header_pairs(headers: Headers) -> HeaderPairs:
    items = headers.items() if isinstance(headers, Mapping) else headers
    out: list[tuple[str, str]] = []
    for key, value in items:
        k = key.decode("latin-1") if isinstance(key, bytes) else key
        v = value.decode("latin-1") if isinstance(value, bytes) else value
        out.append((k, v))
    return tuple(out)


def _header_safe(text: str) -> str:
    # Header values must be printable ASCII here: an echoed pool ID can hold
    # anything, including CR/LF. Escape the rest the way JSON would.
    out = "".join(c if " " <= c <= "~" else f"\\u{ord(c):04x}" for c in text)
    return out if len(out) <= _MAX_HEADER_MESSAGE else out[: _MAX_HEADER_MESSAGE - 3] + "..."


def _json(data: Mapping[str, object]) -> bytes:
    # Compact, like the captured reply; ASCII so that a lone surrogate echoed
    # from a request cannot make the body unencodable.
    return json.dumps(data, separators=(",", ":")).encode("ascii")


def _media_type(value: str | None) -> str:
    return (value or "").split(";", 1)[0].strip().lower()


def _violation(member: Member, value: str) -> str:
    # One violation per member: the length rule when the length is out of
    # bounds, else the pattern (the service may list both for one member).
    if len(value) < member.low:
        rule = f"Member must have length greater than or equal to {member.low}"
    elif member.high is not None and len(value) > member.high:
        rule = f"Member must have length less than or equal to {member.high}"
    else:
        rule = f"Member must satisfy regular expression pattern: {member.pattern}"
    shown = "Value" if member.sensitive else f"Value '{value}'"
    return f"{shown} at '{member.wire}' failed to satisfy constraint: {rule}"


def _decode(method: str, path: str, headers: HeaderPairs, body: bytes) -> _Call | _Refusal:
    """Check the envelope, parse and validate the members; no state involved."""
    if not _is_operation(method, path, headers):
        return _Refusal(status=404, code="BadRequest", message="")
    data = _deserialize(body)
    if isinstance(data, _Refusal):
        return data
    return _validate(data)


def _is_operation(method: str, path: str, headers: HeaderPairs) -> bool:
    return (
        method.upper() == "POST"
        and path == "/"
        and _media_type(_find_header(headers, "content-type")) == CONTENT_TYPE
        and _find_header(headers, "x-amz-target") == TARGET
    )


def _deserialize(body: bytes) -> dict[str, object] | _Refusal:
    # Deserialisation fails the whole body: not JSON, not a map, or a member
    # of the wrong JSON type.
    try:
        data = json.loads(body) if body.strip() else None
    except (ValueError, RecursionError):
        return _serialization("Could not parse the request body as JSON.")
    if data is None and body.strip():
        data = {}  # a JSON null body: "Expected map or null" allows it
    if not isinstance(data, dict):
        # An empty body is not a request: clients always send at least "{}".
        return _serialization("Expected map or null")
    for key in _MEMBER_KEYS:
        value = data.get(key)
        if value is not None and not isinstance(value, str):
            return _serialization(_TYPE_MESSAGES.get(type(value), "Unexpected value type"))
    return data


def _validate(data: Mapping[str, object]) -> _Call | _Refusal:
    # Validation lists every violation at once, members in the model's order.
    violations = [
        *(_member_violation(member, data.get(member.key)) for member in MEMBERS),
        _feedback_value_violation(data.get("FeedbackValue")),
    ]
    found = [violation for violation in violations if violation is not None]
    if found:
        head = f"{len(found)} validation error{'s' if len(found) > 1 else ''} detected: "
        return _Refusal(
            status=400, code="InvalidParameterException", message=head + "; ".join(found)
        )
    return _Call(
        **{member.field: str(data[member.key]) for member in MEMBERS},
        feedback_value=str(data["FeedbackValue"]),
    )


def _member_violation(member: Member, raw: object) -> str | None:
    if raw is None:
        shown = "Value" if member.sensitive else "Value null"
        return f"{shown} at '{member.wire}' failed to satisfy constraint: Member must not be null"
    try:
        member.check(raw)
    except ValidationError:
        return _violation(member, str(raw))
    return None


def _feedback_value_violation(raw: object) -> str | None:
    # The client accepts "valid" and normalises it; the wire enum is exact.
    if raw is None:
        return (
            "Value null at 'feedbackValue' failed to satisfy constraint: Member must not be null"
        )
    if raw in _WIRE_VALUES:
        return None
    return (
        f"Value '{raw}' at 'feedbackValue' failed to satisfy constraint: "
        f"Member must satisfy enum value set: {_FEEDBACK_VALUE_ENUM}"
    )


def _serialization(message: str) -> _Refusal:
    return _Refusal(
        status=400,
        code="SerializationException",
        message=message,
        type_field=_SERIALIZATION_TYPE,
        message_key="Message",
    )


def _base_headers(request_id: str) -> list[tuple[str, str]]:
    return [("x-amzn-RequestId", request_id), ("Content-Type", CONTENT_TYPE)]


def _error_reply(request_id: str, refusal: _Refusal) -> FakeReply:
    if refusal.code == "BadRequest":
        body = _json(_UNKNOWN_OPERATION)
        message = str(_UNKNOWN_OPERATION["message"])
    else:
        body = _json(
            {
                "__type": refusal.type_field or refusal.code,
                refusal.message_key: refusal.message,
            }
        )
        message = refusal.message
    headers = [
        *_base_headers(request_id),
        # The trailing colon is the real service's (the captured reply in docs/protocol.md).
        ("x-amzn-ErrorType", f"{refusal.code}:"),
        ("x-amzn-ErrorMessage", _header_safe(message)),
    ]
    return FakeReply(status=refusal.status, headers=tuple(headers), body=body)


class FakeCognito:
    """An in-memory Cognito that answers UpdateAuthEventFeedback.

    Set it up with ``create_user_pool``, ``create_user`` and
    ``create_auth_event`` (or ``seed()``), then point a client at it through
    ``transport`` (httpx, sync and async), ``asgi`` (an ASGI app) or
    ``serve()`` (a real HTTP server on 127.0.0.1). All three go through
    ``handle``, which answers as Cognito does (see docs/protocol.md):

    - another operation, method, path or content type: 404 ``BadRequest``;
    - a body that is not a JSON object, or a member of the wrong JSON type:
      400 ``SerializationException``;
    - a member the model forbids: 400 ``InvalidParameterException``, listing
      every violation in the service's words; the values of ``Username`` and
      ``FeedbackToken`` are never echoed;
    - an unknown pool: ``ResourceNotFoundException``; a pool without threat
      protection: ``UserPoolAddOnNotEnabledException``; a user unknown by
      username, alias and sub: ``UserNotFoundException``;
    - an unknown or expired event, an event of another user, or a token that
      is not the event's: ``NotAuthorizedException``. The real service does
      not document which error each of these gets; the fake gives them all
      the same answer so that a caller cannot probe which part was wrong;
    - otherwise 200 ``{}``: the feedback is recorded. Feedback may be given
      again; the last value wins and every application is counted.

    ``FeedbackValue`` must be exactly ``Valid`` or ``Invalid`` on the wire
    (the model's enum), although the client accepts ``valid``. Usernames and
    aliases are case-sensitive. Pools of every region are served from the
    same fake. Scripted faults (``throttle``, ``fail``, ``fail_with``,
    ``delay``, ``drop_connection``, ``script``) are consumed in the order they
    were added, one per request, before the request is looked at. Thread-safe:
    one lock guards all state.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pools: dict[str, _Pool] = {}
        self._requests: list[ReceivedRequest] = []
        self._history: list[FeedbackRecord] = []
        self._faults: collections.deque[_Fault] = collections.deque()
        # Both drivers are thin and hold only this fake: made here, once.
        self._transport = FakeTransport(self)
        self._asgi = FakeASGIApp(self)

    # --- setup ------------------------------------------------------------------

    def create_user_pool(
        self, *, region: str = "us-east-1", threat_protection: bool = True
    ) -> str:
        """Create a user pool; return its ID (``us-east-1_`` and 9 letters or digits)."""
        for _ in range(100):
            suffix = "".join(secrets.choice(_POOL_SUFFIX_CHARS) for _ in range(_POOL_SUFFIX_LEN))
            pool_id = validate_user_pool_id(f"{region}_{suffix}")
            with self._lock:
                if pool_id not in self._pools:
                    self._pools[pool_id] = _Pool(threat_protection=threat_protection)
                    return pool_id
        raise RuntimeError("could not find a free user pool ID")  # pragma: no cover

    def create_user(
        self,
        pool_id: str,
        username: str,
        *,
        aliases: Iterable[str] = (),
        sub: str | None = None,
    ) -> str:
        """Add a user; return its ``sub`` (a new UUID unless given).

        The operation finds the user by ``username``, any of ``aliases`` (an
        email or phone number) or the ``sub``. Raises ``KeyError`` for an
        unknown pool and ``ValueError`` for a name already taken in the pool.
        """
        validate_username(username)
        names = (username, *aliases, sub if sub is not None else str(uuid.uuid4()))
        for name in names:
            validate_username(name)
        if len(set(names)) != len(names):
            raise ValueError("a user's username, aliases and sub must all differ")
        with self._lock:
            pool = self._pool(pool_id)
            taken = [name for name in names if name in pool.names]
            if taken:
                # Counted, not shown: usernames and aliases are secrets in logs.
                raise ValueError(f"{len(taken)} of the user's names already used in {pool_id}")
            pool.users[username] = _User(username=username, sub=names[-1], aliases=names[1:-1])
            for name in names:
                pool.names[name] = username
        return names[-1]

    def create_auth_event(self, pool_id: str, username: str) -> AuthEvent:
        """Record a risky sign-in of a user (by username, alias or sub).

        Returns its event ID (a UUID) and a fresh feedback token. Raises
        ``KeyError`` for an unknown pool or user.
        """
        event_id = str(uuid.uuid4())
        # URL-safe base64 is within [A-Za-z0-9-_=.]+, the model's token pattern.
        token = secrets.token_urlsafe(48)
        with self._lock:
            pool = self._pool(pool_id)
            canonical = pool.names.get(username)
            if canonical is None:
                raise KeyError(f"no such user in {pool_id}")
            pool.events[event_id] = _Event(username=canonical, token=token)
        return AuthEvent(
            user_pool_id=pool_id, username=canonical, event_id=event_id, feedback_token=token
        )

    def expire_auth_event(self, pool_id: str, event_id: str) -> None:
        """Make an event's token stop working (``NotAuthorizedException``), as time would."""
        with self._lock:
            self._event(pool_id, event_id).expired = True

    def seed(
        self,
        *,
        region: str = "us-east-1",
        username: str = "alice",
        aliases: Iterable[str] = ("alice@example.com",),
    ) -> AuthEvent:
        """Create a pool with threat protection, one user and one auth event; return the event."""
        pool_id = self.create_user_pool(region=region)
        self.create_user(pool_id, username, aliases=aliases)
        return self.create_auth_event(pool_id, username)

    # --- assertions -------------------------------------------------------------

    def feedback(self, pool_id: str, event_id: str) -> str | None:
        """The feedback recorded for an event (``"Valid"``/``"Invalid"``), or None.

        Raises ``KeyError`` for an unknown pool or event.
        """
        with self._lock:
            return self._event(pool_id, event_id).feedback

    def feedback_count(self, pool_id: str, event_id: str) -> int:
        """How many times feedback was applied to an event."""
        with self._lock:
            return sum(
                1
                for record in self._history
                if record.user_pool_id == pool_id and record.event_id == event_id
            )

    @property
    def feedback_history(self) -> list[FeedbackRecord]:
        """Every application of feedback, oldest first (a copy)."""
        with self._lock:
            return list(self._history)

    @property
    def requests(self) -> list[ReceivedRequest]:
        """Every request received, oldest first (a copy)."""
        with self._lock:
            return list(self._requests)

    def clear_requests(self) -> None:
        """Forget the received requests (the feedback history stays)."""
        with self._lock:
            self._requests.clear()

    # --- faults -----------------------------------------------------------------

    def throttle(self, n: int = 1) -> None:
        """Answer the next ``n`` requests with 400 ``TooManyRequestsException``."""
        self._add(
            _Fault(
                kind="throttle",
                remaining=n,
                error=(400, "TooManyRequestsException", _THROTTLE_MESSAGE),
            )
        )

    def fail(self, n: int = 1) -> None:
        """Answer the next ``n`` requests with 500 ``InternalErrorException``."""
        self._add(
            _Fault(
                kind="fail", remaining=n, error=(500, "InternalErrorException", _INTERNAL_MESSAGE)
            )
        )

    def fail_with(self, code: str, message: str = "", *, status: int = 400, n: int = 1) -> None:
        """Answer the next ``n`` requests with an error reply of Cognito's form.

        For errors the model cannot reach otherwise, such as
        ``OperationNotEnabledException``.
        """
        self._add(_Fault(kind="fail", remaining=n, error=(status, code, message)))

    def delay(self, seconds: float, n: int = 1) -> None:
        """Hold back the reply to the next ``n`` requests by ``seconds``.

        The request is applied at once: a client that gives up waiting leaves
        the feedback recorded, as with a real late reply. The httpx transport
        honours the request's read timeout (raising ``httpx.ReadTimeout``).
        """
        if not (math.isfinite(seconds) and seconds >= 0):
            raise ValueError("seconds must be a finite number >= 0")
        self._add(_Fault(kind="delay", remaining=n, delay=float(seconds)))

    def drop_connection(self, n: int = 1, *, applied: bool = False) -> None:
        """Close the connection instead of replying to the next ``n`` requests.

        Over a socket the server closes without a status line; the httpx
        transport raises ``httpx.RemoteProtocolError``; the ASGI app raises
        ``ConnectionAbortedError``. With ``applied`` the request is applied
        first (the reply is lost, not the request).
        """
        self._add(_Fault(kind="drop", remaining=n, applied=applied))

    def script(self, reply: ReplyLike | tuple[int, Headers, bytes | str], n: int = 1) -> None:
        """Answer the next ``n`` requests with exactly ``reply``, applying nothing.

        ``reply`` is ``(status, headers, body)``, a ``FakeReply`` or a
        ``Recording``; it is sent as given (no request ID is added).
        """
        if isinstance(reply, tuple):
            status, headers, body = reply
            fixed = FakeReply(
                status=status,
                headers=_header_pairs(headers),
                body=body.encode() if isinstance(body, str) else body,
            )
        else:
            fixed = FakeReply(status=reply.status, headers=tuple(reply.headers), body=reply.body)
        self._add(_Fault(kind="script", remaining=n, reply=fixed))

    def clear_faults(self) -> None:
        """Drop every scripted fault not yet consumed."""
        with self._lock:
            self._faults.clear()

    @property
    def pending_faults(self) -> int:
        """How many requests the scripted faults will still answer."""
        with self._lock:
            return sum(fault.remaining for fault in self._faults)

    def _add(self, fault: _Fault) -> None:
        if fault.remaining < 1:
            raise ValueError("n must be at least 1")
        with self._lock:
            self._faults.append(fault)

    # --- serving ----------------------------------------------------------------

    @property
    def transport(self) -> FakeTransport:
        """An httpx transport for ``httpx.Client`` and ``httpx.AsyncClient``."""
        return self._transport

    @property
    def asgi(self) -> FakeASGIApp:
        """An ASGI 3 application serving the fake."""
        return self._asgi

    @contextlib.contextmanager
    def serve(self, port: int = 0, host: str = "127.0.0.1") -> Generator[str, None, None]:
        """Serve the fake over HTTP/1.1 on a loopback address; yield its base URL.

        ``port=0`` picks a free port. Only loopback hosts (``127.0.0.0/8``,
        ``::1``, ``localhost``) are accepted: the fake has no authentication.
        The server runs in a daemon thread and is shut down on exit.
        """
        with serve_fake(self, host=host, port=port) as url:
            yield url

    def handle(self, method: str, path: str, headers: Headers, body: bytes) -> FakeReply:
        """Answer one HTTP request; every way of running the fake calls this."""
        arrived = time.monotonic()
        request_id = str(uuid.uuid4())
        pairs = _header_pairs(headers)
        outcome = _decode(method, path, pairs, body)
        data = _load_object(body)
        with self._lock:
            fault = self._take_fault()
            reply: FakeReply
            applied = False
            error_code: str | None = None
            if fault is not None and fault.error is not None:
                status, code, message = fault.error
                reply = _error_reply(
                    request_id, _Refusal(status=status, code=code, message=message)
                )
                error_code = code
            elif fault is not None and fault.reply is not None:
                reply = fault.reply
            elif fault is not None and fault.kind == "drop" and not fault.applied:
                reply = FakeReply(status=0, headers=(), body=b"", drop=True)
            else:
                if isinstance(outcome, _Call):
                    refusal = self._apply(outcome, request_id, arrived)
                    applied = refusal is None
                else:
                    refusal = outcome
                if refusal is None:
                    reply = FakeReply(
                        status=200, headers=tuple(_base_headers(request_id)), body=b"{}"
                    )
                else:
                    reply = _error_reply(request_id, refusal)
                    error_code = refusal.code
                if fault is not None:
                    reply = FakeReply(
                        status=reply.status,
                        headers=reply.headers,
                        body=reply.body,
                        delay=fault.delay,
                        drop=fault.kind == "drop",
                    )
            self._requests.append(
                ReceivedRequest(
                    method=method,
                    path=path,
                    headers=pairs,
                    body=body,
                    data=data,
                    time=arrived,
                    request_id=reply.header("x-amzn-RequestId"),
                    status=reply.status,
                    error_code=error_code,
                    fault=fault.kind if fault is not None else None,
                    applied=applied,
                )
            )
        return reply

    def refuse_oversized(self, method: str, path: str, headers: Headers) -> FakeReply:
        """The reply to a request whose body was too large to read (413); recorded."""
        pairs = _header_pairs(headers)
        reply = FakeReply(
            status=413,
            headers=(("Content-Type", "application/json"),),
            body=_json({"message": "Request Entity Too Large"}),
        )
        with self._lock:
            self._requests.append(
                ReceivedRequest(
                    method=method,
                    path=path,
                    headers=pairs,
                    body=b"",
                    data=None,
                    time=time.monotonic(),
                    request_id=None,
                    status=413,
                    error_code=None,
                    fault=None,
                    applied=False,
                )
            )
        return reply

    # --- internals (the caller holds the lock) ----------------------------------

    def _take_fault(self) -> _Fault | None:
        if not self._faults:
            return None
        fault = self._faults[0]
        fault.remaining -= 1
        if fault.remaining == 0:
            self._faults.popleft()
        return fault

    def _pool(self, pool_id: str) -> _Pool:
        pool = self._pools.get(pool_id)
        if pool is None:
            raise KeyError(f"no user pool {pool_id}")
        return pool

    def _event(self, pool_id: str, event_id: str) -> _Event:
        event = self._pool(pool_id).events.get(event_id)
        if event is None:
            raise KeyError(f"no auth event {event_id} in {pool_id}")
        return event

    def _apply(self, call: _Call, request_id: str, now: float) -> _Refusal | None:
        # The service's order: pool, add-on, user, then the event and token.
        pool = self._pools.get(call.user_pool_id)
        if pool is None:
            return _Refusal(
                status=400,
                code="ResourceNotFoundException",
                message=f"User pool {call.user_pool_id} does not exist.",
            )
        if not pool.threat_protection:
            return _Refusal(
                status=400, code="UserPoolAddOnNotEnabledException", message=_ADDON_MESSAGE
            )
        username = pool.names.get(call.username)
        if username is None:
            return _Refusal(status=400, code="UserNotFoundException", message=_USER_MESSAGE)
        event = pool.events.get(call.event_id)
        if (
            event is None
            or event.expired
            or event.username != username
            # Constant time, as a token check should be even in a fake.
            or not hmac.compare_digest(event.token.encode(), call.feedback_token.encode())
        ):
            return _Refusal(status=400, code="NotAuthorizedException", message=_EVENT_MESSAGE)
        event.feedback = call.feedback_value
        self._history.append(
            FeedbackRecord(
                user_pool_id=call.user_pool_id,
                event_id=call.event_id,
                value=call.feedback_value,
                time=now,
                request_id=request_id,
            )
        )
        return None
