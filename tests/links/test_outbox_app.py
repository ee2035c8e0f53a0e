"""The feedback app with an outbox, end to end against FakeCognito, on real databases.

The browser side is httpx's ``ASGITransport`` (as in test_feedback_app_fake);
the app's ``AsyncClient`` reaches the fake in process; the outbox is a real
SQLite file or a real PostgreSQL schema. What counts is what the fake
recorded (``feedback_history``, ``requests``) and what the outbox holds.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from cognito_raw import AsyncClient, RetryPolicy
from cognito_raw.cli import main
from cognito_raw.links import FeedbackApp, FeedbackTexts, RateLimit, feedback_app
from cognito_raw.links._outbox.deliverer import Outbox, drain, open_store
from cognito_raw.testing import AuthEvent, FakeCognito
from tests.links.test_feedback_app import check_security_headers, title_of
from tests.links.test_feedback_app_fake import ORIGIN, RETRY, Rig
from tests.outbox_support import BACKENDS, lifespan, outbox_url, sqlite_files

TEXTS = FeedbackTexts()
ROOMY = RateLimit(rate=10_000, burst=10_000)


@pytest.fixture(params=BACKENDS)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    with outbox_url(request.param, tmp_path) as found:
        yield found


@contextlib.asynccontextmanager
async def fake_client(fake: FakeCognito) -> AsyncIterator[AsyncClient]:
    """The app's client: a real AsyncClient, reaching the fake in process."""
    async with (
        httpx.AsyncClient(transport=fake.transport) as http,
        AsyncClient(http_client=http, retry=RETRY, timeout=2) as client,
    ):
        yield client


def run(
    mode: str,
    body: Callable[[Rig], Awaitable[None]],
    *,
    fake: FakeCognito | None = None,
    event: AuthEvent | None = None,
    **options: Any,
) -> FakeCognito:
    """test_feedback_app_fake's ``run`` (in process only), closing the app's outbox after."""
    assert mode == "transport"
    fake = fake or FakeCognito()
    event = event or fake.seed()
    options.setdefault("per_client_limit", RateLimit(rate=1, burst=50))

    async def main() -> None:
        async with fake_client(fake) as client:
            app = feedback_app(client=client, user_pool_ids=[event.user_pool_id], **options)
            transport = httpx.ASGITransport(app=app, client=("198.51.100.7", 50000))
            try:
                async with httpx.AsyncClient(transport=transport, base_url=ORIGIN) as browser:
                    await body(Rig(fake=fake, event=event, app=app, browser=browser))
            finally:
                await app.aclose()

    anyio.run(main)
    return fake


def events_for(fake: FakeCognito, count: int, username: str = "alice") -> list[AuthEvent]:
    """``count`` risky sign-ins of one new user in a new pool."""
    pool = fake.create_user_pool()
    fake.create_user(pool, username)
    return [fake.create_auth_event(pool, username) for _ in range(count)]


def run_wave(
    body: Callable[[Rig], Awaitable[None]], fake: FakeCognito, events: list[AuthEvent], url: str
) -> None:
    """``run`` with limits roomy enough for a wave of clicks from one address."""
    run(
        "transport",
        body,
        fake=fake,
        event=events[0],
        outbox=url,
        global_limit=ROOMY,
        per_client_limit=ROOMY,
    )


def counts(url: str) -> dict[str, int]:
    store = open_store(url)
    try:
        store.open()
        return store.counts()
    finally:
        store.close()


async def drain_all(fake: FakeCognito, url: str, **settings: Any) -> dict[str, int]:
    """``cognito-raw outbox deliver``'s work, through an in-process client."""
    async with fake_client(fake) as client:
        found, _ = await drain(Outbox(url=url, **settings), client, rate=10_000, burst=10_000)
        return found


def applied(fake: FakeCognito) -> list[tuple[str, str]]:
    return sorted((r.event_id, r.value) for r in fake.feedback_history)


def calls(fake: FakeCognito) -> int:
    return len(fake.requests)


# --- definite outcomes: today's pages ---------------------------------------------------------


