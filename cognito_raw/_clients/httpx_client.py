"""Client and AsyncClient: ``run_call`` carried out over a stock httpx client.

The only client module that imports httpx. It holds no protocol knowledge and no
retry rule: the request comes from ``ShellConfig.plan`` (``build_request``),
the reply goes back to ``run_call``, which parses it and decides. What lives
here is I/O: sending through an ``httpx.Client``/``httpx.AsyncClient`` (ours,
with httpx's default transport, or the caller's), streaming a bounded raw
body, sleeping, and translating httpx's transport exceptions once, at the
boundary.

How long an attempt may take (``Timeout.total``, cut to the call's deadline):

- ``AsyncClient`` runs the whole attempt (the wait for a slot in flight, the
  connect, the request, the reply head and body) inside one anyio cancel
  scope, so nothing outlasts it, on asyncio and trio alike.
- ``Client`` gives httpx connect, write, read and pool timeouts no longer
  than the time the attempt has left, and checks the deadline between body
  chunks: an attempt ends by its deadline, or at most one read timeout after
  it. httpx has no total timeout for blocking I/O (encode/httpx#1450) and no
  public way to give its default transport an httpcore network backend
  (encode/httpx#3749), so a server that sends the *head* of its reply one
  byte per read timeout can hold a blocking attempt longer; the per-read
  timeout still bounds every wait.
"""

from __future__ import annotations

import logging
import re
import ssl
import threading
import time
import weakref
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

import httpx

from cognito_raw._call.config import Timeout
from cognito_raw._call.driver import BodyReader, Reply, Send
from cognito_raw._core.errors import RequestTimeoutError, TransportError, ValidationError

from .shell import (
    CLOSED,
    DEFAULT_MAX_CONNECTIONS,
    AsyncShell,
    BlockingShell,
    ShellConfig,
    ca_bundle_context,
    certificate_error,
    finish_reply,
    out_of_time,
)

if TYPE_CHECKING:
    import anyio
    from typing_extensions import Unpack

    from .shell import ShellOptions

__all__ = ["AsyncClient", "Client"]

_HttpxClient = TypeVar("_HttpxClient", httpx.Client, httpx.AsyncClient)


def _tls_context(verify: bool | str | ssl.SSLContext | None, tls_needed: bool) -> ssl.SSLContext:
    """The TLS context of a client we own, built for it, as httpx builds one per client.

    A long-lived client loads its CA bundle once; only clients that will
    speak https load one at all.
    """
    if isinstance(verify, ssl.SSLContext):
        return verify
    if not tls_needed:
        # httpx's transport wants a context even for an http:// endpoint.
        # This one loads no certificate and, should anything ever make such
        # a client speak TLS, verifies and so fails closed.
        return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if isinstance(verify, str):
        # A CA bundle file or directory (httpx deprecates verify=<str>).
        return ca_bundle_context(verify)
    return httpx.create_ssl_context(verify=True if verify is None else verify)


def _own_or_theirs(
    kind: type[_HttpxClient],
    http_client: object,
    verify: bool | str | ssl.SSLContext | None,
    config: ShellConfig,
) -> tuple[_HttpxClient, bool]:
    """The httpx client to send through, and whether we own (and close) it."""
    if http_client is None:
        limits = httpx.Limits(
            max_connections=config.max_connections,
            max_keepalive_connections=config.max_connections,
        )
        # httpx's defaults otherwise: its transport, trust_env (proxy
        # variables, SSL_CERT_FILE), no redirects followed.
        return kind(verify=_tls_context(verify, config.tls_needed), limits=limits), True
    if not isinstance(http_client, kind):
        raise TypeError(
            f"http_client must be an httpx.{kind.__name__} here, "
            f"not {type(http_client).__module__}.{type(http_client).__qualname__}"
        )
    if verify is not None:
        raise ValidationError(
            field="verify",
            rule="cannot be combined with http_client: set TLS on the httpx client you pass",
        )
    return http_client, False


