"""The feedback app's POST and lifespan when it has an outbox.

Owns what ``feedback_app(..., outbox=URL)`` changes: a valid submission is
committed to the outbox before any answer; its delivery is tried at once and
the page waits for it at most ``Outbox.inline_budget``; a definite outcome
gets the same page as without an outbox, anything transient a 202 "received,
will be delivered". The delivery goes on after a 202 page has been sent (the
ASGI call returns when it is done), so a slow reply is recorded instead of
being sent again. The background ``Deliverer`` runs in the ASGI lifespan.

The page for a link already in the outbox comes from its row: delivered is
"already recorded", rejected is "expired", expired (given up) is "something
went wrong", pending is 202. Two clicks in one process while the first call
is in flight share its outcome.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any, Final

import anyio

from cognito_raw._call.limiter import TokenBucket
from cognito_raw._core.model import UpdateAuthEventFeedbackRequest

from ._outbox.deliverer import Deliverer, Outbox, Sender, Verdict, digest, open_store
from ._outbox.store import DELIVERED, EXPIRED, PENDING, REJECTED, OutboxError, Pending, redact_url
from ._page import FeedbackOutcome

if TYPE_CHECKING:
    from ._outbox.sql import SQLStore

__all__ = ["OutboxFlow"]

_LOG: Final = logging.getLogger("cognito_raw.links")
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Show = Callable[[FeedbackOutcome], Awaitable[None]]

# Rejections that mean the link itself is no good ("expired or not valid");
# any other rejection (a pool without threat protection...) is an error page.
_LINK_CODES: Final = frozenset(
    ("NotAuthorizedException", "UserNotFoundException", "InvalidParameterException")
)
_BY_STATE: Final = {
    PENDING: FeedbackOutcome.ACCEPTED,
    DELIVERED: FeedbackOutcome.ALREADY_RECORDED,
    REJECTED: FeedbackOutcome.EXPIRED,
    EXPIRED: FeedbackOutcome.ERROR,
}


def outcome_of(verdict: Verdict) -> FeedbackOutcome:
    """The page for a call's verdict."""
    if verdict.state == DELIVERED:
        return FeedbackOutcome.SUCCESS
    if verdict.state == REJECTED:
        return FeedbackOutcome.EXPIRED if verdict.code in _LINK_CODES else FeedbackOutcome.ERROR
    return FeedbackOutcome.ACCEPTED


class _Flight:
    """A call in flight in this process, for a second click to wait on."""

    def __init__(self) -> None:
        self.done = anyio.Event()
        self.outcome = FeedbackOutcome.ACCEPTED


