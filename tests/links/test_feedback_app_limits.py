"""The feedback app's limits: numeric headers, client keys, and what a crowd can lock out.

The app is driven straight through ASGI (one scope per POST) with a fake clock, so
a crowd of addresses and minutes of simulated time cost milliseconds and no test
waits on real time. The lockout figures in docs/feedback-app.md's "Operating the
feedback app" come from ``longest_lockout`` below.
"""

from __future__ import annotations

import asyncio
import ipaddress
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from cognito_raw import (
    NotAuthorizedException,
    UpdateAuthEventFeedbackRequest,
    UpdateAuthEventFeedbackResponse,
    ValidationError,
)
from cognito_raw._call.limiter import TokenBucket
from cognito_raw.links import (
    DEFAULT_GLOBAL_LIMIT,
    DEFAULT_PER_CLIENT_LIMIT,
    FeedbackApp,
    RateLimit,
    client_key,
    feedback_app,
)
from tests.links.test_feedback_app import FakeClock

POOL = "us-east-1_AbC123"
REAL_TOKEN = "RealToken-123="  # made up
CSRF = "c" * 24


class JudgingSender:
    """Cognito's verdict, instantly: the real token is accepted, any other rejected."""

    def __init__(self) -> None:
        self.calls: list[UpdateAuthEventFeedbackRequest] = []
        self.gate: asyncio.Event | None = None

    async def send(
        self, request: UpdateAuthEventFeedbackRequest, /
    ) -> UpdateAuthEventFeedbackResponse:
        self.calls.append(request)
        if self.gate is not None:
            await self.gate.wait()
        if request.feedback_token != REAL_TOKEN:
            raise NotAuthorizedException(
                code="NotAuthorizedException", message="Invalid token.", status_code=400
            )
        return UpdateAuthEventFeedbackResponse(request_id="r")


def form(event: str, token: str, **extra: str) -> dict[str, str]:
    return {
        "value": "valid",
        "pool": POOL,
        "event": event,
        "token": token,
        "username": "someone",
        "csrf": CSRF,
        **extra,
    }


async def post(
    app: FeedbackApp,
    address: str,
    fields: dict[str, str] | None = None,
    *,
    headers: list[tuple[bytes, bytes]] | None = None,
    body: bytes | None = None,
) -> int:
    """One POST straight through ASGI, as a non-browser sends it; the status."""
    if body is None:
        body = urllib.parse.urlencode(fields or {}).encode()
    if headers is None:
        headers = [(b"content-length", str(len(body)).encode())]
    scope = {
        "type": "http",
        "method": "POST",
        "scheme": "https",
        "path": "/feedback",
        "query_string": b"",
        "client": (address, 50000),
        "headers": [
            (b"host", b"testserver"),
            (b"content-type", b"application/x-www-form-urlencoded"),
            # No Fetch Metadata, no Origin: the double-submit cookie decides,
            # which a script outside a browser passes by sending both.
            (b"cookie", f"__Host-cognito-raw-csrf={CSRF}".encode()),
            *headers,
        ],
    }
    messages = [{"type": "http.request", "body": body, "more_body": False}]
    statuses: list[int] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    await app(scope, receive, send)
    (status,) = statuses
    return status


# --- numbers in headers ------------------------------------------------------------------

NUMBERS = [
    ("12", None),
    ("0", None),
    ("0012", None),
    ("\u00b2", 400),  # SUPERSCRIPT TWO: str.isdigit() says yes (the reported one)
    ("\u0663", 400),  # ARABIC-INDIC DIGIT THREE: int() reads it
    ("1_0", 400),  # int() reads it as 10
    ("+12", 400),
    ("-1", 400),
    ("1e3", 400),
    (" ", 400),
    ("0x10", 400),
    ("9" * 17, 400),  # longer than any length the app bounds
    ("9" * 16, 413),
    ("99999", 413),
]


