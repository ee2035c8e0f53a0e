"""Both clients against a fault-injecting server on a real loopback socket.

Every fault below is served by ``tests/faultserver.py`` on every attempt of a
call. Each client (``Client`` and ``AsyncClient``) is configured with nothing
but ``timeout=1.0`` and ``RetryPolicy(max_attempts=2, base_delay=0.01,
max_delay=0.02)``, and each call must:

- end with exactly the outcome in the table (a documented ``CognitoError``
  subclass, or success where the fault is benign), after exactly the listed
  number of attempts, each one seen by the server;
- end within ``attempts * 1.0 s + backoff + slack`` (and, for timeouts, not
  before ``attempts * 1.0 s``: the limit is what ended it);
- leave the client's connection pool with no request and no connection
  stuck in a request; leave no socket and no thread behind once the client
  is closed;
- allocate at most ``MAX_PEAK`` bytes at peak (``tracemalloc``, both
  clients' calls together) while a hostile server sends a 10 MiB body or a
  50 MiB gzip bomb;
- never follow a redirect (the server sees only ``POST /``).

This table is the test's data (parsed below), so the documentation and the
tests cannot drift apart. ``retried`` follows the client's rules: connection
errors, timeouts, 5xx and throttling are retried; a redirect, a 2xx that is
not a JSON object and any other 4xx are not.

<table>
fault                              outcome                      retried  attempts
reset_before_status                TransportError               yes      2
close_before_status                TransportError               yes      2
reset_mid_body                     TransportError               yes      2
never_answer                       RequestTimeoutError          yes      2
trickle_slower_than_read_timeout   RequestTimeoutError          yes      2
trickle_body_under_read_timeout    RequestTimeoutError          yes      2
truncated_body                     TransportError               yes      2
content_length_too_long            RequestTimeoutError          yes      2
content_length_too_short           ProtocolError                no       1
huge_body_200                      ProtocolError                no       1
huge_body_400_coded                NotAuthorizedException       no       1
huge_body_500                      ServiceError                 yes      2
huge_blank_body_200                ProtocolError                no       1
gzip_bomb_200                      ProtocolError                no       1
gzip_bomb_400_coded                UserNotFoundException        no       1
gzip_blank_bomb_200                ProtocolError                no       1
invalid_utf8_200                   ProtocolError                no       1
invalid_utf8_400                   ServiceError                 no       1
invalid_utf8_header                NotAuthorizedException       no       1
json_array_200                     ProtocolError                no       1
json_string_200                    ProtocolError                no       1
json_null_200                      ProtocolError                no       1
json_array_400                     ServiceError                 no       1
redirect_301                       ProtocolError                no       1
redirect_302                       ProtocolError                no       1
redirect_307                       ProtocolError                no       1
redirect_308                       ProtocolError                no       1
no_content_204                     success                      no       1
reset_content_205                  success                      no       1
no_content_204_with_body           success                      no       1
continue_100_then_200              success                      no       1
continue_100_then_throttle         TooManyRequestsException     yes      2
bare_103_then_close                TransportError               yes      2
switching_protocols_101            TransportError               yes      2
http10_no_length_200               success                      no       1
http10_no_length_400               NotAuthorizedException       no       1
garbage_status_line                TransportError               yes      2
header_flood                       TransportError               yes      2
endless_chunked_200                ProtocolError                no       1
html_502                           ServiceError                 yes      2
throttled                          TooManyRequestsException     yes      2
internal_error_500                 InternalErrorException       yes      2
</table>

What the faults are (``tests/faultserver.py`` has each one's code): a RST or a
FIN before the status line; a RST after 11 of 100 body bytes; a request read
and never answered; a valid reply sent a byte every 1.5 s (slower than the
read timeout), or a head at once and then a 40-byte body a byte every 0.2 s
(never slow enough for the read timeout: the attempt's total time limit
ends it; a head trickled that way is ``test_async_bounds_a_trickled_head``'s);
a FIN after 27 of 100 body bytes; a
Content-Length 50 bytes longer than the body, the connection then held open;
a Content-Length of 5 for ``{"ok": true}``; 10 MiB bodies (``{`` then spaces,
or only spaces, with Content-Length); a 50 MiB gzip bomb sent as
``Content-Encoding: gzip`` although we ask for ``identity``; bytes that are not
UTF-8 in a body or a header; JSON arrays, strings and ``null``; redirects to
another path of the same server; 204 and 205, and a 204 with a body (which
stays on the wire); ``100 Continue`` before the real reply; a bare ``103``
then a close; a ``101 Switching Protocols`` nobody asked for; HTTP/1.0 replies
with no Content-Length, ended by the close; an SSH banner instead of HTTP;
200 KB of headers; an endless chunked body; an HTML 502; throttling; a 500.

The two ``*_blank_*`` rows fail until the bug described at
``test_fault_table`` is fixed (see the comment there).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import pytest

import cognito_raw
from cognito_raw import (
    AsyncClient,
    Client,
    CognitoError,
    RetryPolicy,
    UpdateAuthEventFeedbackResponse,
)
from tests import faultserver

TIMEOUT: Final = 1.0
POLICY: Final = RetryPolicy(max_attempts=2, base_delay=0.01, max_delay=0.02)
# Thread scheduling on a busy 2-core machine, tracemalloc's overhead, connects.
SLACK: Final = 0.75
MAX_PEAK: Final = 4 * 1024 * 1024
FEEDBACK: Final = {
    "user_pool_id": "us-east-1_AbC123",
    "username": "fault-user",
    "event_id": "c2c2cf89-c0d3-482d-aba6-99d78a5b0bfe",
    "feedback_token": "FaultToken123",
    "feedback_value": "invalid",
}


@dataclass(frozen=True)
class Row:
    """One line of the module docstring's table."""

    fault: str
    outcome: type[CognitoError] | None  # None: success
    retried: bool
    attempts: int

    @property
    def timed_out(self) -> bool:
        return self.outcome is cognito_raw.RequestTimeoutError


