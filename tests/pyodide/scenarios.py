"""Runs inside Pyodide (``runner.mjs``): ``fetch.AsyncClient`` against the test's loopback servers.

``main`` is given the test's JSON (the servers' URLs and the seeded event),
calls each scenario through a fresh client and returns, as JSON, what each
one ended in. ``tests/clients/test_fetch.py`` checks the outcomes and what the
servers received.
"""

from __future__ import annotations

import json
import sys
import time
import types
from typing import Any
from urllib.parse import urlencode

from cognito_raw import (
    AttemptInfo,
    CognitoError,
    RetryPolicy,
    UpdateAuthEventFeedbackRequest,
    UpdateAuthEventFeedbackResponse,
    ValidationError,
)
from cognito_raw import fetch as fetch_module
from cognito_raw.fetch import AsyncClient

ONCE = RetryPolicy(max_attempts=1)
QUICK = RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.02)


def _outcome(value: UpdateAuthEventFeedbackResponse | CognitoError) -> dict[str, Any]:
    if isinstance(value, UpdateAuthEventFeedbackResponse):
        return {
            "kind": "ok",
            "status": value.status_code,
            "request_id": value.request_id,
            "attempts": value.attempts,
        }
    return {
        "kind": type(value).__name__,
        "code": getattr(value, "code", None),
        "status": getattr(value, "status_code", None),
        "request_id": getattr(value, "request_id", None),
        "retryable": getattr(value, "retryable", None),
        "attempts": value.attempts,
        "text": str(value),
    }


async def _call(url: str, request: UpdateAuthEventFeedbackRequest, **options: Any) -> Any:
    seen: list[AttemptInfo] = []
    started = time.monotonic()
    async with AsyncClient(endpoint_url=url, on_attempt=seen.append, **options) as client:
        try:
            value: Any = await client.send(request)
        except CognitoError as exc:
            value = exc
    return {
        **_outcome(value),
        "elapsed": time.monotonic() - started,
        "attempt_codes": [info.code for info in seen],
    }


async def _misuse(url: str, event: dict[str, str]) -> dict[str, str]:
    client = AsyncClient(endpoint_url=url)
    found = {}
    try:
        await client.update_auth_event_feedback(**{**event, "feedback_value": "maybe"})
    except ValidationError as exc:
        found["validation"] = exc.field
    await client.aclose()
    try:
        await client.update_auth_event_feedback(**event)
    except RuntimeError as exc:
        found["closed"] = str(exc)
    found["repr"] = repr(client)
    return found


class _Response:
    """Stands in for the Workers runtime's ``workers.Response``."""

    def __init__(self, body: str, status: int = 200) -> None:
        self.body = body
        self.status = status


class _Request:
    """Stands in for the request a Worker's ``fetch`` gets: a method and a body."""

    def __init__(self, method: str, body: str) -> None:
        self.method = method
        self._body = body

    async def text(self) -> str:
        return self._body


async def _worker(code: str, url: str, event: dict[str, str]) -> dict[str, list[Any]]:
    """docs/edge.md's Worker handler, as written, with stand-ins for the ``workers`` module."""
    stub = types.ModuleType("workers")
    stub.Response = _Response  # type: ignore[attr-defined]
    stub.WorkerEntrypoint = object  # type: ignore[attr-defined]
    sys.modules["workers"] = stub
    real = fetch_module.AsyncClient
    fetch_module.AsyncClient = lambda: real(endpoint_url=url)  # type: ignore[assignment, misc]
    try:
        namespace: dict[str, Any] = {}
        exec(compile(code, "docs/edge.md", "exec"), namespace)  # noqa: S102 - our own docs
    finally:
        fetch_module.AsyncClient = real  # type: ignore[misc]
    handler = namespace["Default"]()
    form = urlencode({**event, "feedback_value": "valid"})
    answers = [
        await handler.fetch(_Request("POST", form)),
        await handler.fetch(_Request("GET", "")),
        await handler.fetch(_Request("POST", urlencode({"username": event["username"]}))),
    ]
    return {"answers": [[answer.status, answer.body] for answer in answers]}


async def main(config_json: str) -> str:
    config = json.loads(config_json)
    events = config["events"]
    event = events["fake"]

    def request(server: str = "fake", **changes: str) -> UpdateAuthEventFeedbackRequest:
        return UpdateAuthEventFeedbackRequest(**{**events[server], **changes})

    fake = config["fake"]
    results = {
        "success": await _call(fake, request(), retry=ONCE),
        "not_authorized": await _call(fake, request(event_id=config["stale_event_id"])),
        "user_not_found": await _call(fake, request(username="nobody")),
        "pool_not_found": await _call(fake, request(user_pool_id=config["unknown_pool"])),
        "throttled": await _call(config["throttling"], request("throttling"), retry=QUICK),
        "timeout": await _call(config["slow"], request("slow"), retry=ONCE, timeout=0.5),
        "redirect": await _call(config["redirect"], request(), retry=QUICK),
        "huge_body": await _call(config["huge"], request(), retry=QUICK, max_body=1024),
        "reset_then_ok": await _call(config["reset"], request(), retry=QUICK),
        "refused": await _call(config["refused"], request(), retry=QUICK),
        "misuse": await _misuse(fake, event),
        "worker": await _worker(config["worker_code"], fake, event),
    }
    return json.dumps(results)
