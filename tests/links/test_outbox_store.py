"""The outbox's storage layer on real databases, and its pure rules.

Both backends run every test here (SQLite in a temporary file, PostgreSQL
in a schema of its own; see outbox_support). Several stores on one database
stand for several processes: each has its own connections.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cognito_raw import (
    CognitoError,
    InternalErrorException,
    InvalidParameterException,
    NotAuthorizedException,
    ProtocolError,
    RequestTimeoutError,
    ResourceNotFoundException,
    RetryPolicy,
    ServiceError,
    Timeout,
    TooManyRequestsException,
    TransportError,
    UpdateAuthEventFeedbackRequest,
    UserNotFoundException,
    UserPoolAddOnNotEnabledException,
    ValidationError,
    parse_response,
)
from cognito_raw._call.limiter import TokenBucket
from cognito_raw.links._outbox.deliverer import (
    Deliverer,
    Outbox,
    Verdict,
    call_worst_case,
    digest,
    judge,
    open_store,
    retry_delay,
)
from cognito_raw.links._outbox.sql import SQLStore
from cognito_raw.links._outbox.sqlite import SQLiteStore
from cognito_raw.links._outbox.store import (
    OutboxError,
    new_lease,
    parse_url,
    redact_url,
)
from tests.outbox_support import BACKENDS, outbox_url
from tests.test_imports import probe_output


@pytest.fixture(params=BACKENDS)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with outbox_url(request.param, tmp_path) as found:
        yield found


def request_for(n: int, value: str = "valid") -> UpdateAuthEventFeedbackRequest:
    return UpdateAuthEventFeedbackRequest(
        user_pool_id="us-east-1_AbC123",
        username=f"user-{n}@example.com",
        event_id=f"event-{n}",
        feedback_token=f"token-{n}-XYZ",
        feedback_value=value,
    )


class Opened:
    """An open store and its key, closed by the test's fixture."""

    def __init__(self, url: str) -> None:
        self.store: SQLStore = open_store(url)
        self.key = self.store.open()

    def add(self, n: int, value: str = "valid", lease: float = 0.0) -> Any:
        request = request_for(n, value)
        return self.store.add(request, digest(self.key, request), owner="adder", lease=lease)


@pytest.fixture
def opened(url: str) -> Iterator[Opened]:
    box = Opened(url)
    yield box
    box.store.close()


def secrets_at_rest(url: str) -> list[tuple[str, object, object]]:
    """(state, username, token) of every row, read with a plain driver connection."""
    sql = "SELECT state, username, feedback_token FROM cognito_raw_outbox ORDER BY id"
    if url.startswith("sqlite"):
        with sqlite3.connect(url.removeprefix("sqlite://")) as conn:
            return [tuple(row) for row in conn.execute(sql)]
    import psycopg

    with psycopg.connect(url) as conn:
        return [tuple(row) for row in conn.execute(sql)]


# --- rows ---------------------------------------------------------------------------------------


def test_one_row_per_link_and_answer(opened: Opened) -> None:
    first = opened.add(1)
    assert (first.state, first.new) == ("pending", True)
    assert opened.add(1) == type(first)(id=first.id, state="pending", new=False)
    other = opened.add(1, "invalid")  # the other answer is another submission
    assert other.new
    assert other.id != first.id
    assert opened.store.counts()["pending"] == 2


def test_a_new_row_may_start_leased_to_its_adder(opened: Opened) -> None:
    opened.add(1, lease=30)
    assert opened.store.claim(owner="other", lease=30) is None
    assert opened.store.counts()["leased"] == 1
    assert opened.store.next_due() == pytest.approx(30, abs=1)


