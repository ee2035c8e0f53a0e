"""Concurrency and load: 1,000 calls through one client against the fake, faults mixed in.

One ``AsyncClient`` runs 1,000 calls at once (``asyncio.gather``); one sync
``Client`` is shared by 32 threads for another 1,000. Both talk HTTP/1.1 to
``FakeCognito().serve()`` on 127.0.0.1, with the fake scripted to answer a
random 30% of the first 1,200 requests with a fault: throttling (400
``TooManyRequestsException``), a 500 ``InternalErrorException``, a dropped
connection before the request is applied, or a dropped connection after it
was applied (the reply is lost, not the request). Each call is for its own
auth event, so the fake's record can be checked call by call:

- every call resolves exactly once, as a success or a ``CognitoError``;
- every call that reported success has its feedback recorded by the fake,
  with the value sent (nothing lost);
- no event received more requests than the retry policy allows, nor more
  than the client counted attempts;
- feedback is applied at most once per request, and a call that failed had
  its feedback applied only by a request whose reply was lost.

And the fake itself: its loopback server must take a burst of 200
simultaneous connections (one request each), as a client's pool opens them.

Bounded: 1,000 calls each, a retry policy with millisecond delays, and an
overall time limit; each test takes a few seconds on two cores.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from cognito_raw import (
    AsyncClient,
    Client,
    CognitoError,
    RetryPolicy,
    UpdateAuthEventFeedbackRequest,
    UpdateAuthEventFeedbackResponse,
    build_request,
)
from cognito_raw.testing import AuthEvent, FakeCognito
from tests import faultserver

CALLS: Final = 1000
THREADS: Final = 32
FAULT_SLOTS: Final = 1200
# Millisecond backoff; a budget large enough that the 30% fault rate, not the
# retry quota, decides who gives up (the quota has its own tests).
POLICY: Final = RetryPolicy(
    max_attempts=4, base_delay=0.001, max_delay=0.005, retry_budget=100_000
)
TIME_LIMIT: Final = 20.0

Outcome = UpdateAuthEventFeedbackResponse | CognitoError


def script_faults(fake: FakeCognito, seed: int) -> collections.Counter[str]:
    """Script ``FAULT_SLOTS`` replies, 30% of them faults; return the plan's counts."""
    rng = random.Random(seed)
    kinds = rng.choices(
        ["pass", "throttle", "fail", "drop", "drop_applied"],
        weights=[70, 10, 10, 5, 5],
        k=FAULT_SLOTS,
    )
    adders: dict[str, Callable[[int], None]] = {
        # A zero delay is a pass-through slot: the request is handled normally.
        "pass": lambda n: fake.delay(0.0, n=n),
        "throttle": fake.throttle,
        "fail": fake.fail,
        "drop": fake.drop_connection,
        "drop_applied": lambda n: fake.drop_connection(n, applied=True),
    }
    for kind, group in itertools.groupby(kinds):
        adders[kind](len(list(group)))
    return collections.Counter(kinds)


def make_events(fake: FakeCognito, n: int) -> list[AuthEvent]:
    pool = fake.create_user_pool()
    fake.create_user(pool, "load-user")
    return [fake.create_auth_event(pool, "load-user") for _ in range(n)]


def request_for(event: AuthEvent, i: int) -> UpdateAuthEventFeedbackRequest:
    return event.request("valid" if i % 2 else "invalid")


@dataclass
class Summary:
    successes: int
    errors: collections.Counter[str]


def check_record(
    fake: FakeCognito, events: list[AuthEvent], outcomes: dict[int, list[Outcome]]
) -> Summary:
    """The invariants of the module docstring, call by call."""
    assert sorted(outcomes) == list(range(len(events))), "every call resolved"
    assert all(len(got) == 1 for got in outcomes.values()), "and exactly once"

    requests = fake.requests
    by_event: dict[str, list[bool]] = collections.defaultdict(list)
    for received in requests:
        assert received.data is not None
        by_event[str(received.data["EventId"])].append(received.applied)
    faults = collections.Counter(r.fault for r in requests)
    for kind in ("throttle", "fail", "drop"):
        assert faults[kind] > 0, faults

    successes = 0
    errors: collections.Counter[str] = collections.Counter()
    for i, event in enumerate(events):
        (outcome,) = outcomes[i]
        sent = by_event.get(event.event_id, [])
        applied = fake.feedback_count(event.user_pool_id, event.event_id)
        assert len(sent) <= POLICY.max_attempts, f"event {i}: {len(sent)} requests"
        assert applied <= len(sent)
        assert applied == sum(sent), "the fake applied exactly the requests it says it did"
        # The client never sends more than it counts (an attempt that failed
        # before the request was read is counted by the client only).
        if isinstance(outcome, UpdateAuthEventFeedbackResponse):
            successes += 1
            assert len(sent) <= outcome.attempts
            assert applied >= 1, f"event {i}: success reported, no feedback recorded"
            expected = str(request_for(event, i).feedback_value)
            assert fake.feedback(event.user_pool_id, event.event_id) == expected
        else:
            assert isinstance(outcome, CognitoError), repr(outcome)
            errors[type(outcome).__name__] += 1
            assert len(sent) <= outcome.attempts
            assert outcome.attempts == POLICY.max_attempts, "only exhausted retries fail here"
    assert successes + sum(errors.values()) == len(events)
    assert successes >= len(events) * 0.95, (successes, errors)
    return Summary(successes, errors)


