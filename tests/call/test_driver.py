"""The pure retry machinery: run_call driven by a scripted, clockless driver."""

from __future__ import annotations

import json
import pickle
from collections.abc import Sequence
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cognito_raw import (
    CognitoError,
    ProtocolError,
    RateLimiter,
    RequestTimeoutError,
    RetryPolicy,
    ServiceError,
    Timeout,
    TransportError,
    UpdateAuthEventFeedbackRequest,
    UpdateAuthEventFeedbackResponse,
    ValidationError,
    build_request,
)
from cognito_raw._call.driver import Reply, RetryBudget, Send, Sleep, run_call

HTTP = build_request(
    UpdateAuthEventFeedbackRequest(
        user_pool_id="us-east-1_A",
        username="u",
        event_id="e",
        feedback_token="t",
        feedback_value="Valid",
    )
)
OK = Reply(200, {"x-amzn-RequestId": "r"}, b"{}")
THROTTLED = Reply(400, {}, json.dumps({"__type": "TooManyRequestsException"}).encode())
INTERNAL = Reply(500, {}, json.dumps({"__type": "InternalErrorException"}).encode())
DENIED = Reply(400, {}, json.dumps({"__type": "NotAuthorizedException"}).encode())
LIMIT = Reply(400, {}, json.dumps({"__type": "LimitExceededException"}).encode())
REDIRECT = Reply(302, {}, b"")


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def drive(
    outcomes: Sequence[Reply | TransportError],
    *,
    policy: RetryPolicy | None = None,
    budget: RetryBudget | None = None,
    limiter: RateLimiter | None = None,
    clock: FakeClock | None = None,
    rand: float = 0.5,
    attempt_time: float = 0.0,
) -> tuple[UpdateAuthEventFeedbackResponse | CognitoError, list[Send | Sleep]]:
    """Run one call against scripted outcomes; return its result and the actions taken."""
    clock = clock or FakeClock()
    policy = policy or RetryPolicy()
    plan = run_call(
        HTTP,
        policy=policy,
        timeout=Timeout(),
        budget=budget or RetryBudget(policy.retry_budget),
        limiter=limiter,
        clock=clock,
        random=lambda: rand,
    )
    actions: list[Send | Sleep] = []
    script = iter(outcomes)
    try:
        action = next(plan)
        while True:
            actions.append(action)
            if isinstance(action, Sleep):
                clock.now += action.seconds
                action = plan.send(None)
            else:
                clock.now += attempt_time
                action = plan.send(next(script))
    except StopIteration as stop:
        return stop.value, actions
    except CognitoError as exc:
        return exc, actions


def sends(actions: list[Send | Sleep]) -> int:
    return sum(isinstance(a, Send) for a in actions)


def sleeps(actions: list[Send | Sleep]) -> list[float]:
    return [a.seconds for a in actions if isinstance(a, Sleep)]


# (outcomes, expected result type, sends): the table both ways: each row's
# last outcome is what the caller sees.
TABLE: list[tuple[list[Reply | TransportError], type[object], int]] = [
    ([OK], UpdateAuthEventFeedbackResponse, 1),
    ([THROTTLED, OK], UpdateAuthEventFeedbackResponse, 2),
    ([INTERNAL, THROTTLED, OK], UpdateAuthEventFeedbackResponse, 3),
    ([THROTTLED, THROTTLED, THROTTLED], ServiceError, 3),
    ([DENIED], ServiceError, 1),
    ([LIMIT], ServiceError, 1),
    ([REDIRECT], ProtocolError, 1),
    ([TransportError("reset"), OK], UpdateAuthEventFeedbackResponse, 2),
    (
        [RequestTimeoutError("slow"), RequestTimeoutError("slow"), OK],
        UpdateAuthEventFeedbackResponse,
        3,
    ),
    ([TransportError("a"), TransportError("b"), TransportError("c")], TransportError, 3),
    ([THROTTLED, DENIED], ServiceError, 2),
]


