"""The feedback flow in a real browser: headless Chromium, driven by Selenium.

Everything is real and on loopback sockets: Chromium (Debian's ``chromium``,
driven through Debian's ``chromedriver``; Selenium Manager is never asked to
download anything) opens a feedback link served by ``feedback_app`` over
HTTP (``tests/browser/asgi_server.py``), whose ``AsyncClient`` calls
FakeCognito over HTTP (``fake.serve()``). The test clicks the page's button
and checks what the fake recorded, and what the browser actually sent.

Each page state is screenshotted at a phone viewport (390x844, mobile) and a
desktop one (1280x800) into ``tests/artifacts/browser/`` (or
``$COGNITO_RAW_ARTIFACTS/browser``); the path is printed at the end. Every
page is also checked for horizontal overflow, a visible, finger-sized
button, an evenly padded card, the stylesheet actually applied (so its CSP hash
matches) and a console free of Content-Security-Policy reports; a control
page (``/csp-probe``, the same page with an image, a script and a style
attribute injected) shows that Chromium blocks and reports what the policy
forbids, so that silence means something. One flow runs with JavaScript
disabled: the pages have no script. A second app keeps a SQLite outbox, with
its lifespan deliverer running: throttled, a click gets the 202 "received"
page, and the answer is delivered once the throttling ends.

Without Chromium the test is skipped, except in CI (``CI=true``), where a
missing browser is a failure: ``.ci/run`` installs it.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
import urllib.parse
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import pytest

from cognito_raw import AsyncClient, RetryPolicy
from cognito_raw.links import FeedbackApp, FeedbackTexts, RateLimit, feedback_app, make_link
from cognito_raw.testing import AuthEvent, FakeCognito
from tests.browser.asgi_server import ASGIApp, Message, Receive, Scope, Send, ServedApp, serve_asgi

if TYPE_CHECKING:
    from selenium.webdriver.chrome.webdriver import WebDriver

CHROMIUM: Final = os.environ.get("COGNITO_RAW_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER: Final = os.environ.get("COGNITO_RAW_CHROMEDRIVER", "/usr/bin/chromedriver")
IN_CI: Final = os.environ.get("CI", "").strip().lower() in ("true", "1")
ARTIFACTS: Final = (
    Path(os.environ.get("COGNITO_RAW_ARTIFACTS") or Path(__file__).parent / "artifacts")
    / "browser"
)
CHROMIUM_FLAGS: Final = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--lang=en-US",
)
VIEWPORTS: Final = {
    # name: (width, height, device pixel ratio, mobile)
    "phone": (390, 844, 2, True),
    "desktop": (1280, 800, 1, False),
}
PATH: Final = "/feedback"
# The CSP control: the same page with an image, a script and a style attribute
# injected, all of which the page's Content-Security-Policy must block.
PROBE_PATH: Final = "/csp-probe"
FORBIDDEN: Final = (
    b'<img src="/probe.png" alt="">'
    b'<script>document.title = "script ran"</script>'
    b'<p id="styled" style="color: rgb(255, 0, 0)">styled</p>'
)
# A username a browser has to percent-encode on the way (", <, >, é).
USERNAME: Final = 'ann"<b>&=+%é'
ATTEMPTS: Final = 2
TEXTS: Final = FeedbackTexts()
# The default stylesheet's button colour (light scheme): proof that the inline
# stylesheet was applied, i.e. that its CSP hash matched.
ACCENT_RGB: Final = ("rgb(11, 87, 208)", "rgba(11, 87, 208, 1)")
WAIT: Final = 10.0


def _unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: the browser test must run in CI)", pytrace=False)
    pytest.skip(reason)


@dataclass
class Site:
    """The served app, the fake behind it, and the pool the app allows."""

    served: ServedApp
    fake: FakeCognito
    pool: str

    def event(self) -> AuthEvent:
        return self.fake.create_auth_event(self.pool, USERNAME)

    def link(self, event: AuthEvent, value: str = "valid") -> str:
        return make_link(
            self.served.url + PATH,
            user_pool_id=event.user_pool_id,
            username=event.username,
            event_id=event.event_id,
            feedback_token=event.feedback_token,
            value=value,
        )

    def applied(self, event: AuthEvent) -> tuple[str | None, int]:
        return (
            self.fake.feedback(event.user_pool_id, event.event_id),
            self.fake.feedback_count(event.user_pool_id, event.event_id),
        )

    def calls_for(self, event: AuthEvent) -> int:
        return sum(
            1
            for r in self.fake.requests
            if r.data is not None and r.data.get("EventId") == event.event_id
        )


def _with_probe(app: FeedbackApp) -> ASGIApp:
    """The app, plus a control: at PROBE_PATH its page carries what its CSP forbids."""

    async def probed(scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("path") != PROBE_PATH:
            await app(scope, receive, send)
            return

        async def inject(message: Message) -> None:
            if message["type"] == "http.response.body":
                body = bytes(message.get("body", b""))
                message = {**message, "body": body.replace(b"</main>", FORBIDDEN + b"</main>")}
            await send(message)

        await app(scope, receive, inject)

    return probed


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    fake = FakeCognito()
    pool = fake.create_user_pool()
    fake.create_user(pool, USERNAME)
    with fake.serve() as cognito_url:

        @contextlib.asynccontextmanager
        async def app() -> AsyncIterator[ASGIApp]:
            retry = RetryPolicy(max_attempts=ATTEMPTS, base_delay=0.001, max_delay=0.005)
            async with AsyncClient(endpoint_url=cognito_url, retry=retry, timeout=5) as client:
                # Every click of the session comes from 127.0.0.1: a roomy bucket,
                # and no hold-back after the expired link's page.
                yield _with_probe(
                    feedback_app(
                        client=client,
                        user_pool_ids=[pool],
                        per_client_limit=RateLimit(rate=10, burst=100),
                        rejection_penalty=0,
                    )
                )

        with serve_asgi(app) as served:
            yield Site(served=served, fake=fake, pool=pool)


@pytest.fixture(scope="module")
def artifacts(request: pytest.FixtureRequest) -> Iterator[Path]:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for old in ARTIFACTS.glob("*.png"):
        old.unlink()
    yield ARTIFACTS
    shots = sorted(ARTIFACTS.glob("*.png"))
    plugins = request.config.pluginmanager
    reporter = plugins.get_plugin("terminalreporter")
    capture = plugins.get_plugin("capturemanager")
    if reporter is not None and capture is not None and shots:
        with capture.global_and_fixture_disabled():
            reporter.write_line(f"\nbrowser screenshots ({len(shots)}): {ARTIFACTS}")


@pytest.fixture(scope="module")
def driver() -> Iterator[WebDriver]:
    if not (os.access(CHROMIUM, os.X_OK) and os.access(CHROMEDRIVER, os.X_OK)):
        _unavailable(
            f"Chromium not found ({CHROMIUM}, {CHROMEDRIVER}): "
            "apt-get install -y chromium chromium-driver"
        )
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        # Chromium is here, so the test must run: selenium is a dev dependency.
        pytest.fail("selenium is not installed: pip install '.[dev]'", pytrace=False)
    options = webdriver.ChromeOptions()
    # Both paths given: Selenium Manager is skipped, nothing is downloaded.
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    with tempfile.TemporaryDirectory(
        prefix="cognito-raw-chromium-", ignore_cleanup_errors=True
    ) as profile:
        options.add_argument(f"--user-data-dir={profile}")
        browser = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
        try:
            browser.set_page_load_timeout(WAIT)
            _viewport(browser, "phone")
            yield browser
        finally:
            browser.quit()


@pytest.fixture
def page(driver: WebDriver, site: Site, artifacts: Path) -> Iterator[Page]:
    site.served.clear()
    site.fake.clear_faults()
    driver.delete_all_cookies()
    page = Page(driver, artifacts)
    page.console()  # drain what earlier tests left
    yield page
    _viewport(driver, "phone")
    driver.execute_cdp_cmd("Emulation.setScriptExecutionDisabled", {"value": False})
    driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": []})


def _viewport(driver: WebDriver, name: str) -> None:
    width, height, ratio, mobile = VIEWPORTS[name]
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": ratio, "mobile": mobile},
    )


class Page:
    """The browser's current page, with the checks every page state gets."""

    def __init__(self, driver: WebDriver, artifacts: Path) -> None:
        self.driver = driver
        self.artifacts = artifacts

    def open(self, url: str) -> None:
        self.driver.get(url)

    def click(self, *, double: bool = False) -> None:
        from selenium.webdriver.common.action_chains import ActionChains
        from selenium.webdriver.common.by import By

        button = self.driver.find_element(By.CSS_SELECTOR, "form button[type=submit]")
        old = self.driver.find_element(By.TAG_NAME, "html")
        if double:
            ActionChains(self.driver).double_click(button).perform()
        else:
            button.click()
        self._wait_for_new_page(old)

    def _wait_for_new_page(self, old: Any) -> None:
        from selenium.common.exceptions import WebDriverException
        from selenium.webdriver.support import expected_conditions
        from selenium.webdriver.support.wait import WebDriverWait

        # Mid-navigation, chromedriver may answer with a transient inspector
        # error instead of "stale": poll through it (bounded by WAIT).
        wait = WebDriverWait(
            self.driver, WAIT, poll_frequency=0.05, ignored_exceptions=(WebDriverException,)
        )
        wait.until(expected_conditions.staleness_of(old), "the click did not navigate")
        wait.until(
            lambda d: d.execute_script("return document.readyState") == "complete",
            "the page did not finish loading",
        )

    @property
    def title(self) -> str:
        from selenium.webdriver.common.by import By

        return str(self.driver.find_element(By.TAG_NAME, "h1").text)

    @property
    def has_button(self) -> bool:
        from selenium.webdriver.common.by import By

        return bool(self.driver.find_elements(By.CSS_SELECTOR, "form button"))

    def console(self) -> list[dict[str, Any]]:
        # Drains the browser's console log (selenium leaves get_log untyped).
        get_log: Callable[[str], list[dict[str, Any]]] = self.driver.get_log
        return get_log("browser")

    def check(self, name: str, *, dark: bool = False) -> None:
        """Screenshot the state at each viewport and check its layout and console."""
        for viewport in VIEWPORTS:
            _viewport(self.driver, viewport)
            metrics = self.driver.execute_script(
                """
                const b = document.querySelector('form button');
                const r = b && b.getBoundingClientRect();
                return {
                  scrollWidth: document.documentElement.scrollWidth,
                  innerWidth: window.innerWidth,
                  innerHeight: window.innerHeight,
                  button: r && {top: r.top, bottom: r.bottom, left: r.left, right: r.right,
                                height: r.height,
                                bg: getComputedStyle(b).backgroundColor},
                  main: document.querySelector('main').getBoundingClientRect().width,
                  card: (() => {
                    const c = document.querySelector('.card').getBoundingClientRect();
                    const first = document.querySelector('.card > :first-child');
                    const last = document.querySelector('.card > :last-child');
                    return {top: first.getBoundingClientRect().top - c.top,
                            bottom: c.bottom - last.getBoundingClientRect().bottom};
                  })(),
                  fontSize: parseFloat(getComputedStyle(document.body).fontSize),
                };
                """
            )
            where = f"{name} at {viewport}"
            assert metrics["scrollWidth"] <= metrics["innerWidth"], f"{where}: scrolls sideways"
            assert metrics["fontSize"] >= 16, f"{where}: text too small"
            assert metrics["main"] <= 34 * 16 + 1, f"{where}: the column is too wide to read"
            card = metrics["card"]
            assert abs(card["top"] - card["bottom"]) <= 1, f"{where}: card padding uneven {card}"
            button = metrics["button"]
            if button is not None:
                assert button["bottom"] <= metrics["innerHeight"], f"{where}: button below fold"
                assert button["left"] >= 0, where
                assert button["right"] <= metrics["innerWidth"], where
                assert button["height"] >= 44, f"{where}: button too small to tap"
                if not dark:
                    assert button["bg"] in ACCENT_RGB, f"{where}: stylesheet not applied"
            self.driver.save_screenshot(str(self.artifacts / f"{name}-{viewport}.png"))
        _viewport(self.driver, "phone")
        csp = [
            entry
            for entry in self.console()
            if "Content Security Policy" in str(entry.get("message"))
            or "Refused to" in str(entry.get("message"))
        ]
        assert csp == [], f"{name}: CSP violations {csp}"


