"""Real databases for the outbox tests: a SQLite file, a PostgreSQL schema.

PostgreSQL comes from ``$COGNITO_RAW_TEST_POSTGRES``, a libpq URL of a
server the tests may create schemas in (``.ci/run`` starts one on a unix
socket and sets it). Without it the PostgreSQL cases are skipped, except
under ``CI=true``, where a missing server is a failure. Each test gets a
schema of its own (``search_path`` in the URL), dropped afterwards.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import urllib.parse
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, Final

import anyio
import pytest

PG_ENV: Final = "COGNITO_RAW_TEST_POSTGRES"
IN_CI: Final = os.environ.get("CI", "").strip().lower() in ("true", "1")
BACKENDS: Final = ("sqlite", "postgresql")


def postgres_base() -> str:
    """The test server's URL; skips (fails under CI) when there is none."""
    url = os.environ.get(PG_ENV, "")
    if not url:
        reason = f"no PostgreSQL server: set ${PG_ENV} to a libpq URL (.ci/run does)"
        if IN_CI:
            pytest.fail(f"{reason} (CI=true: the PostgreSQL tests must run)", pytrace=False)
        pytest.skip(reason)
    return url


def with_search_path(url: str, schema: str) -> str:
    """``url`` with ``options=-csearch_path=<schema>`` added to its query."""
    # Not urlunsplit: it turns "postgresql:///db" (no host) into "postgresql:/db".
    option = urllib.parse.urlencode({"options": f"-csearch_path={schema}"})
    return f"{url}{'&' if '?' in url else '?'}{option}"


@contextlib.contextmanager
def postgres_schema() -> Iterator[str]:
    """A fresh schema on the test server; yields a URL whose tables land in it."""
    import psycopg

    base = postgres_base()
    schema = f"outbox_test_{secrets.token_hex(6)}"
    with psycopg.connect(base, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
    try:
        yield with_search_path(base, schema)
    finally:
        with psycopg.connect(base, autocommit=True) as admin:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")


@contextlib.contextmanager
def outbox_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """An empty outbox of the given backend."""
    if backend == "sqlite":
        yield f"sqlite://{tmp_path / 'outbox.db'}"
    else:
        with postgres_schema() as url:
            yield url


def sqlite_files(url: str) -> list[Path]:
    """The SQLite database's files that exist: main, -wal, -shm."""
    path = Path(urllib.parse.urlsplit(url).path)
    return [p for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")) if p.exists()]


@contextlib.asynccontextmanager
async def lifespan(app: Any) -> AsyncIterator[None]:
    """Run an ASGI app's lifespan as a server would, for the ``async with`` block."""
    to_app_send, to_app_receive = anyio.create_memory_object_stream[dict[str, Any]](4)
    from_app_send, from_app_receive = anyio.create_memory_object_stream[dict[str, Any]](4)

    async def receive() -> dict[str, Any]:
        return await to_app_receive.receive()

    async def send(message: dict[str, Any]) -> None:
        await from_app_send.send(message)

    failed: dict[str, Any] | None = None
    async with anyio.create_task_group() as group:
        group.start_soon(app, {"type": "lifespan", "asgi": {"version": "3.0"}}, receive, send)
        await to_app_send.send({"type": "lifespan.startup"})
        started = await from_app_receive.receive()
        if started["type"] != "lifespan.startup.complete":
            failed = started  # the app returns after saying so
        else:
            try:
                yield
            finally:
                await to_app_send.send({"type": "lifespan.shutdown"})
                with anyio.fail_after(30):
                    stopped = await from_app_receive.receive()
                assert stopped["type"] == "lifespan.shutdown.complete"
    for stream in (to_app_send, to_app_receive, from_app_send, from_app_receive):
        stream.close()
    if failed is not None:
        raise RuntimeError(f"lifespan startup: {failed}")
