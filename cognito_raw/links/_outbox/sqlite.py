"""The outbox on SQLite: the standard library's ``sqlite3``, one file, one host.

Owns the SQLite connection and its settings. Why each:

- WAL (``journal_mode=WAL``) lets several worker processes of one app read
  while one writes; ``synchronous=FULL`` makes every commit durable (in WAL
  mode ``NORMAL`` may lose the last commits on power loss); a busy timeout
  makes writers wait for each other instead of failing.
- Transactions that read then write start with ``BEGIN IMMEDIATE``, taking
  the write lock first, so two processes never both lease one row.
- Secrets at rest: the file is created with mode 0600 (SQLite gives its
  ``-wal`` and ``-shm`` files the database file's mode); ``secure_delete``
  overwrites erased usernames and tokens with zeros in the pages; and
  ``scrub`` checkpoints the WAL into the database and truncates it, so the
  old page images that still hold them leave the WAL file too.

SQLite's file locks do not work over network file systems: one host only
(https://www.sqlite.org/wal.html, "WAL does not work over a network
filesystem").
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Final

from .sql import KEY_TABLE, TABLE, SQLStore, Transaction
from .store import OutboxError

__all__ = ["SQLiteStore"]

# Long enough for a burst of writers from several processes to queue.
_BUSY_TIMEOUT: Final = 10.0
# How long a scrub waits for readers before it reports busy and is retried.
_SCRUB_WAIT_MS: Final = 200
_SCHEMA: Final = (
    f"CREATE TABLE IF NOT EXISTS {TABLE} ("
    "id INTEGER PRIMARY KEY AUTOINCREMENT, digest BLOB NOT NULL UNIQUE, "
    "user_pool_id TEXT NOT NULL, event_id TEXT NOT NULL, feedback_value TEXT NOT NULL, "
    "username TEXT, feedback_token TEXT, state TEXT NOT NULL, created_at REAL NOT NULL, "
    "next_at REAL NOT NULL, lease_owner TEXT, lease_until REAL NOT NULL DEFAULT 0, "
    "attempts INTEGER NOT NULL DEFAULT 0, last_code TEXT, finished_at REAL)",
    f"CREATE INDEX IF NOT EXISTS {TABLE}_due ON {TABLE} (state, next_at)",
    f"CREATE TABLE IF NOT EXISTS {KEY_TABLE} "
    "(one INTEGER PRIMARY KEY CHECK (one = 1), key BLOB NOT NULL)",
)


class _Tx:
    """A ``Transaction`` over a sqlite3 cursor."""

    def __init__(self, cursor: sqlite3.Cursor, now: float) -> None:
        self._cursor = cursor
        self.now = now

    def rows(self, sql: str, params: dict[str, Any]) -> Sequence[Sequence[Any]]:
        return self._cursor.execute(sql, params).fetchall()

    def run(self, sql: str, params: dict[str, Any]) -> int:
        return self._cursor.execute(sql, params).rowcount


class SQLiteStore(SQLStore):
    """The ``SQLStore`` in one SQLite file; thread-safe (one connection behind a lock)."""

    schema = _SCHEMA
    greatest = "max"

    def __init__(
        self, path: str, *, create: bool = True, clock: Callable[[], float] = time.time
    ) -> None:
        self.path = path
        self._create = create
        self._clock = clock
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None

    def __repr__(self) -> str:
        return f"SQLiteStore({self.path!r})"

    def open(self) -> bytes:
        """See ``SQLStore.open``: creates the file (mode 0600) and the tables."""
        if sqlite3.sqlite_version_info < (3, 35, 0):
            raise OutboxError(f"the outbox needs SQLite 3.35 or later ({sqlite3.sqlite_version})")
        with self._lock:
            self._connect()
        return self._schema()

    def _connect(self) -> sqlite3.Connection:
        if self._conn is not None:
            return self._conn
        self._make_private()
        try:
            conn = sqlite3.connect(
                self.path, timeout=_BUSY_TIMEOUT, isolation_level=None, check_same_thread=False
            )
            for pragma in (
                "journal_mode = WAL",
                "synchronous = FULL",
                "secure_delete = ON",
                f"busy_timeout = {int(_BUSY_TIMEOUT * 1000)}",
            ):
                conn.execute(f"PRAGMA {pragma}").fetchall()
        except sqlite3.Error as exc:
            raise OutboxError(f"cannot open the outbox: {type(exc).__name__}: {exc}") from exc
        self._conn = conn
        return conn

    def _make_private(self) -> None:
        # Created 0600 (SQLite gives -wal and -shm the same mode); an
        # existing file readable by others is made private before use.
        if not os.path.exists(self.path):
            if not self._create:
                raise OutboxError(f"no outbox at {self.path}")
            try:
                os.close(os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
            except FileExistsError:
                pass  # another process made it first
            except OSError as exc:
                raise OutboxError(f"cannot create the outbox file: {exc.strerror}") from exc
        for path in (self.path, f"{self.path}-wal", f"{self.path}-shm"):
            try:
                if os.stat(path).st_mode & 0o077:
                    os.chmod(path, 0o600)
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise OutboxError(
                    f"the outbox file {path} is open to other users and cannot be made "
                    f"private: {exc.strerror}"
                ) from exc

    @contextlib.contextmanager
    def transaction(self, op: str, *, write: bool = True) -> Iterator[Transaction]:
        """``BEGIN IMMEDIATE`` (``BEGIN`` to only read) ... ``COMMIT``, one at a time here."""
        with self._lock:
            conn = self._connect()
            try:
                cursor = conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
                try:
                    yield _Tx(cursor, self._clock())
                except BaseException:
                    conn.rollback()
                    raise
                conn.commit()
            except sqlite3.Error as exc:
                raise OutboxError(f"{op}: {type(exc).__name__}: {exc}") from exc

    def scrub(self) -> bool:
        """See ``SQLStore.scrub``: checkpoint the WAL into the file and truncate it.

        A reader holding an old snapshot keeps the WAL from being truncated:
        the checkpoint then reports busy (after a short wait, not the busy
        timeout, so POSTs are not held up) and this returns False.
        """
        with self._lock:
            conn = self._connect()
            try:
                conn.execute(f"PRAGMA busy_timeout = {_SCRUB_WAIT_MS}")
                try:
                    (busy, _log, _checkpointed), *_ = conn.execute(
                        "PRAGMA wal_checkpoint(TRUNCATE)"
                    ).fetchall()
                finally:
                    conn.execute(f"PRAGMA busy_timeout = {int(_BUSY_TIMEOUT * 1000)}")
            except sqlite3.Error as exc:
                raise OutboxError(f"scrub: {type(exc).__name__}: {exc}") from exc
            return bool(busy == 0)

    def close(self) -> None:
        """See ``SQLStore.close``."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
