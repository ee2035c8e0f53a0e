"""The durable outbox: its settings, and how pending submissions are delivered.

Owns the outbox settings (``Outbox``), the store an outbox URL opens
(``open_store``: ``sqlite`` or ``postgres``, both ``sql``'s ``SQLStore``),
the keyed digest that deduplicates clicks, the verdict on each
delivery attempt, and ``Deliverer``, the one loop that both the feedback
app's background task and ``cognito-raw outbox deliver`` run.

A submission's life: ``pending`` (username and token stored) until it is
``delivered``, ``rejected`` (a definite no from Cognito) or ``expired``
(still undeliverable after ``max_age``); at each of these final states the
username and token are erased and only the digest stays, so a second click
on the same link is recognised without keeping the secrets.

One delivery at a time per row: a deliverer leases a row before calling
Cognito (``SELECT ... FOR UPDATE SKIP LOCKED`` on PostgreSQL, ``BEGIN
IMMEDIATE`` on SQLite) for the worst-case duration of one call under the
client's timeout and retry policy, and cuts the call short just before the
lease ends. A deliverer killed mid-call leaves its lease to expire; the row
is then sent again, so delivery is at least once and, for the rows in flight
at a crash, at most once more (UpdateAuthEventFeedback is idempotent).

Nothing here logs, or puts into an exception, a username, a token or a
database URL's password.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import os
import random
import re
import secrets
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Protocol

from cognito_raw._call.limiter import TokenBucket
from cognito_raw._core.errors import (
    CognitoError,
    ProtocolError,
    ServiceError,
    TransportError,
    ValidationError,
)
from cognito_raw._core.model import UpdateAuthEventFeedbackRequest, UpdateAuthEventFeedbackResponse

from .store import (
    DELIVERED,
    PENDING,
    REJECTED,
    OutboxError,
    Pending,
    parse_url,
    redact_url,
)

if TYPE_CHECKING:
    from cognito_raw._call.config import RetryPolicy, Timeout

    from .sql import SQLStore

__all__ = [
    "Deliverer",
    "Outbox",
    "Verdict",
    "call_worst_case",
    "dedupe_material",
    "digest",
    "drain",
    "open_store",
]

_LOG: Final = logging.getLogger("cognito_raw.outbox")

# How much sooner than its lease a call is cut short: the database round trip
# that records it, and scheduling. Leases and cuts are both durations from the
# claim, so clock differences between hosts do not matter (the lease is on the
# database's clock, the cut on the deliverer's).
_CUT_MARGIN: Final = 2.0
# Without a cognito_raw client to derive it from, a lease this long.
_DEFAULT_LEASE: Final = 60.0
_CODE_RE: Final = re.compile(r"[A-Za-z][A-Za-z0-9_.]{0,63}")


@dataclass(frozen=True, slots=True, kw_only=True)
class Outbox:
    """Where and how the feedback app keeps submissions until Cognito has them.

    - ``url``: ``sqlite:///absolute/path.db`` (one host, any number of worker
      processes; the file is created with mode 0600) or ``postgresql://...``
      (a libpq URL, unix sockets included; several hosts; needs
      ``pip install 'cognito-raw[postgres]'``).
    - ``max_age`` (seconds, 24 h): a submission still undelivered this long
      after the click is given up as ``expired`` (and logged).
    - ``inline_budget`` (seconds, 2): how long a POST waits for its own
      delivery before answering 202 "received, will be delivered".
    - ``retry_base`` and ``retry_max`` (seconds, 1 and 300): the wait between
      calls for one submission after a transient failure, doubling from
      ``retry_base`` up to ``retry_max`` (half fixed, half random); a
      server's retry-after hint lengthens it. Each call retries on its own
      under the client's ``RetryPolicy``.
    - ``concurrency`` (1): deliveries in flight per deliverer. A crash can
      send each of them once more.
    - ``poll_interval`` (seconds, 1): how often an idle deliverer looks for
      work that other processes added.
    - ``lease`` (seconds): how long a delivery owns its row. By default the
      worst-case duration of one call under a cognito_raw client's timeout
      and retry policy (``call_worst_case``), else 60 s. Each call is cut
      short a little before its lease ends (transient: retried later).
    - ``keep_final`` (seconds, 7 days): how long the digest of a final
      submission is kept, so that a late second click still reads
      "already recorded".
    """

    url: str
    max_age: float = 86_400.0
    inline_budget: float = 2.0
    retry_base: float = 1.0
    retry_max: float = 300.0
    concurrency: int = 1
    poll_interval: float = 1.0
    lease: float | None = None
    keep_final: float = 7 * 86_400.0

    def __post_init__(self) -> None:
        parse_url(self.url)
        for name in ("max_age", "inline_budget", "retry_base", "retry_max", "poll_interval"):
            _check_seconds(name, getattr(self, name))
        _check_seconds("keep_final", self.keep_final)
        if self.lease is not None:
            _check_seconds("lease", self.lease)
        if not isinstance(self.concurrency, int) or not 1 <= self.concurrency <= 64:
            raise ValidationError(
                field="concurrency",
                rule=f"must be an integer from 1 to 64 (got {self.concurrency!r})",
            )

    def __repr__(self) -> str:
        return f"Outbox(url={redact_url(self.url)!r}, max_age={self.max_age!r})"


def _check_seconds(name: str, value: float) -> None:
    if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
        raise ValidationError(
            field=name, rule=f"must be a finite number of seconds > 0 (got {value!r})"
        )


def dedupe_material(request: UpdateAuthEventFeedbackRequest) -> bytes:
    """What makes two submissions the same: the five fields, NUL-separated (keyed digests only)."""
    fields = (
        request.user_pool_id,
        request.event_id,
        str(request.feedback_value),
        request.username,
        request.feedback_token,
    )
    return "\0".join(fields).encode("utf-8")


def digest(key: bytes, request: UpdateAuthEventFeedbackRequest) -> bytes:
    """HMAC-SHA256 of the five fields under the outbox's key: one value per link and answer.

    The key is random and stored with the outbox, so the digest cannot be
    checked against a guessed username or token by anyone without it; the
    token is itself a long random secret.
    """
    return hmac.new(key, dedupe_material(request), hashlib.sha256).digest()


def owner_name() -> str:
    """A deliverer's name in its leases: host, process and a random part (no secrets)."""
    return f"{os.uname().nodename[:40]}:{os.getpid()}:{secrets.token_hex(4)}"