@pytest.mark.parametrize(("value", "wire"), [("valid", "Valid"), ("invalid", "Invalid")])
def test_a_click_is_stored_then_delivered_inline(url: str, value: str, wire: str) -> None:
    async def body(rig: Rig) -> None:
        response = await rig.submit(await rig.confirm(rig.link(value)))
        assert response.status_code == 200, response.text
        check_security_headers(response)
        assert title_of(response.text) == TEXTS.success_title
        assert rig.applied() == (wire, 1)
        again = await rig.submit(await rig.confirm(rig.link(value)))
        assert title_of(again.text) == TEXTS.already_recorded_title
        assert again.status_code == 200

    fake = run("transport", body, outbox=url)
    assert calls(fake) == 1
    assert counts(url)["delivered"] == 1


@pytest.mark.parametrize(
    ("fault", "status", "title", "state"),
    [
        ("expired", 400, TEXTS.expired_title, "rejected"),
        ("addon", 502, TEXTS.error_title, "rejected"),
    ],
)
def test_a_definite_rejection_gets_todays_page(
    url: str, fault: str, status: int, title: str, state: str
) -> None:
    async def body(rig: Rig) -> None:
        if fault == "expired":
            rig.fake.expire_auth_event(rig.event.user_pool_id, rig.event.event_id)
        else:
            rig.fake.fail_with("UserPoolAddOnNotEnabledException", "off")
        response = await rig.submit(await rig.confirm(rig.link()))
        assert (response.status_code, title_of(response.text)) == (status, title)
        # The second click reads the row: no second call.
        again = await rig.submit(await rig.confirm(rig.link()))
        assert again.status_code in (400, 502)

    fake = run("transport", body, outbox=url)
    assert calls(fake) == 1
    assert counts(url)[state] == 1


# --- transient failures: 202, then delivered once ---------------------------------------------


@pytest.mark.parametrize("fault", ["throttle", "fail", "drop"])
def test_a_transient_failure_is_accepted_then_delivered(url: str, fault: str) -> None:
    async def body(rig: Rig) -> None:
        getattr(rig.fake, fault if fault != "drop" else "drop_connection")(100)
        response = await rig.submit(await rig.confirm(rig.link("invalid")))
        assert response.status_code == 202, response.text
        check_security_headers(response)
        assert title_of(response.text) == TEXTS.accepted_title
        assert TEXTS.accepted_body in response.text
        assert "<form" not in response.text
        assert counts(url)["pending"] == 1
        # A second click while it waits: the same 202, no new row, no call.
        before = calls(rig.fake)
        again = await rig.submit(await rig.confirm(rig.link("invalid")))
        assert again.status_code == 202
        assert calls(rig.fake) == before
        rig.fake.clear_faults()
        assert (await drain_all(rig.fake, url))["pending"] == 0
        assert rig.applied() == ("Invalid", 1)

    fake = run("transport", body, outbox=url)
    assert counts(url) == {"pending": 0, "delivered": 1, "rejected": 0, "expired": 0, "leased": 0}
    assert len(fake.feedback_history) == 1


def test_a_spent_global_limit_is_accepted_without_a_call(url: str) -> None:
    fake = FakeCognito()
    events = events_for(fake, 4)

    async def body(rig: Rig) -> None:
        pages = [await rig.submit(await rig.confirm(rig.link(event=e))) for e in events]
        assert [p.status_code for p in pages] == [200, 202, 202, 202]
        assert calls(rig.fake) == 1
        assert (await drain_all(rig.fake, url))["pending"] == 0

    run(
        "transport",
        body,
        fake=fake,
        event=events[0],
        outbox=url,
        global_limit=RateLimit(rate=0.001, burst=1),
    )
    assert applied(fake) == sorted((e.event_id, "Valid") for e in events)
    assert calls(fake) == 4


