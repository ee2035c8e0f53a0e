"""Client and AsyncClient: httpx drivers of ``run_call``.

With the transports (``_sync``, ``_aio``, ``_wire``), the only modules that
import httpx. It holds no protocol knowledge: requests come from
``build_request``, replies go to ``parse_response`` (inside ``run_call``), and
retry decisions are ``run_call``'s. What lives here is I/O: sending, reading a
bounded body, sleeping, and translating httpx's transport exceptions once, at
the boundary.

By default each client sends through a transport of ours (HTTP/1.1 from
``_http11``, called directly with an ``httpx.Request``), which bounds every
socket operation of an attempt by the attempt's remaining time (``_deadline``):
httpx's own timeouts apply per operation, so a server trickling one byte per
read timeout could otherwise hold a call for minutes. A caller's
``http_client`` is bounded between body chunks instead. Both build a TLS
context only for https endpoints, once.
"""

from __future__ import annotations

import contextvars
import functools
import os
import random as _random
import ssl
import time
import zlib
from collections.abc import Awaitable, Callable, Generator
from types import TracebackType
from typing import TYPE_CHECKING, Final

import httpx

from ._deadline import ATTEMPT_DEADLINE
from ._endpoints import check_endpoint_url, validate_region
from ._errors import RequestTimeoutError, TransportError, ValidationError
from ._model import FeedbackValue, UpdateAuthEventFeedbackRequest, UpdateAuthEventFeedbackResponse
from ._protocol import HttpRequest, build_request, check_user_agent_extra
from ._retry import (
    DEFAULT_MAX_BODY,
    AttemptInfo,
    BodyReader,
    RateLimiter,
    Reply,
    RetryBudget,
    RetryPolicy,
    Send,
    Sleep,
    Timeout,
    run_call,
)
from ._sync import SyncTransport

if TYPE_CHECKING:
    from ._aio import AsyncioTransport

__all__ = ["AsyncClient", "Client"]


@functools.lru_cache(maxsize=8)
def _default_tls_context(verify: bool | str) -> ssl.SSLContext:
    # Loading the CA bundle costs milliseconds: once per process, and only
    # for clients that will speak https.
    if isinstance(verify, str):
        # A CA bundle file or directory (httpx deprecates verify=<str>).
        if os.path.isdir(verify):
            return ssl.create_default_context(capath=verify)
        return ssl.create_default_context(cafile=verify)
    return httpx.create_ssl_context(verify=verify)


def _tls_context(verify: bool | str | ssl.SSLContext) -> ssl.SSLContext:
    return verify if isinstance(verify, ssl.SSLContext) else _default_tls_context(verify)


# Room for many concurrent calls (a proxy fans out), few idle sockets kept.
_MAX_CONNECTIONS: Final = 100
_MAX_KEEPALIVE: Final = 20
_KEEPALIVE_EXPIRY: Final = 30.0


def _translate(exc: httpx.TransportError) -> TransportError:
    """The one place httpx's transport exceptions become ours."""
    text = str(exc) or type(exc).__name__
    error: TransportError
    if isinstance(exc, httpx.TimeoutException):
        error = RequestTimeoutError(f"timed out ({type(exc).__name__}: {text})")
    else:
        error = TransportError(f"{type(exc).__name__}: {text}")
    error.__cause__ = exc
    return error


def _decode(raw: bytes, encoding: bytes | None, limit: int) -> bytes:
    # We ask for identity encoding; a proxy may compress anyway. Decompress
    # gzip/deflate at most to the body limit (a gzip bomb stops there); any
    # other encoding stays as it is and will not parse as JSON.
    if not encoding or encoding.strip().lower() in (b"identity", b""):
        return raw
    if encoding.strip().lower() in (b"gzip", b"x-gzip", b"deflate"):
        try:
            return zlib.decompressobj(wbits=47).decompress(raw, limit)
        except zlib.error:
            try:
                return zlib.decompressobj(wbits=-15).decompress(raw, limit)
            except zlib.error:
                return raw
    return raw


