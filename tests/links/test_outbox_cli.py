"""``cognito-raw outbox deliver`` and ``status`` as real processes, on real databases.

The deliverers are real ``python -m cognito_raw`` processes calling FakeCognito
over a loopback socket (``fake.serve()``): killed with SIGKILL mid-run and
resumed, or run two at once. What counts is what the fake applied
(``feedback_history``) and what the outbox holds afterwards.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

import cognito_raw
from cognito_raw.cli import main
from cognito_raw.links._outbox.deliverer import digest, open_store
from cognito_raw.testing import AuthEvent, FakeCognito
from tests.outbox_support import BACKENDS, outbox_url

# -I would drop the checkout: point the children at the package under test.
ENV = {
    **os.environ,
    "PYTHONPATH": str(Path(cognito_raw.__file__).resolve().parent.parent),
}
# One attempt of at most 1 s per call: a lease of 1 s, so a dead deliverer's
# rows come free quickly.
FAST = ["--timeout", "1", "--max-attempts", "1", "--rate", "1000", "--burst", "1000"]
LIMIT = 60.0


@pytest.fixture(params=BACKENDS)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with outbox_url(request.param, tmp_path) as found:
        try:
            yield found
        finally:
            stop_deliverers()


def fill(url: str, fake: FakeCognito, count: int) -> list[AuthEvent]:
    """``count`` pending submissions on fresh events, as the app stores them."""
    pool = fake.create_user_pool()
    fake.create_user(pool, "alice")
    events = [fake.create_auth_event(pool, "alice") for _ in range(count)]
    store = open_store(url)
    try:
        key = store.open()
        for event in events:
            request = event.request("invalid")
            assert store.add(request, digest(key, request), owner="test", lease=0).new
    finally:
        store.close()
    return events


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


_STARTED: list[subprocess.Popen[str]] = []


def stop_deliverers() -> None:
    """Kill what a failed test left running (before its database goes away)."""
    while _STARTED:
        process = _STARTED.pop()
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=LIMIT)


def deliverer(url: str, endpoint: str, *extra: str) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "cognito_raw", "outbox", "deliver", "--db", url),
            *("--endpoint-url", endpoint, "--json", *FAST, *extra),
        ],
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    _STARTED.append(process)
    return process


def applications(fake: FakeCognito) -> Counter[str]:
    return Counter(record.event_id for record in fake.feedback_history)


# --- status and deliver -----------------------------------------------------------------------


def test_status_counts_by_state(url: str) -> None:
    fake = FakeCognito()
    fill(url, fake, 3)
    code, out, _ = cli("outbox", "status", "--db", url, "--json")
    assert code == 0
    counts = json.loads(out)
    assert {"pending", "delivered", "rejected", "expired"} <= set(counts)
    assert (counts["pending"], counts["delivered"]) == (3, 0)
    code, out, _ = cli("outbox", "status", "--db", url)
    assert code == 0
    assert "pending   3" in out


def test_deliver_exits_5_while_cognito_throttles_then_0(url: str) -> None:
    fake = FakeCognito()
    events = fill(url, fake, 5)
    with fake.serve() as endpoint:
        fake.throttle(1_000_000)
        code, out, err = cli("outbox", "deliver", "--db", url, "--endpoint-url", endpoint, *FAST)
        assert code == 5, err
        assert "to retry 5" in out
        assert "outbox pending" in err  # the retry is logged (WARNING)
        fake.clear_faults()
        code, out, err = cli(
            "outbox", "deliver", "--db", url, "--endpoint-url", endpoint, "--json", *FAST
        )
        assert code == 0, err
    result = json.loads(out)
    assert result["run"]["delivered"] == 5
    assert result["counts"]["pending"] == 0
    assert applications(fake) == Counter({e.event_id: 1 for e in events})


def test_a_rejected_link_is_final(url: str) -> None:
    fake = FakeCognito()
    (event,) = fill(url, fake, 1)
    fake.expire_auth_event(event.user_pool_id, event.event_id)
    with fake.serve() as endpoint:
        code, out, _ = cli("outbox", "deliver", "--db", url, "--endpoint-url", endpoint, *FAST)
    assert code == 0
    assert "rejected 1" in out
    assert json.loads(cli("outbox", "status", "--db", url, "--json")[1])["rejected"] == 1


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--db", "sqlite://relative.db"], "sqlite:///absolute/path.db"),
        (["--db", "mysql://x/y"], "sqlite:/// or postgresql://"),
        ([], "no outbox"),
        (["--db", "sqlite:///tmp/x.db", "--rate", "0"], "rate"),
    ],
)
def test_bad_input_is_exit_2_naming_the_field(
    argv: list[str], message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("COGNITO_RAW_OUTBOX", raising=False)
    code, _, err = cli("outbox", "deliver", *argv)
    assert code == 2
    assert message in err


def test_an_unusable_database_is_exit_9_without_the_password(tmp_path: Path) -> None:
    # A mistyped path is not a new, empty outbox.
    for action in ("status", "deliver"):
        code, _, err = cli("outbox", action, "--db", f"sqlite://{tmp_path}/typo.db")
        assert code == 9
        assert "no outbox at" in err
        assert not (tmp_path / "typo.db").exists()
    pytest.importorskip("psycopg")
    bad = f"postgresql://user:hunter2@127.0.0.1:1/db?host={tmp_path}&connect_timeout=2"
    code, _, err = cli("outbox", "status", "--db", bad)
    assert code == 9
    assert "hunter2" not in err


# --- crashes and company ----------------------------------------------------------------------


def test_a_deliverer_killed_mid_run_loses_nothing(url: str) -> None:
    fake = FakeCognito()
    events = fill(url, fake, 40)
    with fake.serve() as endpoint:
        # Each reply is held back; the request is applied on arrival, so a
        # kill lands while a delivered call waits for its reply.
        fake.delay(0.1, n=10_000)
        first = deliverer(url, endpoint)
        deadline = time.monotonic() + LIMIT
        while len(fake.feedback_history) < 10 and time.monotonic() < deadline:
            assert first.poll() is None, first.communicate()
            time.sleep(0.01)
        first.send_signal(signal.SIGKILL)
        first.communicate(timeout=LIMIT)
        assert first.returncode == -signal.SIGKILL
        assert 10 <= len(fake.feedback_history) < 40
        # The resumed run waits out the dead one's lease, then sends the rest.
        second = deliverer(url, endpoint)
        out, err = second.communicate(timeout=LIMIT)
        assert second.returncode == 0, (out, err)
    counts = applications(fake)
    assert set(counts) == {e.event_id for e in events}  # nothing lost
    assert sum(counts.values()) - len(events) <= 1  # at most one sent twice
    assert json.loads(out)["counts"]["delivered"] == 40


def test_two_deliverers_at_once_send_each_submission_once(url: str) -> None:
    fake = FakeCognito()
    events = fill(url, fake, 40)
    with fake.serve() as endpoint:
        fake.delay(0.1, n=10_000)  # 4 s of calls: the two runs overlap
        runs = [deliverer(url, endpoint), deliverer(url, endpoint)]
        results = [run.communicate(timeout=LIMIT) for run in runs]
    for run, (_, err) in zip(runs, results, strict=True):
        assert run.returncode == 0, err
    delivered = [json.loads(out)["run"]["delivered"] for out, _ in results]
    assert sum(delivered) == 40
    assert min(delivered) > 0, delivered  # both really worked
    assert applications(fake) == Counter({e.event_id: 1 for e in events})
