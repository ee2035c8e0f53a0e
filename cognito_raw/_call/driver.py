"""One call's life: attempts, retries, backoff, the retry budget and rate-limit waits, no I/O.

``run_call`` is a generator that yields what to do (``Send`` a request,
``Sleep`` a while) and is sent what happened (a ``Reply`` or a
``TransportError``). The four client shells (``Client``, ``AsyncClient``,
``stdlib.Client``, ``fetch.AsyncClient``) only carry out those actions, so
every decision (retry or not, how long to wait, what the final exception
says) lives here once. Sleep, clock and randomness are the drivers' and the
tests' to inject.

Defaults follow the AWS SDKs' standard retry mode (3 attempts, full-jitter
exponential backoff, a 500-token retry quota costing 5 per retry and 10 per
timeout), with shorter delays: the caller is usually a person who clicked a
link and is waiting for the page.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Generator

from cognito_raw._core.errors import (
    CognitoError,
    RequestTimeoutError,
    ServiceError,
    TransportError,
)
from cognito_raw._core.model import UpdateAuthEventFeedbackResponse
from cognito_raw._core.protocol import Headers, HttpRequest, parse_response
from cognito_raw._core.record import Record

from .config import DEFAULT_MAX_BODY, RetryPolicy, Timeout
from .limiter import RateLimiter

__all__ = [
    "AttemptInfo",
    "BodyReader",
    "Reply",
    "RetryBudget",
    "Send",
    "Sleep",
    "run_call",
]

# typing costs milliseconds at import; annotations alone need it (PEP 563).
TYPE_CHECKING = False
if TYPE_CHECKING:
    import logging


def _debug_logger() -> logging.Logger | None:
    """The "cognito_raw" logger if it logs DEBUG records, else None.

    A process that never imported logging has configured no handler that
    could see a record, so the module (and the milliseconds its import
    costs a cold start) is not loaded for it: only looked up.
    """
    module = sys.modules.get("logging")
    if module is None:
        return None
    logger: logging.Logger = module.getLogger("cognito_raw")
    return logger if logger.isEnabledFor(module.DEBUG) else None


class RetryBudget:
    """A client's retry quota: a token bucket drained by retries, refilled by successes."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._tokens = capacity
        self._lock = threading.Lock()

    @property
    def tokens(self) -> int:
        """Tokens left."""
        return self._tokens

    def withdraw(self, cost: int) -> bool:
        """Take ``cost`` tokens for a retry; False (and nothing taken) if too few are left."""
        with self._lock:
            if cost > self._tokens:
                return False
            self._tokens -= cost
            return True

    def deposit(self, amount: int) -> None:
        """Return tokens after a success, up to the capacity."""
        if self._tokens >= self.capacity:  # full, as almost always: no lock needed
            return
        with self._lock:
            self._tokens = min(self.capacity, self._tokens + amount)


# The driver's actions and outcomes are positional, like the events they are
# (``Send(request, timeout, deadline)``, ``Reply(status, headers, body)``).
class Send(Record, kw_only=False):
    """Action: send ``request``; the attempt must end by ``deadline`` (clock time)."""

    request: HttpRequest
    timeout: Timeout
    deadline: float


class Sleep(Record, kw_only=False):
    """Action: wait ``seconds``."""

    seconds: float


class Reply(Record, kw_only=False):
    """Outcome of a ``Send``: what came back (the body read at most to the limit).

    ``truncated`` says the body went on past the limit and was cut there.
    """

    status_code: int
    headers: Headers
    body: bytes
    truncated: bool = False


class AttemptInfo(Record):
    """What one attempt did, for the ``on_attempt`` hook (metrics, tracing).

    Holds no secrets: no body, no username, no token. ``duration`` and
    ``retry_in`` are seconds.
    """

    attempt: int
    method: str
    url: str
    status_code: int | None
    code: str | None
    error: str | None
    duration: float
    retry_in: float | None
    request_id: str | None = None