class _HideReplyHeads(logging.Filter):
    """Keeps the status of reply heads httpcore logs at DEBUG, and the class of its errors.

    httpcore logs every reply's head, header values included, and every
    exception that ended a step, whose text can quote the server's bytes
    (h11's "illegal status line: ...", "illegal chunk header: ..."). A reply
    can echo the username or the feedback token (a reflecting proxy, a
    hostile endpoint). Installed on httpcore's loggers when this module is
    imported; records of other kinds pass unchanged.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.msg
        if not isinstance(message, str):
            return True
        if message.startswith(_HEADS):
            status = _STATUS.search(message)
            record.msg = "%s status=%s (headers hidden by cognito_raw)"
            record.args = (_HEADS, status.group(1) if status else "?")
        elif (failed := _FAILED.match(message)) is not None:
            record.msg = "%s exception=%s (its text hidden by cognito_raw)"
            record.args = (failed.group(1), failed.group(2))
        return True


class _HideReasonPhrase(logging.Filter):
    """Hides the reason phrase of httpx's INFO line ``HTTP Request: ... "HTTP/1.1 400 ..."``.

    The phrase is whatever the server sent, so it can echo the request's
    secrets like any other reply text.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if (
            record.msg == _REQUEST_LINE
            and isinstance(record.args, tuple)
            and len(record.args) == 5
        ):
            record.args = (*record.args[:4], "(reason phrase hidden by cognito_raw)")
        return True


_HEADS = "receive_response_headers.complete"
# Every step's failure: "receive_response_body.failed exception=RemoteProtocolError(...)".
_FAILED = re.compile(r"([\w.]+\.failed) exception=(\w+)")
# httpcore's HTTP/1.1 head: (b'HTTP/1.1', 400, b'Bad Request', [...]); HTTP/2: (400, [...]).
_STATUS = re.compile(r"return_value=\((?:b'[^']*', )?(\d+)")
# httpx's own record of each request (httpx/_client.py).
_REQUEST_LINE = 'HTTP Request: %s %s "%s %d %s"'


def _hide_reply_heads_in_httpcore_logs() -> None:
    """Installs the filters on httpcore's and httpx's loggers, once however often it runs.

    A filter of an earlier copy of this module (a reload) counts as installed.
    """
    targets: list[tuple[str, type[logging.Filter]]] = [
        (name, _HideReplyHeads)
        for name in ("httpcore.http11", "httpcore.http2", "httpcore.connection", "httpcore.proxy")
    ]
    targets.append(("httpx", _HideReasonPhrase))
    for name, kind in targets:
        logger = logging.getLogger(name)
        if not any(_same_class(type(f), kind) for f in logger.filters):
            logger.addFilter(kind())


def _same_class(seen: type, kind: type) -> bool:
    # By module and name, not identity: a reloaded module's class is another
    # object, but a user's filter that merely shares the name is not ours.
    return (seen.__module__, seen.__qualname__) == (kind.__module__, kind.__qualname__)


# Whoever imports this module is about to send through httpx: its loggers are
# filtered from here on, whichever client (or http_client) sends.
_hide_reply_heads_in_httpcore_logs()


def _check_idna(endpoint_url: str | None) -> None:
    if endpoint_url is None:
        return
    try:
        httpx.URL(endpoint_url).host  # noqa: B018 - IDNA-decodes, which may fail
    except ValueError:  # idna's errors are UnicodeErrors
        raise ValidationError(
            field="endpoint_url", rule="the host must be a valid internationalised domain name"
        ) from None


def _httpx_timeout(timeout: Timeout, left: float) -> httpx.Timeout:
    # No single network wait may outlast what the attempt has left.
    return httpx.Timeout(
        connect=min(timeout.connect, left),
        read=min(timeout.read, left),
        write=min(timeout.write, left),
        pool=min(timeout.pool, left),
    )


def _httpx_request(
    client: httpx.Client | httpx.AsyncClient, send: Send, left: float
) -> httpx.Request:
    http = send.request
    return client.build_request(
        http.method,
        http.url,
        headers=http.headers,
        content=http.body,
        timeout=_httpx_timeout(send.timeout, left),
    )