def _the_post(site: Site) -> Any:
    posts = [r for r in site.served.received() if r.method == "POST"]
    assert len(posts) == 1, [(r.method, r.target) for r in site.served.received()]
    return posts[0]


# --- the flow ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "wire"), [("valid", "Valid"), ("invalid", "Invalid")])
def test_confirm_then_click_records_one_feedback(
    page: Page, site: Site, value: str, wire: str
) -> None:
    event = site.event()
    page.open(site.link(event, value))
    expected = TEXTS.confirm_valid_title if value == "valid" else TEXTS.confirm_invalid_title
    assert page.title == expected
    page.check(f"01-confirm-{value}")
    assert site.calls_for(event) == 0  # opening the link sent nothing
    page.click()
    assert page.title == TEXTS.success_title
    assert not page.has_button
    page.check(f"02-success-{value}")
    assert site.applied(event) == (wire, 1)
    # What the browser really sent with the form: the headers the app's CSRF
    # rule is built on, and no token in the request line.
    post = _the_post(site)
    assert post.header("sec-fetch-site") == "same-origin"
    assert post.header("origin") == "null"  # Referrer-Policy: no-referrer
    assert post.header("referer") is None
    assert post.target == PATH + "?"
    assert urllib.parse.quote(event.feedback_token) not in post.target
    assert post.header("content-type") == "application/x-www-form-urlencoded"
    gets = [r for r in site.served.received() if r.method == "GET"]
    assert all(r.header("sec-fetch-site") == "none" for r in gets)


