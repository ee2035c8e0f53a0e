"""How hard one call tries: the configuration values of the call driver.

``RetryPolicy`` (attempts, backoff, the call's deadline, the retry quota),
``Timeout`` (per-attempt limits), Cognito's rate quota for the operation and
the default bound on a reply body. Each is checked once, at construction;
``driver`` reads them and ``limiter`` defaults to the quota.
"""

from __future__ import annotations

import math

from cognito_raw._core.errors import ValidationError
from cognito_raw._core.record import Record

__all__ = [
    "COGNITO_USER_RESOURCE_UPDATE_RPS",
    "DEFAULT_MAX_BODY",
    "RetryPolicy",
    "Timeout",
    "check_positive",
]

# typing costs milliseconds at import; annotations alone need it (PEP 563).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final


# Cognito's quota for the UserResourceUpdate category, which holds
# UpdateAuthEventFeedback: 25 requests per second per account and region, not
# adjustable (Cognito developer guide, "Quotas").
COGNITO_USER_RESOURCE_UPDATE_RPS: Final = 25.0

# The most of a reply body we read. Cognito's replies are a few hundred bytes;
# a hostile or broken endpoint must not make us buffer more than this.
DEFAULT_MAX_BODY: Final = 64 * 1024


def check_positive(name: str, value: float, *, allow_zero: bool = False) -> None:
    ok = value >= 0 if allow_zero else value > 0
    if not (isinstance(value, int | float) and math.isfinite(value) and ok):
        bound = "a finite number >= 0" if allow_zero else "a finite number > 0"
        raise ValidationError(field=name, rule=f"must be {bound} (got {value!r})")


# Records, not dataclasses: importing dataclasses would cost the stdlib
# client's cold start more than its margin (see cognito_raw._core.record).


class Timeout(Record):
    """Per-attempt time limits, in seconds.

    ``total`` bounds one attempt end to end (connect, send, every read), so a
    server trickling a byte at a time cannot hold a call for minutes; the
    others bound each network operation. ``Timeout.of(5)`` sets all to 5.
    """

    connect: float = 3.0
    read: float = 5.0
    write: float = 5.0
    pool: float = 5.0
    total: float = 10.0

    def __post_init__(self) -> None:
        for name in self._fields:
            check_positive(f"timeout.{name}", getattr(self, name))

    @classmethod
    def of(cls, value: float | Timeout | None) -> Timeout:
        """A ``Timeout`` from one number (every limit), a ``Timeout``, or None (defaults)."""
        if value is None:
            return cls()
        if isinstance(value, Timeout):
            return value
        return cls(connect=value, read=value, write=value, pool=value, total=value)


class RetryPolicy(Record):
    """How hard to try.

    - ``max_attempts`` (3): attempts in all, the first included; 1 disables retries.
    - ``base_delay`` (0.2 s) and ``max_delay`` (5 s): full-jitter exponential
      backoff, ``random() * min(max_delay, base_delay * 2**(retry - 1))``.
    - ``deadline`` (None): seconds for the whole call, attempts and waits
      together; no retry starts that would end past it.
    - ``max_retry_after`` (20 s): a server's ``x-amz-retry-after`` or
      ``Retry-After`` replaces the backoff, clamped to this.
    - ``retry_budget`` (500), ``retry_cost`` (5), ``timeout_retry_cost`` (10):
      the SDKs' retry quota, shared by all calls of one client, so an outage
      does not multiply the load; a success returns what its retries cost (or
      1 token when it needed none).
    """

    max_attempts: int = 3
    base_delay: float = 0.2
    max_delay: float = 5.0
    deadline: float | None = None
    max_retry_after: float = 20.0
    retry_budget: int = 500
    retry_cost: int = 5
    timeout_retry_cost: int = 10

    def __post_init__(self) -> None:
        if not isinstance(self.max_attempts, int) or self.max_attempts < 1:
            raise ValidationError(
                field="max_attempts", rule=f"must be an integer >= 1 (got {self.max_attempts!r})"
            )
        check_positive("base_delay", self.base_delay, allow_zero=True)
        check_positive("max_delay", self.max_delay, allow_zero=True)
        check_positive("max_retry_after", self.max_retry_after, allow_zero=True)
        if self.deadline is not None:
            check_positive("deadline", self.deadline)
        for name in ("retry_budget", "retry_cost", "timeout_retry_cost"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 0:
                raise ValidationError(field=name, rule=f"must be an integer >= 0 (got {value!r})")

    def backoff(self, retry: int, rand: float) -> float:
        """The wait before retry number ``retry`` (1-based), given ``rand`` in [0, 1)."""
        ceiling = min(self.max_delay, self.base_delay * 2.0 ** min(retry - 1, 62))
        return rand * ceiling