def test_a_slow_reply_past_the_budget_is_202_and_still_recorded_once(url: str) -> None:
    async def body(rig: Rig) -> None:
        rig.fake.delay(0.6)
        response = await rig.submit(await rig.confirm(rig.link()))
        # The page went out at the budget; the call finished after it.
        assert response.status_code == 202
        assert counts(url)["delivered"] == 1
        assert (await drain_all(rig.fake, url))["pending"] == 0

    fake = run("transport", body, outbox=Outbox(url=url, inline_budget=0.2))
    assert calls(fake) == 1
    assert len(fake.feedback_history) == 1


@pytest.mark.parametrize("clicks", [2, 5])
def test_concurrent_clicks_share_one_delivery(url: str, clicks: int) -> None:
    async def body(rig: Rig) -> None:
        rig.fake.delay(0.3)
        form = await rig.confirm(rig.link())
        responses: list[httpx.Response] = []

        async def click() -> None:
            responses.append(await rig.submit(form))

        async with anyio.create_task_group() as group:
            for _ in range(clicks):
                group.start_soon(click)
        titles = {title_of(r.text) for r in responses}
        assert titles <= {TEXTS.success_title, TEXTS.already_recorded_title}

    fake = run("transport", body, outbox=url)
    assert calls(fake) == 1
    assert len(fake.feedback_history) == 1


def test_the_throttled_burst(url: str) -> None:
    # A notification wave meets throttling: 200 clicks on 200 events, every
    # call throttled. All are accepted (202) and pending; once the
    # throttling ends, each is delivered exactly once with its value.
    fake = FakeCognito()
    events = events_for(fake, 200)
    values = ["valid" if i % 3 else "invalid" for i in range(200)]
    fake.throttle(1_000_000)

    async def body(rig: Rig) -> None:
        statuses: list[int] = []
        limit = anyio.CapacityLimiter(20)

        async def click(event: AuthEvent, value: str) -> None:
            async with limit:
                form = await rig.confirm(rig.link(value, event))
                statuses.append((await rig.submit(form)).status_code)

        with anyio.fail_after(120):
            async with anyio.create_task_group() as group:
                for event, value in zip(events, values, strict=True):
                    group.start_soon(click, event, value)
        assert statuses == [202] * 200
        # Shown pending, as an operator sees it.
        out = io.StringIO()
        assert main(["outbox", "status", "--db", url, "--json"], out=out) == 0
        assert json.loads(out.getvalue())["pending"] == 200
        assert fake.feedback_history == []
        fake.clear_faults()
        assert (await drain_all(fake, url))["pending"] == 0

    run_wave(body, fake, events, url)
    expected = sorted(
        (e.event_id, "Valid" if v == "valid" else "Invalid")
        for e, v in zip(events, values, strict=True)
    )
    assert applied(fake) == expected  # each once, the right value
    assert sum(1 for r in fake.requests if r.applied) == 200
    assert counts(url)["delivered"] == 200


# --- the background deliverer -----------------------------------------------------------------


