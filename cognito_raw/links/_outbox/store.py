"""What a submission is at rest: its states and its rows.

Owns the rows the store hands out (``Added``, ``Pending``), the four
states, ``OutboxError``, the digest key's making, and the outbox URL's two
readings (``parse_url``, ``redact_url``). The store itself is
``sql.SQLStore``, run by ``sqlite`` over the standard library's ``sqlite3``
and by ``postgres`` over psycopg 3; the backends import this module and
nothing above it, and ``deliverer`` picks one (``open_store``).
"""

from __future__ import annotations

import secrets
import urllib.parse
from dataclasses import dataclass, field
from typing import Final

from cognito_raw._core.errors import ValidationError
from cognito_raw._core.model import UpdateAuthEventFeedbackRequest, feedback_request

__all__ = [
    "DELIVERED",
    "EXPIRED",
    "FINAL_STATES",
    "PENDING",
    "REJECTED",
    "STATES",
    "Added",
    "OutboxError",
    "Pending",
    "new_key",
    "new_lease",
    "parse_url",
    "redact_url",
]

PENDING: Final = "pending"
DELIVERED: Final = "delivered"
REJECTED: Final = "rejected"
EXPIRED: Final = "expired"
STATES: Final = (PENDING, DELIVERED, REJECTED, EXPIRED)
FINAL_STATES: Final = (DELIVERED, REJECTED, EXPIRED)


class OutboxError(Exception):
    """The outbox database could not be opened or used (its driver's error is the cause).

    The message names the operation and the driver's error class, never a
    stored username or token, nor the URL's password.
    """


def parse_url(url: str) -> tuple[str, str]:
    """``("sqlite", "/abs/path.db")`` or ``("postgresql", url)``; ``ValidationError`` if neither.

    The rule quoted in the error never includes the URL itself (it may hold
    a password).
    """
    if not isinstance(url, str):
        raise ValidationError(field="outbox", rule="must be a URL string")
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 - parsing the port may fail too
    except ValueError:
        raise ValidationError(field="outbox", rule="not a valid URL") from None
    scheme = parts.scheme.lower()
    if scheme == "sqlite":
        path = urllib.parse.unquote(parts.path)
        if parts.netloc or parts.query or parts.fragment or not path.startswith("/"):
            raise ValidationError(
                field="outbox",
                rule="a SQLite outbox is sqlite:///absolute/path.db (no host, query or fragment)",
            )
        if path.endswith("/") or "\0" in path:
            raise ValidationError(field="outbox", rule="the SQLite path must name a file")
        return "sqlite", path
    if scheme in ("postgresql", "postgres"):
        return "postgresql", url
    raise ValidationError(
        field="outbox", rule="the URL must start with sqlite:/// or postgresql://"
    )


def redact_url(url: str) -> str:
    """The URL with any password replaced by ``***``, for messages."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return "<not a valid URL>"
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    user = parts.username or ""
    return urllib.parse.urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def new_key() -> bytes:
    """A fresh digest key (32 random bytes), made once when an outbox is created."""
    return secrets.token_bytes(32)


def new_lease(owner: str) -> str:
    """The token of one claim: its deliverer's name and a random part of its own.

    Every claim gets a new one, so a call that outlived its lease cannot
    release or finish the row once another claim (even by a sibling worker
    of the same deliverer) holds it.
    """
    return f"{owner}/{secrets.token_hex(8)}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Added:
    """What ``SQLStore.add`` found: the row's ID and state, and whether this call made it.

    ``lease`` is the new row's lease token when it was added leased, else None.
    """

    id: int
    state: str
    new: bool
    lease: str | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class Pending:
    """A leased row, ready to send: ``repr()`` hides the username, token and lease.

    ``lease`` is this claim's token: ``release`` and ``finish`` act only while
    the row's lease is still this one.
    """

    id: int
    user_pool_id: str
    event_id: str
    feedback_value: str
    username: str = field(repr=False)
    feedback_token: str = field(repr=False)
    attempts: int
    age: float
    lease: str = field(repr=False)

    def request(self) -> UpdateAuthEventFeedbackRequest:
        """The request to send (validated again: the row may have been edited)."""
        return feedback_request(
            self.user_pool_id,
            self.username,
            self.event_id,
            self.feedback_token,
            self.feedback_value,
        )