def _table(doc: str) -> list[Row]:
    body = doc.split("<table>\n", 1)[1].split("</table>", 1)[0]
    lines = body.strip().splitlines()
    assert lines[0].split() == ["fault", "outcome", "retried", "attempts"]
    rows = []
    for line in lines[1:]:
        fault, outcome, retried, attempts = line.split()
        cls = None if outcome == "success" else getattr(cognito_raw, outcome)
        assert cls is None or (issubclass(cls, CognitoError) and outcome in cognito_raw.__all__)
        assert fault in faultserver.FAULTS, fault
        row = Row(fault, cls, retried == "yes", int(attempts))
        assert row.attempts == (POLICY.max_attempts if row.retried else 1), line
        rows.append(row)
    return rows


TABLE: Final = _table(__doc__ or "")
FLAVORS: Final = ("sync", "async")


@dataclass
class Outcome:
    result: UpdateAuthEventFeedbackResponse | None
    error: CognitoError | None
    elapsed: float
    pool_problems: list[str]


def _pool_problems(client: Client | AsyncClient) -> list[str]:
    # After a call no connection may be left in the middle of a request:
    # each is idle or closed. httpx keeps its httpcore pool private, so the
    # test looks inside; httpcore's connection states are public.
    pool = client._http._transport._pool  # type: ignore[attr-defined]
    busy = [c for c in pool.connections if not (c.is_idle() or c.is_closed())]
    return [f"{len(busy)} connections busy: {busy}"] if busy else []


def blocking_outcome(
    send: Callable[[], UpdateAuthEventFeedbackResponse], pool_problems: Callable[[], list[str]]
) -> Outcome:
    """One blocking call, timed: its result or error, then what its pool was left with."""
    result = error = None
    started = time.monotonic()
    try:
        result = send()
    except CognitoError as exc:
        error = exc
    elapsed = time.monotonic() - started
    return Outcome(result, error, elapsed, pool_problems())


def call_sync(client: Client) -> Outcome:
    return blocking_outcome(
        lambda: client.update_auth_event_feedback(**FEEDBACK), lambda: _pool_problems(client)
    )


async def call_async(client: AsyncClient) -> Outcome:
    result = error = None
    started = time.monotonic()
    try:
        result = await client.update_auth_event_feedback(**FEEDBACK)
    except CognitoError as exc:
        error = exc
    elapsed = time.monotonic() - started
    return Outcome(result, error, elapsed, _pool_problems(client))