@pytest.mark.parametrize(("outcomes", "expected", "count"), TABLE)
def test_outcome_table(
    outcomes: list[Reply | TransportError], expected: type[object], count: int
) -> None:
    result, actions = drive(outcomes)
    assert isinstance(result, expected)
    assert sends(actions) == count
    if isinstance(result, UpdateAuthEventFeedbackResponse):
        assert result.attempts == count
    else:
        assert isinstance(result, CognitoError)
        assert result.attempts == count
        assert len(result.errors) == count - 1


def test_final_error_keeps_the_earlier_ones_in_order() -> None:
    first, second = TransportError("first"), RequestTimeoutError("second")
    result, _ = drive([first, second, INTERNAL])
    assert isinstance(result, ServiceError)
    assert result.errors == (first, second)
    assert "after 3 attempts" in str(result)


def test_backoff_is_full_jitter_exponential_and_capped() -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=5.0)
    assert [policy.backoff(n, 0.999999) for n in (1, 2, 3, 4, 5)] == pytest.approx(
        [1.0, 2.0, 4.0, 5.0, 5.0], rel=1e-5
    )
    assert policy.backoff(3, 0.0) == 0.0
    assert policy.backoff(10_000, 0.5) == 2.5  # no overflow


@given(st.integers(min_value=1, max_value=200), st.floats(min_value=0, max_value=0.999999))
def test_backoff_bounds(retry: int, rand: float) -> None:
    policy = RetryPolicy()
    delay = policy.backoff(retry, rand)
    assert 0 <= delay <= policy.max_delay
    assert delay <= policy.base_delay * 2 ** (retry - 1)


def test_retry_after_replaces_backoff_and_is_clamped() -> None:
    hinted = Reply(400, {"x-amz-retry-after": "1500"}, THROTTLED.body)
    _, actions = drive([hinted, OK], rand=0.0)
    assert sleeps(actions) == [1.5]
    huge = Reply(400, {"Retry-After": "3600"}, THROTTLED.body)
    _, actions = drive([huge, OK], policy=RetryPolicy(max_retry_after=2.0))
    assert sleeps(actions) == [2.0]


def test_deadline_stops_a_retry_that_would_end_past_it() -> None:
    policy = RetryPolicy(max_attempts=10, base_delay=1.0, max_delay=1.0, deadline=2.5)
    result, actions = drive([THROTTLED] * 10, policy=policy, rand=0.99, attempt_time=0.1)
    assert isinstance(result, ServiceError)
    total = sum(sleeps(actions)) + 0.1 * sends(actions)
    assert total <= 2.5
    assert sends(actions) < 10


def test_deadline_shortens_the_attempt() -> None:
    policy = RetryPolicy(deadline=3.0)
    _, actions = drive([OK], policy=policy)
    (send,) = actions
    assert isinstance(send, Send)
    assert send.deadline == 3.0  # min(total 10 s, the call's deadline)


def test_budget_is_shared_and_drained_by_retries() -> None:
    budget = RetryBudget(12)
    policy = RetryPolicy(max_attempts=5, retry_cost=5, timeout_retry_cost=10)
    result, actions = drive([THROTTLED] * 5, policy=policy, budget=budget)
    assert isinstance(result, ServiceError)
    assert sends(actions) == 3  # 12 tokens pay for two retries
    assert budget.tokens == 2
    result, actions = drive([RequestTimeoutError("t"), OK], policy=policy, budget=budget)
    assert isinstance(result, RequestTimeoutError)  # 10 > 2 tokens: no retry
    assert sends(actions) == 1


def test_success_refills_the_budget() -> None:
    budget = RetryBudget(100)
    drive([THROTTLED, OK], budget=budget)
    assert budget.tokens == 100  # the retry's 5 came back
    budget = RetryBudget(100)
    budget.withdraw(10)
    drive([OK], budget=budget)
    assert budget.tokens == 91