def test_a_lease_excludes_others_until_it_runs_out(opened: Opened) -> None:
    opened.add(1)
    row = opened.store.claim(owner="a", lease=1.0)
    assert row is not None
    assert (row.attempts, row.username, row.feedback_token) == (
        1,
        "user-1@example.com",
        row.feedback_token,
    )
    assert "token-1" not in repr(row)
    assert "user-1" not in repr(row)
    assert opened.store.claim(owner="b", lease=30) is None
    assert opened.store.claim(owner="b", lease=30, due_only=False) is None
    time.sleep(1.1)
    again = opened.store.claim(owner="b", lease=30)
    assert again is not None
    assert (again.id, again.attempts) == (row.id, 2)
    # The first owner's late release does not free b's lease.
    opened.store.release(row.id, row.lease, delay=0, code=None)
    assert opened.store.claim(owner="c", lease=30) is None


STALE_ACTS = {
    "finish delivered": lambda store, row: store.finish(row.id, row.lease, "delivered", None),
    "finish rejected": lambda store, row: store.finish(row.id, row.lease, "rejected", "X"),
    "release": lambda store, row: store.release(row.id, row.lease, delay=0, code=None),
}


@pytest.mark.parametrize("act", STALE_ACTS)
def test_a_stale_claim_changes_nothing_once_the_row_is_claimed_again(
    opened: Opened, url: str, act: str
) -> None:
    # Two workers of one deliverer share its owner name: only the lease token
    # tells the first claim, whose lease ran out mid-call, from the second.
    opened.add(1)
    stale = opened.store.claim(owner="deliverer-1", lease=0.5)
    assert stale is not None
    time.sleep(0.6)
    fresh = opened.store.claim(owner="deliverer-1", lease=30)
    assert fresh is not None
    assert fresh.id == stale.id
    assert fresh.lease != stale.lease
    assert STALE_ACTS[act](opened.store, stale) is False  # the lease was lost
    counts = opened.store.counts()
    assert (counts["pending"], counts["leased"]) == (1, 1)
    assert secrets_at_rest(url) == [("pending", "user-1@example.com", "token-1-XYZ")]
    assert opened.store.claim(owner="deliverer-2", lease=30, due_only=False) is None
    # The claim that holds the row still can, once.
    assert opened.store.finish(fresh.id, fresh.lease, "delivered", None) is True
    assert opened.store.counts()["delivered"] == 1
    assert opened.store.finish(fresh.id, fresh.lease, "delivered", None) is False


@pytest.mark.parametrize(
    "verdict",
    [Verdict(state="delivered"), Verdict(state="rejected", code="X"), Verdict(state="pending")],
)
def test_a_deliverer_worker_past_its_lease_cannot_record_over_a_sibling(
    opened: Opened, url: str, verdict: Verdict, caplog: pytest.LogCaptureFixture
) -> None:
    # What Deliverer.record does with a row whose lease ran out mid-call and
    # that a sibling worker (same deliverer, same owner name) claimed again.
    deliverer = Deliverer(
        store=opened.store,
        client=object(),  # type: ignore[arg-type]  # never called here
        outbox=Outbox(url=url, lease=0.5),
        bucket=TokenBucket(10, 1, 0.0),
        rand=lambda: 0.0,
    )
    opened.add(1)
    late = opened.store.claim(owner=deliverer.owner, lease=deliverer.lease)
    assert late is not None
    time.sleep(0.6)
    sibling = opened.store.claim(owner=deliverer.owner, lease=30)
    assert sibling is not None
    caplog.set_level(logging.INFO, logger="cognito_raw.outbox")
    assert anyio.run(deliverer.record, late, verdict) is False
    assert secrets_at_rest(url) == [("pending", "user-1@example.com", "token-1-XYZ")]
    assert opened.store.counts()["leased"] == 1
    # Reported once, as lost, and not counted as a call this deliverer recorded.
    assert deliverer.tally.as_dict() == dict.fromkeys(deliverer.tally.as_dict(), 0)
    assert [(r.name, r.levelno, r.getMessage()) for r in caplog.records] == [
        (
            "cognito_raw.outbox",
            logging.WARNING,
            f"outbox lease lost: row={late.id} outcome={verdict.state} not recorded "
            "(the lease ran out and the row was taken over)",
        )
    ]
    caplog.clear()
    assert anyio.run(deliverer.record, sibling, Verdict(state="delivered")) is True
    assert opened.store.counts()["delivered"] == 1
    assert deliverer.tally.as_dict() == {"delivered": 1, "rejected": 0, "expired": 0, "retried": 0}
    assert [r.getMessage().split(":")[0] for r in caplog.records] == ["outbox delivered"]