def calls(flavor: str, url: str, n: int = 1) -> list[Outcome]:
    """``n`` calls through one fresh client (closed before returning)."""
    if flavor == "sync":
        with Client(endpoint_url=url, timeout=TIMEOUT, retry=POLICY) as client:
            return [call_sync(client) for _ in range(n)]

    async def go() -> list[Outcome]:
        async with AsyncClient(endpoint_url=url, timeout=TIMEOUT, retry=POLICY) as client:
            return [await call_async(client) for _ in range(n)]

    return asyncio.run(go())


def open_fds() -> int:
    fd_dir = Path("/proc/self/fd")
    return len(os.listdir(fd_dir)) if fd_dir.is_dir() else 0


def resources() -> tuple[int, int]:
    """(open file descriptors, threads), once garbage from earlier tests is collected."""
    gc.collect()
    return open_fds(), threading.active_count()


def settled(expected: tuple[int, int], timeout: float = 2.0) -> tuple[int, int]:
    """``resources()`` once it equals ``expected``, or after ``timeout`` seconds.

    Threads of other tests' servers may still be closing their sockets for a
    moment; a leak of ours never settles.
    """
    deadline = time.monotonic() + timeout
    while True:
        now = resources()
        if now == expected or time.monotonic() > deadline:
            return now
        time.sleep(0.02)


@contextlib.contextmanager
def peak_memory() -> Iterator[list[int]]:
    """tracemalloc's peak over the block, appended to the yielded list."""
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    tracemalloc.reset_peak()
    peak: list[int] = []
    try:
        yield peak
    finally:
        peak.append(tracemalloc.get_traced_memory()[1])
        if not was_tracing:
            tracemalloc.stop()


def check_outcome(row: Row, outcome: Outcome, where: str) -> None:
    if row.outcome is None:
        assert outcome.error is None, f"{where}: {outcome.error!r}"
        assert outcome.result is not None
        assert outcome.result.attempts == row.attempts, where
        return
    assert type(outcome.error) is row.outcome, f"{where}: {outcome.error!r}"
    assert outcome.error.attempts == row.attempts, where
    assert len(outcome.error.errors) == row.attempts - 1, where
    assert all(isinstance(e, CognitoError) for e in outcome.error.errors), where


@pytest.mark.parametrize("row", TABLE, ids=[row.fault for row in TABLE])
def test_fault_table(row: Row) -> None:
    """Both clients at once (one server each), so the timeout rows cost 2 s, not 4."""
    # BUG (reported; fix in cognito_raw/_clients/httpx_client.py, _call/driver.py and
    # _core/protocol.py): the rows huge_blank_body_200 and gzip_blank_bomb_200 fail today. The
    # client reads at most 64 KiB of a reply and hands parse_response the truncated body
    # without saying it was cut; 64 KiB of spaces look like an empty 2xx body, so a 10 MiB (or
    # 50 MiB gzip) reply of whitespace is reported as a successful delivery. A 2xx reply larger
    # than the body limit is not a Cognito answer: it must raise ProtocolError.
    outcomes: dict[str, Outcome] = {}
    with faultserver.serve(row.fault) as sync_server, faultserver.serve(row.fault) as async_server:
        before = resources()
        with peak_memory() as peak:
            worker = threading.Thread(
                target=lambda: outcomes.update(sync=calls("sync", sync_server.url)[0])
            )
            worker.start()
            outcomes["async"] = calls("async", async_server.url)[0]
            worker.join(timeout=30)
        assert not worker.is_alive()
        assert sync_server.wait_idle(), "the server still serves a connection"
        assert async_server.wait_idle(), "the server still serves a connection"
        after = settled(before)
        seen = {"sync": sync_server, "async": async_server}

        for flavor, outcome in outcomes.items():
            where = f"{row.fault} ({flavor})"
            check_outcome(row, outcome, where)
            server = seen[flavor]
            assert server.exchanges == row.attempts, f"{where}: each attempt, and no more"
            assert server.paths == ["/"] * row.attempts, f"{where}: no redirect followed"
            backoff = (row.attempts - 1) * POLICY.max_delay
            assert outcome.elapsed < row.attempts * TIMEOUT + backoff + SLACK, where
            if row.timed_out:
                assert outcome.elapsed >= row.attempts * TIMEOUT * 0.95, where
            assert outcome.pool_problems == [], where
    assert sorted(outcomes) == ["async", "sync"]
    # Both calls together, while the servers send 10 MiB bodies or gzip bombs.
    assert peak[0] < MAX_PEAK, f"{peak[0]} bytes allocated at peak"
    assert after == before, "(open file descriptors, threads) before and after"


