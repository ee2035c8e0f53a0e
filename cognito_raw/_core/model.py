"""The operation's values: FeedbackValue, the request and the response.

Owns the input constraints of UpdateAuthEventFeedback, written here as
constants and checked against the vendored model (spec/cognito-idp.json) by
tests/test_spec.py. Validation runs at construction, so an invalid request
object cannot exist unless built with ``unchecked()`` on purpose.
"""

from __future__ import annotations

import enum
import re

from .errors import ValidationError
from .record import Record

# typing costs milliseconds at import; annotations alone need it (PEP 563).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any, ClassVar, Final

__all__ = [
    "EVENT_ID_MAX",
    "EVENT_ID_MIN",
    "EVENT_ID_PATTERN",
    "FEEDBACK_TOKEN_MIN",
    "FEEDBACK_TOKEN_PATTERN",
    "MEMBERS",
    "USERNAME_CATEGORIES",
    "USERNAME_MAX",
    "USERNAME_MIN",
    "USERNAME_PATTERN",
    "USER_POOL_ID_MAX",
    "USER_POOL_ID_MIN",
    "USER_POOL_ID_PATTERN",
    "FeedbackValue",
    "Member",
    "UpdateAuthEventFeedbackRequest",
    "UpdateAuthEventFeedbackResponse",
    "feedback_request",
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

# Every printable ASCII character but space is in L, N, P or S: the common
# case needs no per-character category lookup.
_ASCII_USERNAME_RE: Final = re.compile(r"[!-~]+")

_CATEGORY_NAMES: Final = {
    "Z": "a space or separator",
    "C": "a control, format or unassigned character",
}


def _shown(value: str) -> str:
    # Non-secret values may be shown in errors, but bounded: they can come
    # from an untrusted link.
    return repr(value) if len(value) <= 60 else repr(value[:57]) + "..."


def _username_fault(text: str) -> str | None:
    # Python's re has no \p{..}: the rule is checked per code point. The
    # message names the offending character's position, never the value.
    if text.isascii() and _ASCII_USERNAME_RE.fullmatch(text) is not None:
        return None
    # Only a username with a non-ASCII character (or a control) gets here.
    import unicodedata  # noqa: PLC0415

    for index, char in enumerate(text):
        category = unicodedata.category(char)
        if category[0] not in USERNAME_CATEGORIES:
            kind = _CATEGORY_NAMES.get(category[0], category)
            return (
                "every character must be a letter, mark, symbol, number or "
                f"punctuation; character {index + 1} is {kind} ({category})"
            )
    return None


class Member(Record):
    """One string member of the request and the model's rules for it.

    ``field`` is the Python name, ``key`` the JSON member, ``wire`` the name
    the service's messages use. A value is ``low`` to ``high`` characters
    (``high`` None: unbounded) and matches ``pattern``, which ``regex`` is
    compiled from (None: the username's Unicode categories); ``note`` says
    the pattern in words. ``sensitive`` members are never shown in messages.
    The model's validators and the fake both read these.
    """

    field: str
    key: str
    wire: str
    low: int
    high: int | None
    pattern: str
    regex: re.Pattern[str] | None
    note: str
    sensitive: bool

    def check(self, value: object) -> str:
        """Return ``value`` if it satisfies the rules; else raise ``ValidationError``."""
        if not isinstance(value, str):
            raise ValidationError(
                field=self.field, rule=f"must be a string (got {type(value).__name__})"
            )
        size = len(value)
        if size < self.low or (self.high is not None and size > self.high):
            bound = (
                f"{self.low} to {self.high}" if self.high is not None else f"at least {self.low}"
            )
            raise ValidationError(
                field=self.field, rule=f"must be {bound} characters long (got {size})"
            )
        if self.regex is None:
            rule = _username_fault(value)
        elif self.regex.fullmatch(value) is None:
            shown = "" if self.sensitive else f" (got {_shown(value)})"
            rule = f"must match {self.pattern} {self.note}{shown}"
        else:
            return value
        if rule is not None:
            raise ValidationError(field=self.field, rule=rule)
        return value


# In the model's order: the service lists violations in this order.
MEMBERS: Final = (
    Member(
        field="user_pool_id",
        key="UserPoolId",
        wire="userPoolId",
        low=USER_POOL_ID_MIN,
        high=USER_POOL_ID_MAX,
        pattern=USER_POOL_ID_PATTERN,
        regex=re.compile(USER_POOL_ID_PATTERN, re.ASCII),
        note="(ASCII), like 'us-east-1_AbC123'",
        sensitive=False,
    ),
    Member(
        field="username",
        key="Username",
        wire="username",
        low=USERNAME_MIN,
        high=USERNAME_MAX,
        pattern=USERNAME_PATTERN,
        regex=None,
        note="(Unicode letters, marks, symbols, numbers and punctuation)",
        sensitive=True,
    ),
    Member(
        field="event_id",
        key="EventId",
        wire="eventId",
        low=EVENT_ID_MIN,
        high=EVENT_ID_MAX,
        pattern=EVENT_ID_PATTERN,
        regex=re.compile(EVENT_ID_PATTERN, re.ASCII),
        note="(ASCII letters, digits, _, + and -)",
        sensitive=False,
    ),
    Member(
        field="feedback_token",
        key="FeedbackToken",
        wire="feedbackToken",
        low=FEEDBACK_TOKEN_MIN,
        high=None,
        pattern=FEEDBACK_TOKEN_PATTERN,
        regex=re.compile(FEEDBACK_TOKEN_PATTERN, re.ASCII),
        note="(ASCII letters, digits, -, _, = and .)",
        sensitive=True,
    ),
)
_USER_POOL_ID, _USERNAME, _EVENT_ID, _FEEDBACK_TOKEN = MEMBERS


def validate_user_pool_id(value: object) -> str:
    """Check a user pool ID against the model; return it."""
    return _USER_POOL_ID.check(value)


def validate_username(value: object) -> str:
    """Check a username against the model; the error never shows the value."""
    return _USERNAME.check(value)


def validate_event_id(value: object) -> str:
    """Check an event ID against the model; return it."""
    return _EVENT_ID.check(value)


def validate_feedback_token(value: object) -> str:
    """Check a feedback token against the model; the error never shows the value."""
    return _FEEDBACK_TOKEN.check(value)


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
        return _feedback_member(value)

    def __str__(self) -> str:
        return self.value


# The one place a feedback value is normalised: a wire value in any case
# (compared case-folded) names its member.
_MEMBER_BY_FOLDED: Final = {member.value.casefold(): member for member in FeedbackValue}


def _feedback_member(value: object) -> FeedbackValue | None:
    return _MEMBER_BY_FOLDED.get(value.casefold()) if isinstance(value, str) else None


def validate_feedback_value(value: object) -> FeedbackValue:
    """Normalise a feedback value (a member, or a wire value in any case) to a member."""
    member = _feedback_member(value)
    if member is not None:
        return member
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

    user_pool_id: str
    username: str
    event_id: str
    feedback_token: str
    feedback_value: FeedbackValue | str

    _rules: ClassVar[Mapping[str, Callable[[Any], Any]]] = {
        **{member.field: member.check for member in MEMBERS},
        "feedback_value": validate_feedback_value,
    }

    @classmethod
    def unchecked(cls, **values: object) -> UpdateAuthEventFeedbackRequest:
        """Build a request without validation, values sent exactly as given.

        Takes the same keywords as the constructor, each any JSON value. For
        fuzzing and contract-testing a server. The endpoint rules still
        validate a region taken from an unchecked pool ID; or pass
        ``endpoint_url``/``region`` explicitly.
        """
        request: UpdateAuthEventFeedbackRequest = cls._make(values, check=False)
        return request

    def __repr__(self) -> str:
        value = str(self.feedback_value)
        return (
            f"{type(self).__name__}(user_pool_id={self.user_pool_id!r}, "
            f"username=<redacted>, event_id={self.event_id!r}, "
            f"feedback_token=<redacted>, feedback_value={value!r})"
        )


def feedback_request(
    user_pool_id: str,
    username: str,
    event_id: str,
    feedback_token: str,
    feedback_value: FeedbackValue | str,
) -> UpdateAuthEventFeedbackRequest:
    """The validated request from its five values, in the model's order.

    What every caller holding the values apart uses (the clients'
    ``update_auth_event_feedback``, the links, the CLI); raises
    ``ValidationError`` as the constructor does.
    """
    return UpdateAuthEventFeedbackRequest(
        user_pool_id=user_pool_id,
        username=username,
        event_id=event_id,
        feedback_token=feedback_token,
        feedback_value=feedback_value,
    )


class UpdateAuthEventFeedbackResponse(Record):
    """A successful reply. The operation's output is empty; this carries metadata.

    ``attempts`` is set by the clients (1 when parsed directly).
    """

    request_id: str | None
    status_code: int = 200
    attempts: int = 1