class BodyReader:
    """Collects a reply body up to a limit, so a hostile endpoint cannot exhaust memory.

    ``feed`` returns False once the limit is passed; the driver stops reading
    and closes the connection. ``truncated`` says whether that happened.
    """

    __slots__ = ("_chunks", "_size", "limit", "truncated")

    def __init__(self, limit: int = DEFAULT_MAX_BODY) -> None:
        self.limit = limit
        self._chunks: list[bytes] = []
        self._size = 0
        self.truncated = False

    def feed(self, chunk: bytes) -> bool:
        """Add a chunk; False means stop reading."""
        room = self.limit - self._size
        if len(chunk) > room:
            self._chunks.append(chunk[:room])
            self._size = self.limit
            self.truncated = True
            return False
        self._chunks.append(chunk)
        self._size += len(chunk)
        return True

    @property
    def body(self) -> bytes:
        """What was read."""
        return b"".join(self._chunks)


class _Tally:
    """The mutable record of one call."""

    __slots__ = ("errors", "spent")

    def __init__(self) -> None:
        self.errors: list[CognitoError] = []
        self.spent = 0


def _final(error: CognitoError, attempts: int, earlier: list[CognitoError]) -> CognitoError:
    # The retry loop is the one place that knows the count; the exceptions
    # carry it as plain data.
    error.attempts = attempts
    error.errors = tuple(earlier)
    return error


def run_call(
    request: HttpRequest,
    *,
    policy: RetryPolicy,
    timeout: Timeout,
    budget: RetryBudget,
    limiter: RateLimiter | None = None,
    clock: Callable[[], float] = time.monotonic,
    random: Callable[[], float],
    secrets: tuple[str, ...] = (),
    on_attempt: Callable[[AttemptInfo], None] | None = None,
) -> Generator[Send | Sleep, Reply | TransportError | None, UpdateAuthEventFeedbackResponse]:
    """Drive one call: yields ``Send``/``Sleep``, returns the response or raises.

    The final exception carries ``attempts`` and, in ``errors``, the
    exceptions of the attempts before it.
    """
    started = clock()
    call_deadline = None if policy.deadline is None else started + policy.deadline
    tally = _Tally()
    attempt = 0
    while True:
        attempt += 1
        if limiter is not None:
            yield from _await_slot(limiter, clock, call_deadline, attempt, tally.errors)
        begun = clock()
        deadline = begun + timeout.total
        if call_deadline is not None:
            deadline = min(deadline, call_deadline)
        outcome = yield Send(request, timeout, deadline)
        duration = clock() - begun
        error: CognitoError
        status: int | None = None
        if isinstance(outcome, Reply):
            status = outcome.status_code
            try:
                response = parse_response(
                    status,
                    outcome.headers,
                    outcome.body,
                    secrets=secrets,
                    truncated=outcome.truncated,
                )
            except CognitoError as exc:
                error = exc
            else:
                budget.deposit(tally.spent or 1)
                _report(
                    on_attempt,
                    request,
                    attempt=attempt,
                    status=status,
                    duration=duration,
                    response=response,
                )
                if attempt == 1:  # parse_response's already says 1 attempt
                    return response
                return UpdateAuthEventFeedbackResponse(
                    request_id=response.request_id,
                    status_code=response.status_code,
                    attempts=attempt,
                )
        elif isinstance(outcome, TransportError):
            error = outcome
        else:  # pragma: no cover - a driver bug, not a network condition
            raise TypeError(f"run_call was sent {type(outcome).__name__}")

        delay = _retry_delay(
            error,
            attempt=attempt,
            policy=policy,
            budget=budget,
            tally=tally,
            clock=clock,
            call_deadline=call_deadline,
            random=random,
        )
        _report(
            on_attempt,
            request,
            attempt=attempt,
            status=status,
            error=error,
            duration=duration,
            retry_in=delay,
        )
        if delay is None:
            raise _final(error, attempt, tally.errors)
        tally.errors.append(error)
        if delay > 0:
            yield Sleep(delay)