def mounted(app: FeedbackApp) -> Any:
    """A host app that keeps lifespan events to itself, as Starlette's Mount does.

    It enters ``app.lifespan()`` in its own lifespan and routes HTTP to ``app``.
    """

    async def host(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "lifespan":
            await app(scope, receive, send)
            return
        await receive()  # startup
        async with app.lifespan():
            await send({"type": "lifespan.startup.complete"})
            await receive()  # shutdown
        await send({"type": "lifespan.shutdown.complete"})

    return host


@pytest.mark.parametrize("host", ["asgi-lifespan", "mounted"])
def test_the_lifespan_deliverer_sends_what_is_pending(url: str, host: str) -> None:
    fake = FakeCognito()
    event = fake.seed()
    fake.throttle(3)  # the inline call's three attempts

    async def main() -> None:
        async with fake_client(fake) as client:
            app = feedback_app(
                client=client,
                user_pool_ids=[event.user_pool_id],
                per_client_limit=ROOMY,
                outbox=Outbox(url=url, retry_base=0.05, retry_max=0.1, poll_interval=0.05),
            )
            async with lifespan(app if host == "asgi-lifespan" else mounted(app)):
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(transport=transport, base_url=ORIGIN) as browser:
                    rig = Rig(fake=fake, event=event, app=app, browser=browser)
                    response = await rig.submit(await rig.confirm(rig.link()))
                    assert response.status_code == 202
                    with anyio.fail_after(20):
                        while not fake.feedback_history:
                            await anyio.sleep(0.02)
                    if url.startswith("sqlite"):
                        # The deliverer's housekeeping scrubs the files soon after.
                        secret = event.feedback_token.encode()
                        with anyio.fail_after(20):
                            while secret in b"".join(p.read_bytes() for p in sqlite_files(url)):
                                await anyio.sleep(0.05)

    anyio.run(main)
    assert len(fake.feedback_history) == 1
    assert calls(fake) == 4
    assert counts(url)["delivered"] == 1


def test_an_outbox_that_cannot_open_fails_startup_and_says_try_again(tmp_path: Path) -> None:
    url = f"sqlite://{tmp_path}/missing-dir/outbox.db"

    async def body(rig: Rig) -> None:
        response = await rig.submit(await rig.confirm(rig.link()))
        assert response.status_code == 503
        assert title_of(response.text) == TEXTS.unavailable_title

    fake = run("transport", body, outbox=url)
    assert calls(fake) == 0

    async def startup() -> None:
        app = feedback_app(client=_NoSender(), user_pool_ids=["us-east-1_AbC"], outbox=url)
        with pytest.raises(RuntimeError, match="cannot create the outbox file"):
            async with lifespan(app):
                pass

    anyio.run(startup)


def test_without_an_outbox_the_lifespan_does_nothing() -> None:
    async def main() -> None:
        app = feedback_app(client=_NoSender(), user_pool_ids=["us-east-1_AbC"])
        async with app.lifespan():
            pass
        async with lifespan(app):
            pass
        await app.aclose()

    anyio.run(main)


class _NoSender:
    async def send(self, request: Any) -> Any:
        raise AssertionError("nothing is sent")


# --- expiry -----------------------------------------------------------------------------------


def test_a_submission_past_max_age_expires_and_is_logged(
    url: str, caplog: pytest.LogCaptureFixture
) -> None:
    async def body(rig: Rig) -> None:
        rig.fake.throttle(100)
        assert (await rig.submit(await rig.confirm(rig.link()))).status_code == 202
        time.sleep(0.3)
        with caplog.at_level(logging.WARNING, logger="cognito_raw.outbox"):
            assert (await drain_all(rig.fake, url, max_age=0.2))["expired"] == 1
        again = await rig.submit(await rig.confirm(rig.link()))
        assert title_of(again.text) == TEXTS.error_title

    fake = run("transport", body, outbox=url)
    assert fake.feedback_history == []
    assert any("outbox expired" in r.getMessage() for r in caplog.records)
    assert counts(url)["expired"] == 1


# --- secrets ----------------------------------------------------------------------------------


def test_secrets_leave_the_sqlite_files_after_delivery(tmp_path: Path) -> None:
    url = f"sqlite://{tmp_path / 'outbox.db'}"
    fake = FakeCognito()
    username = "secret-user-9f8e7d"
    events = events_for(fake, 120, username)  # pages split and are freed
    fake.throttle(1_000_000)

    def leaked() -> set[bytes]:
        # Every file SQLite keeps for the database, as raw bytes.
        blob = b"".join(p.read_bytes() for p in sqlite_files(url))
        needles = [username.encode()] + [e.feedback_token.encode() for e in events]
        return {n for n in needles if n in blob}

    async def body(rig: Rig) -> None:
        for event in events:
            await rig.submit(await rig.confirm(rig.link(event=event)))
        # The control: while pending, the secrets are on disk.
        assert username.encode() in leaked()
        for path in sqlite_files(url):
            assert path.stat().st_mode & 0o777 == 0o600, path
        fake.clear_faults()
        assert (await drain_all(fake, url))["pending"] == 0

    run_wave(body, fake, events, url)
    assert len(fake.feedback_history) == 120
    assert leaked() == set()
    with sqlite3.connect(str(tmp_path / "outbox.db")) as conn:
        rows = conn.execute(
            "SELECT count(*) FROM cognito_raw_outbox WHERE username IS NOT NULL "
            "OR feedback_token IS NOT NULL"
        ).fetchone()
    assert rows == (0,)


def test_without_a_lifespan_secrets_leave_the_files_after_each_click(tmp_path: Path) -> None:
    url = f"sqlite://{tmp_path / 'outbox.db'}"

    async def body(rig: Rig) -> None:
        response = await rig.submit(await rig.confirm(rig.link()))
        assert response.status_code == 200
        blob = b"".join(p.read_bytes() for p in sqlite_files(url))
        assert rig.event.feedback_token.encode() not in blob
        assert rig.event.username.encode() not in blob
        assert len(blob) > 0

    run("transport", body, outbox=url)


def test_logs_never_hold_the_username_or_token(url: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    fake = FakeCognito()
    event = fake.seed(username="hidden-name-42")
    expired = fake.create_auth_event(event.user_pool_id, event.username)
    fake.expire_auth_event(expired.user_pool_id, expired.event_id)

    async def body(rig: Rig) -> None:
        rig.fake.throttle(3)
        await rig.submit(await rig.confirm(rig.link()))
        await rig.submit(await rig.confirm(rig.link(event=expired)))
        await drain_all(rig.fake, url)

    run("transport", body, fake=fake, event=event, outbox=url)
    # cognito_raw's own records (httpx logs the test browser's GET, link and all).
    text = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("cognito_raw"))
    assert "outbox delivered" in text  # the control: outbox lines were captured
    for secret in (event.username, event.feedback_token, expired.feedback_token):
        assert secret not in text


def test_outbox_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="outbox"):
        Outbox(url="sqlite:///relative.db"[:9] + "relative.db")
    with pytest.raises(ValueError, match="concurrency"):
        Outbox(url="sqlite:///tmp/x.db", concurrency=0)
    with pytest.raises(ValueError, match="max_age"):
        Outbox(url="sqlite:///tmp/x.db", max_age=float("nan"))
    assert "hunter2" not in repr(Outbox(url="postgresql://u:hunter2@db/x"))
    with pytest.raises(ValueError, match="outbox") as caught:
        feedback_app(
            client=_NoSender(), user_pool_ids=["us-east-1_AbC"], outbox="mysql://u:hunter2@db/x"
        )
    assert "hunter2" not in str(caught.value)
    assert RetryPolicy  # the client's policy is what each call retries under


