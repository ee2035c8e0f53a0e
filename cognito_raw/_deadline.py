"""The attempt deadline that every socket operation of an attempt shares.

httpx's timeouts apply per operation, so a server trickling one byte per read
timeout could hold a call for minutes. The clients set ``ATTEMPT_DEADLINE``
(a ``ContextVar``: per thread and per task, since each has its own context)
for the length of an attempt, and both transports bound every connect, read
and write by what is left of it. No httpx here: the transports pass in their
own timeout exception classes.
"""

from __future__ import annotations

import contextvars
import time
from typing import Final, TypeVar

# The monotonic time by which the current attempt must end.
ATTEMPT_DEADLINE: Final[contextvars.ContextVar[float | None]] = contextvars.ContextVar(
    "cognito_raw_attempt_deadline", default=None
)
_Exc = TypeVar("_Exc", bound=Exception)


def bounded(timeout: float | None, error: type[_Exc]) -> float | None:
    """``timeout`` cut to the attempt's remaining time; ``error`` if none is left."""
    deadline = ATTEMPT_DEADLINE.get()
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise error("the attempt's total timeout ran out")
    return left if timeout is None else min(timeout, left)
