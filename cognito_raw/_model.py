"""The operation's values: FeedbackValue, the request and the response.

Owns the input constraints of UpdateAuthEventFeedback, written here as
constants and checked against the vendored model (spec/cognito-idp.json) by
tests/test_spec.py. Validation runs at construction, so an invalid request
object cannot exist unless built with ``unchecked()`` on purpose.
"""

from __future__ import annotations

import enum
import re
import unicodedata

from ._errors import ValidationError
from ._record import Record, slot_setters

# typing costs milliseconds at import; annotations alone need it (PEP 563).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final

__all__ = [
    "EVENT_ID_MAX",
    "EVENT_ID_MIN",
    "EVENT_ID_PATTERN",
    "FEEDBACK_TOKEN_MIN",
    "FEEDBACK_TOKEN_PATTERN",
    "USERNAME_CATEGORIES",
    "USERNAME_MAX",
    "USERNAME_MIN",
    "USERNAME_PATTERN",
    "USER_POOL_ID_MAX",
    "USER_POOL_ID_MIN",
    "USER_POOL_ID_PATTERN",
    "FeedbackValue",
    "UpdateAuthEventFeedbackRequest",
    "UpdateAuthEventFeedbackResponse",
    "region_of",
]

# Constraints from the model's shapes (UserPoolIdType, UsernameType,
# EventIdType, TokenModelType). The patterns are Smithy's, unanchored; the
# service treats them as a full match, and its `\w` is ASCII.
USER_POOL_ID_PATTERN: Final = r"[\w-]+_[0-9a-zA-Z]+"
USER_POOL_ID_MIN: Final = 1
USER_POOL_ID_MAX: Final = 55
USERNAME_PATTERN: Final = r"[\p{L}\p{M}\p{S}\p{N}\p{P}]+"
USERNAME_MIN: Final = 1
USERNAME_MAX: Final = 128
EVENT_ID_PATTERN: Final = r"[\w+-]+"
EVENT_ID_MIN: Final = 1
EVENT_ID_MAX: Final = 50
FEEDBACK_TOKEN_PATTERN: Final = r"[A-Za-z0-9-_=.]+"  # noqa: S105 - a pattern, not a secret
# TokenModelType has no length bound; the pattern's `+` makes it non-empty.
FEEDBACK_TOKEN_MIN: Final = 1

# Python's re has no \p{..}: the username rule is checked per code point with
# unicodedata, on the first letter of the general category.
USERNAME_CATEGORIES: Final = frozenset("LMSNP")

_USER_POOL_ID_RE: Final = re.compile(USER_POOL_ID_PATTERN, re.ASCII)
_EVENT_ID_RE: Final = re.compile(EVENT_ID_PATTERN, re.ASCII)
_FEEDBACK_TOKEN_RE: Final = re.compile(FEEDBACK_TOKEN_PATTERN, re.ASCII)
# Every printable ASCII character but space is in L, N, P or S: a fast path
# for the common case that gives the same verdict as the category loop.
_ASCII_USERNAME_RE: Final = re.compile(r"[!-~]+")

_CATEGORY_NAMES: Final = {
    "Z": "a space or separator",
    "C": "a control, format or unassigned character",
}


def _shown(value: str) -> str:
    # Non-secret values may be shown in errors, but bounded: they can come
    # from an untrusted link.
    return repr(value) if len(value) <= 60 else repr(value[:57]) + "..."


def _check_length(field: str, value: str, low: int, high: int | None) -> None:
    if len(value) < low or (high is not None and len(value) > high):
        bound = f"{low} to {high}" if high is not None else f"at least {low}"
        raise ValidationError(
            field=field, rule=f"must be {bound} characters long (got {len(value)})"
        )


def _check_str(field: str, value: object) -> str:
    if not isinstance(value, str):
        raise ValidationError(field=field, rule=f"must be a string (got {type(value).__name__})")
    return value


# Pool IDs that passed, remembered: a service sends feedback for one or a few
# pools, so most calls skip the regex. Bounded; cleared when full.
_KNOWN_POOLS: Final[set[str]] = set()
_KNOWN_POOLS_MAX: Final = 64


