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


# How many of the latest tokens taken can still be given back: older ones
# have long been used, or are forfeited.
_GIVE_BACK_WINDOW = 1024


class TokenBucket:
    """``rate`` tokens a second, holding at most ``burst``; starts full.

    Every token taken (``take`` admitting, ``reserve``) gets a ticket, read
    from ``ticket`` right after, for ``give_back``.
    """

    __slots__ = ("_live", "_returned", "burst", "rate", "stamp", "ticket", "tokens")

    def __init__(self, rate: float, burst: int, now: float) -> None:
        self.rate = float(rate)
        self.burst = burst
        self.tokens = float(burst)
        self.stamp = now
        self.ticket = 0  # the latest token's
        # The tickets that may still be given back, as [first, last] runs,
        # oldest first (a run per give-back, not per token: a bucket nobody
        # gives back to holds one), and those given back that wait for the
        # ones after them.
        self._live: list[list[int]] = []
        self._returned: set[int] = set()

    def _refill(self, now: float) -> None:
        self.tokens = min(float(self.burst), self.tokens + max(0.0, now - self.stamp) * self.rate)
        self.stamp = max(self.stamp, now)
        if self.tokens >= self.burst and self._live:
            # Full: giving back any token taken so far would change nothing.
            self._live.clear()
            self._returned.clear()

    def _spend(self) -> None:
        self.tokens -= 1.0
        self.ticket += 1
        live = self._live
        if live and live[-1][1] == self.ticket - 1:
            live[-1][1] = self.ticket
        else:
            live.append([self.ticket, self.ticket])
        if live[0][0] < self.ticket - 2 * _GIVE_BACK_WINDOW:
            self._forget_before(self.ticket - _GIVE_BACK_WINDOW)

    def _forget_before(self, oldest: int) -> None:
        live = self._live
        while live and live[0][1] < oldest:
            del live[0]
        if live:
            live[0][0] = max(live[0][0], oldest)
        self._returned = {ticket for ticket in self._returned if ticket >= oldest}

    def take(self, now: float) -> float:
        """Admit or refuse: 0 if a token was taken, else the seconds until one is free."""
        self._refill(now)
        if self.tokens >= 1.0:
            self._spend()
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
        self._spend()
        return wait

    def give_back(self, ticket: int) -> bool:
        """Give back the token of ``ticket``, which will not be used; True if it came back now.

        A token comes back only when no token taken after it is still held:
        each later reservation's slot was counted from it, so returning it
        earlier would hand one slot out twice. The latest token comes back at
        once, with any given back before it that waited for it (undoing those
        reservations exactly, latest first). An earlier one waits for the ones
        after it (False); if one of them is used, it is forfeited.
        """
        live = self._live
        if not live or ticket != live[-1][1]:
            if any(first <= ticket <= last for first, last in live):
                self._returned.add(ticket)
            return False
        self._drop_latest()
        while live and live[-1][1] in self._returned:
            self._returned.discard(live[-1][1])
            self._drop_latest()
        return True

    def _drop_latest(self) -> None:
        # The latest live token comes back: no token taken after it is held.
        latest = self._live[-1]
        latest[1] -= 1
        if latest[1] < latest[0]:
            self._live.pop()
        self.tokens = min(float(self.burst), self.tokens + 1.0)

    def owe(self, now: float, seconds: float) -> None:
        """Hold back: no token until ``seconds`` from ``now`` (a larger debt stays)."""
        self._refill(now)
        self.tokens = min(self.tokens, 1.0 - seconds * self.rate)
        # A token given back after this would shorten the hold-back.
        self._live.clear()
        self._returned.clear()


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

    def reserve(self, within: float | None = None) -> tuple[float, int] | None:
        """Take a slot: ``(seconds to wait before using it, its ticket)``.

        Reservations queue: each caller gets its own future slot, so waiting
        callers never exceed the rate together. With ``within`` (seconds), a
        slot further away than that is not taken, and None is returned: a
        call that must end by a deadline does not queue past it.
        """
        with self._lock:
            wait = self._bucket.reserve(self._clock(), within=within)
            return None if wait is None else (wait, self._bucket.ticket)

    def give_back(self, ticket: int) -> bool:
        """Return the slot of ``ticket``, whose caller left (cancelled, or failed) before using it.

        A slot comes back only when no slot reserved after it is still held:
        the latest at once (True), the next reservation then gets it; an
        earlier one when every later one has been given back too (False
        until then), and never if one of them is used. Callers already
        waiting keep their slots, and no slot is handed out twice.
        """
        with self._lock:
            return self._bucket.give_back(ticket)
