"""Cognito Custom email sender events: the feedback context of an ATO notification.

Owns the reading of a ``CustomEmailSender_AccountTakeOverNotification`` event
(shape: the aws-lambda type definitions,
``CustomEmailSender_AccountTakeOverNotification_UserAttributes``) into a frozen
value that can build the request and the feedback links. Pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from cognito_raw._core.errors import ValidationError
from cognito_raw._core.model import FeedbackValue, UpdateAuthEventFeedbackRequest, feedback_request

from ._url import make_link

__all__ = [
    "ATO_TRIGGER_SOURCE",
    "FeedbackContext",
    "FeedbackLinks",
    "from_custom_email_sender_event",
]

ATO_TRIGGER_SOURCE: Final = "CustomEmailSender_AccountTakeOverNotification"

# request.userAttributes keys besides EVENT_ID, USER_NAME and FEEDBACK_TOKEN
# (which the request needs). These are display details: a missing one must not
# stop the notification from going out, so it reads as None.
_OPTIONAL: Final = (
    "ONE_CLICK_LINK_VALID",
    "ONE_CLICK_LINK_INVALID",
    "IP_ADDRESS",
    "LOGIN_TIME",
    "ACCOUNT_TAKE_OVER_ACTION",
    "CITY",
    "COUNTRY",
    "DEVICE_NAME",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class FeedbackLinks:
    """The two feedback links for one event; ``repr()`` hides them (they hold the token)."""

    valid: str
    invalid: str

    def __repr__(self) -> str:
        return "FeedbackLinks(valid=<redacted>, invalid=<redacted>)"


@dataclass(frozen=True, slots=True, kw_only=True)
class FeedbackContext:
    """What an account-takeover notification says, ready to build feedback from.

    Built by ``from_custom_email_sender_event``. The user pool, username,
    event ID and token are validated as a request would be. ``repr()`` hides
    the username, the token and Cognito's one-click links (which hold the
    token). ``action`` is ``ACCOUNT_TAKE_OVER_ACTION`` (``BLOCK``,
    ``NO_ACTION``, ``MFA``, ``MFA_IF_CONFIGURED`` or ``MFA_REQUIRED``).
    """

    user_pool_id: str
    username: str
    event_id: str
    feedback_token: str
    one_click_link_valid: str | None = None
    one_click_link_invalid: str | None = None
    ip_address: str | None = None
    login_time: str | None = None
    city: str | None = None
    country: str | None = None
    device_name: str | None = None
    action: str | None = None

    def __post_init__(self) -> None:
        self.request(FeedbackValue.VALID)

    def request(self, value: FeedbackValue | str) -> UpdateAuthEventFeedbackRequest:
        """The UpdateAuthEventFeedback request for the user's answer."""
        return feedback_request(
            self.user_pool_id, self.username, self.event_id, self.feedback_token, value
        )

    def link(self, base_url: str, value: FeedbackValue | str, *, include_pool: bool = True) -> str:
        """The ``make_link`` link to your ``feedback_app`` for one answer."""
        return make_link(
            base_url,
            user_pool_id=self.user_pool_id if include_pool else None,
            username=self.username,
            event_id=self.event_id,
            feedback_token=self.feedback_token,
            value=value,
        )

    def links(self, base_url: str, *, include_pool: bool = True) -> FeedbackLinks:
        """Both links (``valid``: it was me; ``invalid``: it was not)."""
        return FeedbackLinks(
            valid=self.link(base_url, FeedbackValue.VALID, include_pool=include_pool),
            invalid=self.link(base_url, FeedbackValue.INVALID, include_pool=include_pool),
        )

    def __repr__(self) -> str:
        return (
            f"FeedbackContext(user_pool_id={self.user_pool_id!r}, username=<redacted>, "
            f"event_id={self.event_id!r}, feedback_token=<redacted>, "
            f"one_click_link_valid=<redacted>, one_click_link_invalid=<redacted>, "
            f"ip_address={self.ip_address!r}, login_time={self.login_time!r}, "
            f"city={self.city!r}, country={self.country!r}, "
            f"device_name={self.device_name!r}, action={self.action!r})"
        )


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _mapping(value: object, field: str) -> Mapping[str, object]:
    if not isinstance(value, Mapping):
        raise ValidationError(field=field, rule=f"must be an object (got {type(value).__name__})")
    return value


def _kind(value: object) -> str:
    return "missing" if value is None else f"a {type(value).__name__}"


def _required(attributes: Mapping[str, object], key: str) -> str:
    value = attributes.get(key)
    if not isinstance(value, str):
        raise ValidationError(
            field=f"request.userAttributes.{key}", rule=f"must be a string (got {_kind(value)})"
        )
    return value


def _optional(attributes: Mapping[str, object], key: str) -> str | None:
    return None if attributes.get(key) is None else _required(attributes, key)


def from_custom_email_sender_event(event: Mapping[str, object]) -> FeedbackContext:
    """The feedback context of a Custom email sender account-takeover event.

    ``event`` is the Lambda event as a dict. Its ``triggerSource`` must be
    ``CustomEmailSender_AccountTakeOverNotification``; the pool comes from
    ``userPoolId`` and the rest from ``request.userAttributes`` (``EVENT_ID``,
    ``USER_NAME`` and ``FEEDBACK_TOKEN`` required; ``ONE_CLICK_LINK_VALID``,
    ``ONE_CLICK_LINK_INVALID``, ``IP_ADDRESS``, ``LOGIN_TIME``,
    ``ACCOUNT_TAKE_OVER_ACTION``, ``CITY``, ``COUNTRY``, ``DEVICE_NAME``
    optional). Raises ``ValidationError`` naming the event field; messages
    never contain the username or the token.
    """
    event = _mapping(event, "event")
    source = event.get("triggerSource")
    if source != ATO_TRIGGER_SOURCE:
        raise ValidationError(
            field="triggerSource",
            rule=f"must be {ATO_TRIGGER_SOURCE!r}: only account-takeover notifications "
            f"carry a feedback token (got {_shown(source)})",
        )
    request = _mapping(event.get("request"), "request")
    attributes = _mapping(request.get("userAttributes"), "request.userAttributes")
    pool = event.get("userPoolId")
    if not isinstance(pool, str):
        raise ValidationError(field="userPoolId", rule=f"must be a string (got {_kind(pool)})")
    optional = {key: _optional(attributes, key) for key in _OPTIONAL}
    return FeedbackContext(
        user_pool_id=pool,
        username=_required(attributes, "USER_NAME"),
        event_id=_required(attributes, "EVENT_ID"),
        feedback_token=_required(attributes, "FEEDBACK_TOKEN"),
        one_click_link_valid=optional["ONE_CLICK_LINK_VALID"],
        one_click_link_invalid=optional["ONE_CLICK_LINK_INVALID"],
        ip_address=optional["IP_ADDRESS"],
        login_time=optional["LOGIN_TIME"],
        city=optional["CITY"],
        country=optional["COUNTRY"],
        device_name=optional["DEVICE_NAME"],
        action=optional["ACCOUNT_TAKE_OVER_ACTION"],
    )
