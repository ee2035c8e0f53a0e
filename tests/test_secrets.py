"""Secret hygiene: usernames and feedback tokens never show where they should not.

For generated usernames and tokens, each carrying a random marker of ten
letters that cannot occur in a UUID or a hex request ID (so a substring check
means something, and a partial leak is caught too), neither the value, nor its
HTML-escaped form, nor its marker may appear in:

- any log record, at any level, of any logger (the root logger captured at
  DEBUG, so ``cognito_raw``, ``httpx`` and ``httpcore`` are all in), with
  tracebacks formatted;
- any exception's ``str``, ``repr`` or formatted traceback (its causes
  included), nor in the exceptions of earlier attempts, for every outcome:
  success, every modeled error reply and unmodeled ones, HTML pages, a 2xx
  that is not JSON, a redirect, a reset, a close, a refused connection, a
  timeout; the replies echo both secrets back in their bodies, as a
  reflecting proxy or WAF would;
- the reprs of ``UpdateAuthEventFeedbackRequest``, ``HttpRequest``,
  ``AttemptInfo`` and the responses;
- the CLI's output (``python -m cognito_raw feedback`` in a subprocess, the
  token in ``COGNITO_FEEDBACK_TOKEN``, against ``FakeCognito().serve()``,
  with ``-v`` and ``--json``), and ``--dry-run`` output unless
  ``--show-secrets`` (which, as a control, does show them);
- the feedback app's pages (except the hidden form fields that carry them
  back to the app, by design) and response headers, and its logs.

The harness's own requests to the feedback app (``httpx`` logging
``HTTP Request: GET https://app/...``) carry the link, token and all, in
their URL: that is the test's client logging the URL it was given, not the
app, so records whose message names the app's test origin are left out, and
only those.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import json
import logging
import os
import re
import subprocess
import sys
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Final

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cognito_raw import (
    AsyncClient,
    AttemptInfo,
    Client,
    CognitoError,
    RetryPolicy,
    Timeout,
    UpdateAuthEventFeedbackRequest,
    UpdateAuthEventFeedbackResponse,
    build_request,
    parse_response,
)
from cognito_raw.cli import TOKEN_ENV
from cognito_raw.links import RateLimit, feedback_app, make_link
from cognito_raw.testing import FakeCognito
from cognito_raw.testing import strategies as cst
from tests import faultserver
from tests.faultserver import Step, json_reply
from tests.loopback import closed_port

# No hex digit: a marker can never be part of a UUID or a hex request ID.
MARK_ALPHABET: Final = "ghjkmnpqrstvwxyz"
POOL: Final = "us-east-1_AbC123"
EVENT: Final = "c2c2cf89-c0d3-482d-aba6-99d78a5b0bfe"
ONCE: Final = RetryPolicy(max_attempts=1)
THRICE: Final = RetryPolicy(max_attempts=3, base_delay=0.001, max_delay=0.002)


@dataclass(frozen=True)
class Secrets:
    username: str
    token: str
    marks: tuple[str, str]

    def leaks(self, text: str) -> list[str]:
        """Which secrets (or their markers, or HTML-escaped forms) ``text`` holds."""
        needles = [self.username, self.token, *self.marks, html.escape(self.username)]
        return [needle for needle in needles if needle in text]

    def request(self, value: str = "invalid") -> UpdateAuthEventFeedbackRequest:
        return UpdateAuthEventFeedbackRequest(
            user_pool_id=POOL,
            username=self.username,
            event_id=EVENT,
            feedback_token=self.token,
            feedback_value=value,
        )

    @property
    def echo(self) -> str:
        return f"bad user {self.username} with token {self.token}"


@st.composite
def secret_pairs(draw: st.DrawFn) -> Secrets:
    marks = draw(
        st.tuples(
            st.text(MARK_ALPHABET, min_size=10, max_size=10),
            st.text(MARK_ALPHABET, min_size=10, max_size=10),
        ).filter(lambda m: m[0] != m[1])
    )
    username = (f"u{marks[0]}" + draw(cst.usernames()))[:128]
    token = f"T{marks[1]}" + draw(cst.feedback_tokens())
    return Secrets(username, token, marks)


def fixed_secrets(n: int = 0) -> Secrets:
    marks = ("hjkmnpqrst"[n:] + "vwxyz"[:n], "zyxwvtsrqp"[n:] + "nmkjh"[:n])
    return Secrets(f'u{marks[0]}-Zoë"<&>', f"T{marks[1]}-tok=.", marks)


# --- capture -------------------------------------------------------------------------------

_FORMAT: Final = logging.Formatter("%(name)s %(levelname)s %(message)s")


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextlib.contextmanager
def every_log_record() -> Iterator[list[logging.LogRecord]]:
    """Every record of every logger, DEBUG and up, while the block runs."""
    root = logging.getLogger()
    handler = _Collect()
    levels = {name: logging.getLogger(name).level for name in logging.root.manager.loggerDict}
    old_root = root.level
    for name in levels:
        logging.getLogger(name).setLevel(logging.NOTSET)
    root.setLevel(logging.DEBUG)
    root.addHandler(handler)
    try:
        yield handler.records
    finally:
        root.removeHandler(handler)
        root.setLevel(old_root)
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


def rendered(record: logging.LogRecord) -> str:
    return f"{_FORMAT.format(record)} {record.args!r}"


def exception_texts(exc: BaseException) -> list[str]:
    texts = [str(exc), repr(exc), "".join(traceback.format_exception(exc))]
    if isinstance(exc, CognitoError):
        for earlier in exc.errors:
            texts += exception_texts(earlier)
    return texts


# --- the clients, every outcome ------------------------------------------------------------


def single_attempt_script(s: Secrets) -> list[Step]:
    """One step per call: every outcome a single attempt can have, echoing the secrets."""
    echo = s.echo
    codes = [
        ("InvalidParameterException", 400),
        ("ResourceNotFoundException", 400),
        ("TooManyRequestsException", 400),
        ("NotAuthorizedException", 400),
        ("UserNotFoundException", 400),
        ("UserPoolAddOnNotEnabledException", 400),
        ("OperationNotEnabledException", 400),
        ("InternalErrorException", 500),
        ("LimitExceededException", 400),
        ("com.amazon.coral.service#SerializationException", 400),
    ]
    return [
        json_reply(200, {}),
        *[json_reply(status, {"__type": code, "message": echo}) for code, status in codes],
        json_reply(
            400, {"__type": "InvalidParameterException", "message": echo, "reasonCode": echo}
        ),
        json_reply(400, {"Message": echo}),
        json_reply(400, {"message": echo}),
        # Echoed in headers too: httpcore's debug log shows a reply's head.
        json_reply(
            400,
            {},
            [
                ("x-amzn-ErrorMessage", echo.encode().decode("latin-1")),
                ("x-amzn-ErrorType", s.token),
                ("x-amzn-RequestId", s.token),
            ],
        ),
        json_reply(403, f"<html>blocked: {echo}</html>".encode()),
        json_reply(502, b""),
        json_reply(200, f"<html>{echo}</html>".encode()),
        "redirect_302",
        "reset_before_status",
        "close_before_status",
        echoed_status_line(s),
        echoed_reason_phrase(s),
        echoed_chunk_header(s),
    ]


def echoed_reason_phrase(s: Secrets) -> faultserver.Fault:
    """A valid error reply whose reason phrase quotes the secrets (httpx logs it at INFO)."""

    def act(conn: faultserver.Conn) -> bool:
        conn.send(f"HTTP/1.1 400 {s.echo}\r\nContent-Length: 2\r\n\r\n{{}}".encode())
        return False

    return act


def echoed_chunk_header(s: Secrets) -> faultserver.Fault:
    """A chunked success whose chunk-size line is the token (h11 quotes it in its error)."""

    def act(conn: faultserver.Conn) -> bool:
        head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        conn.send(f"{head}{s.token}\r\n{{}}\r\n0\r\n\r\n".encode())
        return False

    return act


def echoed_status_line(s: Secrets) -> faultserver.Fault:
    """A status line that is not HTTP and quotes the request's secrets."""

    def act(conn: faultserver.Conn) -> bool:
        conn.send(f"HTTP/1.1 {s.echo}\r\n\r\n".encode())
        return False

    return act