@functools.lru_cache(maxsize=8)
def _full_timeout(timeout: Timeout) -> httpx.Timeout:
    return httpx.Timeout(
        connect=timeout.connect, read=timeout.read, write=timeout.write, pool=timeout.pool
    )


def _httpx_timeout(timeout: Timeout, left: float) -> httpx.Timeout:
    # Usually the attempt has more time left than any one operation may take:
    # the same httpx.Timeout then serves every call.
    if left >= max(timeout.connect, timeout.read, timeout.write, timeout.pool):
        return _full_timeout(timeout)
    left = max(left, 0.001)
    return httpx.Timeout(
        connect=min(timeout.connect, left),
        read=min(timeout.read, left),
        write=min(timeout.write, left),
        pool=min(timeout.pool, left),
    )


# Parsed URLs by text: parsing costs 10 µs a call, and a client sends to a
# handful of endpoints (one per region it sees). Bounded like _protocol's.
_URLS: Final[dict[str, httpx.URL]] = {}
_URLS_MAX: Final = 64


def _url(text: str) -> httpx.URL:
    url = _URLS.get(text)
    if url is None:
        if len(_URLS) >= _URLS_MAX:
            _URLS.clear()
        url = _URLS[text] = httpx.URL(text)
    return url


def _request_for(http: HttpRequest, timeout: httpx.Timeout) -> httpx.Request:
    # Our request as httpx's, for our own transport: build_request already
    # wrote every header (httpx adds Host), so none of a client's merging,
    # cookie jar or auth flow is needed.
    return httpx.Request(
        http.method,
        _url(http.url),
        headers=http.headers,
        content=http.body,
        extensions={"timeout": timeout.as_dict()},
    )


def _open_sync(
    transport: httpx.BaseTransport, http: HttpRequest, timeout: httpx.Timeout
) -> httpx.Response:
    return transport.handle_request(_request_for(http, timeout))


def _open_sync_via(
    client: httpx.Client, http: HttpRequest, timeout: httpx.Timeout
) -> httpx.Response:
    # A caller's client: its headers, auth, event hooks and mounts apply.
    request = client.build_request(
        http.method, http.url, headers=http.headers, content=http.body, timeout=timeout
    )
    return client.send(request, stream=True, follow_redirects=False)


async def _open_async(
    transport: httpx.AsyncBaseTransport, http: HttpRequest, timeout: httpx.Timeout
) -> httpx.Response:
    return await transport.handle_async_request(_request_for(http, timeout))


async def _open_async_via(
    client: httpx.AsyncClient, http: HttpRequest, timeout: httpx.Timeout
) -> httpx.Response:
    request = client.build_request(
        http.method, http.url, headers=http.headers, content=http.body, timeout=timeout
    )
    return await client.send(request, stream=True, follow_redirects=False)