def _translate(exc: httpx.TransportError) -> TransportError:
    """The one place httpx's transport exceptions become ours."""
    text = str(exc) or type(exc).__name__
    error: TransportError
    if isinstance(exc, httpx.TimeoutException):
        error = RequestTimeoutError(f"timed out ({type(exc).__name__}: {text})")
    elif (untrusted := certificate_error(exc)) is not None:
        # httpx raises ConnectError from httpcore's, raised from ssl's.
        error = untrusted
    elif isinstance(exc, httpx.ProtocolError):
        # h11's text quotes the server's bytes, which may echo the request's
        # username or token: neither the text nor the exception is kept.
        return TransportError(
            f"{type(exc).__name__}: the reply is not valid HTTP (the details, which quote "
            "the server's bytes, are not kept)"
        )
    else:
        error = TransportError(f"{type(exc).__name__}: {text}")
    error.__cause__ = exc
    return error


def _reply_from_content(response: httpx.Response, limit: int) -> Reply:
    # An event hook read the body already: httpx has decoded it, only the
    # bound is ours to apply.
    content = response.content
    return Reply(response.status_code, response.headers.raw, content[:limit], len(content) > limit)


def _reply(response: httpx.Response, reader: BodyReader) -> Reply:
    return finish_reply(
        response.status_code,
        response.headers.raw,
        reader,
        response.headers.get("content-encoding"),
    )


class Client(BlockingShell):
    """A blocking UpdateAuthEventFeedback client over ``httpx.Client``.

    Safe to share between threads. The endpoint comes from each call's user
    pool ID unless ``region`` or ``endpoint_url`` pins it (``http://`` only to
    a loopback host unless ``allow_http``). ``timeout`` is seconds (each
    attempt, end to end) or a ``Timeout``; ``retry`` a ``RetryPolicy``;
    ``rate_limit`` calls per second (or a shared ``RateLimiter``);
    ``max_connections`` the size of the connection pool (10).

    By default the client owns an ``httpx.Client`` with httpx's default
    transport and settings (proxy variables honoured; respx and pytest-httpx
    intercept it); ``verify`` is ``True``, ``False``, a CA bundle path or an
    ``ssl.SSLContext`` for it. ``http_client`` is an ``httpx.Client`` of yours
    to send through instead (never closed by us; ``verify`` then raises
    ``ValidationError``, an ``httpx.AsyncClient`` ``TypeError``).
    ``on_attempt`` is called with an ``AttemptInfo`` after every attempt;
    ``sleep``, ``clock`` and ``random`` are for tests.

    At most ``max_connections`` attempts are in flight at once; other
    threads wait for one, within their attempt's pool timeout.
    A closed client raises ``RuntimeError``, as httpx does; every other
    failure is a ``CognitoError``.
    """

    def __init__(
        self,
        *,
        http_client: httpx.Client | None = None,
        verify: bool | str | ssl.SSLContext | None = None,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        sleep: Callable[[float], None] = time.sleep,
        **options: Unpack[ShellOptions],
    ) -> None:
        self._config = ShellConfig(max_connections=max_connections, **options)
        _check_idna(self._config.endpoint_url)
        self._http, self._owned = _own_or_theirs(httpx.Client, http_client, verify, self._config)
        self._sleep = sleep
        self._in_flight = threading.BoundedSemaphore(max_connections)

    def _check_open(self) -> None:
        if self._http.is_closed:
            raise RuntimeError(CLOSED)

    def _transmit(self, send: Send) -> Reply | TransportError:
        left = self._config.time_left(send)
        # At most max_connections attempts reach httpcore's pool at once, so
        # none ever queues in it: a queued request can have its connection
        # closed under it by another thread (encode/httpcore#1110).
        if not self._in_flight.acquire(timeout=min(send.timeout.pool, left)):
            return RequestTimeoutError("timed out waiting for a free connection (pool)")
        try:
            # What is left after the wait for a slot bounds the network waits.
            left = self._config.time_left(send)
            return self._exchange(_httpx_request(self._http, send, left), send)
        finally:
            self._in_flight.release()

    def _exchange(self, request: httpx.Request, send: Send) -> Reply | TransportError:
        try:
            response = self._http.send(request, stream=True, follow_redirects=False)
            try:
                return self._read(response, send)
            finally:
                response.close()
        except httpx.TransportError as exc:
            return _translate(exc)

    def _read(self, response: httpx.Response, send: Send) -> Reply | TransportError:
        if response.is_stream_consumed:
            return _reply_from_content(response, self._config.max_body)
        reader = BodyReader(self._config.max_body)
        for chunk in response.iter_raw():
            if not reader.feed(chunk):
                break
            if self._config.clock() > send.deadline:
                return out_of_time()
        return _reply(response, reader)

    def close(self) -> None:
        """Close the connection pool (not an ``http_client`` you passed in)."""
        if self._owned:
            self._http.close()