def retried_script(s: Secrets) -> list[Step]:
    """Three attempts: a throttle and a 500 echoing the secrets, then a reset."""
    echo = s.echo
    return [
        json_reply(400, {"__type": "TooManyRequestsException", "message": echo}),
        json_reply(500, {"__type": "InternalErrorException", "message": echo}),
        "reset_before_status",
    ]


Outcome = UpdateAuthEventFeedbackResponse | CognitoError


def run_calls(flavor: str, url: str, s: Secrets, n: int, policy: RetryPolicy) -> list[Any]:
    """``n`` calls through one client; the outcomes and every AttemptInfo, in order."""
    seen: list[Any] = []
    options: dict[str, Any] = {"endpoint_url": url, "retry": policy, "on_attempt": seen.append}
    if flavor == "sync":
        with Client(**options) as client:
            for _ in range(n):
                try:
                    seen.append(client.send(s.request()))
                except CognitoError as exc:
                    seen.append(exc)
        return seen

    async def go() -> None:
        async with AsyncClient(**options) as client:
            for _ in range(n):
                try:
                    seen.append(await client.send(s.request()))
                except CognitoError as exc:
                    seen.append(exc)

    asyncio.run(go())
    return seen


def texts_of(items: list[Any]) -> list[str]:
    texts: list[str] = []
    for item in items:
        if isinstance(item, BaseException):
            texts += exception_texts(item)
        else:
            texts += [str(item), repr(item)]
    return texts


