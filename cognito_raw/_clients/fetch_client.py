"""An async client for Pyodide that sends through JavaScript's ``fetch``.

For WebAssembly Python, where there are no sockets: Pyodide in a browser,
under Node.js, and in Cloudflare Python Workers. The shell is as thin as the
others: the request and the retry plan come from ``ShellConfig``
(``build_request`` and ``run_call``, driven by ``drive_async``), the reply
goes back through ``finish_reply``. What lives here is calling ``fetch``
through Pyodide's foreign function interface (``js``, ``pyodide.ffi``),
reading the body as a bounded stream, and turning JavaScript errors into
ours once, at the boundary. ``js`` and ``pyodide`` exist only under Pyodide:
they are imported when a client is made, so this module imports (and
type-checks) anywhere. What ``fetch`` lets a script send: docs/protocol.md,
"Runtimes".
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from cognito_raw._call.driver import BodyReader, Reply, Send
from cognito_raw._core.errors import TransportError

from .shell import CLOSED, AsyncShell, ShellConfig, finish_reply, out_of_time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Final

    from typing_extensions import Unpack

    from .shell import ShellOptions

__all__ = ["FORBIDDEN_HEADERS", "AsyncClient"]

# Headers of build_request's that fetch does not let a script set (the Fetch
# standard's forbidden request-header names): the runtime writes its own.
FORBIDDEN_HEADERS: Final = frozenset({"content-length", "accept-encoding"})


class _Runtime:
    """What the client uses from Pyodide: the JavaScript globals and the FFI helpers."""

    def __init__(self) -> None:
        try:
            import js  # type: ignore[import-not-found]  # noqa: PLC0415
            from pyodide.ffi import (  # type: ignore[import-not-found]  # noqa: PLC0415
                JsException,
                create_proxy,
                to_js,
            )
        except ImportError:
            raise RuntimeError(
                "cognito_raw.fetch.AsyncClient runs under Pyodide (it sends through "
                "JavaScript's fetch); elsewhere use cognito_raw.AsyncClient"
            ) from None
        self.js: Any = js
        self.error: type[Exception] = JsException
        self.create_proxy: Callable[..., Any] = create_proxy
        self.to_js: Callable[..., Any] = to_js

    def init(self, send: Send, signal: Any) -> Any:
        """The ``fetch`` options of one attempt, as a JavaScript object."""
        http = send.request
        headers = {
            name: value
            for name, value in http.headers.items()
            if name.lower() not in FORBIDDEN_HEADERS
        }
        options = {
            "method": http.method,
            "headers": headers,
            "body": http.body,  # becomes a Uint8Array
            "redirect": "manual",  # never followed: a 3xx is the answer
            "signal": signal,
        }
        return self.to_js(options, dict_converter=self.js.Object.fromEntries)


class _Alarm:
    """Aborts one attempt's fetch when its time is up (a JavaScript timer on an AbortController).

    ``AbortSignal.timeout`` would do the same where it exists; a controller
    also lets the attempt abort itself when it ends early or is cancelled.
    """

    def __init__(self, runtime: _Runtime, seconds: float) -> None:
        self.rang = False
        self._js = runtime.js
        self.controller = runtime.js.AbortController.new()
        self._callback = runtime.create_proxy(self._ring)
        self._timer = runtime.js.setTimeout(self._callback, max(1, round(seconds * 1000)))

    def _ring(self, *_: object) -> None:
        self.rang = True
        self.controller.abort()

    def stop(self) -> None:
        """Clear the timer and abort what is left of the fetch (a body not read to its end)."""
        self._js.clearTimeout(self._timer)
        self.controller.abort()
        self._callback.destroy()


async def _read_body(response: Any, reader: BodyReader) -> None:
    stream = response.body
    if not hasattr(stream, "getReader"):  # JavaScript null: a reply without a body (204)
        return
    chunks = stream.getReader()
    while True:
        chunk = await chunks.read()
        if chunk.done or not reader.feed(chunk.value.to_bytes()):
            return


class AsyncClient(AsyncShell):
    """An async UpdateAuthEventFeedback client over JavaScript's ``fetch``, for Pyodide.

    The same results and exceptions as ``cognito_raw.AsyncClient``, and its
    keywords where they mean something under ``fetch``: ``region``,
    ``endpoint_url``, ``use_fips``, ``use_dualstack``, ``allow_http``,
    ``timeout``, ``retry``, ``user_agent_extra``, ``rate_limit``,
    ``on_attempt``, ``max_body``, ``sleep`` (awaited; ``asyncio.sleep``, which
    Pyodide's event loop runs on JavaScript timers), ``clock`` and ``random``.
    Not here: ``http_client``, ``verify`` (the runtime's trust store decides)
    and ``max_connections`` (the runtime owns the connections).

    - **Timeouts:** ``fetch`` has no connect or read timeouts; each attempt
      is aborted through an ``AbortController`` when ``Timeout.total`` (cut
      to the call's deadline) runs out, ending in ``RequestTimeoutError``.
    - **The wire:** the body, method, URL, ``Content-Type``, ``X-Amz-Target``
      and ``User-Agent`` are ``build_request``'s. ``Content-Length`` and
      ``Accept-Encoding`` are forbidden to scripts (``FORBIDDEN_HEADERS``):
      the runtime sets the length of the body itself, may ask for a
      compressed reply and decodes it before we read (``max_body`` then
      bounds the decoded body). Browsers also drop or replace
      ``User-Agent`` (Chrome does), add ``Origin``/``Referer``/``Sec-Fetch-*``
      and send a CORS preflight first; Node.js and Workers send what is set.
    - **Redirects** are never followed (``redirect: "manual"``): under Node.js
      the 3xx is the answer (``ProtocolError``); a browser hides it (an
      opaque redirect, status 0), also a ``ProtocolError``.
    - A ``fetch`` that fails (refused, reset, DNS, TLS, CORS) is a retryable
      ``TransportError``; JavaScript does not say which of these it was.

    Raises ``RuntimeError`` when made outside Pyodide, and when used after
    ``aclose()``; every other failure is a ``CognitoError``.
    """

    def __init__(
        self,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        **options: Unpack[ShellOptions],
    ) -> None:
        # max_connections: not ours to bound (see above).
        self._config = ShellConfig(**options)
        self._runtime = _Runtime()
        self._sleep = sleep
        self._closed = False

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError(CLOSED)

    async def _transmit(self, send: Send) -> Reply | TransportError:
        runtime = self._runtime
        alarm = _Alarm(runtime, self._config.time_left(send))
        try:
            response = await runtime.js.fetch(
                send.request.url, runtime.init(send, alarm.controller.signal)
            )
            reader = BodyReader(self._config.max_body)
            await _read_body(response, reader)
        except runtime.error as exc:
            if alarm.rang:
                return out_of_time()
            # The JavaScript error's name and message (no reply text: fetch
            # failed before there was one, or while streaming its body).
            name = getattr(exc, "name", None) or type(exc).__name__
            return TransportError(f"fetch failed ({name}: {getattr(exc, 'message', exc)})")
        finally:
            alarm.stop()
        headers = [(str(pair[0]), str(pair[1])) for pair in response.headers]
        encoding = response.headers.get("content-encoding")  # a str, or JavaScript null
        return finish_reply(
            int(response.status), headers, reader, encoding if isinstance(encoding, str) else None
        )

    async def aclose(self) -> None:
        """Mark the client closed (``fetch`` holds no connections of ours)."""
        self._closed = True