class AsyncClient(AsyncShell):
    """An async UpdateAuthEventFeedback client over ``httpx.AsyncClient``, for asyncio and trio.

    The same options as ``Client`` (``sleep`` is awaited; ``http_client`` is
    an ``httpx.AsyncClient``). Safe to share between tasks. At most
    ``max_connections`` attempts are in flight at once, whichever pool sends
    them: httpcore's async pool slows down as requests queue in it
    (encode/httpx#3215), so the others wait here, within their deadline.
    """

    def __init__(
        self,
        *,
        http_client: httpx.AsyncClient | None = None,
        verify: bool | str | ssl.SSLContext | None = None,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        **options: Unpack[ShellOptions],
    ) -> None:
        # anyio is the async client's to load: a blocking Client's cold
        # start does not pay for it.
        import anyio  # noqa: PLC0415
        import anyio.lowlevel  # noqa: PLC0415

        self._config = ShellConfig(max_connections=max_connections, **options)
        _check_idna(self._config.endpoint_url)
        self._http, self._owned = _own_or_theirs(
            httpx.AsyncClient, http_client, verify, self._config
        )
        self._anyio = anyio
        self._sleep = sleep if sleep is not None else anyio.sleep
        self._in_flight: anyio.Semaphore = anyio.Semaphore(max_connections)
        self._loop: weakref.ref[object] | None = None

    def _check_open(self) -> None:
        if self._http.is_closed:
            raise RuntimeError(CLOSED)
        self._check_event_loop()

    def _check_event_loop(self) -> None:
        # httpx's async connections (and the semaphore) belong to the event
        # loop that opened them; on another loop they fail with "Event loop is
        # closed" or worse. Say so at once instead.
        loop = self._anyio.lowlevel.current_token().native_token
        if self._loop is None:
            self._loop = weakref.ref(loop)
        elif self._loop() is not loop:
            raise RuntimeError(
                "this AsyncClient was first used in another event loop, which owns its "
                "connections: create one AsyncClient per event loop (as with httpx.AsyncClient)"
            )

    async def _transmit(self, send: Send) -> Reply | TransportError:
        left = self._config.time_left(send)
        request = _httpx_request(self._http, send, left)
        response: httpx.Response | None = None
        try:
            with self._anyio.move_on_after(left):
                async with self._in_flight:
                    response = await self._http.send(request, stream=True, follow_redirects=False)
                    return await self._read(response)
            return out_of_time()  # the scope ran out of time
        except httpx.TransportError as exc:
            return _translate(exc)
        finally:
            if response is not None:
                await response.aclose()

    async def _read(self, response: httpx.Response) -> Reply:
        if response.is_stream_consumed:
            return _reply_from_content(response, self._config.max_body)
        reader = BodyReader(self._config.max_body)
        async for chunk in response.aiter_raw():
            if not reader.feed(chunk):
                break
        return _reply(response, reader)

    async def aclose(self) -> None:
        """Close the connection pool (not an ``http_client`` you passed in)."""
        if self._owned:
            await self._http.aclose()