@pytest.mark.parametrize(("value", "status"), NUMBERS)
def test_content_length_is_ascii_digits_or_a_400(value: str, status: int | None) -> None:
    sender = JudgingSender()
    app = feedback_app(client=sender, user_pool_ids=[POOL])
    body = urllib.parse.urlencode(form("e1", REAL_TOKEN)).encode()
    header = [(b"content-length", value.encode("latin-1", "replace"))]
    if not value.isascii():
        header = [(b"content-length", value.encode("utf-8"))]
    got = asyncio.run(post(app, "192.0.2.1", headers=header, body=body))
    # A well-formed length is not the app's business to check against the body
    # (the server frames it); the app answers as usual.
    assert got == (status or 200)
    assert len(sender.calls) == (0 if status else 1)


def test_a_repeated_content_length_is_a_400() -> None:
    app = feedback_app(client=JudgingSender(), user_pool_ids=[POOL])
    twice = [(b"content-length", b"5"), (b"content-length", b"5")]
    assert asyncio.run(post(app, "192.0.2.1", headers=twice, body=b"a=1&b")) == 400


@given(st.text(st.characters(codec="latin-1"), min_size=1, max_size=20))
def test_any_content_length_is_a_number_or_a_400(value: str) -> None:
    # Never an exception out of the app: a number of ASCII digits, or a 400.
    app = feedback_app(client=JudgingSender(), user_pool_ids=[POOL])
    header = [(b"content-length", value.encode("latin-1"))]
    body = urllib.parse.urlencode(form("e1", REAL_TOKEN)).encode()
    got = asyncio.run(post(app, "192.0.2.1", headers=header, body=body))
    text = value.strip()
    if text.isascii() and text.isdigit() and len(text) <= 16:
        assert got == (413 if int(text) > 3 * 16_384 else 200)
    else:
        assert got == 400


# --- client keys -----------------------------------------------------------------------

KEYS = [
    ("192.0.2.1", 64, "192.0.2.1"),
    ("2001:db8:1:2:aaaa:bbbb:cccc:dddd", 64, "2001:db8:1:2::/64"),
    ("2001:db8:1:2::1", 64, "2001:db8:1:2::/64"),
    ("2001:db8:1:3::1", 64, "2001:db8:1:3::/64"),
    ("2001:db8:1:2:aaaa::1", 56, "2001:db8:1::/56"),
    ("2001:db8::1", 128, "2001:db8::1/128"),
    ("::ffff:192.0.2.1", 64, "192.0.2.1"),  # IPv4-mapped: the IPv4 address
    ("fe80::1%eth0", 64, "fe80::/64"),  # a zone is not part of the key
    ("unknown", 64, "unknown"),
    ("/run/app.sock", 64, "/run/app.sock"),
]


@pytest.mark.parametrize(("address", "prefix", "key"), KEYS)
def test_client_key(address: str, prefix: int, key: str) -> None:
    assert client_key(address, ipv6_prefix_length=prefix) == key


@given(
    st.ip_addresses(v=6),
    st.integers(min_value=0, max_value=2**64 - 1),
    st.integers(1, 128),
)
def test_every_address_of_a_network_shares_its_key(
    address: ipaddress.IPv6Address, other_host: int, prefix: int
) -> None:
    network = ipaddress.IPv6Network((address, prefix), strict=False)
    sibling = network[other_host % network.num_addresses]
    # An IPv4-mapped address is keyed as IPv4 (a row of KEYS).
    assume(address.ipv4_mapped is None and sibling.ipv4_mapped is None)
    key = client_key(str(address), ipv6_prefix_length=prefix)
    assert key == client_key(str(sibling), ipv6_prefix_length=prefix)
    assert ipaddress.IPv6Network(key) == network


@pytest.mark.parametrize("bad", [0, 129, -1])
def test_ipv6_prefix_length_is_checked(bad: int) -> None:
    with pytest.raises(ValidationError):
        feedback_app(client=JudgingSender(), user_pool_ids=[POOL], ipv6_prefix_length=bad)


def test_one_ipv6_64_is_one_client() -> None:
    clock = FakeClock()
    sender = JudgingSender()
    app = feedback_app(
        client=sender,
        user_pool_ids=[POOL],
        clock=clock,
        per_client_limit=RateLimit(rate=0.1, burst=2),
    )

    async def main() -> list[int]:
        return [
            await post(app, f"2001:db8:1:2::{n:x}", form(f"e{n}", REAL_TOKEN)) for n in range(1, 5)
        ]

    # The burst of two, then the whole /64 waits.
    assert asyncio.run(main()) == [200, 200, 429, 429]