# A claim the database refuses, as a locked or broken database would: a
# trigger makes leasing any row fail, while reading and erasing still work.
_REFUSE_CLAIMS = (
    "CREATE TRIGGER refuse_claims BEFORE UPDATE OF lease_owner ON cognito_raw_outbox "
    "WHEN NEW.lease_owner IS NOT NULL BEGIN SELECT RAISE(ABORT, 'claims refused'); END"
)


@pytest.mark.parametrize("entry", ["run", "drain"])
def test_a_failed_claim_gives_its_rate_slot_back(
    tmp_path: Path, entry: str, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"sqlite://{tmp_path / 'outbox.db'}"
    box = Opened(url)
    box.add(1)
    with sqlite3.connect(tmp_path / "outbox.db") as conn:
        conn.execute(_REFUSE_CLAIMS)
    # One slot, and a clock that stands still: a slot not given back is gone.
    bucket = TokenBucket(1, 1, 0.0)
    deliverer = Deliverer(
        store=box.store,
        client=object(),  # type: ignore[arg-type]  # never called: nothing is claimed
        outbox=Outbox(url=url, poll_interval=0.01),
        bucket=bucket,
        clock=lambda: 0.0,
    )

    async def serve() -> None:
        async with anyio.create_task_group() as group:
            group.start_soon(deliverer.run)
            with anyio.fail_after(10):
                while not any("delivery paused" in r.getMessage() for r in caplog.records):
                    await anyio.sleep(0.01)
            deliverer.stop()

    try:
        if entry == "run":
            anyio.run(serve)
        else:
            with pytest.raises(OutboxError, match="claim a submission"):
                anyio.run(deliverer.drain)
    finally:
        box.store.close()
    assert bucket.take(0.0) == 0  # the slot is back
    assert deliverer.tally.as_dict() == dict.fromkeys(deliverer.tally.as_dict(), 0)


def test_a_row_added_leased_is_finished_with_its_lease(opened: Opened) -> None:
    added = opened.add(1, lease=30)
    assert added.lease is not None
    assert added.lease not in repr(added)
    opened.store.finish(added.id, new_lease("adder"), "delivered", None)  # not its lease
    assert opened.store.counts()["pending"] == 1
    opened.store.finish(added.id, added.lease, "delivered", None)
    assert opened.store.counts()["delivered"] == 1


def test_a_lease_written_by_an_earlier_version_runs_out_and_is_claimed(
    opened: Opened, url: str
) -> None:
    # Earlier versions stored the deliverer's name alone; the table is the same.
    added = opened.add(1)
    sql = "UPDATE cognito_raw_outbox SET lease_owner = 'host:1:abcd', lease_until = 1 WHERE id = "
    if url.startswith("sqlite"):
        with sqlite3.connect(url.removeprefix("sqlite://")) as conn:
            conn.execute(f"{sql}{added.id}")
    else:
        import psycopg

        with psycopg.connect(url) as conn:
            conn.execute(f"{sql}{added.id}")
    row = opened.store.claim(owner="new", lease=30)
    assert row is not None
    assert row.id == added.id
    opened.store.release(row.id, "host:1:abcd", delay=0, code=None)  # the old name: no longer
    assert opened.store.counts()["leased"] == 1
    opened.store.finish(row.id, row.lease, "delivered", None)
    assert opened.store.counts()["delivered"] == 1


def test_a_released_row_waits_out_its_delay(opened: Opened) -> None:
    opened.add(1)
    row = opened.store.claim(owner="a", lease=30)
    assert row is not None
    opened.store.release(row.id, row.lease, delay=60, code="TooManyRequestsException")
    assert opened.store.claim(owner="a", lease=30) is None  # not due
    assert opened.store.next_due() == pytest.approx(60, abs=1)
    # A drain (due_only=False) tries it anyway.
    assert opened.store.claim(owner="a", lease=30, due_only=False) is not None


def test_final_rows_keep_only_the_digest(opened: Opened, url: str) -> None:
    for n in range(4):
        opened.add(n)
    for state in ("delivered", "rejected"):
        row = opened.store.claim(owner="a", lease=30)
        assert row is not None
        opened.store.finish(row.id, row.lease, state, None)
    time.sleep(0.05)
    assert opened.store.expire(0.01) != []  # the two left are old enough
    at_rest = secrets_at_rest(url)
    assert [state for state, _, _ in at_rest] == ["delivered", "rejected", "expired", "expired"]
    assert all(user is None and token is None for _, user, token in at_rest)
    assert opened.add(0).state == "delivered"  # still recognised
    assert opened.store.prune(3600) == 0
    time.sleep(0.05)
    assert opened.store.prune(0.01) == 4
    assert opened.store.counts()["delivered"] == 0


def test_expire_leaves_leased_and_young_rows(opened: Opened) -> None:
    opened.add(1, lease=30)
    opened.add(2)
    assert opened.store.expire(3600) == []
    time.sleep(0.05)
    (expired,) = opened.store.expire(0.01)
    assert expired[:2] == ("us-east-1_AbC123", "event-2")
    assert opened.store.counts()["pending"] == 1


@pytest.mark.parametrize("workers", [2, 4])
def test_concurrent_claims_take_each_row_once(url: str, workers: int) -> None:
    # Each worker has its own store: its own connections, as another process would.
    adder = Opened(url)
    for n in range(200):
        adder.add(n)
    adder.store.close()
    taken: list[int] = []
    lock = threading.Lock()
    failures: list[BaseException] = []

    def work(name: str) -> None:
        store = open_store(url)
        try:
            store.open()
            for _ in range(400):  # bounded: more than enough for 200 rows
                row = store.claim(owner=name, lease=60)
                if row is None:
                    return
                with lock:
                    taken.append(row.id)
                store.finish(row.id, row.lease, "delivered", None)
        except BaseException as exc:  # reported below: a thread must not fail silently
            failures.append(exc)
        finally:
            store.close()

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert failures == []
    assert sorted(Counter(taken).values()) == [1] * 200


def test_the_sqlite_file_is_private(tmp_path: Path) -> None:
    path = tmp_path / "outbox.db"
    store = open_store(f"sqlite://{path}")
    try:
        store.open()
        request = request_for(1)
        store.add(request, digest(b"k" * 32, request), owner="a", lease=0)
        for name in ("outbox.db", "outbox.db-wal", "outbox.db-shm"):
            assert (tmp_path / name).stat().st_mode & 0o777 == 0o600, name
        with sqlite3.connect(str(path)) as conn:
            assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    finally:
        store.close()


def test_an_existing_file_open_to_others_is_made_private(tmp_path: Path) -> None:
    path = tmp_path / "outbox.db"
    path.touch(mode=0o644)
    path.chmod(0o644)
    store = open_store(f"sqlite://{path}")
    try:
        store.open()
    finally:
        store.close()
    assert path.stat().st_mode & 0o777 == 0o600


# --- a property: any sequence of operations keeps the invariants -----------------------------

_OPS = st.lists(
    st.one_of(
        st.tuples(st.just("add"), st.integers(0, 5), st.sampled_from(["valid", "invalid"])),
        st.tuples(st.just("claim"), st.sampled_from(["a", "b"]), st.booleans()),
        st.tuples(st.just("finish"), st.sampled_from(["delivered", "rejected"]), st.just(0)),
        st.tuples(st.just("release"), st.sampled_from(["a", "b"]), st.just(0)),
    ),
    max_size=25,
)


@settings(max_examples=60)
@given(ops=_OPS)
def test_any_sequence_keeps_the_invariants(ops: list[tuple[str, Any, Any]]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite://{folder}/outbox.db"
        box = Opened(url)
        try:
            _replay(box, ops)
            at_rest = secrets_at_rest(url)
        finally:
            box.store.close()
    for state, user, token in at_rest:
        assert (user is None) == (token is None) == (state != "pending")


class _Model:
    """What the store should hold: rows by link and answer, their state, their leases."""

    def __init__(self, box: Opened) -> None:
        self.box = box
        self.states: dict[int, str] = {}
        self.leases: dict[int, tuple[str, str]] = {}  # row ID -> (owner, lease token)
        self.ids: dict[tuple[int, str], int] = {}

    def add(self, n: int, value: str) -> None:
        added = self.box.add(n, value)
        assert added.new == ((n, value) not in self.ids)
        self.ids.setdefault((n, value), added.id)
        self.states.setdefault(added.id, "pending")
        assert added.state == self.states[added.id]

    def claim(self, owner: str, due_only: bool) -> None:
        row = self.box.store.claim(owner=owner, lease=60, due_only=due_only)
        free = [i for i, s in self.states.items() if s == "pending" and i not in self.leases]
        assert (row is None) == (not free)
        if row is not None:
            assert row.id in free
            self.leases[row.id] = (owner, row.lease)

    def finish(self, state: str, _: object) -> None:
        if self.leases:
            row_id = min(self.leases)
            self.box.store.finish(row_id, self.leases[row_id][1], state, None)
            self.states[row_id] = state
            del self.leases[row_id]

    def release(self, owner: str, _: object) -> None:
        if self.leases:
            row_id = min(self.leases)
            holder, token = self.leases[row_id]
            if holder != owner:
                token = new_lease(owner)  # a claim that does not hold the row
            self.box.store.release(row_id, token, delay=0, code=None)
            if holder == owner:
                del self.leases[row_id]

    def check(self) -> None:
        counts = self.box.store.counts()
        for state in ("pending", "delivered", "rejected"):
            assert counts[state] == sum(1 for s in self.states.values() if s == state)
        assert counts["leased"] == len(self.leases)


def _replay(box: Opened, ops: list[tuple[str, Any, Any]]) -> None:
    model = _Model(box)
    for op, a, b in ops:
        getattr(model, op)(a, b)
        model.check()


# --- the pure rules -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("sqlite:///var/lib/app/outbox.db", "sqlite"),
        ("sqlite:///tmp/with%20space.db", "sqlite"),
        ("postgresql://app:pw@db.internal:5432/app", "postgresql"),
        ("postgresql:///app?host=/var/run/postgresql", "postgresql"),
        ("postgres://db/app", "postgresql"),
    ],
)
def test_outbox_urls(url: str, kind: str) -> None:
    assert parse_url(url)[0] == kind
    if kind == "sqlite":
        assert parse_url(url)[1].startswith("/")