class _Base:
    """Configuration and planning shared by both clients; no I/O."""

    def __init__(
        self,
        *,
        region: str | None,
        endpoint_url: str | None,
        use_fips: bool,
        use_dualstack: bool,
        allow_http: bool,
        timeout: float | Timeout | None,
        retry: RetryPolicy | None,
        user_agent_extra: str | None,
        rate_limit: float | RateLimiter | None,
        on_attempt: Callable[[AttemptInfo], None] | None,
        max_body: int,
        clock: Callable[[], float],
        random: Callable[[], float],
    ) -> None:
        if endpoint_url is not None:
            if use_fips or use_dualstack:
                raise ValidationError(
                    field="endpoint_url",
                    rule="a custom endpoint cannot be combined with use_fips or use_dualstack",
                )
            endpoint_url = check_endpoint_url(endpoint_url, allow_http=allow_http)
            try:
                httpx.URL(endpoint_url).host  # noqa: B018 - IDNA-decodes, which may fail
            except ValueError:  # idna's errors are UnicodeErrors
                raise ValidationError(
                    field="endpoint_url",
                    rule="the host must be a valid internationalised domain name",
                ) from None
        if region is not None:
            validate_region(region)
        self._region = region
        self._endpoint_url = endpoint_url
        self._use_fips = use_fips
        self._use_dualstack = use_dualstack
        self._allow_http = allow_http
        self._timeout = Timeout.of(timeout)
        self._policy = retry if retry is not None else RetryPolicy()
        self._budget = RetryBudget(self._policy.retry_budget)
        if user_agent_extra is not None:
            check_user_agent_extra(user_agent_extra)
        self._user_agent_extra = user_agent_extra
        self._limiter = (
            RateLimiter(rate_limit, clock=clock)
            if isinstance(rate_limit, int | float)
            else rate_limit
        )
        self._on_attempt = on_attempt
        self._max_body = max_body
        self._clock = clock
        self._random = random

    @property
    def _tls_needed(self) -> bool:
        return self._endpoint_url is None or self._endpoint_url.startswith("https://")

    def _plan(
        self, request: UpdateAuthEventFeedbackRequest
    ) -> Generator[Send | Sleep, Reply | TransportError | None, UpdateAuthEventFeedbackResponse]:
        http = build_request(
            request,
            region=self._region,
            endpoint_url=self._endpoint_url,
            use_fips=self._use_fips,
            use_dualstack=self._use_dualstack,
            allow_http=self._allow_http,
            user_agent_extra=self._user_agent_extra,
        )
        return run_call(
            http,
            policy=self._policy,
            timeout=self._timeout,
            budget=self._budget,
            limiter=self._limiter,
            clock=self._clock,
            random=self._random,
            secrets=(str(request.username), str(request.feedback_token)),
            on_attempt=self._on_attempt,
        )

    def _start(
        self, send: Send
    ) -> tuple[HttpRequest, httpx.Timeout, contextvars.Token[float | None]]:
        left = send.deadline - self._clock()
        token = ATTEMPT_DEADLINE.set(time.monotonic() + left)
        return send.request, _httpx_timeout(send.timeout, left), token

    def _reply(self, response: httpx.Response, reader: BodyReader | None) -> Reply:
        if reader is None:
            # An in-memory response (a mock transport, or an event hook that
            # read it): already decoded by httpx, only bounded here.
            body = response.content[: self._max_body]
            truncated = len(response.content) > self._max_body
        else:
            encoding = next(
                (v for k, v in response.headers.raw if k.lower() == b"content-encoding"), None
            )
            body = _decode(reader.body, encoding, self._max_body)
            # Cut while reading, or decompressed up to the limit (a gzip bomb).
            truncated = reader.truncated or len(body) >= self._max_body
        # The raw (bytes, bytes) pairs: parse_response decodes only what it reads.
        return Reply(response.status_code, response.headers.raw, body, truncated)

    def __repr__(self) -> str:
        where = self._endpoint_url or self._region or "region from the user pool ID"
        return f"{type(self).__name__}({where!r})"


def _request(
    user_pool_id: str,
    username: str,
    event_id: str,
    feedback_token: str,
    feedback_value: FeedbackValue | str,
) -> UpdateAuthEventFeedbackRequest:
    return UpdateAuthEventFeedbackRequest(
        user_pool_id=user_pool_id,
        username=username,
        event_id=event_id,
        feedback_token=feedback_token,
        feedback_value=feedback_value,
    )


