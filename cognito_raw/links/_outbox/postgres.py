"""The outbox on PostgreSQL: psycopg 3, for several hosts sharing one outbox.

Owns the connections (a few, reused, one per thread at a time) and the
dialect. Why:

- Leases are taken with ``SELECT ... FOR UPDATE SKIP LOCKED``: two
  deliverers looking for work at the same moment lock different rows instead
  of queueing on one, and neither sees a row the other is leasing
  (PostgreSQL documentation, "The Locking Clause").
- Every time comes from the server's clock (``clock_timestamp()``), so
  leases mean the same on every host whatever their clocks say.
- Commits are durable with the server's defaults (``synchronous_commit``
  on); psycopg's autocommit is off and each store method is one transaction.

Secrets at rest: erasing sets the columns to NULL, but PostgreSQL keeps old
row versions until VACUUM reclaims them and its write-ahead log until it is
recycled. Run the database on encrypted storage.
"""

from __future__ import annotations

import contextlib
import queue
import re
import threading
import urllib.parse
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, Final

from .sql import KEY_TABLE, TABLE, SQLStore, Transaction
from .store import OutboxError, redact_url

if TYPE_CHECKING:
    import psycopg

__all__ = ["PostgresStore"]

_MAX_CONNECTIONS: Final = 4
_CONNECT_TIMEOUT: Final = 10
_SCHEMA: Final = (
    f"CREATE TABLE IF NOT EXISTS {TABLE} ("
    "id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, digest BYTEA NOT NULL UNIQUE, "
    "user_pool_id TEXT NOT NULL, event_id TEXT NOT NULL, feedback_value TEXT NOT NULL, "
    "username TEXT, feedback_token TEXT, state TEXT NOT NULL, "
    "created_at DOUBLE PRECISION NOT NULL, next_at DOUBLE PRECISION NOT NULL, "
    "lease_owner TEXT, lease_until DOUBLE PRECISION NOT NULL DEFAULT 0, "
    "attempts INTEGER NOT NULL DEFAULT 0, last_code TEXT, finished_at DOUBLE PRECISION)",
    f"CREATE INDEX IF NOT EXISTS {TABLE}_due ON {TABLE} (state, next_at)",
    f"CREATE TABLE IF NOT EXISTS {KEY_TABLE} "
    "(one INTEGER PRIMARY KEY CHECK (one = 1), key BYTEA NOT NULL)",
)
# ":name" -> "%(name)s"; "::" casts are not parameters.
_PARAM: Final = re.compile(r"(?<![:\w]):([a-z_]+)")


def _import_psycopg() -> Any:
    try:
        import psycopg  # noqa: PLC0415 - the optional dependency, only when used
    except ImportError as exc:
        raise OutboxError(
            "a postgresql:// outbox needs psycopg: pip install 'cognito-raw[postgres]'"
        ) from exc
    return psycopg


class _Tx:
    """A ``Transaction`` over a psycopg cursor."""

    def __init__(self, cursor: psycopg.Cursor[Any], now: float) -> None:
        self._cursor = cursor
        self.now = now

    def rows(self, sql: str, params: dict[str, Any]) -> Sequence[Sequence[Any]]:
        self._cursor.execute(_PARAM.sub(r"%(\1)s", sql), params)
        return self._cursor.fetchall()

    def run(self, sql: str, params: dict[str, Any]) -> int:
        self._cursor.execute(_PARAM.sub(r"%(\1)s", sql), params)
        return self._cursor.rowcount


class PostgresStore(SQLStore):
    """The ``SQLStore`` in a PostgreSQL database; thread-safe."""

    schema = _SCHEMA
    lock_clause = " FOR UPDATE SKIP LOCKED"
    greatest = "GREATEST"

    def __init__(self, url: str) -> None:
        self._url = url
        self._psycopg = _import_psycopg()
        self._idle: queue.LifoQueue[psycopg.Connection[Any]] = queue.LifoQueue()
        self._made = 0
        self._count_lock = threading.Lock()
        self._closed = False

    def __repr__(self) -> str:
        return f"PostgresStore({redact_url(self._url)!r})"

    def open(self) -> bytes:
        """See ``SQLStore.open``."""
        return self._schema()

    def _connection(self) -> psycopg.Connection[Any]:
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            pass
        with self._count_lock:
            full = self._made >= _MAX_CONNECTIONS
            if not full:
                self._made += 1
        if full:
            try:
                return self._idle.get(timeout=_CONNECT_TIMEOUT * 6)
            except queue.Empty:
                raise OutboxError("no outbox connection became free in time") from None
        try:
            conn: psycopg.Connection[Any] = self._psycopg.connect(
                self._url,
                autocommit=True,
                connect_timeout=_CONNECT_TIMEOUT,
                application_name="cognito-raw outbox",
            )
        except self._psycopg.Error as exc:
            self._forget()
            # libpq's message names the host and the reason; a URL it cannot
            # parse may be quoted, so any password in it is masked.
            raise OutboxError(f"cannot connect to the outbox: {self._mask(str(exc))}") from None
        return conn

    def _mask(self, text: str) -> str:
        password = urllib.parse.urlsplit(self._url).password
        for secret in {password, urllib.parse.unquote(password or "")} - {None, ""}:
            text = text.replace(str(secret), "***")
        return text

    def _forget(self) -> None:
        with self._count_lock:
            self._made -= 1

    @contextlib.contextmanager
    def transaction(self, op: str, *, write: bool = True) -> Iterator[Transaction]:
        """One transaction on a pooled connection; a broken connection is dropped."""
        if self._closed:
            raise OutboxError(f"{op}: the outbox is closed")
        conn = self._connection()
        keep = True
        try:
            with conn.transaction(), conn.cursor() as cursor:
                cursor.execute("SELECT extract(epoch FROM clock_timestamp())::float8")
                row = cursor.fetchone()
                yield _Tx(cursor, float(row[0]) if row else 0.0)
        except self._psycopg.Error as exc:
            keep = not conn.closed and not conn.broken
            # The class and SQLSTATE only: a constraint's message may quote
            # the row, username and token included.
            raise OutboxError(f"{op}: {type(exc).__name__} (SQLSTATE {exc.sqlstate})") from None
        finally:
            if keep and not conn.closed and not self._closed:
                self._idle.put(conn)
            else:
                conn.close()
                self._forget()

    def scrub(self) -> bool:
        """See ``SQLStore.scrub``: nothing to do here beyond the erasure (see the module)."""
        return True

    def close(self) -> None:
        """See ``SQLStore.close``."""
        self._closed = True
        while True:
            try:
                self._idle.get_nowait().close()
            except queue.Empty:
                return