def test_back_and_click_again_is_already_recorded(page: Page, site: Site) -> None:
    event = site.event()
    page.open(site.link(event, "invalid"))
    page.click()
    assert page.title == TEXTS.success_title
    page.driver.back()  # no-store: the confirmation page is fetched again
    assert page.title == TEXTS.confirm_invalid_title
    page.click()
    assert page.title == TEXTS.already_recorded_title
    page.check("03-already-recorded")
    assert site.applied(event) == ("Invalid", 1)
    assert site.calls_for(event) == 1


def test_a_double_click_records_once(page: Page, site: Site) -> None:
    event = site.event()
    site.fake.delay(0.5)  # Cognito is slow: the second click lands mid-call
    page.open(site.link(event))
    page.click(double=True)
    assert page.title in (TEXTS.success_title, TEXTS.already_recorded_title)
    assert site.applied(event) == ("Valid", 1)
    assert site.calls_for(event) == 1
    # Chromium 156 sends one POST for a double click (the second click lands
    # on a form already being submitted); two would be joined by the app
    # (tests/links/test_feedback_app_fake.py, concurrent clicks).
    posts = [r for r in site.served.received() if r.method == "POST"]
    assert 1 <= len(posts) <= 2


def test_an_expired_link(page: Page, site: Site) -> None:
    event = site.event()
    site.fake.expire_auth_event(event.user_pool_id, event.event_id)
    page.open(site.link(event))
    page.click()
    assert page.title == TEXTS.expired_title
    assert not page.has_button
    page.check("04-expired")
    assert site.applied(event) == (None, 0)


