"""Section 5 of run.py: the feedback app's outbox.

    python benchmarks/_outbox.py [--quick]     # prints one JSON object

1. Clicks accepted per second: POSTs of valid links (each a new event) sent
   straight to the ASGI app, 32 at a time, while the app's global limit is
   spent, so that every click is validated, committed to the outbox and
   answered 202 without calling Cognito: what the app takes during a
   throttling wave. Commits are durable: SQLite in WAL mode with
   ``synchronous=FULL`` on this machine's disk, PostgreSQL with its default
   ``synchronous_commit=on`` and ``fsync=on``.
2. The delivery rate: a backlog drained through ``cognito-raw outbox
   deliver``'s code with a configured limit, against FakeCognito in process
   (so Cognito is never the bottleneck); the rate over the run and the most
   calls in any one-second window, from the fake's own arrival times.

PostgreSQL is ``$COGNITO_RAW_TEST_POSTGRES`` when set; otherwise, as root
with Debian's server installed, a throwaway cluster made here (initdb in a
temporary directory as the postgres user, a unix socket, stopped at the
end). Without either, or without psycopg (``pip install -e
'.[bench,postgres]'``), the PostgreSQL row says so. Every loop is bounded in
count and time.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
CONCURRENCY = 32
DELIVERY_LIMIT = 50.0
PG_ENV = "COGNITO_RAW_TEST_POSTGRES"


# -- a PostgreSQL to measure ------------------------------------------------------------


@contextlib.contextmanager
def postgres() -> Iterator[str | None]:
    """A libpq URL of a server to measure on, or None (with the reason printed)."""
    if os.environ.get(PG_ENV):
        yield os.environ[PG_ENV]
        return
    bins = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
    if not bins or os.geteuid() != 0 or shutil.which("runuser") is None:
        print("no PostgreSQL: set $COGNITO_RAW_TEST_POSTGRES", file=sys.stderr)
        yield None
        return
    folder = tempfile.mkdtemp(prefix="cognito-raw-bench-pg-")
    shutil.chown(folder, "postgres")
    run = ["runuser", "-u", "postgres", "--"]
    data = f"{folder}/data"
    subprocess.run(
        [*run, f"{bins[-1]}/initdb", "-D", data, "-A", "trust", "-U", "postgres"],
        check=True,
        capture_output=True,
        timeout=120,
    )
    options = f"-k {folder} -c listen_addresses=''"
    log = f"{folder}/server.log"
    subprocess.run(
        [*run, f"{bins[-1]}/pg_ctl", "-D", data, "-l", log, "-w", "-o", options, "start"],
        check=True,
        capture_output=True,
        timeout=120,
    )
    try:
        yield f"postgresql:///postgres?host={folder}&user=postgres"
    finally:
        subprocess.run(
            [*run, f"{bins[-1]}/pg_ctl", "-D", data, "-m", "fast", "-w", "stop"],
            capture_output=True,
            timeout=120,
            check=False,
        )
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def pg_schema(base: str) -> Iterator[str]:
    import psycopg

    schema = f"bench_{secrets.token_hex(6)}"
    with psycopg.connect(base, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
    option = urllib.parse.urlencode({"options": f"-csearch_path={schema}"})
    try:
        yield f"{base}{'&' if '?' in base else '?'}{option}"
    finally:
        with psycopg.connect(base, autocommit=True) as admin:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")


# -- 1. clicks accepted per second --------------------------------------------------------


def _form(fake: Any, event: Any) -> bytes:
    from cognito_raw.links import make_link

    link = make_link(
        "https://feedback.example/f",
        user_pool_id=event.user_pool_id,
        username=event.username,
        event_id=event.event_id,
        feedback_token=event.feedback_token,
        value="invalid",
    )
    fields = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(link).query))
    fields.pop("end", None)
    return urllib.parse.urlencode(fields).encode()


async def _post(app: Any, body: bytes) -> int:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "https",
        "path": "/f",
        "query_string": b"",
        "headers": [
            (b"host", b"feedback.example"),
            (b"content-type", b"application/x-www-form-urlencoded"),
            (b"content-length", str(len(body)).encode()),
            (b"sec-fetch-site", b"same-origin"),
            (b"origin", b"null"),
        ],
        "client": ("198.51.100.7", 50000),
    }
    sent = False
    status = 0

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = int(message["status"])

    await app(scope, receive, send)
    return status


def clicks(url: str, count: int, seconds: float) -> dict[str, Any]:
    """Clicks/s into the outbox at ``url``, ``CONCURRENCY`` in flight; all must be 202."""
    import anyio

    from cognito_raw import TransportError
    from cognito_raw.links import RateLimit, feedback_app
    from cognito_raw.links._outbox.deliverer import open_store
    from cognito_raw.testing import FakeCognito

    fake = FakeCognito()
    pool = fake.create_user_pool()
    fake.create_user(pool, "alice@example.com")
    bodies = [_form(fake, fake.create_auth_event(pool, "alice@example.com")) for _ in range(count)]

    class Unreachable:
        async def send(self, request: Any) -> Any:
            raise TransportError("Cognito unreachable")

    async def main() -> tuple[float, list[int]]:
        app = feedback_app(
            client=Unreachable(),
            user_pool_ids=[pool],
            per_client_limit=RateLimit(rate=1e6, burst=10**6),
            global_limit=RateLimit(rate=1e-6, burst=1),
            outbox=url,
        )
        await _post(app, bodies[0])  # opens the store, spends the one token: 202
        statuses: list[int] = []
        queue = iter(bodies[1:])
        started = time.perf_counter()
        deadline = started + seconds

        async def worker() -> None:
            for body in queue:
                if time.perf_counter() > deadline:
                    return
                statuses.append(await _post(app, body))

        async with anyio.create_task_group() as group:
            for _ in range(CONCURRENCY):
                group.start_soon(worker)
        elapsed = time.perf_counter() - started
        await app.aclose()
        return elapsed, statuses

    elapsed, statuses = anyio.run(main)
    store = open_store(url)
    try:
        store.open()
        pending = store.counts()["pending"]
    finally:
        store.close()
    if set(statuses) != {202} or pending != len(statuses) + 1:
        raise RuntimeError(f"clicks were not all stored: {set(statuses)}, {pending} pending")
    return {"clicks": len(statuses), "elapsed": elapsed, "rate": len(statuses) / elapsed}


# -- 2. the delivery rate -------------------------------------------------------------------


def delivery(url: str, count: int, limit: float) -> dict[str, Any]:
    """Drain ``count`` pending rows at ``limit`` calls/s against the in-process fake."""
    import anyio
    import httpx

    from cognito_raw import AsyncClient
    from cognito_raw.links._outbox.deliverer import Outbox, digest, drain, open_store
    from cognito_raw.testing import FakeCognito

    fake = FakeCognito()
    pool = fake.create_user_pool()
    fake.create_user(pool, "alice@example.com")
    store = open_store(url)
    try:
        key = store.open()
        for _ in range(count):
            request = fake.create_auth_event(pool, "alice@example.com").request("invalid")
            store.add(request, digest(key, request), owner="bench", lease=0)
    finally:
        store.close()

    async def main() -> dict[str, int]:
        async with (
            httpx.AsyncClient(transport=fake.transport) as http,
            AsyncClient(http_client=http) as client,
        ):
            counts, _ = await drain(Outbox(url=url), client, rate=limit, burst=1)
            return counts

    started = time.perf_counter()
    counts = anyio.run(main)
    elapsed = time.perf_counter() - started
    times = sorted(record.time for record in fake.feedback_history)
    if counts["delivered"] != count or len(times) != count:
        raise RuntimeError(f"not all delivered: {counts}")
    window = max(sum(1 for t in times if start <= t < start + 1.0) for start in times)
    rate = (count - 1) / (times[-1] - times[0])
    return {"count": count, "elapsed": elapsed, "rate": rate, "max_in_1s": window}


# -- the section ------------------------------------------------------------------------------


def measure_here(quick: bool) -> dict[str, Any]:
    """Every measurement, in this process; a JSON-able result."""
    count, seconds = (400, 10.0) if quick else (3000, 30.0)
    result: dict[str, Any] = {"quick": quick}
    with tempfile.TemporaryDirectory(prefix="cognito-raw-bench-", dir=HERE / "out") as folder:
        result["sqlite"] = clicks(f"sqlite://{folder}/clicks.db", count, seconds)
        backlog = 150 if quick else 500
        result["delivery"] = delivery(f"sqlite://{folder}/deliver.db", backlog, DELIVERY_LIMIT)
    try:
        import psycopg  # noqa: F401 - is the driver here?
    except ImportError:
        result["postgresql"] = "psycopg not installed (pip install -e '.[bench,postgres]')"
        return result
    with postgres() as base:
        if base is None:
            result["postgresql"] = "no server ($COGNITO_RAW_TEST_POSTGRES, or run as root)"
        else:
            with pg_schema(base) as url:
                result["postgresql"] = clicks(url, count, seconds)
    return result


def measure(quick: bool, note: Callable[[str], None]) -> list[dict[str, Any]]:
    """Run ``measure_here`` in a fresh process; run.py's rows (``Row`` fields)."""
    print("\n== 5. the feedback app's outbox ==", flush=True)
    done = subprocess.run(
        [sys.executable, str(Path(__file__)), *(["--quick"] if quick else [])],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"outbox benchmark failed:\n{done.stderr[-3000:]}")
    data = json.loads(done.stdout)
    rows = []
    for backend in ("sqlite", "postgresql"):
        found = data[backend]
        if isinstance(found, str):
            rows.append(_row(f"clicks accepted/s, {backend} outbox", "", found, "", None))
            continue
        note(
            f"{backend}: {found['clicks']} clicks in {found['elapsed']:.2f} s, "
            f"{CONCURRENCY} in flight, each committed before its 202"
        )
        rows.append(
            _row(
                f"clicks accepted/s, {backend} outbox (durable commits)",
                f"{found['rate']:.0f}/s",
                f"Cognito's quota {25}/s",
                f"{found['rate'] / 25:.0f}x the quota",
                found["rate"] >= 100,
                target=">= 100/s",
            )
        )
    found = data["delivery"]
    note(
        f"delivery: {found['count']} pending drained at a limit of {DELIVERY_LIMIT:.0f}/s in "
        f"{found['elapsed']:.2f} s; at most {found['max_in_1s']} calls in any 1 s window"
    )
    held = 0.9 * DELIVERY_LIMIT <= found["rate"] <= DELIVERY_LIMIT * 1.02
    rows.append(
        _row(
            f"delivery rate at a configured limit of {DELIVERY_LIMIT:.0f}/s",
            f"{found['rate']:.1f}/s (max {found['max_in_1s']} in 1 s)",
            f"limit {DELIVERY_LIMIT:.0f}/s",
            f"{found['rate'] / DELIVERY_LIMIT:.2f}x",
            held and found["max_in_1s"] <= DELIVERY_LIMIT + 1,
            target="0.9x-1.0x",
        )
    )
    return rows


def _row(
    name: str, ours: str, other: str, ratio: str, passed: bool | None, *, target: str = ""
) -> dict[str, Any]:
    return {
        "section": "5",
        "name": name,
        "ours": ours,
        "other": other,
        "ratio": ratio,
        "target": target,
        "passed": passed,
    }


if __name__ == "__main__":
    (HERE / "out").mkdir(exist_ok=True)
    print(json.dumps(measure_here("--quick" in sys.argv[1:])))