RECOVERABLE: Final = [row for row in TABLE if row.retried and not row.timed_out]
NOT_RETRIED: Final = [row for row in TABLE if not row.retried]


@pytest.mark.parametrize("flavor", FLAVORS)
@pytest.mark.parametrize("row", RECOVERABLE, ids=[row.fault for row in RECOVERABLE])
def test_a_retried_fault_then_a_good_reply_is_a_success(row: Row, flavor: str) -> None:
    with faultserver.serve(row.fault, "ok") as server:
        (outcome,) = calls(flavor, server.url)
    assert outcome.error is None, repr(outcome.error)
    assert outcome.result is not None
    assert outcome.result.attempts == 2
    assert outcome.pool_problems == []


@pytest.mark.parametrize("flavor", FLAVORS)
@pytest.mark.parametrize("row", NOT_RETRIED, ids=[row.fault for row in NOT_RETRIED])
def test_the_next_call_on_the_same_client_still_works(row: Row, flavor: str) -> None:
    # Whatever a fault left on a kept-alive connection (a 204's stray body,
    # a half-read reply), the pool must not hand it to the next call as good.
    with faultserver.serve(row.fault, "ok") as server:
        first, second = calls(flavor, server.url, n=2)
    assert first.error is None or type(first.error) is row.outcome
    assert second.error is None, f"{row.fault}: {second.error!r}"
    assert second.result is not None
    assert second.result.attempts <= POLICY.max_attempts
    assert second.pool_problems == []


FAST: Final = [row for row in TABLE if not row.timed_out]


def one_round_sync(server: faultserver.FaultServer) -> list[Outcome]:
    with Client(endpoint_url=server.url, timeout=TIMEOUT, retry=POLICY) as client:
        outcomes = []
        for row in FAST:
            server.set_script(row.fault)
            outcomes.append(call_sync(client))
        return outcomes


async def one_round_async(server: faultserver.FaultServer) -> list[Outcome]:
    async with AsyncClient(endpoint_url=server.url, timeout=TIMEOUT, retry=POLICY) as client:
        outcomes = []
        for row in FAST:
            server.set_script(row.fault)
            outcomes.append(await call_async(client))
        return outcomes


@pytest.mark.parametrize("flavor", FLAVORS)
def test_repeated_runs_do_not_grow_sockets_or_threads(flavor: str) -> None:
    """Every fast fault in turn through one client; three rounds: the counts stay flat."""
    # Fails today for the two *_blank_* rows only (see test_fault_table).
    counts: list[tuple[int, int]] = []
    with faultserver.serve("ok") as server:
        before = resources()
        for _ in range(3):
            if flavor == "sync":
                outcomes = one_round_sync(server)
            else:
                outcomes = asyncio.run(one_round_async(server))
            assert server.wait_idle()
            counts.append(settled(before))
            for row, outcome in zip(FAST, outcomes, strict=True):
                # One connection serves many faults here, so a fault can meet
                # the leftovers of the one before (a 204's stray body) and
                # take an extra attempt: the class is what must hold.
                if row.outcome is None:
                    assert outcome.error is None, f"{row.fault}: {outcome.error!r}"
                else:
                    assert type(outcome.error) is row.outcome, f"{row.fault}: {outcome.error!r}"
                assert outcome.pool_problems == []
    assert counts == [before] * 3


def test_async_bounds_a_trickled_head() -> None:
    """A reply head sent a byte every 0.2 s: the AsyncClient's attempt ends at its total.

    The whole async attempt runs in one cancel scope. The blocking Client
    cannot promise this (httpx has no total timeout for blocking I/O): its
    bound is each read timeout, and the deadline between body chunks (the
    ``trickle_*`` rows above).
    """
    with faultserver.serve("trickle_under_read_timeout") as server:
        (outcome,) = calls("async", server.url)
    assert type(outcome.error) is cognito_raw.RequestTimeoutError, repr(outcome.error)
    assert outcome.error.attempts == POLICY.max_attempts
    assert POLICY.max_attempts * TIMEOUT * 0.95 <= outcome.elapsed
    assert outcome.elapsed < POLICY.max_attempts * TIMEOUT + POLICY.max_delay + SLACK
    assert outcome.pool_problems == []