def test_a_call_is_cut_short_before_its_lease_ends(url: str) -> None:
    # A reply slower than the lease: the deliverer gives up on it before the
    # lease runs out (so no other deliverer can be sending the row at the
    # same time), and the row stays pending for a later call.
    fake = FakeCognito()
    (event,) = events_for(fake, 1)

    async def body(rig: Rig) -> None:
        rig.fake.throttle(3)  # the inline call: pending
        assert (await rig.submit(await rig.confirm(rig.link(event=event)))).status_code == 202
        # The client would wait 2 s for this reply: only the cut keeps it pending.
        rig.fake.delay(1.5)
        found = await drain_all(rig.fake, url, lease=0.6)
        assert found["pending"] == 1

    run("transport", body, fake=fake, event=event, outbox=url)
    store = open_store(url)
    try:
        store.open()
        ((_, left),) = store.waiting()
    finally:
        store.close()
    assert left == 0  # released, not left leased


class _StallingSender:
    """The real client, then an event loop stalled past the row's lease (no checkpoint,
    so the call is not cut), during which a sibling deliverer claims the row."""

    def __init__(self, client: AsyncClient, url: str, stall: float) -> None:
        self.client = client
        self.url = url
        self.stall = stall
        self.sibling: Any = None

    async def send(self, request: Any) -> Any:
        reply = await self.client.send(request)
        time.sleep(self.stall)
        store = open_store(self.url)
        try:
            store.open()
            self.sibling = store.claim(owner="sibling", lease=30)
        finally:
            store.close()
        return reply