class Client(_Base):
    """A synchronous UpdateAuthEventFeedback client over ``httpx.Client``.

    Safe to share between threads. The endpoint comes from each call's user
    pool ID unless ``region`` or ``endpoint_url`` pins it (``http://`` only to
    a loopback host unless ``allow_http``). ``timeout`` is a number (each
    attempt, end to end) or a ``Timeout``; ``retry`` a ``RetryPolicy``;
    ``rate_limit`` calls per second (or a shared ``RateLimiter``);
    ``http_client`` an ``httpx.Client`` you own (proxies, mTLS, respx), never
    closed by us; ``verify`` a CA bundle path or an ``ssl.SSLContext`` for the
    default transport; ``on_attempt`` is called with an ``AttemptInfo`` after
    every attempt. ``sleep``, ``clock`` and ``random`` are for tests.
    """

    def __init__(
        self,
        *,
        region: str | None = None,
        endpoint_url: str | None = None,
        use_fips: bool = False,
        use_dualstack: bool = False,
        allow_http: bool = False,
        timeout: float | Timeout | None = None,
        retry: RetryPolicy | None = None,
        http_client: httpx.Client | None = None,
        verify: bool | str | ssl.SSLContext = True,
        user_agent_extra: str | None = None,
        rate_limit: float | RateLimiter | None = None,
        on_attempt: Callable[[AttemptInfo], None] | None = None,
        max_body: int = DEFAULT_MAX_BODY,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        random: Callable[[], float] = _random.random,
    ) -> None:
        super().__init__(
            region=region,
            endpoint_url=endpoint_url,
            use_fips=use_fips,
            use_dualstack=use_dualstack,
            allow_http=allow_http,
            timeout=timeout,
            retry=retry,
            user_agent_extra=user_agent_extra,
            rate_limit=rate_limit,
            on_attempt=on_attempt,
            max_body=max_body,
            clock=clock,
            random=random,
        )
        self._sleep = sleep
        self._transport: SyncTransport | None = None
        self._open: Callable[[HttpRequest, httpx.Timeout], httpx.Response]
        if http_client is None:
            # Our transport, called directly (see _request_for).
            self._transport = SyncTransport(
                _tls_context(verify) if self._tls_needed else None,
                max_connections=_MAX_CONNECTIONS,
                max_keepalive=_MAX_KEEPALIVE,
                keepalive_expiry=_KEEPALIVE_EXPIRY,
            )
            self._open = functools.partial(_open_sync, self._transport)
        else:
            self._open = functools.partial(_open_sync_via, http_client)

    def update_auth_event_feedback(
        self,
        *,
        user_pool_id: str,
        username: str,
        event_id: str,
        feedback_token: str,
        feedback_value: FeedbackValue | str,
    ) -> UpdateAuthEventFeedbackResponse:
        """Send feedback for one risky sign-in; raise a ``CognitoError`` if it did not land.

        Bad input raises ``ValidationError`` before anything is sent.
        """
        return self.send(
            _request(user_pool_id, username, event_id, feedback_token, feedback_value)
        )

    def send(self, request: UpdateAuthEventFeedbackRequest) -> UpdateAuthEventFeedbackResponse:
        """Send a prebuilt request (also one made with ``unchecked()``)."""
        plan = self._plan(request)
        try:
            action = next(plan)
            while True:
                if isinstance(action, Sleep):
                    self._sleep(action.seconds)
                    action = plan.send(None)
                else:
                    action = plan.send(self._transmit(action))
        except StopIteration as stop:
            result: UpdateAuthEventFeedbackResponse = stop.value
            return result

    def _transmit(self, send: Send) -> Reply | TransportError:
        request, timeout, token = self._start(send)
        try:
            response = self._open(request, timeout)
            try:
                if response.is_stream_consumed:
                    return self._reply(response, None)
                reader = BodyReader(self._max_body)
                for chunk in response.iter_raw():
                    if not reader.feed(chunk):
                        break
                    if self._clock() > send.deadline:
                        return _late()
                return self._reply(response, reader)
            finally:
                response.close()
        except httpx.TransportError as exc:
            return _translate(exc)
        finally:
            ATTEMPT_DEADLINE.reset(token)

    def close(self) -> None:
        """Close the connection pool (not an ``http_client`` you passed in)."""
        if self._transport is not None:
            self._transport.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class AsyncClient(_Base):
    """An asyncio UpdateAuthEventFeedback client over ``httpx.AsyncClient``.

    The same options as ``Client`` (``sleep`` is awaited); safe to share
    between tasks.
    """

    def __init__(
        self,
        *,
        region: str | None = None,
        endpoint_url: str | None = None,
        use_fips: bool = False,
        use_dualstack: bool = False,
        allow_http: bool = False,
        timeout: float | Timeout | None = None,
        retry: RetryPolicy | None = None,
        http_client: httpx.AsyncClient | None = None,
        verify: bool | str | ssl.SSLContext = True,
        user_agent_extra: str | None = None,
        rate_limit: float | RateLimiter | None = None,
        on_attempt: Callable[[AttemptInfo], None] | None = None,
        max_body: int = DEFAULT_MAX_BODY,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        clock: Callable[[], float] = time.monotonic,
        random: Callable[[], float] = _random.random,
    ) -> None:
        super().__init__(
            region=region,
            endpoint_url=endpoint_url,
            use_fips=use_fips,
            use_dualstack=use_dualstack,
            allow_http=allow_http,
            timeout=timeout,
            retry=retry,
            user_agent_extra=user_agent_extra,
            rate_limit=rate_limit,
            on_attempt=on_attempt,
            max_body=max_body,
            clock=clock,
            random=random,
        )
        # asyncio (and our transport, built on it) is imported here, not with
        # the module: a sync Client's cold start should not pay for it.
        import asyncio  # noqa: PLC0415

        from ._aio import AsyncioTransport  # noqa: PLC0415

        self._sleep = sleep if sleep is not None else asyncio.sleep
        # Through a caller's client (httpcore's pool, usually), at most as many
        # attempts in flight as a pool has connections: httpcore's async pool
        # re-scans every queued request on every pool event, so a thousand
        # queued calls starve the event loop. Our transport queues in order.
        self._in_flight = asyncio.Semaphore(_MAX_CONNECTIONS) if http_client else None
        self._transport: AsyncioTransport | None = None
        self._open: Callable[[HttpRequest, httpx.Timeout], Awaitable[httpx.Response]]
        if http_client is None:
            self._transport = AsyncioTransport(
                _tls_context(verify) if self._tls_needed else None,
                max_connections=_MAX_CONNECTIONS,
                max_keepalive=_MAX_KEEPALIVE,
                keepalive_expiry=_KEEPALIVE_EXPIRY,
            )
            self._open = functools.partial(_open_async, self._transport)
        else:
            self._open = functools.partial(_open_async_via, http_client)

    async def update_auth_event_feedback(
        self,
        *,
        user_pool_id: str,
        username: str,
        event_id: str,
        feedback_token: str,
        feedback_value: FeedbackValue | str,
    ) -> UpdateAuthEventFeedbackResponse:
        """Send feedback for one risky sign-in; raise a ``CognitoError`` if it did not land.

        Bad input raises ``ValidationError`` before anything is sent.
        """
        return await self.send(
            _request(user_pool_id, username, event_id, feedback_token, feedback_value)
        )

    async def send(
        self, request: UpdateAuthEventFeedbackRequest
    ) -> UpdateAuthEventFeedbackResponse:
        """Send a prebuilt request (also one made with ``unchecked()``)."""
        plan = self._plan(request)
        try:
            action = next(plan)
            while True:
                if isinstance(action, Sleep):
                    await self._sleep(action.seconds)
                    action = plan.send(None)
                else:
                    action = plan.send(await self._transmit(action))
        except StopIteration as stop:
            result: UpdateAuthEventFeedbackResponse = stop.value
            return result

    async def _transmit(self, send: Send) -> Reply | TransportError:
        if self._in_flight is None:
            return await self._transmit_now(send)
        async with self._in_flight:
            return await self._transmit_now(send)

    async def _transmit_now(self, send: Send) -> Reply | TransportError:
        request, timeout, token = self._start(send)
        try:
            response = await self._open(request, timeout)
            try:
                if response.is_stream_consumed:
                    return self._reply(response, None)
                reader = BodyReader(self._max_body)
                async for chunk in response.aiter_raw():
                    if not reader.feed(chunk):
                        break
                    if self._clock() > send.deadline:
                        return _late()
                return self._reply(response, reader)
            finally:
                await response.aclose()
        except httpx.TransportError as exc:
            return _translate(exc)
        finally:
            ATTEMPT_DEADLINE.reset(token)

    async def aclose(self) -> None:
        """Close the connection pool (not an ``http_client`` you passed in)."""
        if self._transport is not None:
            await self._transport.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


def _late() -> TransportError:
    # A transport we do not own (http_client=...) has no per-socket deadline:
    # the check between body chunks is what bounds it.
    return RequestTimeoutError("timed out (the attempt's total timeout ran out)")