@pytest.mark.parametrize(
    "url",
    [
        "sqlite://relative.db",
        "sqlite:relative.db",
        "sqlite://host/abs.db",
        "sqlite:///abs.db?mode=ro",
        "sqlite:///folder/",
        "postgresql://app:hunter2@[::1/db",
        "postgresql://app:hunter2@db:99999999/db",
        "mysql://db/app",
        "outbox.db",
        "",
    ],
)
def test_bad_outbox_urls_name_the_field(url: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_url(url)
    assert caught.value.field == "outbox"
    assert "hunter2" not in str(caught.value)


def test_passwords_are_redacted() -> None:
    assert redact_url("postgresql://app:hunter2@db/x") == "postgresql://app:***@db/x"
    assert redact_url("postgresql:///x?host=/run") == "postgresql:///x?host=/run"
    with pytest.raises(ValidationError) as caught:
        parse_url("mysql://app:hunter2@db/x")
    assert "hunter2" not in str(caught.value)


def reply_error(status: int, code: str, body: bytes | None = None) -> CognitoError:
    """The exception parse_response makes of an error reply (Cognito's form unless ``body``)."""
    body = json.dumps({"__type": code, "message": "m"}).encode() if body is None else body
    try:
        parse_response(status, {"x-amzn-RequestId": "r"}, body)
    except CognitoError as exc:
        return exc
    raise AssertionError("an error reply parsed as a success")


@pytest.mark.parametrize(
    ("error", "state", "cls"),
    [
        (None, "delivered", None),
        (reply_error(400, "NotAuthorizedException"), "rejected", NotAuthorizedException),
        (reply_error(400, "UserNotFoundException"), "rejected", UserNotFoundException),
        (reply_error(400, "InvalidParameterException"), "rejected", InvalidParameterException),
        (reply_error(400, "ResourceNotFoundException"), "rejected", ResourceNotFoundException),
        (
            reply_error(400, "UserPoolAddOnNotEnabledException"),
            "rejected",
            UserPoolAddOnNotEnabledException,
        ),
        (reply_error(400, "TooManyRequestsException"), "pending", TooManyRequestsException),
        (reply_error(500, "InternalErrorException"), "pending", InternalErrorException),
        (reply_error(503, "ServiceUnavailable"), "pending", ServiceError),
        (reply_error(400, "SomethingUnmodeled"), "pending", ServiceError),
        (reply_error(404, "BadRequest"), "pending", ServiceError),
        (reply_error(403, "", b"<html>a firewall's page</html>"), "pending", ServiceError),
        (reply_error(400, "OperationNotEnabledException"), "rejected", ServiceError),
        (TransportError("reset"), "pending", TransportError),
        (RequestTimeoutError("slow"), "pending", RequestTimeoutError),
        (ProtocolError("an HTML page", status_code=200), "pending", ProtocolError),
    ],
)
def test_what_each_outcome_means(error: CognitoError | None, state: str, cls: Any) -> None:
    if cls is not None:
        assert isinstance(error, cls)
    verdict = judge(error)
    assert verdict.state == state
    assert verdict.code is None or verdict.code.isidentifier()


@pytest.mark.parametrize(
    ("policy", "timeout", "worst"),
    [
        (RetryPolicy(max_attempts=1), Timeout.of(1), 1.0),
        (RetryPolicy(max_attempts=3), Timeout(), 3 * 10 + 2 * 20),
        (
            RetryPolicy(max_attempts=3, max_retry_after=0, base_delay=1, max_delay=3),
            Timeout.of(2),
            6 + 1 + 2,
        ),
        (RetryPolicy(max_attempts=5, deadline=4), Timeout.of(2), 4),
    ],
)
def test_the_worst_case_of_one_call(policy: RetryPolicy, timeout: Timeout, worst: float) -> None:
    assert call_worst_case(policy, timeout) == pytest.approx(worst)


@given(
    attempts=st.integers(0, 100),
    hint=st.none() | st.floats(0, 1e6),
    rand=st.floats(0, 1, exclude_max=True),
)
def test_retry_delays_stay_within_bounds(attempts: int, hint: float | None, rand: float) -> None:
    outbox = Outbox(url="sqlite:///x.db", retry_base=1.0, retry_max=300.0)
    delay = retry_delay(attempts, outbox, hint, lambda: rand)
    ceiling = min(300.0, 2.0 ** max(attempts - 1, 0))
    assert ceiling / 2 <= delay <= 300.0
    if hint is not None:
        assert delay >= min(hint, 300.0)


def test_the_lease_comes_from_the_clients_policy() -> None:
    import anyio

    from cognito_raw import AsyncClient
    from cognito_raw.links._outbox.deliverer import lease_for

    outbox = Outbox(url="sqlite:///x.db")

    async def main() -> tuple[float, float, float]:
        async with AsyncClient(timeout=1, retry=RetryPolicy(max_attempts=1)) as one:
            async with AsyncClient(timeout=Timeout.of(2), retry=RetryPolicy()) as default:
                return lease_for(outbox, one), lease_for(outbox, default), lease_for(outbox, None)

    one, default, other = anyio.run(main)
    assert one == pytest.approx(1)  # one attempt of at most 1 s
    assert default == pytest.approx(3 * 2 + 2 * 20)
    assert other == 60.0  # not a cognito_raw client: a fixed lease
    assert lease_for(Outbox(url="sqlite:///x.db", lease=5), None) == 5


_IMPORT_PROBE = """
import sys
sys.path.insert(0, sys.argv[1])
import cognito_raw
assert "sqlite3" not in sys.modules and "psycopg" not in sys.modules
from cognito_raw.links import feedback_app

class Sender:
    async def send(self, request):
        raise AssertionError

feedback_app(client=Sender(), user_pool_ids=["us-east-1_AbC"])
for heavy in ("sqlite3", "psycopg", "anyio", "httpx"):
    assert heavy not in sys.modules, heavy  # no outbox, no database driver
feedback_app(client=Sender(), user_pool_ids=["us-east-1_AbC"], outbox="sqlite:///tmp/x.db")
assert "psycopg" not in sys.modules  # only the backend in use
print("ok")
"""


def test_database_drivers_load_only_when_used() -> None:
    assert probe_output(_IMPORT_PROBE).strip() == "ok"


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://app:hunter2@127.0.0.1:1/db?connect_timeout=2",
        "postgresql://app:hunter%252@127.0.0.1:1/db?connect_timeout=2&bad%zz=1",
        "postgresql://app:hunter%zz@127.0.0.1:1/db",  # libpq quotes the bad token
    ],
)
def test_connection_errors_never_show_the_password(url: str) -> None:
    pytest.importorskip("psycopg")
    store = open_store(url)
    with pytest.raises(OutboxError) as caught:
        store.open()
    assert "hunter" not in str(caught.value)
    assert "hunter" not in repr(store)
    assert caught.value.__cause__ is None