def test_an_inline_call_that_lost_its_lease_shows_its_page_and_records_nothing(
    url: str, caplog: pytest.LogCaptureFixture
) -> None:
    fake = FakeCognito()
    event = fake.seed()

    async def main() -> None:
        async with fake_client(fake) as client:
            sender = _StallingSender(client, url, stall=0.6)
            app = feedback_app(
                client=sender,
                user_pool_ids=[event.user_pool_id],
                outbox=Outbox(url=url, lease=0.5),
                per_client_limit=ROOMY,
            )
            transport = httpx.ASGITransport(app=app, client=("198.51.100.7", 50000))
            try:
                async with httpx.AsyncClient(transport=transport, base_url=ORIGIN) as browser:
                    rig = Rig(fake=fake, event=event, app=app, browser=browser)
                    with caplog.at_level(logging.INFO, logger="cognito_raw.outbox"):
                        response = await rig.submit(await rig.confirm(rig.link()))
            finally:
                await app.aclose()
        # Cognito's answer to this call is the page; the row is the sibling's to record.
        assert response.status_code == 200
        assert title_of(response.text) == TEXTS.success_title
        assert sender.sibling is not None
        lost = [r for r in caplog.records if r.name == "cognito_raw.outbox"]
        assert [(r.levelno, r.getMessage()) for r in lost] == [
            (
                logging.WARNING,
                f"outbox lease lost: row={sender.sibling.id} outcome=delivered not recorded "
                "(the lease ran out and the row was taken over)",
            )
        ]

    anyio.run(main)
    assert calls(fake) == 1
    found = counts(url)
    assert (found["pending"], found["leased"], found["delivered"]) == (1, 1, 0)


def test_outbox_pages_and_logs_hold_no_secrets_even_when_replies_echo_them(url: str) -> None:
    # test_secrets's feedback-app check, with an outbox: a loopback "Cognito"
    # answers in turn delivered, expired, throttled, a 500 and an HTML page,
    # each echoing the secrets; then a drain delivers what was kept.
    from tests import faultserver
    from tests.faultserver import json_reply
    from tests.test_secrets import (
        APP_ORIGIN,
        POOL,
        click_link,
        every_log_record,
        fixed_secrets,
        page_leaks,
        rendered,
    )

    s = fixed_secrets(6)
    script = [
        json_reply(200, {}),
        json_reply(400, {"__type": "NotAuthorizedException", "message": s.echo}),
        *[json_reply(400, {"__type": "TooManyRequestsException", "message": s.echo})] * 2,
        *[json_reply(500, {"__type": "InternalErrorException", "message": s.echo})] * 2,
        json_reply(403, f"<html>{s.echo}</html>".encode()),
        json_reply(200, {}),
    ]
    pages: list[httpx.Response] = []

    async def main(endpoint: str) -> None:
        retry = RetryPolicy(max_attempts=2, base_delay=0.001, max_delay=0.002)
        async with AsyncClient(endpoint_url=endpoint, retry=retry) as client:
            app = feedback_app(
                client=client,
                user_pool_ids=[POOL],
                per_client_limit=ROOMY,
                global_limit=ROOMY,
                outbox=url,
            )
            transport = httpx.ASGITransport(app=app, client=("198.51.100.7", 5000))
            async with httpx.AsyncClient(transport=transport, base_url=APP_ORIGIN) as http:
                for i in range(5):
                    value = "invalid" if i % 2 else "valid"
                    _, result = await click_link(http, s, f"event-{i}", value)
                    pages.append(result)
            await drain(Outbox(url=url), client, rate=1000, burst=1000)
            await app.aclose()

    with every_log_record() as records, faultserver.serve(*script) as server:
        anyio.run(main, server.url)
    # Delivered, expired, kept (throttled), kept (500), kept (a firewall's page).
    assert [p.status_code for p in pages] == [200, 400, 202, 202, 202]
    assert counts(url)["delivered"] == 4
    for page in pages:
        assert page_leaks(s, page) == [], page.text
    ours = [r for r in records if r.name.startswith("cognito_raw")]
    assert any(r.name == "cognito_raw.outbox" for r in ours)  # the control
    for record in ours:
        assert s.leaks(rendered(record)) == [], rendered(record)