def test_rate_limiter_spaces_calls() -> None:
    clock = FakeClock()
    limiter = RateLimiter(10, burst=2, clock=clock)
    assert [wait(limiter.reserve()) for _ in range(4)] == pytest.approx([0, 0, 0.1, 0.2])
    clock.now += 1.0
    assert wait(limiter.reserve()) == 0  # refilled, but never above the burst


def wait(slot: tuple[float, int] | None) -> float:
    assert slot is not None
    return slot[0]


def test_rate_limiter_waits_become_sleeps() -> None:
    clock = FakeClock()
    limiter = RateLimiter(1, burst=1, clock=clock)
    drive([OK], limiter=limiter, clock=clock)
    _, actions = drive([OK], limiter=limiter, clock=clock)
    assert isinstance(actions[0], Sleep)
    assert actions[0].seconds == pytest.approx(1.0)


def test_no_slot_before_the_deadline_fails_at_once_and_sends_nothing() -> None:
    clock = FakeClock()
    limiter = RateLimiter(1, burst=1, clock=clock)
    drive([OK], limiter=limiter, clock=clock)  # takes the only slot; the next is 1 s away
    result, actions = drive([OK], limiter=limiter, clock=clock, policy=RetryPolicy(deadline=0.5))
    assert isinstance(result, RequestTimeoutError)
    assert (result.attempts, result.errors, actions) == (0, (), [])
    assert "nothing was sent" in str(result)
    # Nothing was reserved: a call with room for the wait gets the same slot.
    _, actions = drive([OK], limiter=limiter, clock=clock, policy=RetryPolicy(deadline=2.0))
    assert sleeps(actions) == pytest.approx([1.0])


def test_no_slot_before_the_deadline_ends_the_retries_with_the_last_error() -> None:
    clock = FakeClock()
    limiter = RateLimiter(1, burst=1, clock=clock)
    policy = RetryPolicy(deadline=0.5, base_delay=0.0)
    result, actions = drive([THROTTLED, OK], limiter=limiter, clock=clock, policy=policy)
    assert isinstance(result, ServiceError)
    assert result.code == "TooManyRequestsException"
    assert (result.attempts, sends(actions)) == (1, 1)


@pytest.mark.parametrize("leave", ["close", "throw"])
def test_a_caller_that_leaves_while_waiting_gives_its_slot_back(leave: str) -> None:
    clock = FakeClock()
    limiter = RateLimiter(1, burst=1, clock=clock)
    drive([OK], limiter=limiter, clock=clock)
    for _ in range(30):  # thirty callers queue for slots 1..30 s away, then leave
        plan = run_call(
            HTTP,
            policy=RetryPolicy(),
            timeout=Timeout(),
            budget=RetryBudget(500),
            limiter=limiter,
            clock=clock,
            random=lambda: 0.5,
        )
        assert isinstance(next(plan), Sleep)
        if leave == "close":
            plan.close()
        else:
            with pytest.raises(KeyboardInterrupt):
                plan.throw(KeyboardInterrupt())
    _, actions = drive([OK], limiter=limiter, clock=clock)
    assert sleeps(actions) == pytest.approx([1.0])  # the next slot, not the 31st


def test_a_slot_that_was_used_is_not_given_back() -> None:
    clock = FakeClock()
    limiter = RateLimiter(1, burst=1, clock=clock)
    drive([OK], limiter=limiter, clock=clock)
    _, actions = drive([OK], limiter=limiter, clock=clock)  # waited 1 s, then sent
    assert sleeps(actions) == pytest.approx([1.0])
    _, actions = drive([OK], limiter=limiter, clock=clock)
    assert sleeps(actions) == pytest.approx([1.0])


def test_an_unretryable_transport_error_is_not_retried() -> None:
    failure = TransportError("TLS certificate verification failed", retryable=False)
    result, actions = drive([failure, OK])
    assert result is failure
    assert (result.attempts, sends(actions)) == (1, 1)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_attempts": 0},
        {"base_delay": -1},
        {"max_delay": float("inf")},
        {"deadline": 0},
        {"retry_budget": -5},
    ],
)
def test_policy_validation(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValidationError):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]