def test_try_again_after_throttling(page: Page, site: Site) -> None:
    event = site.event()
    site.fake.throttle(ATTEMPTS + 1)  # more than the client's attempts
    page.open(site.link(event))
    page.click()
    assert page.title == TEXTS.unavailable_title
    assert page.has_button
    page.check("05-try-again")
    assert site.applied(event) == (None, 0)
    page.click()  # "Try again": one throttle left, then the retry succeeds
    assert page.title == TEXTS.success_title
    assert site.applied(event) == ("Valid", 1)
    assert site.calls_for(event) == ATTEMPTS + 2


def test_something_went_wrong(page: Page, site: Site) -> None:
    event = site.event()
    site.fake.fail_with("UserPoolAddOnNotEnabledException", "Threat protection is off.")
    page.open(site.link(event))
    page.click()
    assert page.title == TEXTS.error_title
    assert not page.has_button
    page.check("06-error")
    assert site.applied(event) == (None, 0)


def test_a_cut_short_link(page: Page, site: Site) -> None:
    event = site.event()
    page.open(site.link(event).replace("&end=1", ""))
    assert page.title == TEXTS.invalid_link_title
    assert not page.has_button
    page.check("07-invalid-link")
    assert site.calls_for(event) == 0


def test_a_cross_site_form_is_refused(page: Page, site: Site) -> None:
    # A page of another origin that posts a stolen form to the app: the
    # browser's own headers give it away.
    event = site.event()
    page.open(site.link(event))
    fields = {
        str(i.get_attribute("name")): str(i.get_attribute("value"))
        for i in page.driver.find_elements("css selector", "input[type=hidden]")
    }
    inputs = "".join(
        f'<input type="hidden" name="{k}" value="{v.replace(chr(34), "&quot;")}">'
        for k, v in fields.items()
    )
    attacker = (
        f'<form method="post" action="{site.served.url}{PATH}?">{inputs}'
        '<button type="submit">Win a prize</button></form>'
    )
    page.open("data:text/html;charset=utf-8," + urllib.parse.quote(attacker))
    site.served.clear()
    page.click()
    assert page.title == TEXTS.forbidden_title
    page.check("08-forbidden")
    post = _the_post(site)
    assert post.header("sec-fetch-site") == "cross-site"
    assert site.calls_for(event) == 0


