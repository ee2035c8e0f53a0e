"""What the package's two ASGI apps share: reading a request body, a lifespan with no work.

Both ASGI apps (``links.feedback_app`` and the testing kit's
``FakeASGIApp``) read a request body within a limit and acknowledge a
lifespan they have nothing to do in, the same way, so those rules are here
once, in a module of its own that both may import (neither may import the
other's layer). The body reader uses the call driver's ``BodyReader`` (the
reply body's limit): standard library only, and nothing here awaits
anything but the ``receive`` and ``send`` callables it is given.
"""

from __future__ import annotations

from cognito_raw._call.driver import BodyReader

# typing costs milliseconds at import; annotations alone need it (PEP 563).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, MutableMapping
    from typing import Any, Final

    Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
    Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

__all__ = ["MAX_BODY_MESSAGES", "BodyTooLarge", "acknowledge_lifespan", "read_body"]

# More messages than any server sends for a body within the apps' limits: a
# stream of empty chunks would otherwise keep the loop going for ever.
MAX_BODY_MESSAGES: Final = 65536


class BodyTooLarge(Exception):
    """The request body passed its limit, in bytes or in messages."""


async def read_body(
    receive: Receive, *, limit: int, max_messages: int = MAX_BODY_MESSAGES
) -> bytes | None:
    """The body of an ASGI ``http`` request; None if the client disconnected first.

    Raises ``BodyTooLarge`` once more than ``limit`` bytes, or more than
    ``max_messages`` messages, have come without the end of the body.
    Messages of other types are passed over (ASGI sends none).
    """
    reader = BodyReader(limit)
    for _ in range(max_messages):
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        if message["type"] != "http.request":
            continue
        if not reader.feed(bytes(message.get("body", b""))):
            raise BodyTooLarge
        if not message.get("more_body", False):
            return reader.body
    raise BodyTooLarge


async def acknowledge_lifespan(receive: Receive, send: Send) -> None:
    """Serve an ASGI lifespan with nothing to start or stop: acknowledge both events."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