outcome_strategy = st.sampled_from(
    [
        OK,
        THROTTLED,
        INTERNAL,
        DENIED,
        LIMIT,
        REDIRECT,
        TransportError("x"),
        RequestTimeoutError("y"),
    ]
)


@given(
    st.lists(outcome_strategy, min_size=10, max_size=10),
    st.integers(min_value=1, max_value=6),
    st.floats(min_value=0, max_value=0.999),
)
def test_invariants(
    outcomes: list[Reply | TransportError], max_attempts: int, rand: float
) -> None:
    policy = RetryPolicy(max_attempts=max_attempts)
    result, actions = drive(outcomes, policy=policy, rand=rand)
    n = sends(actions)
    # Never more attempts than the policy allows, and one wait between retries at most.
    assert 1 <= n <= max_attempts
    assert len(sleeps(actions)) <= n - 1
    assert all(0 <= s <= policy.max_delay for s in sleeps(actions))
    # It stops at the first success or the first non-retryable outcome.
    final = outcomes[n - 1]
    if isinstance(result, UpdateAuthEventFeedbackResponse):
        assert final is OK
    else:
        assert final is not OK
        assert result.attempts == n
        for earlier in outcomes[: n - 1]:
            assert earlier in (THROTTLED, INTERNAL) or isinstance(earlier, TransportError)


def test_token_bucket_take_admits_or_refuses() -> None:
    from cognito_raw._call.limiter import TokenBucket

    bucket = TokenBucket(2.0, 2, now=0.0)
    assert [bucket.take(0.0) for _ in range(3)] == [0.0, 0.0, pytest.approx(0.5)]
    assert bucket.take(0.5) == 0.0  # refilled one token in half a second
    assert bucket.take(100.0) == 0.0
    assert bucket.tokens == pytest.approx(1.0)  # never above the burst
    assert bucket.take(50.0) == 0.0  # a clock going backwards refills nothing


# Each row: (what it shows, burst, ops). rate is 1 a second. An op is
# ("at", t): the clock moves to t; ("reserve"|"take", name, expected wait);
# ("back", name, expected: True if the token came back now); ("owe", seconds).
GIVE_BACK_TABLE: list[tuple[str, int, list[tuple[Any, ...]]]] = [
    (
        "the reported double booking: A's slot is not B's to share",
        1,
        [
            ("reserve", "A", 0.0),
            ("reserve", "B", 1.0),
            ("back", "A", False),
            ("reserve", "C", 2.0),
        ],
    ),
    (
        "the latest comes back at once",
        1,
        [("reserve", "A", 0.0), ("reserve", "B", 1.0), ("back", "B", True), ("reserve", "C", 1.0)],
    ),
    (
        "an earlier one comes back with the later ones",
        1,
        [
            ("reserve", "A", 0.0),
            ("reserve", "B", 1.0),
            ("reserve", "C", 2.0),
            ("back", "B", False),
            ("back", "C", True),
            ("reserve", "D", 1.0),
        ],
    ),
    (
        "a later slot still held keeps an earlier one from coming back",
        1,
        [
            ("reserve", "A", 0.0),
            ("reserve", "B", 1.0),
            ("reserve", "C", 2.0),
            ("back", "A", False),
            ("back", "C", True),
            ("reserve", "D", 2.0),
            ("back", "D", True),
            ("back", "B", True),  # and A with it: no slot after them is held
            ("reserve", "E", 0.0),
        ],
    ),
    (
        "given back twice counts once",
        1,
        [
            ("reserve", "A", 0.0),
            ("back", "A", True),
            ("back", "A", False),
            ("reserve", "B", 0.0),
            ("reserve", "C", 1.0),
        ],
    ),
    (
        "given back after its slot went by: as if never taken",
        1,
        [
            ("reserve", "A", 0.0),
            ("at", 0.5),
            ("back", "A", True),
            ("reserve", "B", 0.0),
            ("reserve", "C", 1.0),
        ],
    ),
    (
        "a token admitted by take comes back the same way",
        2,
        [
            ("take", "A", 0.0),
            ("take", "B", 0.0),
            ("back", "A", False),
            ("take", "C", 1.0),  # refused: no token, no ticket
            ("back", "B", True),  # and A with it
            ("take", "D", 0.0),
            ("take", "E", 0.0),
            ("take", "F", 1.0),
        ],
    ),
    (
        "a hold-back is not shortened by a token given back",
        1,
        [("reserve", "A", 0.0), ("owe", 5.0), ("back", "A", False), ("reserve", "B", 5.0)],
    ),
]