# --- junk does not spend the global bucket ---------------------------------------------


def test_posts_that_will_not_call_cognito_spend_nothing_global() -> None:
    clock = FakeClock()
    sender = JudgingSender()
    app = feedback_app(
        client=sender,
        user_pool_ids=[POOL],
        clock=clock,
        global_limit=RateLimit(rate=0.001, burst=1),  # one call in the whole test
        per_client_limit=RateLimit(rate=1000, burst=1000),
    )
    junk = [
        form("e1", REAL_TOKEN, pool="eu-west-1_Other"),  # a pool not allowed
        form("bad event!", REAL_TOKEN),  # not a valid event ID
        form("e1", "bad token!"),  # not a valid token
        form("e1", REAL_TOKEN, csrf="x" * 24),  # CSRF fails
        {"value": "valid", "csrf": CSRF},  # fields missing
    ]

    async def main() -> list[int]:
        statuses = [await post(app, f"192.0.2.{n}", fields) for n, fields in enumerate(junk, 1)]
        statuses.append(await post(app, "198.51.100.1", form("e1", REAL_TOKEN)))
        return statuses

    assert asyncio.run(main()) == [400, 400, 400, 403, 400, 200]
    assert len(sender.calls) == 1


def test_a_client_has_one_call_of_its_own_in_flight() -> None:
    sender = JudgingSender()
    app = feedback_app(client=sender, user_pool_ids=[POOL])

    async def main() -> list[int]:
        sender.gate = asyncio.Event()
        first = asyncio.ensure_future(post(app, "192.0.2.1", form("e1", "junk-1")))
        double = asyncio.ensure_future(post(app, "192.0.2.1", form("e1", "junk-1")))
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        # Another submission from the same client, while its call is in flight.
        second = await post(app, "192.0.2.1", form("e2", "junk-2"))
        other = asyncio.ensure_future(post(app, "192.0.2.2", form("e3", "junk-3")))
        await asyncio.sleep(0)
        sender.gate.set()
        return [await first, await double, second, await other]

    # The double click joins the call in flight; the second submission is "try again".
    assert asyncio.run(main()) == [400, 400, 503, 400]
    assert [call.event_id for call in sender.calls] == ["e1", "e3"]


def test_a_rejected_link_holds_its_client_back() -> None:
    clock = FakeClock()
    app = feedback_app(
        client=JudgingSender(), user_pool_ids=[POOL], clock=clock, rejection_penalty=60
    )

    async def main() -> list[int]:
        statuses = [await post(app, "192.0.2.1", form("e1", "junk"))]
        statuses.append(await post(app, "192.0.2.1", form("e2", REAL_TOKEN)))
        clock.now += 59.9
        statuses.append(await post(app, "192.0.2.1", form("e3", REAL_TOKEN)))
        clock.now += 0.1
        statuses.append(await post(app, "192.0.2.1", form("e4", REAL_TOKEN)))
        # A link Cognito accepted holds nothing back: the next POST waits only
        # for the per-client rate (one per 5 s by default).
        clock.now += 5
        statuses.append(await post(app, "192.0.2.1", form("e5", REAL_TOKEN)))
        return statuses

    assert asyncio.run(main()) == [400, 429, 429, 200, 200]


@pytest.mark.parametrize("bad", [-1.0, float("nan"), float("inf")])
def test_rejection_penalty_is_checked(bad: float) -> None:
    with pytest.raises(ValidationError):
        feedback_app(client=JudgingSender(), user_pool_ids=[POOL], rejection_penalty=bad)


# --- how long can a crowd lock real users out? -----------------------------------------