def open_store(url: str, *, create: bool = True) -> SQLStore:
    """The store for an outbox URL (nothing is opened yet: see ``SQLStore.open``).

    Without ``create``, a SQLite file that does not exist yet is an
    ``OutboxError`` at ``open`` (a mistyped path is not a new, empty outbox).
    """
    kind, where = parse_url(url)
    if kind == "sqlite":
        from .sqlite import SQLiteStore  # noqa: PLC0415 - sqlite3 only when used

        return SQLiteStore(where, create=create)
    from .postgres import PostgresStore  # noqa: PLC0415 - psycopg only when used

    return PostgresStore(where)


# -- what one call's outcome means ---------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Verdict:
    """The verdict on one call: ``state`` is delivered, rejected or pending (later)."""

    state: str
    code: str | None = None
    retry_after: float | None = None


def judge(error: CognitoError | None) -> Verdict:
    """What a call's result means for its row.

    Success is ``delivered``. A definite answer from Cognito about the link
    or its pool, one of the operation's modeled errors that is not
    retryable (an expired or wrong token, an unknown user or pool, threat
    protection off, a bad parameter), is ``rejected``: sending it again
    cannot help. Everything else stays ``pending``: throttling, 5xx, network
    errors, timeouts, and replies that are not Cognito's answer (a proxy's
    or firewall's HTML page, an unmodeled code).
    """
    if error is None:
        return Verdict(state=DELIVERED)
    code = _safe_code(error)
    if isinstance(error, ServiceError):
        if error.retryable:
            return Verdict(state=PENDING, code=code, retry_after=error.retry_after)
        # The modeled errors have their own classes; a bare ServiceError is
        # a reply Cognito's model does not describe.
        return Verdict(state=PENDING if type(error) is ServiceError else REJECTED, code=code)
    if isinstance(error, TransportError | ProtocolError):
        return Verdict(state=PENDING, code=code)
    return Verdict(
        state=REJECTED, code=code
    )  # ValidationError: a stored row that is no longer valid


def _safe_code(error: CognitoError) -> str:
    code = error.code if isinstance(error, ServiceError) else None
    if code is not None and _CODE_RE.fullmatch(code):
        return code
    return type(error).__name__