def test_1000_async_calls_through_one_client_with_faults() -> None:
    # BUG (reported; fix in cognito_raw/_clients/httpx_client.py, AsyncClient._transmit):
    # fails today, after the 20 s limit (and ~20 s more to cancel). 1,000
    # concurrent calls all enter httpcore's pool, whose request assignment
    # costs O(queued x connections) on every pool event: the event loop
    # spends its time there and every call times out (PoolTimeout,
    # ConnectTimeout). Bound the calls in the pool with a semaphore.
    fake = FakeCognito()
    events = make_events(fake, CALLS)
    script_faults(fake, seed=7)
    outcomes: dict[int, list[Outcome]] = collections.defaultdict(list)

    async def one(client: AsyncClient, i: int) -> None:
        try:
            result: Outcome = await client.send(request_for(events[i], i))
        except CognitoError as exc:
            result = exc
        outcomes[i].append(result)

    async def main(url: str) -> None:
        async with AsyncClient(endpoint_url=url, timeout=10.0, retry=POLICY) as client:
            await asyncio.wait_for(
                asyncio.gather(*(one(client, i) for i in range(CALLS))), TIME_LIMIT
            )

    with fake.serve() as url:
        asyncio.run(main(url))
    check_record(fake, events, outcomes)


def test_1000_sync_calls_through_one_client_shared_by_32_threads() -> None:
    fake = FakeCognito()
    events = make_events(fake, CALLS)
    script_faults(fake, seed=11)
    outcomes: dict[int, list[Outcome]] = collections.defaultdict(list)
    lock = threading.Lock()
    work = iter(range(CALLS))
    unexpected: list[BaseException] = []

    def worker(client: Client) -> None:
        while True:
            with lock:
                i = next(work, None)
            if i is None:
                return
            try:
                result: Outcome = client.send(request_for(events[i], i))
            except CognitoError as exc:
                result = exc
            except BaseException as exc:
                unexpected.append(exc)
                return
            with lock:
                outcomes[i].append(result)

    with fake.serve() as url, Client(endpoint_url=url, timeout=10.0, retry=POLICY) as client:
        threads = [threading.Thread(target=worker, args=(client,)) for _ in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=TIME_LIMIT)
        assert not any(thread.is_alive() for thread in threads)
    assert unexpected == []
    check_record(fake, events, outcomes)


BURST: Final = 200
PER_CONNECTION: Final = 5.0


def test_the_fake_server_accepts_a_burst_of_connections() -> None:
    # BUG (reported; fix in cognito_raw/testing/_fake_http.py): the fake's
    # server keeps socketserver's listen backlog of 5, so a burst of
    # connections (any client with a pool, under load) overflows it and the
    # kernel resets some of them: the fake answers ReadError for requests it
    # never saw. Set ``request_queue_size = 1024`` on ``_Server``.
    fake = FakeCognito()
    events = make_events(fake, BURST)
    build = build_request_bytes

    async def post(url: str, event: AuthEvent) -> bytes:
        host, port = url.removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            writer.write(build(event))
            await writer.drain()
            return await asyncio.wait_for(reader.readline(), PER_CONNECTION)
        finally:
            writer.close()
            await writer.wait_closed()

    async def main(url: str) -> list[bytes | BaseException]:
        return await asyncio.wait_for(
            asyncio.gather(*(post(url, event) for event in events), return_exceptions=True),
            TIME_LIMIT,
        )

    with fake.serve() as url:
        lines = asyncio.run(main(url))
    failed = [line for line in lines if not isinstance(line, bytes) or b" 200 " not in line]
    assert failed == [], f"{len(failed)} of {BURST}: {failed[:3]}"
    assert len(fake.feedback_history) == BURST


def build_request_bytes(event: AuthEvent) -> bytes:
    """One UpdateAuthEventFeedback request as raw HTTP/1.1 bytes (Connection: close)."""
    http = build_request(request_for(event, 0), endpoint_url="http://127.0.0.1:1")
    head = ["POST / HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    head += [f"{name}: {value}" for name, value in http.headers.items()]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + http.body


QUEUED: Final = 250


def test_calls_queued_for_a_connection_still_end_by_their_deadline() -> None:
    # 250 calls at once against a server that never answers, with a 1 s
    # timeout and one attempt: the pool holds 10 connections, so 240 calls
    # wait for one. However the client queues them (its own semaphore, or
    # httpx's pool), the wait is part of the attempt: every call must end by
    # its 1 s deadline with RequestTimeoutError, not 1 s after the calls it
    # queued behind (a wait for a slot that is not bounded by the attempt's
    # remaining time ends the last calls at 2 s and 3 s).
    elapsed: list[float] = []
    errors: list[BaseException] = []

    async def one(client: AsyncClient, i: int) -> None:
        started = asyncio.get_running_loop().time()
        event = AuthEvent(
            user_pool_id="us-east-1_AbC123", username="q", event_id=f"e{i}", feedback_token="t"
        )
        try:
            await client.send(request_for(event, i))
        except CognitoError as exc:
            errors.append(exc)
        elapsed.append(asyncio.get_running_loop().time() - started)

    async def main(url: str) -> None:
        once = RetryPolicy(max_attempts=1)
        async with AsyncClient(endpoint_url=url, timeout=1.0, retry=once) as client:
            await asyncio.wait_for(
                asyncio.gather(*(one(client, i) for i in range(QUEUED))), TIME_LIMIT
            )

    with faultserver.serve("never_answer") as server:
        asyncio.run(main(server.url))
    assert len(errors) == QUEUED
    assert {type(e).__name__ for e in errors} == {"RequestTimeoutError"}
    assert max(elapsed) < 1.0 + 0.75, sorted(elapsed)[-5:]