# Real sockets make each example cost milliseconds: a tenth of the profile's
# count (20 in CI, 2,000 under HYPOTHESIS_PROFILE=fuzz).
SOCKET_EXAMPLES: Final = max(10, settings().max_examples // 10)


@settings(max_examples=SOCKET_EXAMPLES)
@given(s=secret_pairs())
def test_no_outcome_of_either_client_shows_the_secrets(s: Secrets) -> None:
    outcomes: list[Any] = []
    with every_log_record() as records:
        single = single_attempt_script(s)
        with faultserver.serve(*single, *retried_script(s)) as server:
            for flavor in ("sync", "async"):
                server.set_script(*single, *retried_script(s))
                outcomes += run_calls(flavor, server.url, s, len(single), ONCE)
                outcomes += run_calls(flavor, server.url, s, 1, THRICE)
                outcomes += run_calls(flavor, closed_port(), s, 1, ONCE)
        request = s.request()
        http = build_request(request)
        objects = [request, http, http.redacted_body()]
    kinds = {type(item) for item in outcomes}
    assert UpdateAuthEventFeedbackResponse in kinds
    assert AttemptInfo in kinds
    assert len(kinds) >= 12, kinds  # the outcomes are really that varied
    for text in texts_of(outcomes) + texts_of(objects):
        assert s.leaks(text) == [], text
    assert records, "the clients log at DEBUG"
    for record in records:
        assert s.leaks(rendered(record)) == [], rendered(record)


@pytest.mark.parametrize("flavor", ["sync", "async"])
def test_a_timeout_shows_no_secrets(flavor: str) -> None:
    s = fixed_secrets(1)
    with every_log_record() as records, faultserver.serve("never_answer") as server:
        seen: list[Any] = []
        options: dict[str, Any] = {
            "endpoint_url": server.url,
            "retry": RetryPolicy(max_attempts=2, base_delay=0.001),
            "timeout": Timeout(connect=0.3, read=0.3, write=0.3, pool=0.3, total=0.3),
            "on_attempt": seen.append,
        }
        if flavor == "sync":
            with Client(**options) as client, pytest.raises(CognitoError) as info:
                client.send(s.request())
        else:

            async def go() -> None:
                async with AsyncClient(**options) as client:
                    await client.send(s.request())

            with pytest.raises(CognitoError) as info:
                asyncio.run(go())
    assert type(info.value).__name__ == "RequestTimeoutError"
    for text in texts_of([info.value, *seen]) + [rendered(r) for r in records]:
        assert s.leaks(text) == [], text


ECHO_FIELDS: Final = {
    "body message": (400, {}, {"__type": "NotAuthorizedException", "message": "{echo}"}),
    "body Message": (400, {}, {"__type": "NotAuthorizedException", "Message": "{echo}"}),
    "header message": (400, {"x-amzn-ErrorMessage": "{echo}"}, {"__type": "X"}),
    "reasonCode": (400, {}, {"__type": "InvalidParameterException", "reasonCode": "{echo}"}),
    "header code": (400, {"x-amzn-ErrorType": "{token}"}, {}),
    "body code": (400, {}, {"code": "{token}"}),
    "body __type": (400, {}, {"__type": "ns#{token}"}),
    "request ID of an error": (400, {"x-amzn-RequestId": "{token}"}, {"__type": "X"}),
    "request ID of a success": (200, {"x-amzn-RequestId": "{token}"}, {}),
}


@pytest.mark.parametrize("field", list(ECHO_FIELDS))
def test_a_reply_echoing_the_secrets_in_any_field_does_not_surface_them(field: str) -> None:
    # BUG (reported; fix in cognito_raw/_core/protocol.py, parse_response): the
    # rows "header code", "body code", "body __type" and both "request ID"
    # rows fail today. parse_response scrubs the secrets from the message and
    # reasonCode a reply echoes, but not from the error code nor from the
    # request ID, which str(), repr(), the CLI ("request ID ...") and the
    # debug log all show. Scrub the request ID with the same _scrub, and
    # an unknown code (a known code cannot be an echo: scrubbing it would
    # break dispatch for a username like "Invalid", see the next test).
    s = fixed_secrets(2)
    status, headers, body = ECHO_FIELDS[field]
    fill: Callable[[str], str] = lambda v: v.format(echo=s.echo, token=s.token)  # noqa: E731
    wire_headers = {k: fill(v) for k, v in headers.items()}
    wire_body = {k: fill(v) for k, v in body.items()}
    secrets = (s.username, s.token)
    try:
        result = parse_response(
            status, wire_headers, json.dumps(wire_body).encode(), secrets=secrets
        )
    except CognitoError as exc:
        texts = exception_texts(exc)
    else:
        texts = [str(result), repr(result), str(result.request_id)]
    for text in texts:
        assert s.leaks(text) == [], text


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("InvalidParameterException", "InvalidParameterException"),
        ("com.amazon#TooManyRequestsException:", "TooManyRequestsException"),
        ("InternalErrorException", "InternalErrorException"),
    ],
)
def test_a_username_that_looks_like_part_of_a_code_does_not_change_the_error(
    code: str, expected: str
) -> None:
    # The other side of scrubbing echoes: a username such as "Invalid" or
    # "Internal" is not an echo when it is part of a real code.
    secrets = (expected[:8], "TokMark-hjk")
    with pytest.raises(CognitoError) as info:
        parse_response(400, {"x-amzn-ErrorType": code}, b"{}", secrets=secrets)
    assert type(info.value).__name__ == expected