def _await_slot(
    limiter: RateLimiter,
    clock: Callable[[], float],
    call_deadline: float | None,
    attempt: int,
    earlier: list[CognitoError],
) -> Generator[Sleep, None, None]:
    """Wait for a rate-limiter slot, never past the call's deadline.

    A slot that would come after the deadline is not taken: the call fails at
    once (a timeout on the first attempt, the last error on a retry) and
    sends nothing more. A caller that leaves while it waits (a cancelled
    task, an exception thrown into the driver) gives its slot back, which
    comes back once no slot reserved after it is still held.
    """
    within = None if call_deadline is None else call_deadline - clock()
    slot = limiter.reserve(within)
    if slot is None:
        if earlier:
            raise _final(earlier[-1], attempt - 1, earlier[:-1])
        raise _final(
            RequestTimeoutError(
                "timed out waiting for the rate limiter: no slot before the call's deadline"
            ),
            0,
            [],
        )
    wait, ticket = slot
    if wait <= 0:
        return
    try:
        yield Sleep(wait)
    except BaseException:
        limiter.give_back(ticket)
        raise


def _retry_delay(
    error: CognitoError,
    *,
    attempt: int,
    policy: RetryPolicy,
    budget: RetryBudget,
    tally: _Tally,
    clock: Callable[[], float],
    call_deadline: float | None,
    random: Callable[[], float],
) -> float | None:
    """How long to wait before retrying ``error``, or None to give up."""
    if attempt >= policy.max_attempts:
        return None
    if isinstance(error, ServiceError):
        if not error.retryable:
            return None
        cost = policy.retry_cost
        hinted = error.retry_after
    elif isinstance(error, TransportError):
        if not error.retryable:
            return None
        # The operation is idempotent (the same feedback twice is harmless), so
        # a request that may or may not have arrived is safe to send again.
        cost = (
            policy.timeout_retry_cost
            if isinstance(error, RequestTimeoutError)
            else (policy.retry_cost)
        )
        hinted = None
    else:
        return None  # ProtocolError: not a Cognito answer; retrying will not fix it.
    if hinted is not None:
        delay = min(hinted, policy.max_retry_after)
    else:
        delay = policy.backoff(attempt, random())
    if call_deadline is not None and clock() + delay >= call_deadline:
        return None
    if not budget.withdraw(cost):
        return None
    tally.spent += cost
    return delay


def _report(
    on_attempt: Callable[[AttemptInfo], None] | None,
    request: HttpRequest,
    *,
    attempt: int,
    status: int | None,
    duration: float,
    error: CognitoError | None = None,
    retry_in: float | None = None,
    response: UpdateAuthEventFeedbackResponse | None = None,
) -> None:
    code = error.code if isinstance(error, ServiceError) else None
    request_id = (
        response.request_id if response is not None else getattr(error, "request_id", None)
    )
    logger = _debug_logger()
    if logger is not None:
        # The body is logged with Username and FeedbackToken redacted; the URL
        # holds no secrets (the pool ID is not one).
        logger.debug(
            "attempt %d: %s %s -> %s %s in %.1f ms%s body=%s",
            attempt,
            request.method,
            request.url,
            status if status is not None else "no reply",
            code or (type(error).__name__ if error is not None else "ok"),
            duration * 1000,
            "" if retry_in is None else f", retrying in {retry_in:.3f} s",
            request.redacted_body(),
        )
    if on_attempt is not None:
        on_attempt(
            AttemptInfo(
                attempt=attempt,
                method=request.method,
                url=request.url,
                status_code=status,
                code=code,
                error=None if error is None else type(error).__name__,
                duration=duration,
                retry_in=retry_in,
                request_id=request_id,
            )
        )