@pytest.mark.parametrize(
    ("burst", "ops"), [row[1:] for row in GIVE_BACK_TABLE], ids=[row[0] for row in GIVE_BACK_TABLE]
)
def test_a_token_given_back_is_never_handed_out_twice(
    burst: int, ops: list[tuple[Any, ...]]
) -> None:
    from cognito_raw._call.limiter import TokenBucket

    bucket = TokenBucket(1.0, burst, now=0.0)
    now = 0.0
    tickets: dict[str, int] = {}
    for op, *args in ops:
        if op == "at":
            now = args[0]
        elif op == "owe":
            bucket.owe(now, args[0])
        elif op == "back":
            assert bucket.give_back(tickets[args[0]]) is args[1], (op, *args)
        else:
            got = bucket.take(now) if op == "take" else bucket.reserve(now)
            assert got == pytest.approx(args[1]), (op, *args)
            tickets[args[0]] = bucket.ticket
    assert bucket.give_back(0) is False  # no token has ticket 0


def test_what_a_bucket_remembers_for_give_back_stays_bounded() -> None:
    from cognito_raw._call.limiter import _GIVE_BACK_WINDOW, TokenBucket

    # Nobody gives back (a per-client bucket of the feedback app): one run.
    queued = TokenBucket(1.0, 1, now=0.0)
    for _ in range(20_000):
        queued.reserve(0.0)
    assert len(queued._live) == 1
    # Every other token given back, and every other one left waiting: the
    # oldest are forgotten (forfeited), so memory stays within the window.
    churned = TokenBucket(1.0, 1, now=0.0)
    for _ in range(20_000):
        churned.reserve(0.0)
        kept = churned.ticket
        churned.reserve(0.0)
        churned.give_back(kept)  # waits for the later one, which is used
    assert len(churned._live) <= 2 * _GIVE_BACK_WINDOW
    assert len(churned._returned) <= 2 * _GIVE_BACK_WINDOW
    # The latest given back each time: a run per give-back, within the window too.
    for _ in range(20_000):
        churned.reserve(0.0)
        churned.reserve(0.0)
        assert churned.give_back(churned.ticket)
    assert len(churned._live) <= 2 * _GIVE_BACK_WINDOW
    # A full bucket forgets everything: giving back would change nothing.
    churned.reserve(1e9)
    assert len(churned._live) == 1


def test_a_cancelled_call_frees_its_slot_only_if_no_later_one_is_held() -> None:
    # The reported case through the call driver: B and C queue behind A; B is
    # cancelled. D must queue behind C, not get B's slot (C's time as well).
    clock = FakeClock()
    limiter = RateLimiter(1, burst=1, clock=clock)

    def queue() -> tuple[object, float]:
        plan = run_call(
            HTTP,
            policy=RetryPolicy(),
            timeout=Timeout(),
            budget=RetryBudget(500),
            limiter=limiter,
            clock=clock,
            random=lambda: 0.5,
        )
        action = next(plan)
        return plan, action.seconds if isinstance(action, Sleep) else 0.0

    assert [queue()[1] for _ in range(1)] == [0.0]  # A: the burst
    (b, b_wait), (c, c_wait) = queue(), queue()
    b.close()  # type: ignore[attr-defined]
    d, d_wait = queue()
    assert (b_wait, c_wait, d_wait) == (1.0, 2.0, 3.0)
    d.close()  # type: ignore[attr-defined]
    c.close()  # type: ignore[attr-defined]
    # D, C and B all given back, latest first: the next call gets B's slot.
    assert queue()[1] == 1.0