# --- the CLI -------------------------------------------------------------------------------


def cli(args: list[str], token: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != TOKEN_ENV}
    env[TOKEN_ENV] = token
    return subprocess.run(
        [sys.executable, "-m", "cognito_raw", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def feedback_args(username: str, event: str, pool: str = POOL) -> list[str]:
    return [
        "feedback",
        "--user-pool-id",
        pool,
        "--username",
        username,
        "--event-id",
        event,
        "--value",
        "invalid",
    ]


def test_the_cli_shows_no_secrets_on_success_or_failure() -> None:
    s = fixed_secrets(3)
    fake = FakeCognito()
    event = fake.seed(username=s.username, aliases=())
    # The fake issues the event's token; it carries a marker of its own.
    issued = Secrets(s.username, event.feedback_token, (s.marks[0], event.feedback_token[:12]))
    with fake.serve() as url:
        common = [*feedback_args(s.username, event.event_id, event.user_pool_id), "-v"]
        common += ["--endpoint-url", url, "--max-attempts", "2"]
        ok = cli(common, event.feedback_token)
        ok_json = cli([*common, "--json"], event.feedback_token)
        rejected = cli(common, s.token)  # a token of ours: NotAuthorizedException
        fake.throttle(2)
        throttled = cli([*common, "--json"], s.token)
    assert ok.returncode == 0, ok.stderr
    assert ok_json.returncode == 0, ok_json.stderr
    assert (rejected.returncode, throttled.returncode) == (3, 5)
    assert "attempt 1:" in ok.stderr  # -v logged the attempts
    for done, secrets in [(ok, issued), (ok_json, issued), (rejected, s), (throttled, s)]:
        assert secrets.leaks(done.stdout + done.stderr) == [], done
    assert fake.feedback(event.user_pool_id, event.event_id) == "Invalid"


@pytest.mark.parametrize("extra", [[], ["--curl"]])
def test_a_dry_run_hides_the_secrets_unless_asked(extra: list[str]) -> None:
    s = fixed_secrets(4)
    args = [*feedback_args(s.username, EVENT), "--dry-run", *extra]
    hidden = cli(args, s.token)
    shown = cli([*args, "--show-secrets"], s.token)
    assert hidden.returncode == shown.returncode == 0
    assert s.leaks(hidden.stdout + hidden.stderr) == []
    assert "<redacted>" in hidden.stdout
    # The control: the same check finds them when they are there.
    assert s.token in shown.stdout
    assert s.marks[0] in shown.stdout


# --- the feedback app ----------------------------------------------------------------------

APP_ORIGIN: Final = "https://app"
_HIDDEN: Final = re.compile(r'<input type="hidden" name="(?:username|token)" value="[^"]*">')


def page_leaks(s: Secrets, response: httpx.Response) -> list[str]:
    """Leaks in a page outside its hidden username/token fields, and in its headers."""
    visible = _HIDDEN.sub("", response.text)
    headers = "\n".join(f"{k}: {v}" for k, v in response.headers.multi_items())
    return s.leaks(visible) + s.leaks(headers)


async def click_link(
    http: httpx.AsyncClient, s: Secrets, event_id: str, value: str
) -> tuple[httpx.Response, httpx.Response]:
    """Open a link holding the secrets in the app, then press its button: both pages."""
    link = make_link(
        APP_ORIGIN + "/f",
        user_pool_id=POOL,
        username=s.username,
        event_id=event_id,
        feedback_token=s.token,
        value=value,
    )
    page = await http.get(link.removeprefix(APP_ORIGIN))
    fields = dict(re.findall(r'name="(\w+)" value="([^"]*)"', page.text))
    form = {k: html.unescape(v) for k, v in fields.items()}
    result = await http.post("/f?", data=form, headers={"sec-fetch-site": "same-origin"})
    return page, result


def test_the_feedback_app_pages_and_logs_hold_no_secrets() -> None:
    s = fixed_secrets(5)
    # One loopback "Cognito" answering the app's calls in turn: delivered,
    # expired, throttled (the "try again" page carries the form back),
    # a 500, an HTML page; each reply echoes the secrets.
    script = [
        json_reply(200, {}),
        json_reply(400, {"__type": "NotAuthorizedException", "message": s.echo}),
        *[json_reply(400, {"__type": "TooManyRequestsException", "message": s.echo})] * 2,
        *[json_reply(500, {"__type": "InternalErrorException", "message": s.echo})] * 2,
        json_reply(403, f"<html>{s.echo}</html>".encode()),
    ]
    unlimited = RateLimit(rate=1e6, burst=1_000_000)
    pages: list[httpx.Response] = []

    async def main(url: str) -> None:
        retry = RetryPolicy(max_attempts=2, base_delay=0.001, max_delay=0.002)
        async with AsyncClient(endpoint_url=url, retry=retry) as client:
            app = feedback_app(
                client=client,
                user_pool_ids=[POOL],
                per_client_limit=unlimited,
                global_limit=unlimited,
                rejection_penalty=0,  # the expired link's client goes on
            )
            transport = httpx.ASGITransport(app=app, client=("198.51.100.7", 5000))
            async with httpx.AsyncClient(transport=transport, base_url=APP_ORIGIN) as http:
                for i in range(5):
                    # A fresh event each time: the app remembers deliveries.
                    value = "invalid" if i % 2 else "valid"
                    pages.extend(await click_link(http, s, f"event-{i}", value))
                pages.append(await http.get("/f?value=valid&token=" + s.token))  # a bad link

    with every_log_record() as records, faultserver.serve(*script) as server:
        asyncio.run(main(server.url))
    statuses = [page.status_code for page in pages]
    assert statuses == [200, 200, 200, 400, 200, 503, 200, 503, 200, 502, 400], statuses
    # The control: the confirmation page does carry the token, in its form.
    assert s.token in html.unescape(pages[0].text)
    for page in pages:
        assert page_leaks(s, page) == [], page.text
    app_records = [r for r in records if APP_ORIGIN not in r.getMessage()]
    assert any(r.name == "cognito_raw.links" for r in app_records)
    harness = [r for r in records if APP_ORIGIN in r.getMessage()]
    assert harness
    assert all(r.name == "httpx" for r in harness), "only the test's own client logs the link"
    for record in app_records:
        assert s.leaks(rendered(record)) == [], rendered(record)


def test_a_username_inside_the_token_does_not_unmask_the_token() -> None:
    # Scrubbing the username first would cut the token's echo in two.
    username, token = "zqxw", "AbCzqxwXyZ0123456789secretsecret"
    body = json.dumps({"__type": "NotAuthorizedException", "message": f"{token} for {username}"})
    with pytest.raises(CognitoError) as info:
        parse_response(400, {}, body.encode(), secrets=(username, token))
    for text in (str(info.value), repr(info.value), str(info.value.message)):
        assert "XyZ0123456789" not in text, text
        assert username not in text, text