def test_a_scrub_kept_from_finishing_by_a_reader_says_so_and_finishes_later(
    tmp_path: Path,
) -> None:
    # A reader on an old snapshot (a status command, a backup) keeps the WAL
    # from being truncated: scrub reports it, so the deliverer tries again,
    # and once the reader is gone the secrets leave every file.
    path = tmp_path / "outbox.db"
    store = SQLiteStore(str(path))
    key = store.open()
    request = UpdateAuthEventFeedbackRequest(
        user_pool_id="us-east-1_AbC123",
        username="reader-held-user",
        event_id="ev1",
        feedback_token="ReaderHeldToken123",
        feedback_value="Valid",
    )
    added = store.add(request, digest(key, request), owner="test", lease=30)
    reader = sqlite3.connect(path, isolation_level=None)
    try:
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM sqlite_master").fetchall()
        assert added.lease is not None
        store.finish(added.id, added.lease, "delivered", None)
        assert store.scrub() is False
    finally:
        reader.execute("COMMIT")
        reader.close()
    assert store.scrub() is True
    for suffix in ("", "-wal", "-shm"):
        file = Path(f"{path}{suffix}")
        data = file.read_bytes() if file.exists() else b""
        assert b"ReaderHeldToken123" not in data, suffix
        assert b"reader-held-user" not in data, suffix
    store.close()