def retry_delay(
    attempts: int, outbox: Outbox, hint: float | None, rand: Callable[[], float]
) -> float:
    """The wait before a row's next call, after ``attempts`` calls (half fixed, half random)."""
    ceiling = min(outbox.retry_max, outbox.retry_base * 2.0 ** min(max(attempts - 1, 0), 40))
    delay = ceiling / 2 + rand() * ceiling / 2
    if hint is not None:
        delay = max(delay, min(hint, outbox.retry_max))
    return delay


def call_worst_case(policy: RetryPolicy, timeout: Timeout) -> float:
    """The longest one call may take under ``policy`` and ``timeout``, in seconds.

    Every attempt may use its whole ``timeout.total``, and every wait between
    attempts its longest backoff or ``max_retry_after``; a policy
    ``deadline`` caps the sum (no attempt or wait runs past it).
    """
    total = policy.max_attempts * timeout.total
    for retry in range(1, policy.max_attempts):
        total += max(policy.backoff(retry, 1.0), policy.max_retry_after)
    if policy.deadline is not None:
        total = min(total, policy.deadline)
    return total


def lease_for(outbox: Outbox, client: object) -> float:
    """The lease a deliverer takes: ``outbox.lease``, or the client's worst case plus a margin."""
    if outbox.lease is not None:
        return outbox.lease
    # Only a cognito_raw client says what its worst case is (its ShellConfig);
    # if that module is not loaded, the client is not one.
    module = sys.modules.get("cognito_raw._clients.shell")
    config = getattr(client, "_config", None)
    if module is not None and isinstance(config, module.ShellConfig):
        return call_worst_case(config.policy, config.timeout)
    return _DEFAULT_LEASE


# -- the deliverer -------------------------------------------------------------------------


class Sender(Protocol):
    """What delivers: ``cognito_raw.AsyncClient`` fits."""

    async def send(
        self, request: UpdateAuthEventFeedbackRequest, /
    ) -> UpdateAuthEventFeedbackResponse: ...


@dataclass(slots=True)
class Tally:
    """What one deliverer did: calls made and rows made final, by outcome."""

    delivered: int = 0
    rejected: int = 0
    expired: int = 0
    retried: int = 0

    def count(self, state: str) -> None:
        """Count one call recorded with ``state`` (pending: to retry)."""
        if state == DELIVERED:
            self.delivered += 1
        elif state == REJECTED:
            self.rejected += 1
        else:
            self.retried += 1

    def as_dict(self) -> dict[str, int]:
        """The counts, by name."""
        return {
            "delivered": self.delivered,
            "rejected": self.rejected,
            "expired": self.expired,
            "retried": self.retried,
        }


def log_outcome(row: Pending, state: str, code: str | None) -> None:
    """One log line per call: pool, event, value, state and code; never the secrets."""
    level = logging.INFO if state != PENDING else logging.WARNING
    _LOG.log(
        level,
        "outbox %s: pool=%s event=%s value=%s attempts=%d code=%s",
        state,
        row.user_pool_id,
        row.event_id,
        row.feedback_value,
        row.attempts,
        code,
    )


def log_lost_lease(row: Pending, state: str) -> None:
    """One warning for a call whose outcome was not recorded: row ID and outcome only."""
    # A warning, not an error: the claim now holding the row sends it again
    # and records that (at least once). If frequent, the database takes
    # longer to record a call than the margin left before its lease ends.
    _LOG.warning(
        "outbox lease lost: row=%d outcome=%s not recorded (the lease ran out and the row "
        "was taken over)",
        row.id,
        state,
    )


