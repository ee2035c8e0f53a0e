"""Rate limits: token-bucket arithmetic, and the client's rate limiter built on it.

``TokenBucket`` is pure and unlocked, shared by ``RateLimiter`` and the
feedback app: callers hold their own lock (or run on one event loop) and
pass the clock's reading in, so tests need no real time. ``RateLimiter`` is
the thread-safe bucket a client shares between its calls; ``run_call`` waits
for its slots.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from cognito_raw._core.errors import ValidationError

from .config import COGNITO_USER_RESOURCE_UPDATE_RPS, check_positive

__all__ = ["RateLimiter", "TokenBucket"]


class TokenBucket:
    """``rate`` tokens a second, holding at most ``burst``; starts full."""

    __slots__ = ("burst", "rate", "stamp", "tokens")

    def __init__(self, rate: float, burst: int, now: float) -> None:
        self.rate = float(rate)
        self.burst = burst
        self.tokens = float(burst)
        self.stamp = now

    def _refill(self, now: float) -> None:
        self.tokens = min(float(self.burst), self.tokens + max(0.0, now - self.stamp) * self.rate)
        self.stamp = max(self.stamp, now)

    def take(self, now: float) -> float:
        """Admit or refuse: 0 if a token was taken, else the seconds until one is free."""
        self._refill(now)
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate

    def reserve(self, now: float, *, within: float | None = None) -> float | None:
        """Queue: take a token now or in the future; return how long to wait for it.

        The bucket may go negative: each reservation gets its own later slot,
        so callers that wait never exceed the rate together. With ``within``
        (seconds), a slot further away than that is not taken: None.
        """
        self._refill(now)
        wait = 0.0 if self.tokens >= 1.0 else (1.0 - self.tokens) / self.rate
        if within is not None and wait > within:
            return None
        self.tokens -= 1.0
        return wait

    def give_back(self) -> None:
        """Return a reserved token that will not be used (its caller left)."""
        self.tokens = min(float(self.burst), self.tokens + 1.0)

    def owe(self, now: float, seconds: float) -> None:
        """Hold back: no token until ``seconds`` from ``now`` (a larger debt stays)."""
        self._refill(now)
        self.tokens = min(self.tokens, 1.0 - seconds * self.rate)


class RateLimiter:
    """A client-side token bucket: at most ``rate`` calls a second, bursts of ``burst``.

    Cognito allows UpdateAuthEventFeedback 25 requests per second per account
    and region (``COGNITO_USER_RESOURCE_UPDATE_RPS``), shared by every caller
    in the account: give each process its share so a busy proxy waits here
    instead of being throttled there. Thread-safe; the clock is injectable.
    """

    def __init__(
        self,
        rate: float = COGNITO_USER_RESOURCE_UPDATE_RPS,
        *,
        burst: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        check_positive("rate", rate)
        self.rate = float(rate)
        self.burst = max(1, int(rate)) if burst is None else burst
        if self.burst < 1:
            raise ValidationError(field="burst", rule=f"must be >= 1 (got {burst!r})")
        self._clock = clock
        self._lock = threading.Lock()
        self._bucket = TokenBucket(self.rate, self.burst, clock())

    def reserve(self, within: float | None = None) -> float | None:
        """Take a slot; return how long to wait before using it (0 if none).

        Reservations queue: each caller gets its own future slot, so waiting
        callers never exceed the rate together. With ``within`` (seconds), a
        slot further away than that is not taken, and None is returned: a
        call that must end by a deadline does not queue past it.
        """
        with self._lock:
            return self._bucket.reserve(self._clock(), within=within)

    def give_back(self) -> None:
        """Return a reserved slot whose caller left (cancelled, or failed) before using it.

        The next reservation is then that much sooner; callers already
        waiting keep their slots.
        """
        with self._lock:
            self._bucket.give_back()
