"""Speaking ASGI to an app directly, as a server would, for the tests that need raw messages."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

Message = dict[str, Any]


def exchange(app: Any, scope: Message, messages: Iterable[Message]) -> list[Message]:
    """Run one ASGI call; ``receive`` gives ``messages``, then ``http.disconnect``.

    Returns what the app sent.
    """
    incoming = iter(messages)
    sent: list[Message] = []

    async def receive() -> Message:
        return next(incoming, {"type": "http.disconnect"})

    async def send(message: Message) -> None:
        sent.append(dict(message))

    asyncio.run(app(scope, receive, send))
    return sent
