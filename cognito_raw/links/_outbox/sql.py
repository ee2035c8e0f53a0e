"""The outbox's SQL, shared by the SQLite and PostgreSQL stores.

Owns ``SQLStore``: the table layout and every statement its methods run. The
backends (``sqlite``, ``postgres``) supply connections,
transactions, the clock and the few words where the dialects differ; the
statements are written once, with ``:name`` parameters.

The table keeps one row per link and answer, found by its digest. The
username and token columns are the only secrets and are set to NULL when a
row becomes final. No index covers them, so no other structure holds a copy.

``lease_owner`` holds the token of the claim that leases the row (its
deliverer's name and a random part, ``new_lease``), new at every claim:
releasing and finishing match it, so only the claim that holds the row acts
on it. A row leased by an earlier version (the name alone) is claimed again
once its lease runs out, as any other.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any, Final, Protocol

from cognito_raw._core.model import UpdateAuthEventFeedbackRequest

from .store import (
    DELIVERED,
    EXPIRED,
    PENDING,
    REJECTED,
    STATES,
    Added,
    OutboxError,
    Pending,
    new_key,
    new_lease,
)

__all__ = ["SQLStore", "Transaction"]

TABLE: Final = "cognito_raw_outbox"
KEY_TABLE: Final = "cognito_raw_outbox_key"
_COLUMNS: Final = (
    "id, user_pool_id, event_id, feedback_value, username, feedback_token, attempts, created_at"
)
_ERASE: Final = (
    "username = NULL, feedback_token = NULL, lease_owner = NULL, lease_until = 0, "
    "finished_at = :now"
)


class Transaction(Protocol):
    """One open transaction: statements with ``:name`` parameters, and its clock reading."""

    now: float

    def rows(self, sql: str, params: dict[str, Any]) -> Sequence[Sequence[Any]]:
        """Run a statement; return its rows."""
        ...

    def run(self, sql: str, params: dict[str, Any]) -> int:
        """Run a statement; return the count of rows it changed."""
        ...


class SQLStore:
    """The outbox's storage, which both backends subclass; every method blocks.

    Times are seconds on the store's own clock (the host's wall clock for
    SQLite, the server's for PostgreSQL), so that leases mean the same to
    every process sharing the database. Each method is one transaction.
    Driver errors are raised as ``OutboxError``. A backend supplies
    ``transaction``, ``open``, ``scrub`` and ``close``, and the words below
    where its dialect differs.
    """

    # The dialects' differences, set by each backend.
    schema: tuple[str, ...] = ()
    lock_clause: str = ""
    greatest: str = "max"

    @contextlib.contextmanager
    def transaction(self, op: str, *, write: bool = True) -> Iterator[Transaction]:
        """A transaction (committed on success); driver errors as ``OutboxError``.

        ``write=False`` promises only reads, which SQLite then runs without
        taking the write lock.
        """
        raise NotImplementedError  # pragma: no cover - each backend has its own
        yield

    def open(self) -> bytes:
        """Create the tables if missing; return the digest key (made on first open)."""
        raise NotImplementedError  # pragma: no cover - each backend has its own

    def scrub(self) -> bool:
        """Make erased secrets leave every database file (SQLite: checkpoint, truncate the WAL).

        False when something kept that from finishing (a reader holding an old
        snapshot of the WAL): the caller tries again later.
        """
        raise NotImplementedError  # pragma: no cover - each backend has its own

    def close(self) -> None:
        """Close every connection."""
        raise NotImplementedError  # pragma: no cover - each backend has its own

    def _schema(self) -> bytes:
        with self.transaction("create the tables") as tx:
            for statement in self.schema:
                tx.run(statement, {})
            found = tx.rows(f"SELECT key FROM {KEY_TABLE} WHERE one = 1", {})
            if found:
                return bytes(found[0][0])
            key = new_key()
            tx.run(f"INSERT INTO {KEY_TABLE} (one, key) VALUES (1, :key)", {"key": key})
            return key

    def add(
        self,
        request: UpdateAuthEventFeedbackRequest,
        key_digest: bytes,
        *,
        owner: str,
        lease: float,
    ) -> Added:
        """Insert a pending row unless one with the same digest (``key_digest``) exists.

        With ``lease > 0`` the new row starts leased to ``owner`` (the caller
        is about to send it), with the token in ``Added.lease``; with 0 it is
        at once due for any deliverer.
        """
        held = new_lease(owner) if lease > 0 else None
        params = {
            "digest": key_digest,
            "pool": request.user_pool_id,
            "event": request.event_id,
            "value": str(request.feedback_value),
            "username": request.username,
            "token": request.feedback_token,
            "owner": held,
            "lease": lease,
            "attempts": 1 if lease > 0 else 0,
        }
        with self.transaction("store a submission") as tx:
            params["now"] = tx.now
            made = tx.rows(
                f"INSERT INTO {TABLE} (digest, user_pool_id, event_id, feedback_value, username, "
                "feedback_token, state, created_at, next_at, lease_owner, lease_until, attempts) "
                "VALUES (:digest, :pool, :event, :value, :username, :token, 'pending', :now, "
                ":now, :owner, CASE WHEN :lease > 0 THEN :now + :lease ELSE 0 END, :attempts) "
                "ON CONFLICT (digest) DO NOTHING RETURNING id",
                params,
            )
            if made:
                return Added(id=int(made[0][0]), state=PENDING, new=True, lease=held)
            found = tx.rows(f"SELECT id, state FROM {TABLE} WHERE digest = :digest", params)
            if not found:  # pragma: no cover - the conflicting row cannot vanish mid-transaction
                raise OutboxError("store a submission: the row is gone")
            return Added(id=int(found[0][0]), state=str(found[0][1]), new=False)

    def claim(
        self,
        *,
        owner: str,
        lease: float,
        due_only: bool = True,
        after: int | None = None,
        only: int | None = None,
    ) -> Pending | None:
        """Lease one pending row whose lease is free; None if none.

        With ``due_only`` the row must be past its retry delay and the one due
        first is taken; without, rows go in ID order, past ``after`` if given.
        ``only`` restricts the claim to one row ID. Claiming counts an attempt
        and gives the row a new lease token (``Pending.lease``).
        """
        where = ["state = 'pending'", "lease_until <= :now"]
        if due_only:
            where.append("next_at <= :now")
            order = "next_at, id"
        else:
            order = "id"
        if after is not None:
            where.append("id > :after")
        if only is not None:
            where.append("id = :only")
        held = new_lease(owner)
        with self.transaction("claim a submission") as tx:
            params = {"now": tx.now, "after": after, "only": only, "owner": held, "lease": lease}
            found = tx.rows(
                f"SELECT id FROM {TABLE} WHERE {' AND '.join(where)} ORDER BY {order} "
                f"LIMIT 1{self.lock_clause}",
                params,
            )
            if not found:
                return None
            params["id"] = int(found[0][0])
            rows = tx.rows(
                f"UPDATE {TABLE} SET lease_owner = :owner, lease_until = :now + :lease, "
                f"attempts = attempts + 1 WHERE id = :id RETURNING {_COLUMNS}",
                params,
            )
            (row_id, pool, event, value, username, token, attempts, created) = rows[0]
            return Pending(
                id=int(row_id),
                user_pool_id=str(pool),
                event_id=str(event),
                feedback_value=str(value),
                username=str(username),
                feedback_token=str(token),
                attempts=int(attempts),
                age=tx.now - float(created),
                lease=held,
            )

    def finish(self, row_id: int, lease: str, state: str, code: str | None) -> bool:
        """Make a row leased with ``lease`` final (``delivered``/``rejected``), erase its secrets.

        Nothing changes once another claim holds the row (or it is final):
        then False, the lease was lost.
        """
        if state not in (DELIVERED, REJECTED):
            raise ValueError(f"not a final state for a call: {state!r}")
        with self.transaction("record a delivery") as tx:
            changed = tx.run(
                f"UPDATE {TABLE} SET state = :state, last_code = :code, {_ERASE} "
                "WHERE id = :id AND state = 'pending' AND lease_owner = :lease",
                {"state": state, "code": code, "id": row_id, "lease": lease, "now": tx.now},
            )
        return changed > 0

    def release(self, row_id: int, lease: str, *, delay: float, code: str | None) -> bool:
        """Give a row leased with ``lease`` back: due again after ``delay`` seconds.

        Nothing changes once another claim holds the row (or it is final):
        then False, the lease was lost.
        """
        with self.transaction("reschedule a submission") as tx:
            changed = tx.run(
                f"UPDATE {TABLE} SET lease_owner = NULL, lease_until = 0, "
                "next_at = :now + :delay, last_code = :code "
                "WHERE id = :id AND state = 'pending' AND lease_owner = :lease",
                {"id": row_id, "lease": lease, "delay": delay, "code": code, "now": tx.now},
            )
        return changed > 0

    def expire(self, max_age: float) -> list[tuple[str, str, float]]:
        """Make unleased pending rows older than ``max_age`` expired; (pool, event, age) each."""
        with self.transaction("expire old submissions") as tx:
            params = {"now": tx.now, "oldest": tx.now - max_age, "state": EXPIRED}
            rows = tx.rows(
                f"UPDATE {TABLE} SET state = :state, last_code = NULL, {_ERASE} "
                "WHERE state = 'pending' AND lease_until <= :now AND created_at < :oldest "
                "RETURNING user_pool_id, event_id, created_at",
                params,
            )
            return [(str(pool), str(event), tx.now - float(made)) for pool, event, made in rows]

    def prune(self, older_than: float) -> int:
        """Delete final rows (digests only) finished more than ``older_than`` seconds ago."""
        with self.transaction("prune final submissions") as tx:
            return tx.run(
                f"DELETE FROM {TABLE} WHERE state <> 'pending' AND finished_at < :oldest",
                {"oldest": tx.now - older_than},
            )

    def counts(self) -> dict[str, int]:
        """Rows by state (every state in ``STATES`` present), plus ``leased``."""
        with self.transaction("count submissions", write=False) as tx:
            rows = tx.rows(
                f"SELECT state, count(*), sum(CASE WHEN state = 'pending' AND lease_until > :now "
                f"THEN 1 ELSE 0 END) FROM {TABLE} GROUP BY state",
                {"now": tx.now},
            )
        counts = dict.fromkeys(STATES, 0)
        counts["leased"] = 0
        for state, count, leased in rows:
            counts[str(state)] = int(count)
            counts["leased"] += int(leased or 0)
        return counts

    def next_due(self) -> float | None:
        """Seconds until some pending row can be claimed (0: now); None if none is pending."""
        with self.transaction("look for due submissions", write=False) as tx:
            rows = tx.rows(
                f"SELECT min({self.greatest}(next_at, lease_until)) FROM {TABLE} "
                "WHERE state = 'pending'",
                {},
            )
            now = tx.now
        due = rows[0][0] if rows else None
        return None if due is None else max(0.0, float(due) - now)

    def waiting(self) -> list[tuple[int, float]]:
        """Every pending row: (row ID, seconds left on its lease, 0 when free)."""
        with self.transaction("list pending submissions", write=False) as tx:
            rows = tx.rows(
                f"SELECT id, lease_until FROM {TABLE} WHERE state = 'pending' ORDER BY id", {}
            )
            return [(int(row_id), max(0.0, float(until) - tx.now)) for row_id, until in rows]
