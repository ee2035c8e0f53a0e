"""The ASGI feedback app end to end: the real AsyncClient against FakeCognito.

No stub here: the app's POST goes through ``cognito_raw.AsyncClient`` (its
retries included) to the fake, reached either in process through
``fake.transport`` or over a loopback socket (``fake.serve()``). The browser
side is httpx's ``ASGITransport``, sending the headers a current browser
sends for the page's same-origin form under ``Referrer-Policy: no-referrer``.
What counts is what the fake recorded: ``fake.requests``, ``fake.feedback``
and ``fake.feedback_count``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

import httpx
import pytest

from cognito_raw import AsyncClient, RetryPolicy, Timeout
from cognito_raw.links import (
    FeedbackApp,
    FeedbackTexts,
    RateLimit,
    feedback_app,
    make_link,
    parse_link,
    template_link,
)
from cognito_raw.testing import AuthEvent, FakeCognito, load_recording
from tests.links.test_feedback_app import check_security_headers, form_of, title_of

Mode = Literal["transport", "loopback"]
MODES: tuple[Mode, ...] = ("transport", "loopback")

ORIGIN = "https://feedback.example"
PATH = "/account/feedback"
TEXTS = FeedbackTexts()
# The client's retry policy: fast, and small enough to exhaust on purpose.
ATTEMPTS = 3
RETRY = RetryPolicy(max_attempts=ATTEMPTS, base_delay=0.001, max_delay=0.005)

# What Chromium and Firefox send with the page's form: the page's
# Referrer-Policy is no-referrer, so the Origin is "null" (Fetch, "serializing
# a request origin"); Fetch Metadata says same-origin. Safari before 16.4
# sends no Sec-Fetch-Site; the stub tests cover that (the double-submit
# cookie).
BROWSER_NULL_ORIGIN = {"sec-fetch-site": "same-origin", "origin": "null"}
BROWSER_REAL_ORIGIN = {"sec-fetch-site": "same-origin", "origin": ORIGIN}
BROWSERS = [
    pytest.param(BROWSER_NULL_ORIGIN, id="origin-null"),
    pytest.param(BROWSER_REAL_ORIGIN, id="origin-real"),
]


@dataclass
class Rig:
    """One app wired to one fake, and a browser-like httpx client for the app."""

    fake: FakeCognito
    event: AuthEvent
    app: FeedbackApp
    browser: httpx.AsyncClient

    def link(self, value: str = "valid", event: AuthEvent | None = None) -> str:
        event = event or self.event
        return make_link(
            ORIGIN + PATH,
            user_pool_id=event.user_pool_id,
            username=event.username,
            event_id=event.event_id,
            feedback_token=event.feedback_token,
            value=value,
        )

    async def confirm(self, url: str) -> dict[str, str]:
        response = await self.browser.get(url)
        assert response.status_code == 200, response.text
        return form_of(response.text)

    async def submit(
        self, form: dict[str, str], headers: dict[str, str] = BROWSER_NULL_ORIGIN
    ) -> httpx.Response:
        # The form's action is "?": the same path, an empty query.
        return await self.browser.post(PATH + "?", data=form, headers=headers)

    def applied(self, event: AuthEvent | None = None) -> tuple[str | None, int]:
        event = event or self.event
        return (
            self.fake.feedback(event.user_pool_id, event.event_id),
            self.fake.feedback_count(event.user_pool_id, event.event_id),
        )


@contextlib.contextmanager
def _endpoint(fake: FakeCognito, mode: Mode) -> Iterator[str | None]:
    if mode == "loopback":
        with fake.serve() as url:
            yield url
    else:
        yield None


@contextlib.asynccontextmanager
async def _cognito_client(fake: FakeCognito, url: str | None) -> AsyncIterator[AsyncClient]:
    timeout = Timeout.of(2)
    if url is not None:
        async with AsyncClient(endpoint_url=url, retry=RETRY, timeout=timeout) as client:
            yield client
    else:
        async with (
            httpx.AsyncClient(transport=fake.transport) as http,
            AsyncClient(http_client=http, retry=RETRY, timeout=timeout) as client,
        ):
            yield client


def run(
    mode: Mode,
    body: Callable[[Rig], Awaitable[None]],
    *,
    fake: FakeCognito | None = None,
    event: AuthEvent | None = None,
    pools: list[str] | None = None,
    **options: Any,
) -> FakeCognito:
    """Seed a fake (unless given), serve the app against it, run ``body``."""
    fake = fake or FakeCognito()
    event = event or fake.seed()
    options.setdefault("per_client_limit", RateLimit(rate=1, burst=50))

    async def main(url: str | None) -> None:
        async with _cognito_client(fake, url) as client:
            app = feedback_app(
                client=client, user_pool_ids=pools or [event.user_pool_id], **options
            )
            transport = httpx.ASGITransport(app=app, client=("198.51.100.7", 50000))
            async with httpx.AsyncClient(transport=transport, base_url=ORIGIN) as browser:
                await body(Rig(fake=fake, event=event, app=app, browser=browser))

    with _endpoint(fake, mode) as url:
        asyncio.run(main(url))
    return fake


def wire_request(fake: FakeCognito, index: int = -1) -> dict[str, object]:
    data = fake.requests[index].data
    assert data is not None
    return data


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> Mode:
    mode: Mode = request.param
    return mode


# --- GET changes nothing --------------------------------------------------------------------


@pytest.mark.parametrize("value", ["valid", "invalid"])
def test_get_and_head_send_nothing_to_cognito(mode: Mode, value: str) -> None:
    async def body(rig: Rig) -> None:
        for _ in range(3):  # a mail scanner, a link preview, the user
            response = await rig.browser.get(rig.link(value))
            assert response.status_code == 200
            check_security_headers(response)
            assert rig.event.feedback_token not in response.headers.get("location", "")
        assert (await rig.browser.head(rig.link(value))).status_code == 200

    fake = run(mode, body)
    assert fake.requests == []
    assert fake.feedback_history == []


# --- POST records exactly one feedback ------------------------------------------------------


@pytest.mark.parametrize("headers", BROWSERS)
@pytest.mark.parametrize(("value", "wire"), [("valid", "Valid"), ("invalid", "Invalid")])
def test_post_records_one_feedback_of_the_right_value(
    mode: Mode, headers: dict[str, str], value: str, wire: str
) -> None:
    async def body(rig: Rig) -> None:
        form = await rig.confirm(rig.link(value))
        assert rig.fake.requests == []
        response = await rig.submit(form, headers)
        assert response.status_code == 200, response.text
        check_security_headers(response)
        assert title_of(response.text) == TEXTS.success_title
        expected = TEXTS.success_valid_body if value == "valid" else TEXTS.success_invalid_body
        assert expected in response.text
        assert "<form" not in response.text
        assert rig.applied() == (wire, 1)

    fake = FakeCognito()
    event = fake.seed()
    run(mode, body, fake=fake, event=event)
    (received,) = fake.requests
    assert (received.status, received.applied, received.fault) == (200, True, None)
    assert received.header("authorization") is None  # noAuth: sent unsigned
    assert wire_request(fake) == {
        "UserPoolId": event.user_pool_id,
        "Username": event.username,
        "EventId": event.event_id,
        "FeedbackToken": event.feedback_token,
        "FeedbackValue": wire,
    }


def test_a_double_submit_is_already_recorded_and_applied_once(mode: Mode) -> None:
    async def body(rig: Rig) -> None:
        form = await rig.confirm(rig.link("invalid"))
        first = await rig.submit(form)
        assert title_of(first.text) == TEXTS.success_title
        # Back, and the button again; then a reload of the result page.
        again = await rig.submit(await rig.confirm(rig.link("invalid")))
        assert again.status_code == 200
        check_security_headers(again)
        assert title_of(again.text) == TEXTS.already_recorded_title
        assert "<form" not in again.text
        reload = await rig.submit(form, BROWSER_REAL_ORIGIN)
        assert title_of(reload.text) == TEXTS.already_recorded_title
        assert rig.applied() == ("Invalid", 1)

    fake = run(mode, body)
    assert len(fake.requests) == 1


@pytest.mark.parametrize("clicks", [2, 5])
@pytest.mark.parametrize("in_flight", [True, False], ids=["slow-cognito", "fast-cognito"])
def test_concurrent_clicks_apply_once(mode: Mode, clicks: int, in_flight: bool) -> None:
    async def body(rig: Rig) -> None:
        if in_flight:
            # The first call is still waiting on Cognito when the others land.
            rig.fake.delay(0.3)
        form = await rig.confirm(rig.link())
        responses = await asyncio.gather(*(rig.submit(form) for _ in range(clicks)))
        titles = [title_of(r.text) for r in responses]
        assert all(r.status_code == 200 for r in responses)
        assert TEXTS.success_title in titles
        assert set(titles) <= {TEXTS.success_title, TEXTS.already_recorded_title}
        if in_flight:
            # Every click joined the one submission and saw its outcome.
            assert titles == [TEXTS.success_title] * clicks
        assert rig.applied() == ("Valid", 1)

    fake = run(mode, body)
    assert len(fake.requests) == 1


def test_both_answers_are_each_recorded_and_the_last_wins(mode: Mode) -> None:
    # "It was me", then "it wasn't me" from the other link: two submissions.
    async def body(rig: Rig) -> None:
        await rig.submit(await rig.confirm(rig.link("valid")))
        await rig.submit(await rig.confirm(rig.link("invalid")))
        assert rig.applied() == ("Invalid", 2)

    run(mode, body)


def test_a_template_link_with_a_nasty_username_reaches_cognito_intact(mode: Mode) -> None:
    # Pasted into the template, filled raw by Cognito, encoded by the browser.
    fake = FakeCognito()
    pool = fake.create_user_pool()
    username = 'Zq9"<b>&amp;?=+%ü&end=1&x'
    fake.create_user(pool, username)
    event = fake.create_auth_event(pool, username)
    filled = (
        template_link(ORIGIN + PATH, "invalid")
        .replace("{event-id}", event.event_id)
        .replace("{feedback-token}", event.feedback_token)
        .replace("{username}", username)
    )
    assert parse_link(filled, user_pool_ids=[pool]).username == username

    async def body(rig: Rig) -> None:
        response = await rig.submit(await rig.confirm(filled))
        assert title_of(response.text) == TEXTS.success_title
        assert wire_request(rig.fake)["Username"] == username
        assert rig.applied() == ("Invalid", 1)

    run(mode, body, fake=fake, event=event)


# --- the link does not work -----------------------------------------------------------------


@pytest.mark.parametrize("case", ["expired", "wrong token", "another user's event", "no user"])
def test_an_expired_or_invalid_link(mode: Mode, case: str) -> None:
    fake = FakeCognito()
    event = fake.seed()
    pool = event.user_pool_id
    if case == "expired":
        fake.expire_auth_event(pool, event.event_id)
    elif case == "wrong token":
        event = AuthEvent(
            user_pool_id=pool,
            username=event.username,
            event_id=event.event_id,
            feedback_token=event.feedback_token[:-4] + "AAAA",
        )
    elif case == "another user's event":
        fake.create_user(pool, "mallory")
        event = AuthEvent(
            user_pool_id=pool,
            username="mallory",
            event_id=event.event_id,
            feedback_token=event.feedback_token,
        )
    else:
        event = AuthEvent(
            user_pool_id=pool,
            username="nobody",
            event_id=event.event_id,
            feedback_token=event.feedback_token,
        )

    async def body(rig: Rig) -> None:
        form = await rig.confirm(rig.link())
        response = await rig.submit(form)
        assert response.status_code == 400
        check_security_headers(response)
        assert title_of(response.text) == TEXTS.expired_title
        assert "<form" not in response.text
        assert rig.event.feedback_token not in response.text
        # Failures are not remembered: the same link is tried again for real
        # (once the client is not held back: rejection_penalty=0 here).
        again = await rig.submit(form)
        assert title_of(again.text) == TEXTS.expired_title

    run(mode, body, fake=fake, event=event, rejection_penalty=0)
    assert [r.error_code for r in fake.requests] == [
        "UserNotFoundException" if case == "no user" else "NotAuthorizedException"
    ] * 2
    assert fake.feedback_history == []


def test_a_pool_outside_the_allow_list_never_reaches_cognito(mode: Mode) -> None:
    fake = FakeCognito()
    allowed = fake.seed()
    other = fake.seed(region="eu-west-1")

    async def body(rig: Rig) -> None:
        page = await rig.browser.get(rig.link(event=other))
        assert page.status_code == 400
        assert title_of(page.text) == TEXTS.invalid_link_title
        # A form forged from the allowed page, pointed at the other pool.
        form = await rig.confirm(rig.link())
        forged = {**form, "pool": other.user_pool_id, "event": other.event_id}
        forged["token"] = other.feedback_token
        response = await rig.submit(forged)
        assert response.status_code == 400
        assert title_of(response.text) == TEXTS.invalid_link_title

    run(mode, body, fake=fake, event=allowed)
    assert fake.requests == []


def test_a_cross_site_post_never_reaches_cognito(mode: Mode) -> None:
    async def body(rig: Rig) -> None:
        form = await rig.confirm(rig.link())
        for headers in (
            {"sec-fetch-site": "cross-site", "origin": "https://evil.example"},
            {"sec-fetch-site": "cross-site", "origin": "null"},
            {"sec-fetch-site": "same-site", "origin": "https://x.feedback.example"},
        ):
            response = await rig.submit(form, headers)
            assert response.status_code == 403
            assert title_of(response.text) == TEXTS.forbidden_title

    fake = run(mode, body)
    assert fake.requests == []


# --- temporarily unavailable, and "try again" ------------------------------------------------


def _throttle(fake: FakeCognito, n: int) -> None:
    fake.throttle(n)


def _fail(fake: FakeCognito, n: int) -> None:
    fake.fail(n)


def _drop(fake: FakeCognito, n: int) -> None:
    fake.drop_connection(n)


def _gateway(fake: FakeCognito, n: int) -> None:
    fake.script(load_recording("service-unavailable-empty"), n=n)


def _unmodeled_5xx(fake: FakeCognito, n: int) -> None:
    fake.fail_with("ServiceUnavailableException", "later", status=503, n=n)


UNAVAILABLE = [
    pytest.param(_throttle, "TooManyRequestsException", id="throttled"),
    pytest.param(_fail, "InternalErrorException", id="internal-error"),
    pytest.param(_drop, None, id="connection-dropped"),
    pytest.param(_gateway, None, id="gateway-503"),
    pytest.param(_unmodeled_5xx, "ServiceUnavailableException", id="unmodeled-503"),
]


@pytest.mark.parametrize(("fault", "code"), UNAVAILABLE)
def test_unavailable_says_try_again_and_try_again_works(
    mode: Mode, fault: Callable[[FakeCognito, int], None], code: str | None
) -> None:
    async def body(rig: Rig) -> None:
        # More faults than the client has attempts: the first click fails
        # after all of them; the retry meets the last fault, then succeeds.
        fault(rig.fake, ATTEMPTS + 1)
        form = await rig.confirm(rig.link())
        busy = await rig.submit(form)
        assert busy.status_code == 503
        check_security_headers(busy)
        assert busy.headers["retry-after"] == "5"
        assert title_of(busy.text) == TEXTS.unavailable_title
        assert TEXTS.retry_button in busy.text
        assert len(rig.fake.requests) == ATTEMPTS
        assert rig.applied() == (None, 0)
        # The page's own form, with the page's own button: the same fields.
        retry_form = form_of(busy.text)
        assert retry_form == form
        done = await rig.submit(retry_form)
        assert done.status_code == 200
        assert title_of(done.text) == TEXTS.success_title
        assert rig.applied() == ("Valid", 1)

    fake = run(mode, body)
    assert len(fake.requests) == ATTEMPTS + 2
    if code is not None:
        assert [r.error_code for r in fake.requests[:-1]] == [code] * (ATTEMPTS + 1)
    assert fake.requests[-1].applied


def test_unavailable_when_cognito_is_unreachable() -> None:
    # Nothing listens on the endpoint: a connection error on every attempt.
    fake = FakeCognito()
    event = fake.seed()
    with fake.serve() as url:
        pass  # the port is free again

    async def main() -> None:
        async with AsyncClient(endpoint_url=url, retry=RETRY, timeout=1) as client:
            app = feedback_app(client=client, user_pool_ids=[event.user_pool_id])
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url=ORIGIN) as browser:
                rig = Rig(fake=fake, event=event, app=app, browser=browser)
                busy = await rig.submit(await rig.confirm(rig.link()))
                assert busy.status_code == 503
                assert title_of(busy.text) == TEXTS.unavailable_title

    asyncio.run(main())


# --- something went wrong --------------------------------------------------------------------


def _addon(fake: FakeCognito) -> None:
    fake.fail_with("UserPoolAddOnNotEnabledException", "Threat protection is off.")


def _unmodeled(fake: FakeCognito) -> None:
    fake.fail_with("SomethingNewException", "A code this library has never seen.")


def _hard_quota(fake: FakeCognito) -> None:
    fake.fail_with("LimitExceededException", "Attempt limit exceeded.")


def _waf(fake: FakeCognito) -> None:
    fake.script(load_recording("waf-forbidden-html"))


def _redirect(fake: FakeCognito) -> None:
    fake.script(load_recording("redirect-302"))


ERRORS = [
    pytest.param(_addon, id="add-on-not-enabled"),
    pytest.param(_unmodeled, id="unmodeled-code"),
    pytest.param(_hard_quota, id="limit-exceeded"),
    pytest.param(_waf, id="waf-html-403"),
    pytest.param(_redirect, id="redirect"),
]


@pytest.mark.parametrize("fault", ERRORS)
def test_something_went_wrong(mode: Mode, fault: Callable[[FakeCognito], None]) -> None:
    async def body(rig: Rig) -> None:
        fault(rig.fake)
        response = await rig.submit(await rig.confirm(rig.link()))
        assert response.status_code == 502
        check_security_headers(response)
        assert title_of(response.text) == TEXTS.error_title
        assert "<form" not in response.text
        assert "location" not in response.headers  # a redirect is not passed on
        assert rig.applied() == (None, 0)

    fake = run(mode, body)
    assert len(fake.requests) == 1  # not retried


@pytest.mark.parametrize("case", ["threat protection off", "pool unknown to Cognito"])
def test_something_went_wrong_with_the_pool(mode: Mode, case: str) -> None:
    fake = FakeCognito()
    if case == "threat protection off":
        pool = fake.create_user_pool(threat_protection=False)
        fake.create_user(pool, "alice")
        event = fake.create_auth_event(pool, "alice")
    else:
        # Allowed by the app, deleted (or mistyped) in Cognito.
        event = AuthEvent(
            user_pool_id="us-east-1_Gone12345",
            username="alice",
            event_id="c2c2cf89-c0d3-482d-aba6-99d78a5b0bfe",
            feedback_token="tok",
        )

    async def body(rig: Rig) -> None:
        response = await rig.submit(await rig.confirm(rig.link()))
        assert response.status_code == 502
        assert title_of(response.text) == TEXTS.error_title

    run(mode, body, fake=fake, event=event)
    expected = (
        "UserPoolAddOnNotEnabledException"
        if case == "threat protection off"
        else "ResourceNotFoundException"
    )
    assert [r.error_code for r in fake.requests] == [expected]


# --- logs -------------------------------------------------------------------------------------


def test_no_log_line_of_the_whole_stack_holds_the_username_or_token(
    mode: Mode, caplog: pytest.LogCaptureFixture
) -> None:
    fake = FakeCognito()
    pool = fake.create_user_pool()
    username = "SecretUser-7Qx"
    fake.create_user(pool, username)
    events = [fake.create_auth_event(pool, username) for _ in range(4)]
    fake.expire_auth_event(pool, events[1].event_id)

    async def body(rig: Rig) -> None:
        for index, event in enumerate(events):
            if index == 2:
                rig.fake.throttle(ATTEMPTS)
            if index == 3:
                rig.fake.fail_with("SomethingNewException")
            await rig.submit(await rig.confirm(rig.link("invalid", event)))

    with caplog.at_level(logging.DEBUG):
        run(mode, body, fake=fake, event=events[0])
    # The app, the client and the fake; not the test's own browser client,
    # which logs the URLs it fetches as a server's access log would.
    ours = [r for r in caplog.records if r.name.startswith("cognito_raw")]
    assert any(r.name == "cognito_raw.links" for r in ours)
    assert any(r.name == "cognito_raw" for r in ours)  # the client's attempt lines
    for record in ours:
        message = record.getMessage()
        assert username not in message
        for event in events:
            assert event.feedback_token not in message