class OutboxFlow:
    """The outbox side of one ``FeedbackApp``."""

    def __init__(
        self,
        outbox: Outbox,
        *,
        client: Sender,
        bucket: TokenBucket,
        clock: Callable[[], float],
    ) -> None:
        self.outbox = outbox
        self.store: SQLStore = open_store(outbox.url)
        self._client = client
        self._bucket = bucket
        self._clock = clock
        self._key: bytes | None = None
        self._deliverer: Deliverer | None = None
        self._starting: anyio.Lock | None = None
        self._flights: dict[bytes, _Flight] = {}

    def __repr__(self) -> str:
        return f"OutboxFlow({redact_url(self.outbox.url)!r})"

    async def start(self) -> Deliverer:
        """Open the store (once) and make the deliverer; ``OutboxError`` if it cannot."""
        if self._deliverer is not None:
            return self._deliverer
        if self._starting is None:
            self._starting = anyio.Lock()
        async with self._starting:
            if self._deliverer is None:
                self._key = await anyio.to_thread.run_sync(self.store.open)
                self._deliverer = Deliverer(
                    store=self.store,
                    client=self._client,
                    outbox=self.outbox,
                    bucket=self._bucket,
                    clock=self._clock,
                )
        return self._deliverer

    # -- the lifespan -------------------------------------------------------------------

    async def lifespan(self, receive: Receive, send: Send) -> None:
        """Open the outbox at startup, run the deliverer until shutdown."""
        message = await receive()
        if message["type"] != "lifespan.startup":  # pragma: no cover - a server bug
            return
        try:
            await self.start()
        except OutboxError as exc:
            _LOG.error("feedback outbox unavailable at startup: %s", exc)
            await send({"type": "lifespan.startup.failed", "message": str(exc)})
            return
        async with self.running():
            await send({"type": "lifespan.startup.complete"})
            while (await receive())["type"] != "lifespan.shutdown":
                pass
        await send({"type": "lifespan.shutdown.complete"})

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Open the outbox and run the deliverer for the block; stop it and close after."""
        deliverer = await self.start()
        try:
            async with anyio.create_task_group() as group:
                group.start_soon(deliverer.run)
                try:
                    yield
                finally:
                    deliverer.stop()
        finally:
            await self.aclose()

    async def aclose(self) -> None:
        """Close the store's connections."""
        await anyio.to_thread.run_sync(self.store.close)

    # -- a POST -------------------------------------------------------------------------

    async def submit(self, request: UpdateAuthEventFeedbackRequest, show: Show) -> None:
        """Store, try, and show the outcome (``show`` is awaited exactly once)."""
        try:
            deliverer = await self.start()
        except OutboxError as exc:
            _LOG.error("feedback POST not stored: %s", exc)
            await show(FeedbackOutcome.UNAVAILABLE)
            return
        assert self._key is not None  # noqa: S101 - set by start()
        key = digest(self._key, request)
        flight = self._flights.get(key)
        if flight is not None:
            with anyio.move_on_after(self.outbox.inline_budget):
                await flight.done.wait()
            await show(flight.outcome)
            return
        # Registered before the first await: a click landing meanwhile joins.
        flight = self._flights[key] = _Flight()
        try:
            await self._store_and_try(deliverer, request, key, flight, show)
        finally:
            self._flights.pop(key, None)
            flight.done.set()

    async def _store_and_try(
        self,
        deliverer: Deliverer,
        request: UpdateAuthEventFeedbackRequest,
        key: bytes,
        flight: _Flight,
        show: Show,
    ) -> None:
        now = self._clock()
        # Taken before the add, though a link already stored (or a failed
        # add) then gives it back late, forfeited if another POST took one
        # since: the add stores the row leased to this POST only if a call may
        # follow, so taking the token after would cost a second round trip to
        # lease or free the row.
        spent = self._bucket.take(now) > 0
        ticket = self._bucket.ticket  # the token taken, unless spent
        try:
            added = await deliverer.db(
                self.store.add,
                request,
                key,
                owner=deliverer.owner,
                lease=0.0 if spent else deliverer.lease,
            )
        except OutboxError as exc:
            _LOG.error("feedback POST not stored: %s", exc)
            if not spent:
                self._bucket.give_back(ticket)
            flight.outcome = FeedbackOutcome.UNAVAILABLE
            flight.done.set()
            await show(flight.outcome)
            return
        if not added.new or spent:
            if not spent:
                self._bucket.give_back(ticket)
            _log_stored(request, added.state if not added.new else "queued")
            flight.outcome = _BY_STATE.get(added.state, FeedbackOutcome.ERROR)
            flight.done.set()
            await show(flight.outcome)
            return
        assert added.lease is not None  # noqa: S101 - added leased: the slot was not spent
        row = _pending(added.id, added.lease, request)
        async with anyio.create_task_group() as group:
            group.start_soon(self._call, deliverer, row, flight)
            with anyio.move_on_after(self.outbox.inline_budget):
                await flight.done.wait()
            await show(flight.outcome)

    @staticmethod
    async def _call(deliverer: Deliverer, row: Pending, flight: _Flight) -> None:
        try:
            verdict = await deliverer.call(row)
            flight.outcome = outcome_of(verdict)
        finally:
            flight.done.set()
        try:
            # False (a lost lease, logged) needs nothing more here: the page
            # shows Cognito's answer to this call, and the claim now holding
            # the row records its own.
            await deliverer.record(row, verdict)
        except OutboxError as exc:
            # The lease runs out and the row is sent again: at least once.
            _LOG.error("feedback outcome not stored: %s", exc)


def _pending(row_id: int, lease: str, request: UpdateAuthEventFeedbackRequest) -> Pending:
    return Pending(
        id=row_id,
        user_pool_id=request.user_pool_id,
        event_id=request.event_id,
        feedback_value=str(request.feedback_value),
        username=request.username,
        feedback_token=request.feedback_token,
        attempts=1,
        age=0.0,
        lease=lease,
    )


def _log_stored(request: UpdateAuthEventFeedbackRequest, state: str) -> None:
    _LOG.info(
        "feedback stored as %s: pool=%s event=%s value=%s",
        state,
        request.user_pool_id,
        request.event_id,
        request.feedback_value,
    )