@st.composite
def bucket_scripts(draw: st.DrawFn) -> tuple[float, int, list[tuple[str, float]]]:
    rate = draw(st.sampled_from([0.5, 1.0, 2.0, 10.0]))
    burst = draw(st.integers(1, 4))
    op = st.one_of(
        st.tuples(st.just("reserve"), st.sampled_from([-1.0, 0.5, 2.0])),  # -1: no within
        st.tuples(st.just("take"), st.just(0.0)),
        st.tuples(st.just("back"), st.floats(0, 1)),  # which token, as a fraction
        st.tuples(st.just("advance"), st.sampled_from([0.0, 0.05, 0.25, 1.0, 3.0])),
        st.tuples(st.just("owe"), st.sampled_from([0.5, 2.0])),
    )
    return rate, burst, draw(st.lists(op, max_size=60))


@given(bucket_scripts())
def test_the_slots_used_never_exceed_burst_plus_rate_times_elapsed(
    script: tuple[float, int, list[tuple[str, float]]],
) -> None:
    # Whatever the interleaving of reservations, takes, tokens given back (in
    # any order, twice, after their slot) and hold-backs, the tokens not given
    # back are used at their slots: in any window, no more than the burst
    # plus what the rate refills over it.
    from cognito_raw._call.limiter import TokenBucket

    rate, burst, ops = script
    bucket = TokenBucket(rate, burst, now=0.0)
    now = 0.0
    slots: dict[int, float] = {}  # ticket -> when it is used
    given_back: set[int] = set()
    for op, arg in ops:
        if op == "advance":
            now += arg
        elif op == "owe":
            bucket.owe(now, arg)
        elif op == "back":
            if slots:
                tickets = sorted(slots)
                ticket = tickets[min(int(arg * len(tickets)), len(tickets) - 1)]
                bucket.give_back(ticket)
                given_back.add(ticket)
        elif op == "take":
            if bucket.take(now) == 0.0:
                slots[bucket.ticket] = now
        else:
            delay = bucket.reserve(now, within=None if arg < 0 else arg)
            if delay is not None:
                slots[bucket.ticket] = now + delay
    used = sorted(at for ticket, at in slots.items() if ticket not in given_back)
    for i, start in enumerate(used):
        for j in range(i, len(used)):
            assert j - i + 1 <= burst + rate * (used[j] - start) + 1e-6, (used, i, j)


@pytest.mark.parametrize("status", [200, 204])
def test_a_truncated_success_body_is_not_success(status: int) -> None:
    result, actions = drive([Reply(status, {}, b" " * 100, truncated=True)])
    assert isinstance(result, ProtocolError)
    assert sends(actions) == 1


def test_a_truncated_error_body_still_names_the_error() -> None:
    headers = {"x-amzn-ErrorType": "UserNotFoundException"}
    result, _ = drive([Reply(400, headers, b'{"message":"cut', truncated=True)])
    assert isinstance(result, ServiceError)
    assert result.code == "UserNotFoundException"


class NoBackoff(RetryPolicy):
    """A policy that only changes behaviour (module level, so it pickles)."""

    def backoff(self, retry: int, rand: float) -> float:
        return 0.0


class QuickTimeout(Timeout):
    """A subclass that adds nothing."""


def test_a_subclass_of_a_value_keeps_its_fields_and_defaults() -> None:
    # As with a dataclass: a subclass that only changes behaviour is the same value.
    policy = NoBackoff(max_attempts=5)
    assert (policy.max_attempts, policy.base_delay, policy.retry_budget) == (5, 0.2, 500)
    assert policy.backoff(3, 0.9) == 0.0
    assert pickle.loads(pickle.dumps(policy)) == policy
    with pytest.raises(ValidationError):
        NoBackoff(max_attempts=0)
    assert QuickTimeout(total=3).total == 3
    assert QuickTimeout().read == Timeout().read
