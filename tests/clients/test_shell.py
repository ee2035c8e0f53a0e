"""What every client shell shares: the body decoding rule, and waits bounded by the call deadline.

``decode_body`` is the one rule for a reply body (``cognito_raw/_clients/shell.py``):
a body labelled ``gzip``/``x-gzip``/``deflate`` counts as compressed only if it
is one complete stream of that coding; anything else is read exactly as it
came. Then the rule through both clients, and the rate limiter under the
call's deadline: a call that cannot get a slot in time fails at once and
sends nothing, and a caller that leaves gives its slot back.
"""

from __future__ import annotations

import asyncio
import gzip
import threading
import time
import zlib
from typing import Any, Final

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cognito_raw import (
    AsyncClient,
    Client,
    ProtocolError,
    RateLimiter,
    RequestTimeoutError,
    RetryPolicy,
    UpdateAuthEventFeedbackResponse,
)
from cognito_raw._clients.shell import decode_body
from cognito_raw.testing import FakeCognito

LIMIT: Final = 64 * 1024


def deflate_raw(data: bytes) -> bytes:
    packer = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return packer.compress(data) + packer.flush()


JSON: Final = b'{"__type":"NotAuthorizedException","message":"m"}'
GZ: Final = gzip.compress(JSON)

# (label, body on the wire, body read, cut at the limit)
DECODING: Final = [
    (None, JSON, JSON, False),
    ("identity", JSON, JSON, False),
    ("gzip", GZ, JSON, False),
    ("x-gzip", GZ, JSON, False),
    ("GZIP", GZ, JSON, False),
    ("gzip, identity", GZ, JSON, False),  # the first value counts
    ("identity, gzip", GZ, GZ, False),
    ("deflate", zlib.compress(JSON), JSON, False),
    ("deflate", deflate_raw(JSON), JSON, False),  # bare deflate data, as some servers send
    ("gzip", b"{}", b"{}", False),  # a proxy's false label: the body as it came
    ("gzip", GZ[:-6], GZ[:-6], False),  # cut short: never a silent prefix
    ("gzip", GZ[:20], GZ[:20], False),
    ("deflate", zlib.compress(JSON)[:-3], zlib.compress(JSON)[:-3], False),
    ("gzip", GZ + b"trailing", GZ + b"trailing", False),  # a stream, then other bytes
    ("br", GZ, GZ, False),  # a coding we never asked for and do not read
    ("gzip", gzip.compress(b"{" + b" " * LIMIT), b"{" + b" " * (LIMIT - 1), True),
    ("gzip", gzip.compress(b" " * LIMIT), b" " * LIMIT, False),  # exactly the limit
    ("gzip", b"", b"", False),
]


@pytest.mark.parametrize(("label", "wire", "read", "cut"), DECODING)
def test_decoding_table(label: str | None, wire: bytes, read: bytes, cut: bool) -> None:
    assert decode_body(wire, label, LIMIT) == (read, cut)
    if label is not None:
        assert decode_body(wire, label.encode(), LIMIT) == (read, cut)


@given(data=st.binary(max_size=2000), cut=st.integers(min_value=0))
def test_a_cut_stream_is_never_decoded_to_a_prefix(data: bytes, cut: int) -> None:
    whole = gzip.compress(data)
    part = whole[: cut % len(whole)]
    assert decode_body(part, "gzip", LIMIT) == (part, False)
    assert decode_body(whole, "gzip", LIMIT) == (data, False)


@given(data=st.binary(max_size=4000), limit=st.integers(min_value=0, max_value=5000))
def test_decoded_bodies_stop_at_the_limit(data: bytes, limit: int) -> None:
    body, cut = decode_body(zlib.compress(data), "deflate", limit)
    assert cut == (len(data) > limit)
    assert body == data[:limit]


FEEDBACK: Final = {
    "user_pool_id": "us-east-1_AbC123",
    "username": "shell-user",
    "event_id": "c2c2cf89-c0d3-482d-aba6-99d78a5b0bfe",
    "feedback_token": "ShellToken123",
    "feedback_value": "valid",
}


def one_call(flavor: str, transport: httpx.MockTransport) -> Any:
    if flavor == "sync":
        with Client(http_client=httpx.Client(transport=transport)) as client:
            return client.update_auth_event_feedback(**FEEDBACK)

    async def go() -> Any:
        http = httpx.AsyncClient(transport=transport)
        async with AsyncClient(http_client=http) as client:
            return await client.update_auth_event_feedback(**FEEDBACK)

    return asyncio.run(go())