def validate_user_pool_id(value: object) -> str:
    """Check a user pool ID against the model; return it."""
    if value.__class__ is str and value in _KNOWN_POOLS:
        return value
    # Fast path: one length check and one match for the valid case; the
    # checks below run only to say what is wrong.
    if (
        isinstance(value, str)
        and len(value) <= USER_POOL_ID_MAX
        and _USER_POOL_ID_RE.fullmatch(value) is not None
    ):
        if value.__class__ is str:
            if len(_KNOWN_POOLS) >= _KNOWN_POOLS_MAX:
                _KNOWN_POOLS.clear()
            _KNOWN_POOLS.add(value)
        return value
    text = _check_str("user_pool_id", value)
    _check_length("user_pool_id", text, USER_POOL_ID_MIN, USER_POOL_ID_MAX)
    if _USER_POOL_ID_RE.fullmatch(text) is None:
        raise ValidationError(
            field="user_pool_id",
            rule=f"must match {USER_POOL_ID_PATTERN} (ASCII), like "
            f"'us-east-1_AbC123' (got {_shown(text)})",
        )
    return text


def validate_username(value: object) -> str:
    """Check a username against the model; the error never shows the value."""
    if (
        isinstance(value, str)
        and len(value) <= USERNAME_MAX
        and value.isascii()
        and _ASCII_USERNAME_RE.fullmatch(value) is not None
    ):
        return value
    text = _check_str("username", value)
    _check_length("username", text, USERNAME_MIN, USERNAME_MAX)
    if text.isascii() and _ASCII_USERNAME_RE.fullmatch(text) is not None:
        return text
    for index, char in enumerate(text):
        category = unicodedata.category(char)
        if category[0] not in USERNAME_CATEGORIES:
            kind = _CATEGORY_NAMES.get(category[0], category)
            raise ValidationError(
                field="username",
                rule="every character must be a letter, mark, symbol, number or "
                f"punctuation; character {index + 1} is {kind} ({category})",
            )
    return text


def validate_event_id(value: object) -> str:
    """Check an event ID against the model; return it."""
    if (
        isinstance(value, str)
        and len(value) <= EVENT_ID_MAX
        and _EVENT_ID_RE.fullmatch(value) is not None
    ):
        return value
    text = _check_str("event_id", value)
    _check_length("event_id", text, EVENT_ID_MIN, EVENT_ID_MAX)
    if _EVENT_ID_RE.fullmatch(text) is None:
        raise ValidationError(
            field="event_id",
            rule=f"must match {EVENT_ID_PATTERN} (ASCII letters, digits, _, + and -) "
            f"(got {_shown(text)})",
        )
    return text


def validate_feedback_token(value: object) -> str:
    """Check a feedback token against the model; the error never shows the value."""
    if isinstance(value, str) and _FEEDBACK_TOKEN_RE.fullmatch(value) is not None:
        return value
    text = _check_str("feedback_token", value)
    _check_length("feedback_token", text, FEEDBACK_TOKEN_MIN, None)
    if _FEEDBACK_TOKEN_RE.fullmatch(text) is None:
        raise ValidationError(
            field="feedback_token",
            rule=f"must match {FEEDBACK_TOKEN_PATTERN} (ASCII letters, digits, -, _, = and .)",
        )
    return text


def region_of(user_pool_id: str) -> str:
    """The region a user pool ID names: the part before its last ``_``.

    The result is not yet safe for a URL; the endpoint rules validate it.
    """
    return user_pool_id.rpartition("_")[0]


class FeedbackValue(str, enum.Enum):
    """The user's verdict on a risky sign-in.

    ``"Valid"`` and ``"Invalid"`` are the wire values; ``FeedbackValue("valid")``
    also works (the email links say ``valid``/``invalid``).
    """

    VALID = "Valid"
    INVALID = "Invalid"

    @classmethod
    def _missing_(cls, value: object) -> FeedbackValue | None:
        if isinstance(value, str):
            folded = value.casefold()
            for member in cls:
                if member.value.casefold() == folded:
                    return member
        return None

    def __str__(self) -> str:
        return self.value


