"""The ASGI feedback app through httpx's ASGI transport, with a stub sender.

The stub stands in for cognito_raw.AsyncClient so that every exception the
client can raise is scripted exactly and a gate can hold a call in flight; it
records every request. The same app against the real AsyncClient and
FakeCognito is tests/links/test_feedback_app_fake.py; in Chromium, tests/test_browser.py.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import re
from collections.abc import Awaitable, Callable
from html.parser import HTMLParser
from typing import Any

import httpx
import pytest

from cognito_raw import (
    CognitoError,
    FeedbackValue,
    InternalErrorException,
    InvalidParameterException,
    NotAuthorizedException,
    ProtocolError,
    RequestTimeoutError,
    ResourceNotFoundException,
    ServiceError,
    TooManyRequestsException,
    TransportError,
    UpdateAuthEventFeedbackRequest,
    UpdateAuthEventFeedbackResponse,
    UserNotFoundException,
    UserPoolAddOnNotEnabledException,
    ValidationError,
)
from cognito_raw.links import (
    FeedbackApp,
    FeedbackTexts,
    RateLimit,
    feedback_app,
    make_link,
    template_link,
)
from tests.asgi_support import exchange

POOL = "us-east-1_AbC123"
OTHER_POOL = "eu-west-1_Xyz"
EVENT = "c2c2cf89-c0d3-482d-aba6-99d78a5b0bfe"
TOKEN = "tOkEn-_=.SECRETTOKEN123=="
USER = 'Zq9x"<b>&amp;#?=+%ü'.replace("#", "")  # nasty, but no '#': a browser keeps it
ORIGIN = "https://testserver"
TEXTS = FeedbackTexts()

# What a current browser sends with the page's form (no-referrer: Origin null).
BROWSER = {"sec-fetch-site": "same-origin", "origin": "null"}


class StubSender:
    """Records requests; answers each with the next scripted exception, or success."""

    def __init__(self, *script: BaseException | None) -> None:
        self.script = list(script)
        self.calls: list[UpdateAuthEventFeedbackRequest] = []
        self.gate: asyncio.Event | None = None

    async def send(
        self, request: UpdateAuthEventFeedbackRequest, /
    ) -> UpdateAuthEventFeedbackResponse:
        self.calls.append(request)
        if self.gate is not None:
            await self.gate.wait()
        item = self.script.pop(0) if self.script else None
        if item is not None:
            raise item
        return UpdateAuthEventFeedbackResponse(request_id="req-1")


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make_app(sender: StubSender, **options: Any) -> FeedbackApp:
    options.setdefault("user_pool_ids", [POOL])
    return feedback_app(client=sender, **options)


def link(
    value: str = "valid",
    *,
    username: str = USER,
    token: str = TOKEN,
    event: str = EVENT,
    pool: str | None = POOL,
) -> str:
    return make_link(
        ORIGIN + "/feedback",
        user_pool_id=pool,
        username=username,
        event_id=event,
        feedback_token=token,
        value=value,
    )


def request_for(value: str = "valid", **kw: str) -> UpdateAuthEventFeedbackRequest:
    return UpdateAuthEventFeedbackRequest(
        user_pool_id=kw.get("pool", POOL),
        username=kw.get("username", USER),
        event_id=kw.get("event", EVENT),
        feedback_token=kw.get("token", TOKEN),
        feedback_value=value,
    )


def run(app: FeedbackApp, body: Callable[[httpx.AsyncClient], Awaitable[None]]) -> None:
    async def main() -> None:
        transport = httpx.ASGITransport(app=app, client=("198.51.100.7", 50000))
        async with httpx.AsyncClient(transport=transport, base_url=ORIGIN) as http:
            await body(http)

    asyncio.run(main())


class _Inputs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.fields: dict[str, str] = {}
        self.forms: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "form":
            self.forms.append(values)
        if tag == "input" and values.get("type") == "hidden":
            self.fields[str(values["name"])] = str(values["value"])


def form_of(page: str) -> dict[str, str]:
    parser = _Inputs()
    parser.feed(page)
    assert parser.forms == [{"method": "post", "action": "?", "accept-charset": "utf-8"}]
    return parser.fields


def title_of(page: str) -> str:
    match = re.search(r"<h1>(.*?)</h1>", page)
    assert match is not None
    return match.group(1)


async def confirm(http: httpx.AsyncClient, url: str) -> dict[str, str]:
    response = await http.get(url)
    assert response.status_code == 200, response.text
    return form_of(response.text)


async def submit(
    http: httpx.AsyncClient,
    form: dict[str, str],
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    return await http.post(
        "/feedback?", data=form, headers=BROWSER if headers is None else headers
    )


# --- GET: the confirmation page changes nothing -------------------------------------------


def check_security_headers(response: httpx.Response) -> None:
    h = response.headers
    assert h["cache-control"] == "no-store"
    assert h["referrer-policy"] == "no-referrer"
    assert h["x-frame-options"] == "DENY"
    assert h["x-content-type-options"] == "nosniff"
    assert h["content-type"] == "text/html; charset=utf-8"
    csp = h["content-security-policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["default-src"] == "'none'"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["form-action"] == "'self'"
    assert directives["base-uri"] == "'none'"
    assert "unsafe" not in csp
    assert "script-src" not in csp
    if response.request.method != "HEAD":
        assert "<script" not in response.text
        style = re.search(r"<style>(.*?)</style>", response.text, re.S)
        assert style is not None
        digest = base64.b64encode(hashlib.sha256(style.group(1).encode()).digest()).decode()
        assert directives["style-src"] == f"'sha256-{digest}'"
        assert "style=" not in response.text


@pytest.mark.parametrize("value", ["valid", "invalid"])
def test_get_shows_a_confirmation_form_and_sends_nothing(value: str) -> None:
    sender = StubSender()

    async def body(http: httpx.AsyncClient) -> None:
        response = await http.get(link(value))
        assert response.status_code == 200
        check_security_headers(response)
        page = response.text
        if value == "valid":
            assert title_of(page) == TEXTS.confirm_valid_title
            assert TEXTS.confirm_valid_button in page
        else:
            assert title_of(page) == TEXTS.confirm_invalid_title.replace("'", "&#x27;")
        fields = form_of(page)
        assert fields["username"] == USER
        assert fields["token"] == TOKEN
        assert (fields["pool"], fields["event"], fields["value"]) == (POOL, EVENT, value)
        cookie = response.headers["set-cookie"]
        assert cookie.startswith("__Host-cognito-raw-csrf=" + fields["csrf"] + ";")
        for attribute in ("Path=/", "Secure", "HttpOnly", "SameSite=Strict"):
            assert attribute in cookie
        assert '<html lang="en">' in page
        assert 'name="viewport"' in page

    run(make_app(sender), body)
    assert sender.calls == []


def test_head_has_the_headers_and_no_body() -> None:
    sender = StubSender()

    async def body(http: httpx.AsyncClient) -> None:
        response = await http.head(link())
        assert response.status_code == 200
        assert response.content == b""
        check_security_headers(response)
        bad = await http.head("/feedback?nope")
        assert (bad.status_code, bad.content) == (400, b"")

    run(make_app(sender), body)
    assert sender.calls == []


def test_an_existing_csrf_cookie_is_reused() -> None:
    async def body(http: httpx.AsyncClient) -> None:
        cookie = "__Host-cognito-raw-csrf=AAAAAAAAAAAAAAAAAAAAAAAA"
        response = await http.get(link(), headers={"cookie": cookie})
        assert "set-cookie" not in response.headers
        assert form_of(response.text)["csrf"] == "A" * 24

    run(make_app(StubSender()), body)


BAD_LINKS = [
    "/feedback",
    "/feedback?",
    "/feedback?value=valid",
    link().replace("&end=1", ""),
    link(pool=OTHER_POOL),
    link(pool=None).replace("value=valid", "value=maybe"),
    link().replace("token=", "token=/"),
]


@pytest.mark.parametrize("url", BAD_LINKS)
def test_a_bad_link_shows_the_invalid_link_page(url: str) -> None:
    sender = StubSender()

    async def body(http: httpx.AsyncClient) -> None:
        response = await http.get(url)
        assert response.status_code == 400
        check_security_headers(response)
        assert title_of(response.text) == TEXTS.invalid_link_title
        assert "<form" not in response.text
        assert TOKEN not in response.text

    run(make_app(sender), body)
    assert sender.calls == []


def test_a_query_that_is_not_utf8_is_an_invalid_link() -> None:
    # httpx will not send raw non-ASCII bytes: speak ASGI directly.
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/feedback",
        "query_string": b"value=valid&event=e&token=t&username=\xff&end=1",
        "headers": [],
    }
    sent = exchange(make_app(StubSender()), scope, [])
    assert sent[0]["status"] == 400


def test_a_link_with_a_hash_in_the_username_is_refused_not_shortened() -> None:
    # httpx, like a browser, ends the query at '#'.
    async def body(http: httpx.AsyncClient) -> None:
        response = await http.get(link(username="bob#smith"))
        assert response.status_code == 400
        assert title_of(response.text) == TEXTS.invalid_link_title

    run(make_app(StubSender()), body)


def test_a_link_without_pool_uses_the_single_allowed_pool() -> None:
    sender = StubSender()

    async def body(http: httpx.AsyncClient) -> None:
        form = await confirm(http, link(pool=None))
        assert form["pool"] == POOL
        assert (await submit(http, form)).status_code == 200

    run(make_app(sender), body)
    assert sender.calls == [request_for()]


@pytest.mark.parametrize(
    "username",
    ["alice", "a&b=c", "100%", "+x+", "q\"<>'", "josé", "用户😀", "{username}", "x&end=1&y"],
)
def test_template_link_through_the_app(username: str) -> None:
    # The template as pasted into Cognito, filled as Cognito fills it, fetched
    # by an HTTP client that encodes it as a browser would, then submitted.
    sender = StubSender()
    template = template_link(ORIGIN + "/feedback", "invalid", user_pool_id=POOL)
    filled = (
        template.replace("{event-id}", EVENT)
        .replace("{feedback-token}", TOKEN)
        .replace("{username}", username)
    )

    async def body(http: httpx.AsyncClient) -> None:
        form = await confirm(http, filled)
        assert (await submit(http, form)).status_code == 200

    run(make_app(sender), body)
    assert sender.calls == [request_for("invalid", username=username)]


# --- POST: outcomes -------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["valid", "invalid"])
def test_post_submits_once_and_thanks(value: str) -> None:
    sender = StubSender()

    async def body(http: httpx.AsyncClient) -> None:
        form = await confirm(http, link(value))
        response = await submit(http, form)
        assert response.status_code == 200
        check_security_headers(response)
        assert title_of(response.text) == TEXTS.success_title
        expected = TEXTS.success_valid_body if value == "valid" else TEXTS.success_invalid_body
        assert expected in response.text
        assert "<form" not in response.text

    run(make_app(sender), body)
    assert sender.calls == [request_for(value)]
    assert sender.calls[0].feedback_value is FeedbackValue(value)


def _svc(cls: type[ServiceError], **kw: Any) -> ServiceError:
    return cls(code=kw.pop("code", cls.__name__), message="m", status_code=400, **kw)


OUTCOMES: list[tuple[CognitoError, int, str]] = [
    (_svc(NotAuthorizedException), 400, TEXTS.expired_title),
    (_svc(UserNotFoundException), 400, TEXTS.expired_title),
    (_svc(InvalidParameterException), 400, TEXTS.expired_title),
    (_svc(TooManyRequestsException), 503, TEXTS.unavailable_title),
    (_svc(TooManyRequestsException, retryable=True), 503, TEXTS.unavailable_title),
    (_svc(InternalErrorException), 503, TEXTS.unavailable_title),
    (_svc(ServiceError, code="ThrottlingException", retryable=True), 503, TEXTS.unavailable_title),
    (_svc(ServiceError, code=None, retryable=True), 503, TEXTS.unavailable_title),
    (TransportError("connection refused", attempts=3), 503, TEXTS.unavailable_title),
    (RequestTimeoutError("read timeout"), 503, TEXTS.unavailable_title),
    (_svc(ServiceError, code="SerializationException"), 502, TEXTS.error_title),
    (_svc(UserPoolAddOnNotEnabledException), 502, TEXTS.error_title),
    (_svc(ResourceNotFoundException), 502, TEXTS.error_title),
    (ProtocolError("HTTP 302"), 502, TEXTS.error_title),
    (ValidationError(field="endpoint_url", rule="x"), 502, TEXTS.error_title),
]


@pytest.mark.parametrize(("error", "status", "title"), OUTCOMES)
def test_outcome_pages(error: CognitoError, status: int, title: str) -> None:
    sender = StubSender(error)

    async def body(http: httpx.AsyncClient) -> None:
        form = await confirm(http, link())
        response = await submit(http, form)
        assert response.status_code == status
        check_security_headers(response)
        assert title_of(response.text) == title
        if status == 503:
            # "Try again", and let them: the same form once more.
            assert response.headers["retry-after"] == "5"
            assert form_of(response.text) == form
            assert TEXTS.retry_button in response.text
        else:
            assert "<form" not in response.text

    run(make_app(sender), body)
    assert sender.calls == [request_for()]


def test_try_again_after_unavailable_goes_through() -> None:
    sender = StubSender(_svc(TooManyRequestsException, retryable=True))

    async def body(http: httpx.AsyncClient) -> None:
        form = await confirm(http, link())
        first = await submit(http, form)
        assert first.status_code == 503
        second = await submit(http, form_of(first.text))
        assert second.status_code == 200
        assert title_of(second.text) == TEXTS.success_title

    run(make_app(sender), body)
    assert sender.calls == [request_for(), request_for()]


def test_an_expired_link_can_be_tried_again_and_is_sent_again() -> None:
    # Failures are not remembered: only successes are deduplicated afterwards.
    sender = StubSender(_svc(NotAuthorizedException), _svc(NotAuthorizedException))

    async def body(http: httpx.AsyncClient) -> None:
        form = await confirm(http, link())
        assert (await submit(http, form)).status_code == 400
        assert (await submit(http, form)).status_code == 400

    # (Without the hold-back a rejected link puts on its client, which
    # tests/links/test_feedback_app_limits.py covers.)
    run(make_app(sender, rejection_penalty=0), body)
    assert len(sender.calls) == 2


# --- exactly once ---------------------------------------------------------------------------


def test_a_double_click_submits_once() -> None:
    sender = StubSender()

    async def body(http: httpx.AsyncClient) -> None:
        sender.gate = asyncio.Event()
        form = await confirm(http, link())
        first = asyncio.ensure_future(submit(http, form))
        second = asyncio.ensure_future(submit(http, form))
        while not sender.calls:
            await asyncio.sleep(0)
        for _ in range(20):
            await asyncio.sleep(0)  # let the second click arrive and join
        sender.gate.set()
        for response in await asyncio.gather(first, second):
            assert response.status_code == 200
            assert title_of(response.text) == TEXTS.success_title
        later = await submit(http, form)
        assert later.status_code == 200
        assert title_of(later.text) == TEXTS.already_recorded_title

    run(make_app(sender), body)
    assert sender.calls == [request_for()]


def test_a_cancelled_first_click_still_delivers_for_the_second() -> None:
    sender = StubSender()

    async def body(http: httpx.AsyncClient) -> None:
        sender.gate = asyncio.Event()
        form = await confirm(http, link())
        first = asyncio.ensure_future(submit(http, form))
        while not sender.calls:
            await asyncio.sleep(0)
        first.cancel()  # the browser dropped the first request
        second = asyncio.ensure_future(submit(http, form))
        for _ in range(20):
            await asyncio.sleep(0)
        sender.gate.set()
        response = await second
        assert title_of(response.text) == TEXTS.success_title
        with pytest.raises(asyncio.CancelledError):
            await first

    run(make_app(sender), body)
    assert sender.calls == [request_for()]


def test_each_answer_and_each_token_is_its_own_submission() -> None:
    sender = StubSender()
    app = make_app(sender)

    async def main() -> None:
        sender.gate = asyncio.Event()
        # Three clients (one client has one call of its own in flight at a time).
        clients = [
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app, client=(f"198.51.100.{n}", 50000)),
                base_url=ORIGIN,
            )
            for n in (1, 2, 3)
        ]
        urls = [
            link("valid"),
            link("invalid"),
            # Same pool, event and value, another token: never joins the first.
            link("valid", token="someone-elses-guess"),
        ]
        forms = [await confirm(http, url) for http, url in zip(clients, urls, strict=True)]
        pending = [
            asyncio.ensure_future(submit(http, f)) for http, f in zip(clients, forms, strict=True)
        ]
        for _ in range(1000):  # bounded: each submission reaches the gate
            if len(sender.calls) == 3:
                break
            await asyncio.sleep(0)
        sender.gate.set()
        await asyncio.gather(*pending)
        for http in clients:
            await http.aclose()

    asyncio.run(main())
    assert sorted(map(repr, sender.calls)) == sorted(
        map(repr, [request_for("valid"), request_for("invalid"), request_for(token="x")])
    )


def test_successes_are_remembered_for_a_while_and_boundedly() -> None:
    sender = StubSender()
    clock = FakeClock()

    async def body(http: httpx.AsyncClient) -> None:
        forms = [await confirm(http, link(event=f"event-{i}")) for i in range(3)]
        for form in forms:
            assert title_of((await submit(http, form)).text) == TEXTS.success_title
        # max_tracked=2: the first success was forgotten, the last two are known.
        assert title_of((await submit(http, forms[2])).text) == TEXTS.already_recorded_title
        assert title_of((await submit(http, forms[0])).text) == TEXTS.success_title
        clock.now += 61  # past remember_for
        assert title_of((await submit(http, forms[2])).text) == TEXTS.success_title

    app = make_app(
        sender,
        clock=clock,
        max_tracked=2,
        remember_for=60,
        per_client_limit=RateLimit(rate=100, burst=100),
    )
    run(app, body)
    assert [c.event_id for c in sender.calls] == [
        "event-0",
        "event-1",
        "event-2",
        "event-0",
        "event-2",
    ]


# --- CSRF -----------------------------------------------------------------------------------

CSRF_CASES: list[tuple[str, dict[str, str], bool, bool]] = [
    # (case, headers, send the cookie, accepted)
    (
        "modern browser, no-referrer",
        {"sec-fetch-site": "same-origin", "origin": "null"},
        False,
        True,
    ),
    (
        "modern browser, real origin",
        {"sec-fetch-site": "same-origin", "origin": ORIGIN},
        False,
        True,
    ),
    ("same-origin, no origin", {"sec-fetch-site": "same-origin"}, False, True),
    (
        "cross-site",
        {"sec-fetch-site": "cross-site", "origin": "https://evil.example"},
        True,
        False,
    ),
    ("cross-site, null origin", {"sec-fetch-site": "cross-site", "origin": "null"}, True, False),
    (
        "same-site sibling",
        {"sec-fetch-site": "same-site", "origin": "https://a.testserver"},
        True,
        False,
    ),
    ("user-initiated", {"sec-fetch-site": "none"}, True, False),
    ("old browser, right origin", {"origin": ORIGIN}, False, True),
    ("old browser, right origin, slash", {"origin": ORIGIN + "/"}, False, True),
    ("old browser, other origin", {"origin": "https://evil.example"}, True, False),
    ("old browser, http origin", {"origin": "http://testserver"}, False, False),
    ("old browser, null origin, cookie", {"origin": "null"}, True, True),
    ("old browser, null origin, no cookie", {"origin": "null"}, False, False),
    ("no origin, cookie", {}, True, True),
    ("no origin, no cookie", {}, False, False),
    ("configured public origin", {"origin": "https://public.example"}, False, True),
]


@pytest.mark.parametrize(("case", "headers", "with_cookie", "accepted"), CSRF_CASES)
def test_csrf(case: str, headers: dict[str, str], with_cookie: bool, accepted: bool) -> None:
    sender = StubSender()

    async def body(http: httpx.AsyncClient) -> None:
        form = await confirm(http, link())
        http.cookies.clear()  # the jar kept the page's cookie: send it only on purpose
        sent = dict(headers)
        if with_cookie:
            sent["cookie"] = f"__Host-cognito-raw-csrf={form['csrf']}"
        response = await submit(http, form, sent)
        assert response.status_code == (200 if accepted else 403), case
        if not accepted:
            assert title_of(response.text) == TEXTS.forbidden_title
            check_security_headers(response)

    run(make_app(sender, allowed_origins=["https://PUBLIC.example/"]), body)
    assert len(sender.calls) == (1 if accepted else 0)


def test_csrf_cookie_must_match_the_form() -> None:
    sender = StubSender()

    async def body(http: httpx.AsyncClient) -> None:
        form = await confirm(http, link())
        http.cookies.clear()
        for cookie in (
            "__Host-cognito-raw-csrf=BBBBBBBBBBBBBBBBBBBBBBBB",
            f"__Host-cognito-raw-csrf={form['csrf']}; __Host-cognito-raw-csrf=x",
            f"other={form['csrf']}",
        ):
            response = await submit(http, form, {"origin": "null", "cookie": cookie})
            assert response.status_code == 403
        no_field = {k: v for k, v in form.items() if k != "csrf"}
        cookie = f"__Host-cognito-raw-csrf={form['csrf']}"
        assert (await submit(http, no_field, {"cookie": cookie})).status_code == 403

    run(make_app(sender), body)
    assert sender.calls == []


def test_repeated_origin_headers_are_refused() -> None:
    sender = StubSender()

    async def body(http: httpx.AsyncClient) -> None:
        form = await confirm(http, link())
        response = await http.post(
            "/feedback?",
            data=form,
            headers=[("origin", ORIGIN), ("origin", "https://evil.example")],
        )
        assert response.status_code == 403

    run(make_app(sender), body)
    assert sender.calls == []


# --- rate limits ----------------------------------------------------------------------------


def test_per_client_rate_limit() -> None:
    sender = StubSender()
    clock = FakeClock()
    app = make_app(sender, clock=clock, per_client_limit=RateLimit(rate=0.1, burst=2))

    async def main() -> None:
        async def client(address: str) -> httpx.AsyncClient:
            transport = httpx.ASGITransport(app=app, client=(address, 1234))
            return httpx.AsyncClient(transport=transport, base_url=ORIGIN)

        one, two = await client("203.0.113.1"), await client("203.0.113.2")
        async with one, two:
            form = await confirm(one, link())
            assert (await submit(one, form)).status_code == 200
            assert (await submit(one, form)).status_code == 200  # already recorded
            limited = await submit(one, form)
            assert limited.status_code == 429
            assert limited.headers["retry-after"] == "10"
            assert title_of(limited.text) == TEXTS.too_many_title
            check_security_headers(limited)
            # Another address has its own bucket.
            assert (await submit(two, form)).status_code == 200
            clock.now += 10
            assert (await submit(one, form)).status_code == 200

    asyncio.run(main())
    assert len(sender.calls) == 1


def test_global_rate_limit_guards_cognito_only() -> None:
    sender = StubSender()
    clock = FakeClock()
    app = make_app(
        sender,
        clock=clock,
        global_limit=RateLimit(rate=1, burst=1),
        per_client_limit=RateLimit(rate=100, burst=100),
    )

    async def body(http: httpx.AsyncClient) -> None:
        first = await confirm(http, link(event="e1"))
        second = await confirm(http, link(event="e2"))
        assert (await submit(http, first)).status_code == 200
        # A repeat is answered from memory, spending nothing global.
        assert title_of((await submit(http, first)).text) == TEXTS.already_recorded_title
        busy = await submit(http, second)
        assert busy.status_code == 503
        assert title_of(busy.text) == TEXTS.unavailable_title
        clock.now += 1
        assert (await submit(http, form_of(busy.text))).status_code == 200

    run(app, body)
    assert [c.event_id for c in sender.calls] == ["e1", "e2"]


# --- bad requests ---------------------------------------------------------------------------


def test_other_methods_are_not_allowed() -> None:
    async def body(http: httpx.AsyncClient) -> None:
        for method in ("PUT", "DELETE", "OPTIONS", "PATCH"):
            response = await http.request(method, link())
            assert response.status_code == 405
            assert response.headers["allow"] == "GET, HEAD, POST"
            check_security_headers(response)

    run(make_app(StubSender()), body)


def test_bad_posts_send_nothing() -> None:
    sender = StubSender()

    async def body(http: httpx.AsyncClient) -> None:
        form = await confirm(http, link())
        as_json = await http.post("/feedback", json=form, headers=BROWSER)
        assert as_json.status_code == 415
        multipart = await http.post("/feedback", data=form, files={"f": b"x"}, headers=BROWSER)
        assert multipart.status_code == 415
        huge = await http.post(
            "/feedback",
            content=b"a=" + b"x" * 60_000,
            headers={**BROWSER, "content-type": "application/x-www-form-urlencoded"},
        )
        assert huge.status_code == 413

        async def chunks() -> Any:
            for _ in range(10):
                yield b"x" * 6_000

        streamed = await http.post(
            "/feedback",
            content=chunks(),
            headers={**BROWSER, "content-type": "application/x-www-form-urlencoded"},
        )
        assert streamed.status_code == 413
        raw = "&".join(f"{k}={v}" for k, v in form.items())
        for content in (
            raw + "&token=again",  # a repeated field
            raw.encode() + b"\xff",  # not ASCII
            raw + "&username=%FF",  # not UTF-8 once decoded
        ):
            response = await http.post(
                "/feedback",
                content=content if isinstance(content, bytes) else content.encode(),
                headers={**BROWSER, "content-type": "application/x-www-form-urlencoded"},
            )
            assert response.status_code == 400
            assert title_of(response.text) == TEXTS.bad_request_title
        for broken in (
            {k: v for k, v in form.items() if k != "token"},
            {**form, "pool": OTHER_POOL},
            {**form, "value": "maybe"},
            {**form, "username": "two words"},
        ):
            response = await submit(http, broken)
            assert response.status_code == 400
            assert title_of(response.text) == TEXTS.invalid_link_title

    run(make_app(sender, per_client_limit=RateLimit(rate=1, burst=100)), body)
    assert sender.calls == []


def test_a_client_that_disconnects_mid_body_gets_no_response() -> None:
    sender = StubSender()
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/feedback",
        "query_string": b"",
        "headers": [(b"content-type", b"application/x-www-form-urlencoded")],
        "client": ("203.0.113.9", 1),
    }
    messages = [{"type": "http.request", "body": b"value=valid", "more_body": True}]
    assert exchange(make_app(sender), scope, messages) == []
    assert sender.calls == []


# --- texts, configuration -------------------------------------------------------------------


def test_texts_can_be_overridden_and_are_escaped() -> None:
    texts = FeedbackTexts(
        lang="fr",
        brand="Exemple <script>alert(1)</script>",
        confirm_valid_title="C'était vous ?",
        confirm_valid_button="Oui, c'était moi",
        success_title="Merci",
    )
    sender = StubSender()

    async def body(http: httpx.AsyncClient) -> None:
        response = await http.get(link())
        page = response.text
        assert '<html lang="fr">' in page
        assert "<script" not in page
        assert "Exemple &lt;script&gt;" in page
        assert "<title>C&#x27;était vous ? \u2013 Exemple &lt;script&gt;" in page
        assert "Oui, c&#x27;était moi" in page
        done = await submit(http, form_of(page))
        assert title_of(done.text) == "Merci"

    run(make_app(sender, texts=texts), body)


def test_a_custom_stylesheet_is_allowed_by_its_hash() -> None:
    css = "body{color:#123}"

    async def body(http: httpx.AsyncClient) -> None:
        response = await http.get(link())
        assert f"<style>{css}</style>" in response.text
        check_security_headers(response)

    run(make_app(StubSender(), stylesheet=css), body)


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"stylesheet": "</style><script>"}, ValueError),
        ({"allowed_origins": "https://example.com"}, TypeError),
        ({"allowed_origins": ["https://example.com/path"]}, ValueError),
        ({"allowed_origins": ["example.com"]}, ValueError),
        ({"user_pool_ids": []}, ValidationError),
        ({"user_pool_ids": ["nope"]}, ValidationError),
        ({"user_pool_ids": POOL}, TypeError),
        ({"max_tracked": 0}, ValueError),
        ({"remember_for": 0}, ValueError),
    ],
)
def test_bad_configuration(options: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error):
        make_app(StubSender(), **options)


@pytest.mark.parametrize(("rate", "burst"), [(0, 1), (-1, 1), (float("nan"), 1), (1, 0)])
def test_bad_rate_limits(rate: float, burst: int) -> None:
    with pytest.raises(ValueError, match="must be"):
        RateLimit(rate=rate, burst=burst)


# --- nothing secret is logged ---------------------------------------------------------------


def test_usernames_and_tokens_are_never_logged(caplog: pytest.LogCaptureFixture) -> None:
    sender = StubSender(
        None,
        _svc(NotAuthorizedException),
        TransportError(f"echo {TOKEN} {USER}"),
        _svc(ServiceError, code="Weird"),
    )

    async def body(http: httpx.AsyncClient) -> None:
        for value, event in (("valid", "e1"), ("invalid", "e2"), ("valid", "e3"), ("valid", "e4")):
            form = await confirm(http, link(value, event=event))
            await submit(http, form)
        form = await confirm(http, link(event="e1"))
        await submit(http, form)  # already recorded
        await submit(http, form, {"sec-fetch-site": "cross-site"})  # refused
        await http.get(link().replace("&end=1", ""))  # invalid link
        await submit(http, {**form, "pool": OTHER_POOL})  # invalid post

    with caplog.at_level(logging.DEBUG):
        run(
            make_app(sender, per_client_limit=RateLimit(rate=1, burst=100), rejection_penalty=0),
            body,
        )
    assert len(sender.calls) == 4
    # Only our records: the test's own httpx client logs the URLs it fetches
    # (as an ASGI server's access log would: see docs/feedback-app.md).
    messages = [r.getMessage() for r in caplog.records if r.name.startswith("cognito_raw")]
    assert any("feedback success" in m for m in messages)
    assert any("feedback expired" in m for m in messages)
    for message in messages:
        assert TOKEN not in message
        assert USER not in message
        assert "Zq9x" not in message
        assert "SECRETTOKEN" not in message