@pytest.mark.parametrize("flavor", ["sync", "async"])
def test_a_success_falsely_labelled_gzip_is_a_success(flavor: str) -> None:
    transport = httpx.MockTransport(
        # A stream, not content=: httpx would decode content= at construction.
        lambda _: httpx.Response(
            200, headers={"Content-Encoding": "gzip"}, stream=httpx.ByteStream(b"{}")
        )
    )
    assert isinstance(one_call(flavor, transport), UpdateAuthEventFeedbackResponse)


@pytest.mark.parametrize("flavor", ["sync", "async"])
def test_a_truncated_gzip_success_is_not_a_success(flavor: str) -> None:
    body = gzip.compress(b"{" + b" " * 100 + b"}")[:-10]
    transport = httpx.MockTransport(
        lambda _: httpx.Response(
            200, headers={"Content-Encoding": "gzip"}, stream=httpx.ByteStream(body)
        )
    )
    with pytest.raises(ProtocolError):
        one_call(flavor, transport)


RATE: Final = 5
DEADLINE: Final = 1.0
CALLS: Final = 40


def fake_http(fake: FakeCognito, flavor: str) -> httpx.Client | httpx.AsyncClient:
    if flavor == "sync":
        return httpx.Client(transport=fake.transport)
    return httpx.AsyncClient(transport=fake.transport)


@pytest.mark.parametrize("flavor", ["sync", "async"])
def test_calls_that_cannot_get_a_slot_before_the_deadline_fail_at_once(flavor: str) -> None:
    # 40 calls at once, 5 a second, 1 s each: those with no slot in their
    # second end at once with a timeout, sending nothing; none outlives it.
    fake = FakeCognito()
    events = [fake.seed() for _ in range(CALLS)]
    outcomes: list[tuple[float, object]] = []
    lock = threading.Lock()
    options: dict[str, Any] = {
        "rate_limit": RATE,
        "retry": RetryPolicy(deadline=DEADLINE),
        "http_client": fake_http(fake, flavor),
    }

    def record(started: float, outcome: object) -> None:
        with lock:
            outcomes.append((time.monotonic() - started, outcome))

    if flavor == "sync":
        with Client(**options) as client:

            def one(event: Any) -> None:
                started = time.monotonic()
                try:
                    record(started, client.send(event.request("valid")))
                except RequestTimeoutError as exc:
                    record(started, exc)

            threads = [threading.Thread(target=one, args=(e,)) for e in events]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=10)
    else:

        async def one(client: AsyncClient, event: Any) -> None:
            started = time.monotonic()
            try:
                record(started, await client.send(event.request("valid")))
            except RequestTimeoutError as exc:
                record(started, exc)

        async def main() -> None:
            async with AsyncClient(**options) as client:
                await asyncio.gather(*(one(client, e) for e in events))

        asyncio.run(main())

    assert len(outcomes) == CALLS
    succeeded = [o for _, o in outcomes if isinstance(o, UpdateAuthEventFeedbackResponse)]
    refused = [o for _, o in outcomes if isinstance(o, RequestTimeoutError)]
    assert len(succeeded) + len(refused) == CALLS
    # The burst, then a slot every 0.2 s within the second.
    assert RATE <= len(succeeded) <= RATE + RATE * DEADLINE + 1
    assert all(o.attempts == 0 for o in refused)
    assert len(fake.requests) == len(succeeded)  # a refused call sent nothing
    assert max(elapsed for elapsed, _ in outcomes) < DEADLINE + 0.5
    slow_refusals = [e for e, o in outcomes if isinstance(o, RequestTimeoutError) and e > 0.2]
    assert slow_refusals == [], "a call without a slot waited before failing"


def test_cancelled_callers_give_their_slots_back() -> None:
    # A spent limiter (1 a second); 30 callers queue for slots up to 30 s
    # away and are cancelled; a new call then waits for one slot, not 31.
    fake = FakeCognito()
    event = fake.seed()

    async def main() -> float:
        limiter = RateLimiter(1, burst=1)
        limiter.reserve()
        async with AsyncClient(rate_limit=limiter, http_client=fake_http(fake, "async")) as c:
            waiting = [asyncio.create_task(c.send(event.request("valid"))) for _ in range(30)]
            await asyncio.sleep(0.1)
            for task in waiting:
                task.cancel()
            await asyncio.gather(*waiting, return_exceptions=True)
            started = time.monotonic()
            await c.send(event.request("valid"))
            return time.monotonic() - started

    waited = asyncio.run(main())
    assert waited < 3.0  # one slot away (about 1 s), where 31 were queued before
    assert len(fake.requests) == 1
