"""Tools for testing code that calls UpdateAuthEventFeedback.

- ``FakeCognito``: the server side of the operation, in memory, reachable as an
  httpx transport (``fake.transport``), an ASGI app (``fake.asgi``) or a real
  HTTP server on 127.0.0.1 (``with fake.serve() as url:``).
- ``load_recording(name)`` / ``list_recordings()``: recorded replies for every
  outcome (success, each modeled error, and what proxies and WAFs send),
  described in spec/recordings/README.md.
- ``cognito_raw.testing.strategies``: hypothesis strategies for requests and
  replies (install hypothesis; this package does not import it).
"""

from __future__ import annotations

from ._fake import AuthEvent, FakeCognito, FakeReply, FeedbackRecord, ReceivedRequest
from ._fake_http import FakeASGIApp, FakeTransport
from ._recordings import Expectation, Recording, list_recordings, load_recording

__all__ = [
    "AuthEvent",
    "Expectation",
    "FakeASGIApp",
    "FakeCognito",
    "FakeReply",
    "FakeTransport",
    "FeedbackRecord",
    "ReceivedRequest",
    "Recording",
    "list_recordings",
    "load_recording",
]