def test_dark_scheme(page: Page, site: Site) -> None:
    event = site.event()
    page.driver.execute_cdp_cmd(
        "Emulation.setEmulatedMedia",
        {"features": [{"name": "prefers-color-scheme", "value": "dark"}]},
    )
    page.open(site.link(event, "invalid"))
    page.check("09-confirm-dark", dark=True)


def test_without_javascript(page: Page, site: Site) -> None:
    # The pages have no script at all: the whole flow works with it disabled.
    page.driver.execute_cdp_cmd("Emulation.setScriptExecutionDisabled", {"value": True})
    event = site.event()
    page.open(site.link(event, "invalid"))
    assert page.title == TEXTS.confirm_invalid_title
    page.click()
    assert page.title == TEXTS.success_title
    assert site.applied(event) == ("Invalid", 1)


def test_the_browser_enforces_the_csp(page: Page, site: Site) -> None:
    # The control for every "no CSP report" check above: on a page carrying
    # what the policy forbids, Chromium blocks it and says so in the console.
    event = site.event()
    page.open(site.link(event).replace(PATH, PROBE_PATH, 1))
    assert page.title == TEXTS.confirm_valid_title
    assert page.driver.title == TEXTS.confirm_valid_title  # the script did not run
    color = page.driver.execute_script(
        "return getComputedStyle(document.getElementById('styled')).color"
    )
    assert color != "rgb(255, 0, 0)"  # the style attribute was not applied
    reports = [
        str(e.get("message"))
        for e in page.console()
        if "Content Security Policy" in str(e.get("message"))
    ]
    assert len(reports) == 3, reports
    for blocked in ("'img-src'", "'script-src'", "style-src"):
        assert any(blocked in report for report in reports), (blocked, reports)
    assert all(r.target != "/probe.png" for r in site.served.received())  # never fetched


# --- with an outbox: throttled, the answer is kept and delivered later ------------------------


@pytest.fixture(scope="module")
def outbox_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """A second app, with a SQLite outbox and its lifespan deliverer running."""
    from cognito_raw.links import Outbox
    from tests.outbox_support import lifespan

    fake = FakeCognito()
    pool = fake.create_user_pool()
    fake.create_user(pool, USERNAME)
    folder = tmp_path_factory.mktemp("outbox")
    outbox = Outbox(
        url=f"sqlite://{folder / 'outbox.db'}",
        retry_base=0.05,
        retry_max=0.2,
        poll_interval=0.05,
    )
    with fake.serve() as cognito_url:

        @contextlib.asynccontextmanager
        async def app() -> AsyncIterator[ASGIApp]:
            retry = RetryPolicy(max_attempts=ATTEMPTS, base_delay=0.001, max_delay=0.005)
            async with AsyncClient(endpoint_url=cognito_url, retry=retry, timeout=5) as client:
                served = feedback_app(
                    client=client,
                    user_pool_ids=[pool],
                    per_client_limit=RateLimit(rate=10, burst=100),
                    outbox=outbox,
                )
                async with lifespan(served):
                    yield served

        with serve_asgi(app) as served:
            yield Site(served=served, fake=fake, pool=pool)


def test_throttled_the_answer_is_received_then_delivered(
    driver: WebDriver, outbox_site: Site, artifacts: Path
) -> None:
    site = outbox_site
    driver.delete_all_cookies()
    page = Page(driver, artifacts)
    page.console()
    event = site.event()
    site.fake.throttle(1_000_000)  # Cognito throttles everything for now
    page.open(site.link(event, "invalid"))
    page.click()
    assert page.title == TEXTS.accepted_title
    assert not page.has_button  # nothing to do: no "try again"
    page.check("10-received")
    assert site.applied(event) == (None, 0)
    assert site.calls_for(event) >= ATTEMPTS  # the inline call met throttling
    site.fake.clear_faults()
    # The app's own deliverer sends it once the throttling ends.
    deadline = time.monotonic() + WAIT
    while site.applied(event) == (None, 0) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert site.applied(event) == ("Invalid", 1)
    page.driver.back()
    assert page.title == TEXTS.confirm_invalid_title
    page.click()
    assert page.title == TEXTS.already_recorded_title
    assert site.applied(event) == ("Invalid", 1)
