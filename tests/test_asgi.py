"""What the two ASGI apps share (the feedback app and the fake), run through each.

The request-body reader: each case is a script of ``receive`` messages,
sized from the reader's limit, and what it comes to: the body, "too large"
(413 from either app), or "gone" (the client disconnected: neither app
answers). And the lifespan of an app with nothing to start or stop.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from cognito_raw._asgi import MAX_BODY_MESSAGES, BodyTooLarge, acknowledge_lifespan, read_body
from cognito_raw.links import feedback_app
from cognito_raw.links._app import _MAX_BODY as APP_LIMIT
from cognito_raw.testing import FakeASGIApp, FakeCognito
from cognito_raw.testing._fake_http import MAX_REQUEST_BODY as FAKE_LIMIT
from tests.asgi_support import Message, exchange

Script = Callable[[int], Iterator[Message]]
TOO_LARGE = "too large"
GONE = "gone"
FULL = "limit bytes of x"


def chunk(body: bytes, *, more: bool = False) -> Message:
    return {"type": "http.request", "body": body, "more_body": more}


def empty_chunks_for_ever(limit: int) -> Iterator[Message]:
    return (chunk(b"", more=True) for _ in itertools.count())


# (name, messages for a reader of this limit, the outcome: the body or what instead)
CASES: list[tuple[str, Script, bytes | str]] = [
    ("one chunk", lambda limit: iter([chunk(b"abc")]), b"abc"),
    (
        "several chunks",
        lambda limit: iter([chunk(b"ab", more=True), chunk(b"c", more=True), chunk(b"")]),
        b"abc",
    ),
    ("exactly the limit", lambda limit: iter([chunk(b"x" * limit)]), FULL),
    ("a byte over at once", lambda limit: iter([chunk(b"x" * (limit + 1))]), TOO_LARGE),
    (
        "a byte over across chunks",
        lambda limit: iter([chunk(b"x" * limit, more=True), chunk(b"x")]),
        TOO_LARGE,
    ),
    ("empty chunks for ever", empty_chunks_for_ever, TOO_LARGE),
    (
        "disconnect mid-body",
        lambda limit: iter([chunk(b"ab", more=True), {"type": "http.disconnect"}]),
        GONE,
    ),
    ("disconnect first", lambda limit: iter([{"type": "http.disconnect"}]), GONE),
    (
        "another type passed over",
        lambda limit: iter([{"type": "http.other"}, chunk(b"abc")]),
        b"abc",
    ),
]


def receiver(messages: Iterator[Message]) -> Callable[[], Any]:
    async def receive() -> Message:
        return next(messages)

    return receive


def expected_body(outcome: bytes | str, limit: int) -> bytes | None:
    if outcome == GONE:
        return None
    if outcome == FULL:
        return b"x" * limit
    assert isinstance(outcome, bytes)
    return outcome


@pytest.mark.parametrize(("name", "script", "outcome"), CASES)
def test_read_body(name: str, script: Script, outcome: bytes | str) -> None:
    limit = 10
    receive = receiver(script(limit))
    if outcome == TOO_LARGE:
        with pytest.raises(BodyTooLarge):
            asyncio.run(read_body(receive, limit=limit))
        return
    assert asyncio.run(read_body(receive, limit=limit)) == expected_body(outcome, limit)


def test_the_message_bound_is_a_limit_too() -> None:
    receive = receiver(empty_chunks_for_ever(0))
    with pytest.raises(BodyTooLarge):
        asyncio.run(read_body(receive, limit=10, max_messages=3))
    assert MAX_BODY_MESSAGES >= 1024


def answer(app: Any, scope: dict[str, Any], messages: Iterator[Message]) -> int | None:
    """The status an ASGI app answers the messages with; None if it answers nothing."""
    sent = exchange(app, scope, messages)
    statuses = [m["status"] for m in sent if m["type"] == "http.response.start"]
    assert len(statuses) <= 1
    return statuses[0] if statuses else None


class Sender:
    async def send(self, request: Any, /) -> Any:
        raise AssertionError("no script here is a valid submission")


def app_status(script: Script) -> int | None:
    app = feedback_app(client=Sender(), user_pool_ids=["us-east-1_AbC123"])
    scope = {
        "type": "http",
        "method": "POST",
        "scheme": "https",
        "path": "/",
        "query_string": b"",
        "client": ("203.0.113.9", 1),
        "headers": [(b"content-type", b"application/x-www-form-urlencoded")],
    }
    return answer(app, scope, script(APP_LIMIT))


def fake_status(script: Script) -> int | None:
    scope = {"type": "http", "method": "POST", "path": "/", "headers": []}
    return answer(FakeASGIApp(FakeCognito()), scope, script(FAKE_LIMIT))


@pytest.mark.parametrize("status_of", [app_status, fake_status], ids=["app", "fake"])
@pytest.mark.parametrize(("name", "script", "outcome"), CASES)
def test_both_apps_read_bodies_alike(
    status_of: Callable[[Script], int | None], name: str, script: Script, outcome: bytes | str
) -> None:
    status = status_of(script)
    if outcome == GONE:
        assert status is None
    elif outcome == TOO_LARGE:
        assert status == 413
    else:
        # The body was read: each app answers it (neither script is a valid call).
        assert status is not None
        assert status != 413


LIFESPAN_APPS = [
    acknowledge_lifespan,
    feedback_app(client=Sender(), user_pool_ids=["us-east-1_AbC123"]),
    FakeASGIApp(FakeCognito()),
]


@pytest.mark.parametrize("app", LIFESPAN_APPS, ids=["helper", "app", "fake"])
def test_a_lifespan_with_nothing_to_do_is_acknowledged(app: Any) -> None:
    messages = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    if app is acknowledge_lifespan:
        sent: list[Message] = []

        async def send(message: Message) -> None:
            sent.append(message)

        asyncio.run(app(receiver(iter(messages)), send))
    else:
        sent = exchange(app, {"type": "lifespan"}, messages)
    assert sent == [{"type": "lifespan.startup.complete"}, {"type": "lifespan.shutdown.complete"}]