class Deliverer:
    """Sends pending rows, one lease at a time, within a rate limit.

    ``run`` serves a running app until ``stop``; ``drain`` is the scheduled
    job: it tries every pending row once (waiting out leases left by dead
    deliverers) and returns the counts still pending. Blocking store calls
    run in worker threads (``anyio.to_thread``).
    """

    def __init__(
        self,
        *,
        store: SQLStore,
        client: Sender,
        outbox: Outbox,
        bucket: TokenBucket,
        clock: Callable[[], float] = time.monotonic,
        rand: Callable[[], float] = random.random,
        owner: str | None = None,
    ) -> None:
        import anyio  # noqa: PLC0415 - the outbox is optional; anyio comes with httpx

        self._anyio = anyio
        self.store = store
        self.client = client
        self.outbox = outbox
        self.bucket = bucket
        self.clock = clock
        self.rand = rand
        self.owner = owner or owner_name()
        self.lease = lease_for(outbox, client)
        # A call is cut short before its lease ends, so no other deliverer
        # can take the row while this one may still be sending it.
        self.call_limit = self.lease - min(_CUT_MARGIN, self.lease / 4)
        self.tally = Tally()
        self._stop = anyio.Event()
        self._dirty = False
        self._scrub_later = False

    async def db(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run a blocking store method in a worker thread."""
        return await self._anyio.to_thread.run_sync(lambda: fn(*args, **kwargs))

    def stop(self) -> None:
        """Ask ``run`` to return once the calls in flight are done."""
        self._stop.set()

    async def _take_slot(self) -> int | None:
        # Queue for a slot of the shared bucket: its ticket, or None if
        # stopped meanwhile.
        wait = self.bucket.reserve(self.clock()) or 0.0
        ticket = self.bucket.ticket  # read at once: another task may reserve next
        if wait > 0:
            with self._anyio.move_on_after(wait):
                await self._stop.wait()
        if self._stop.is_set():
            self.bucket.give_back(ticket)
            return None
        return ticket

    async def deliver(self, row: Pending) -> str:
        """Send one leased row and record the verdict; return the row's new state."""
        verdict = await self.call(row)
        await self.record(row, verdict)
        return verdict.state

    async def call(self, row: Pending) -> Verdict:
        """Send one leased row, cut short before its lease ends; the verdict (nothing stored)."""
        error: CognitoError | None = None
        with self._anyio.move_on_after(self.call_limit) as scope:
            try:
                await self.client.send(row.request())
            except CognitoError as exc:
                error = exc
        if scope.cancelled_caught:
            error = TransportError("the call outran the outbox lease")
        return judge(error)

    async def record(self, row: Pending, verdict: Verdict) -> bool:
        """Write the verdict on a call for ``row``; shielded, so a cancel cannot lose it.

        False if the lease was lost (the row was claimed again after this
        call's lease ran out, or expired): nothing is written or counted, and
        the claim holding the row records its own call.
        """
        with self._anyio.CancelScope(shield=True):
            if verdict.state == PENDING:
                delay = retry_delay(row.attempts, self.outbox, verdict.retry_after, self.rand)
                held = await self.db(
                    self.store.release, row.id, row.lease, delay=delay, code=verdict.code
                )
            else:
                held = await self.db(
                    self.store.finish, row.id, row.lease, verdict.state, verdict.code
                )
            if not held:
                log_lost_lease(row, verdict.state)
                return False
            self.tally.count(verdict.state)
            if verdict.state != PENDING:
                self._dirty = True
                if not self._scrub_later:
                    # No housekeeper to scrub soon (an app without a lifespan).
                    await self.scrub()
        log_outcome(row, verdict.state, verdict.code)
        return True

    async def housekeeping(self) -> None:
        """Expire rows past ``max_age``, prune old digests, scrub erased secrets."""
        for pool, event, age in await self.db(self.store.expire, self.outbox.max_age):
            self.tally.expired += 1
            self._dirty = True
            _LOG.warning(
                "outbox expired: pool=%s event=%s undelivered after %.0f s", pool, event, age
            )
        await self.db(self.store.prune, self.outbox.keep_final)
        await self.scrub()

    async def scrub(self) -> None:
        """Scrub the files if rows were made final since the last scrub that finished.

        A scrub kept from finishing (a reader on the WAL) or failing is tried
        again at the next housekeeping: until then the erased values may still
        be in the WAL file.
        """
        if self._dirty:
            self._dirty = False
            try:
                done = await self.db(self.store.scrub)
            except OutboxError:
                self._dirty = True
                raise
            if not done:
                self._dirty = True

    # -- serving a running app ----------------------------------------------------------

    async def run(self) -> None:
        """Deliver due rows until ``stop``; ``concurrency`` workers share the bucket."""
        self._scrub_later = True
        async with self._anyio.create_task_group() as group:
            group.start_soon(self._housekeeper)
            for _ in range(self.outbox.concurrency):
                group.start_soon(self._worker)
            await self._stop.wait()
            # Workers finish the call in hand; the housekeeper just stops.
            group.cancel_scope.cancel()
        with self._anyio.CancelScope(shield=True):
            await self.scrub()

    async def _housekeeper(self) -> None:
        while not self._stop.is_set():
            try:
                await self.housekeeping()
            except OutboxError as exc:
                _LOG.error("outbox housekeeping failed: %s", exc)
            with self._anyio.move_on_after(max(self.outbox.poll_interval, 1.0)):
                await self._stop.wait()

    async def _worker(self) -> None:
        while not self._stop.is_set():
            try:
                worked = await self._one()
            except OutboxError as exc:
                _LOG.error("outbox delivery paused: %s", exc)
                worked = False
            if not worked:
                await self._idle()

    async def _one(self) -> bool:
        # Look before taking a slot, so an idle deliverer spends no tokens.
        due = await self.db(self.store.next_due)
        if due is None or due > 0:
            return False
        ticket = await self._take_slot()
        if ticket is None:
            return False
        # Shielded from the claim on: a shutdown lets the call in hand finish
        # rather than leave a claimed row to wait out its lease.
        with self._anyio.CancelScope(shield=True):
            row = await self._claim(ticket, owner=self.owner, lease=self.lease)
            if row is None:
                return False
            await self.deliver(row)
        return True

    async def _claim(self, ticket: int, **how: Any) -> Pending | None:
        # The claim, giving the slot back when no call follows: nothing
        # claimable, or the database failed (no row is leased then).
        try:
            row: Pending | None = await self.db(self.store.claim, **how)
        except OutboxError:
            self.bucket.give_back(ticket)
            raise
        if row is None:
            self.bucket.give_back(ticket)
        return row

    async def _idle(self) -> None:
        try:
            due = await self.db(self.store.next_due)
        except OutboxError:
            due = None
        pause = self.outbox.poll_interval if due is None else min(due, self.outbox.poll_interval)
        with self._anyio.move_on_after(max(pause, 0.01)):
            await self._stop.wait()

    # -- the scheduled job --------------------------------------------------------------

    async def drain(self) -> dict[str, int]:
        """Try every pending row once; wait for others' leases to end; return the counts."""
        await self.housekeeping()
        self._scrub_later = True  # scrubbed once, at the end
        tried: set[int] = set()
        cursor = 0
        while True:
            cursor = await self._sweep(tried, cursor)
            # Rows behind the cursor not tried yet were leased when it passed:
            # a live deliverer finishes within its lease, a dead one's lease
            # runs out; either way the row is free then.
            rest = [item for item in await self.db(self.store.waiting) if item[0] not in tried]
            if not rest:
                break
            free = [row_id for row_id, left in rest if left <= 0]
            if not free:
                await self._anyio.sleep(min(left for _, left in rest) + 0.05)
            for row_id in free:
                await self._try(tried, only=row_id)
        self._scrub_later = False
        await self.housekeeping()
        counts: dict[str, int] = await self.db(self.store.counts)
        return counts

    async def _sweep(self, tried: set[int], cursor: int) -> int:
        # Rows in ID order past the cursor, each once: a row that fails now
        # waits for the next run (or the app's own deliverer).
        while True:
            row = await self._try(tried, after=cursor)
            if row is None:
                return cursor
            cursor = row

    async def _try(self, tried: set[int], **where: int) -> int | None:
        ticket = await self._take_slot()
        if ticket is None:
            return None
        row = await self._claim(
            ticket, owner=self.owner, lease=self.lease, due_only=False, **where
        )
        if row is None:
            return None
        tried.add(row.id)
        await self.deliver(row)
        return row.id


async def drain(
    outbox: Outbox, client: Sender, *, rate: float, burst: int, create: bool = True
) -> tuple[dict[str, int], Tally]:
    """Open the outbox, try every pending row once within ``rate``, close it.

    Returns the counts by state afterwards and what this run did. Raises
    ``OutboxError`` if the database cannot be used (or, without ``create``,
    if a SQLite outbox does not exist).
    """
    import anyio  # noqa: PLC0415 - see Deliverer

    store = open_store(outbox.url, create=create)
    try:
        await anyio.to_thread.run_sync(store.open)
        deliverer = Deliverer(
            store=store,
            client=client,
            outbox=outbox,
            bucket=TokenBucket(rate, burst, time.monotonic()),
        )
        counts = await deliverer.drain()
        return counts, deliverer.tally
    finally:
        await anyio.to_thread.run_sync(store.close)
