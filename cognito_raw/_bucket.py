"""Token-bucket arithmetic, shared by the client's rate limiter and the feedback app.

Pure and unlocked: callers hold their own lock (or run on one event loop) and
pass the clock's reading in, so tests need no real time.
"""

from __future__ import annotations

__all__ = ["TokenBucket"]


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