@dataclass
class Crowd:
    """An adversary that knows the app's limits and paces its junk to keep the
    global bucket empty: it sends from an address only when its own model of that
    address's bucket and of the global bucket has a token, and learns from a 429
    that an address is held back (for the default penalty)."""

    addresses: list[str]
    now: float
    per_client: RateLimit = DEFAULT_PER_CLIENT_LIMIT
    global_limit: RateLimit = DEFAULT_GLOBAL_LIMIT
    held_for: float = 60.0
    buckets: dict[str, TokenBucket] = field(default_factory=dict)
    held_until: dict[str, float] = field(default_factory=dict)
    global_model: TokenBucket | None = None
    sent: int = 0

    def __post_init__(self) -> None:
        self.global_model = TokenBucket(self.global_limit.rate, self.global_limit.burst, self.now)
        for address in self.addresses:
            self.buckets[address] = TokenBucket(
                self.per_client.rate, self.per_client.burst, self.now
            )

    def ready(self, now: float) -> Iterator[str]:
        assert self.global_model is not None
        for address in self.addresses:
            if self.held_until.get(address, 0.0) > now:
                continue
            if self.global_model.take(now) > 0:
                return
            if self.buckets[address].take(now) > 0:
                # Not sent: the global token stays (the latest taken, so it comes back).
                self.global_model.give_back(self.global_model.ticket)
                continue
            yield address

    def refused(self, address: str, now: float) -> None:
        # A 429: held back. The app never took the global token the model
        # counted: the model puts it back in its own count.
        assert self.global_model is not None
        self.held_until[address] = now + self.held_for
        model = self.global_model
        model.tokens = min(float(model.burst), model.tokens + 1.0)


def longest_lockout(
    crowd_addresses: list[str], *, seconds: float, step: float = 0.1, **options: Any
) -> tuple[float, int]:
    """The longest run of simulated time in which every real user's click failed.

    Each step the crowd sends what its model allows, then one new real user (a new
    address and a real link) clicks. Returns (seconds, Cognito calls the crowd made).
    """
    clock = FakeClock()
    sender = JudgingSender()
    app = feedback_app(client=sender, user_pool_ids=[POOL], clock=clock, **options)
    crowd = Crowd(crowd_addresses, clock.now)

    async def main() -> float:
        longest = current = 0.0
        for n in range(round(seconds / step)):
            for address in list(crowd.ready(clock.now)):
                crowd.sent += 1
                status = await post(app, address, form(f"junk-{crowd.sent}", "junk"))
                if status == 429:
                    crowd.refused(address, clock.now)
            real = f"198.18.{n // 250}.{n % 250 + 1}"
            if await post(app, real, form(f"real-{n}", REAL_TOKEN)) == 200:
                current = 0.0
            else:
                current += step
                longest = max(longest, current)
            clock.now += step
        return longest

    longest = asyncio.run(main())
    junk_calls = sum(1 for call in sender.calls if call.feedback_token != REAL_TOKEN)
    return round(longest, 3), junk_calls


def ipv4_crowd(size: int) -> list[str]:
    return [f"10.0.{n // 250}.{n % 250 + 1}" for n in range(size)]


@pytest.mark.parametrize(
    ("size", "bound"),
    [
        # The reported crowd: 40 addresses, each allowed 5 POSTs at once, paced to
        # keep the bucket empty. Each address gets one call through, then is held
        # back for a minute: 40 - 20 (the global burst) calls to absorb at 10 a
        # second, about two seconds.
        (40, 3.0),
        # Larger crowds: about (N - 20) / 10 seconds, at most once a minute.
        (100, 9.0),
        (300, 29.0),
    ],
)
def test_a_crowd_locks_real_users_out_for_about_n_minus_burst_over_rate(
    size: int, bound: float
) -> None:
    lockout, junk_calls = longest_lockout(ipv4_crowd(size), seconds=130)
    assert (size - 20) / 10 - 1 <= lockout <= bound
    assert junk_calls <= 3 * size  # one per address per penalty (60 s), over 130 s


def test_without_the_penalty_40_addresses_lock_users_out_for_half_a_minute() -> None:
    # The per-client limit alone: 40 x 5 burst, then 40 x 0.2 = 8/s against a
    # global 10/s and the real users' own calls.
    lockout, _ = longest_lockout(ipv4_crowd(40), seconds=130, rejection_penalty=0)
    assert lockout >= 20


def test_a_crowd_inside_one_ipv6_64_is_one_client() -> None:
    crowd = [f"2001:db8:0:1::{n:x}" for n in range(1, 41)]
    lockout, junk_calls = longest_lockout(crowd, seconds=30)
    assert lockout == 0.0
    assert junk_calls == 1
