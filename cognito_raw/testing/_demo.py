"""``cognito-raw demo`` and ``cognito-raw fake-server``: the fake, driven for people.

The demo runs the whole flow with no AWS account: a fake Cognito on a
loopback port, a seeded pool, user and risky sign-in, feedback sent through
the real ``Client`` over HTTP, then a throttled call retried to success and
an error decoded.
"""

from __future__ import annotations

import contextlib
import threading
from typing import TextIO

from cognito_raw._call.config import RetryPolicy
from cognito_raw._call.driver import AttemptInfo
from cognito_raw._clients.httpx_client import Client
from cognito_raw._core.errors import NotAuthorizedException
from cognito_raw._core.protocol import build_request
from cognito_raw._core.wiretext import show_request

from ._fake import FakeCognito

__all__ = ["run_demo", "run_fake_server"]


def run_demo(out: TextIO) -> int:
    """Run the demo, writing to ``out``; return the exit code."""
    fake = FakeCognito()
    event = fake.seed()
    pool = event.user_pool_id
    write = out.write

    def report(info: AttemptInfo) -> None:
        outcome = f"HTTP {info.status_code}" if info.status_code else "no reply"
        code = f" {info.code}" if info.code else ""
        retry = f", retrying in {info.retry_in * 1000:.0f} ms" if info.retry_in is not None else ""
        write(f"    attempt {info.attempt}: {outcome}{code}{retry}\n")

    with (
        fake.serve() as url,
        Client(
            endpoint_url=url,
            timeout=5,
            retry=RetryPolicy(max_attempts=4, base_delay=0.05, max_delay=0.2),
            on_attempt=report,
        ) as client,
    ):
        write(f"fake Cognito listening on {url}\n")
        write(f"seeded user pool {pool}, one user, and a risky sign-in {event.event_id}\n\n")

        write('1. The user clicks "this wasn\'t me": Invalid feedback, as sent on the wire\n')
        write("   (username and token redacted):\n\n")
        request = event.request("invalid")
        text = show_request(build_request(request, endpoint_url=url), curl=False, secrets=False)
        write("".join(f"    {line}\n" for line in text.splitlines()) + "\n")
        result = client.send(request)
        write(
            f"   reply: HTTP {result.status_code}, request ID {result.request_id}, "
            f"{result.attempts} attempt(s)\n"
        )
        write(f"   the fake recorded: {fake.feedback(pool, event.event_id)}\n\n")

        write("2. Cognito throttles the next two calls (HTTP 400 TooManyRequestsException);\n")
        write("   the client backs off and retries:\n")
        fake.throttle(2)
        result = client.send(event.request("valid"))
        write(f"   delivered after {result.attempts} attempts; the fake recorded: ")
        write(f"{fake.feedback(pool, event.event_id)}\n\n")

        write("3. A link with a stale token: the error reply decoded, not retried:\n")
        stale = fake.create_auth_event(pool, event.username)
        fake.expire_auth_event(pool, stale.event_id)
        try:
            client.send(stale.request("invalid"))
        except NotAuthorizedException as exc:
            write(f"   {type(exc).__name__}: code={exc.code!r} status={exc.status_code} ")
            write(f"retryable={exc.retryable} request_id={exc.request_id}\n")
            write(f"   message: {exc.message}\n")
    write("\ndone: no AWS account was used.\n")
    return 0


def run_fake_server(port: int, out: TextIO, *, stop: threading.Event | None = None) -> int:
    """Serve a seeded fake Cognito on 127.0.0.1 until interrupted (or ``stop`` is set)."""
    fake = FakeCognito()
    event = fake.seed()
    stop = stop or threading.Event()
    with fake.serve(port=port) as url:
        # A test tool: the seeded token is made up, printed so that clients in
        # other languages can send feedback for the seeded event.
        out.write(
            f"url={url}\nuser_pool_id={event.user_pool_id}\nusername={event.username}\n"
            f"event_id={event.event_id}\nfeedback_token={event.feedback_token}\n"
        )
        out.flush()
        with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is how it ends
            stop.wait()
    return 0