# The four spellings seen in practice, looked up before Enum.__call__ (which
# costs a microsecond). A member itself misses here (Enum hashes by name) and
# takes the Enum.__call__ path, which returns it unchanged.
_FEEDBACK_VALUES: Final = {
    "Valid": FeedbackValue.VALID,
    "Invalid": FeedbackValue.INVALID,
    "valid": FeedbackValue.VALID,
    "invalid": FeedbackValue.INVALID,
}


def validate_feedback_value(value: object) -> FeedbackValue:
    """Normalise a feedback value to a FeedbackValue member."""
    if isinstance(value, str):
        member = _FEEDBACK_VALUES.get(value)
        if member is not None:
            return member
        try:
            return FeedbackValue(value)
        except ValueError:
            pass
    shown = _shown(value) if isinstance(value, str) else type(value).__name__
    raise ValidationError(
        field="feedback_value", rule=f"must be 'Valid' or 'Invalid' (got {shown})"
    )


class UpdateAuthEventFeedbackRequest(Record):
    """One UpdateAuthEventFeedback call, validated when built.

    Immutable and keyword-only. Raises ``ValidationError`` naming the field
    and the rule. ``repr()`` hides ``username`` and ``feedback_token``. To
    send what the model forbids (to fuzz a server), build one with
    ``unchecked()``.
    """

    __slots__ = ("event_id", "feedback_token", "feedback_value", "user_pool_id", "username")
    _fields = ("user_pool_id", "username", "event_id", "feedback_token", "feedback_value")

    user_pool_id: str
    username: str
    event_id: str
    feedback_token: str
    feedback_value: FeedbackValue | str

    def __init__(
        self,
        *,
        user_pool_id: str,
        username: str,
        event_id: str,
        feedback_token: str,
        feedback_value: FeedbackValue | str,
    ) -> None:
        set_pool, set_user, set_event, set_token, set_value = _REQUEST_SETTERS
        set_pool(self, validate_user_pool_id(user_pool_id))
        set_user(self, validate_username(username))
        set_event(self, validate_event_id(event_id))
        set_token(self, validate_feedback_token(feedback_token))
        set_value(self, validate_feedback_value(feedback_value))

    @classmethod
    def unchecked(
        cls,
        *,
        user_pool_id: str,
        username: str,
        event_id: str,
        feedback_token: str,
        feedback_value: FeedbackValue | str,
    ) -> UpdateAuthEventFeedbackRequest:
        """Build a request without validation, values sent exactly as given.

        For fuzzing and contract-testing a server. The endpoint rules still
        validate a region taken from an unchecked pool ID; or pass
        ``endpoint_url``/``region`` explicitly.
        """
        self = object.__new__(cls)
        self._set("user_pool_id", user_pool_id)
        self._set("username", username)
        self._set("event_id", event_id)
        self._set("feedback_token", feedback_token)
        self._set("feedback_value", feedback_value)
        return self

    def __repr__(self) -> str:
        value = str(self.feedback_value)
        return (
            f"{type(self).__name__}(user_pool_id={self.user_pool_id!r}, "
            f"username=<redacted>, event_id={self.event_id!r}, "
            f"feedback_token=<redacted>, feedback_value={value!r})"
        )


class UpdateAuthEventFeedbackResponse(Record):
    """A successful reply. The operation's output is empty; this carries metadata.

    ``attempts`` is set by the clients (1 when parsed directly).
    """

    __slots__ = ("attempts", "request_id", "status_code")
    _fields = ("request_id", "status_code", "attempts")

    request_id: str | None
    status_code: int
    attempts: int

    def __init__(
        self, *, request_id: str | None, status_code: int = 200, attempts: int = 1
    ) -> None:
        set_id, set_status, set_attempts = _RESPONSE_SETTERS
        set_id(self, request_id)
        set_status(self, status_code)
        set_attempts(self, attempts)


# Records are immutable: their __init__s set the slots through these.
_REQUEST_SETTERS: Final = slot_setters(
    UpdateAuthEventFeedbackRequest, *UpdateAuthEventFeedbackRequest._fields
)
_RESPONSE_SETTERS: Final = slot_setters(
    UpdateAuthEventFeedbackResponse, *UpdateAuthEventFeedbackResponse._fields
)
