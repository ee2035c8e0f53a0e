"""What every client shell shares: configuration, the call plan, the drive loops, reply bodies.

A client shell (``Client``/``AsyncClient`` over httpx, and the clients of the
other HTTP stacks) only moves bytes: it carries out the ``Send`` and ``Sleep``
actions of ``run_call`` and hands back what came in. Everything else lives
here once, with no HTTP library imported: checking the constructor's
options, building the request and the plan, the loop that drives the plan
(one blocking, one awaiting: the only place the two differ), and turning the
raw reply body into the one ``parse_response`` reads (bounded, decoded by one
rule).
"""

from __future__ import annotations

import os
import random as _random
import time
import zlib
from collections.abc import Awaitable, Callable, Generator

from cognito_raw._call.config import DEFAULT_MAX_BODY, RetryPolicy, Timeout
from cognito_raw._call.driver import (
    AttemptInfo,
    BodyReader,
    Reply,
    RetryBudget,
    Send,
    Sleep,
    run_call,
)
from cognito_raw._call.limiter import RateLimiter
from cognito_raw._core.endpoints import check_custom_endpoint, validate_region
from cognito_raw._core.errors import RequestTimeoutError, TransportError, ValidationError
from cognito_raw._core.model import (
    FeedbackValue,
    UpdateAuthEventFeedbackRequest,
    UpdateAuthEventFeedbackResponse,
    feedback_request,
)
from cognito_raw._core.protocol import (
    Headers,
    HttpRequest,
    build_request,
    check_user_agent_extra,
)

# typing costs milliseconds at import; annotations alone need it (PEP 563).
TYPE_CHECKING = False
if TYPE_CHECKING:
    import ssl
    from typing import Final, TypedDict

    from typing_extensions import Self

    class ShellOptions(TypedDict, total=False):
        """The keywords every client takes and hands to ``ShellConfig`` (typing only).

        Each client's docstring says what they mean; ``ShellConfig`` holds
        their defaults and checks them.
        """

        region: str | None
        endpoint_url: str | None
        use_fips: bool
        use_dualstack: bool
        allow_http: bool
        timeout: float | Timeout | None
        retry: RetryPolicy | None
        user_agent_extra: str | None
        rate_limit: float | RateLimiter | None
        on_attempt: Callable[[AttemptInfo], None] | None
        max_body: int
        clock: Callable[[], float]
        random: Callable[[], float]


__all__ = [
    "CLOSED",
    "DEFAULT_MAX_CONNECTIONS",
    "AsyncShell",
    "BlockingShell",
    "Plan",
    "ShellConfig",
    "ca_bundle_context",
    "certificate_error",
    "decode_body",
    "drive",
    "drive_async",
    "feedback_request",
    "finish_reply",
    "out_of_time",
]

# Like botocore's max_pool_connections: ample for a quota of 25 calls a second.
DEFAULT_MAX_CONNECTIONS: Final = 10

# What a closed client raises (as a RuntimeError), in httpx's words.
CLOSED: Final = "Cannot send a request, as the client has been closed."

Plan = Generator[Send | Sleep, Reply | TransportError | None, UpdateAuthEventFeedbackResponse]


class BlockingShell:
    """The public face every blocking client shares: its two calls, closing, a context manager.

    A client sets ``_config`` and ``_sleep`` and supplies ``_transmit`` (one
    attempt: a ``Send`` in, a ``Reply`` or ``TransportError`` out),
    ``_check_open`` (``RuntimeError`` once closed) and ``close``.
    """

    _config: ShellConfig
    _sleep: Callable[[float], None]

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
            feedback_request(user_pool_id, username, event_id, feedback_token, feedback_value)
        )

    def send(self, request: UpdateAuthEventFeedbackRequest) -> UpdateAuthEventFeedbackResponse:
        """Send a prebuilt request (also one made with ``unchecked()``)."""
        self._check_open()
        return drive(self._config.plan(request), self._transmit, self._sleep)

    def _check_open(self) -> None:
        raise NotImplementedError  # pragma: no cover - every client defines it

    def _transmit(self, send: Send) -> Reply | TransportError:
        raise NotImplementedError  # pragma: no cover - every client defines it

    def close(self) -> None:
        """Release the client's connections; later calls raise ``RuntimeError``."""
        raise NotImplementedError  # pragma: no cover - every client defines it

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return self._config.describe(type(self))


class AsyncShell:
    """``BlockingShell`` for the async clients: the same calls awaited, ``aclose``."""

    _config: ShellConfig
    _sleep: Callable[[float], Awaitable[None]]

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
            feedback_request(user_pool_id, username, event_id, feedback_token, feedback_value)
        )

    async def send(
        self, request: UpdateAuthEventFeedbackRequest
    ) -> UpdateAuthEventFeedbackResponse:
        """Send a prebuilt request (also one made with ``unchecked()``)."""
        self._check_open()
        return await drive_async(self._config.plan(request), self._transmit, self._sleep)

    def _check_open(self) -> None:
        raise NotImplementedError  # pragma: no cover - every client defines it

    async def _transmit(self, send: Send) -> Reply | TransportError:
        raise NotImplementedError  # pragma: no cover - every client defines it

    async def aclose(self) -> None:
        """Release the client's connections; later calls raise ``RuntimeError``."""
        raise NotImplementedError  # pragma: no cover - every client defines it

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return self._config.describe(type(self))


class ShellConfig:
    """A client's checked options, and the plan of each call; no I/O.

    Raises ``ValidationError`` for a bad option (the field and the rule).
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
        user_agent_extra: str | None = None,
        rate_limit: float | RateLimiter | None = None,
        on_attempt: Callable[[AttemptInfo], None] | None = None,
        max_body: int = DEFAULT_MAX_BODY,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        clock: Callable[[], float] = time.monotonic,
        random: Callable[[], float] = _random.random,
    ) -> None:
        if endpoint_url is not None:
            endpoint_url = check_custom_endpoint(
                endpoint_url, use_fips=use_fips, use_dualstack=use_dualstack, allow_http=allow_http
            )
        if region is not None:
            validate_region(region)
        if user_agent_extra is not None:
            check_user_agent_extra(user_agent_extra)
        if type(max_body) is not int or max_body < 1:
            # A body limit of 0 or less would also lift the decompression bound.
            raise ValidationError(
                field="max_body", rule=f"must be an integer >= 1 (bytes; got {max_body!r})"
            )
        if not isinstance(max_connections, int) or max_connections < 1:
            raise ValidationError(
                field="max_connections", rule=f"must be an integer >= 1 (got {max_connections!r})"
            )
        self.region = region
        self.endpoint_url = endpoint_url
        self.use_fips = use_fips
        self.use_dualstack = use_dualstack
        self.allow_http = allow_http
        self.timeout = Timeout.of(timeout)
        self.policy = retry if retry is not None else RetryPolicy()
        self.budget = RetryBudget(self.policy.retry_budget)
        self.user_agent_extra = user_agent_extra
        self.limiter = (
            RateLimiter(rate_limit, clock=clock)
            if isinstance(rate_limit, int | float)
            else rate_limit
        )
        self.on_attempt = on_attempt
        self.max_body = max_body
        self.max_connections = max_connections
        self.clock = clock
        self.random = random

    @property
    def tls_needed(self) -> bool:
        """Whether calls can go to an https endpoint (every endpoint but an http:// one)."""
        return self.endpoint_url is None or self.endpoint_url.startswith("https://")

    def http_request(self, request: UpdateAuthEventFeedbackRequest) -> HttpRequest:
        """The HTTP request a client with these options sends (``ValidationError`` if none).

        ``plan`` sends it; the CLI's ``--dry-run`` shows it.
        """
        return build_request(
            request,
            region=self.region,
            endpoint_url=self.endpoint_url,
            use_fips=self.use_fips,
            use_dualstack=self.use_dualstack,
            allow_http=self.allow_http,
            user_agent_extra=self.user_agent_extra,
        )

    def plan(self, request: UpdateAuthEventFeedbackRequest) -> Plan:
        """Build the request (``ValidationError`` before anything is sent) and its call plan."""
        return run_call(
            self.http_request(request),
            policy=self.policy,
            timeout=self.timeout,
            budget=self.budget,
            limiter=self.limiter,
            clock=self.clock,
            random=self.random,
            secrets=(str(request.username), str(request.feedback_token)),
            on_attempt=self.on_attempt,
        )

    def time_left(self, send: Send) -> float:
        """Seconds until ``send``'s attempt must end (never below a millisecond)."""
        return max(send.deadline - self.clock(), 0.001)

    def describe(self, cls: type) -> str:
        """A client's repr: where it sends, never a secret."""
        where = self.endpoint_url or self.region or "region from the user pool ID"
        return f"{cls.__name__}({where!r})"


def drive(
    plan: Plan,
    transmit: Callable[[Send], Reply | TransportError],
    sleep: Callable[[float], None] = time.sleep,
) -> UpdateAuthEventFeedbackResponse:
    """Carry out ``plan`` with blocking I/O; return its result or raise its exception.

    Whatever ends the loop early (an exception from ``transmit`` or
    ``sleep``, a ``KeyboardInterrupt``) closes the plan, so a rate-limiter
    slot it was waiting for is given back.
    """
    try:
        action = next(plan)
        while True:
            if isinstance(action, Sleep):
                sleep(action.seconds)
                action = plan.send(None)
            else:
                action = plan.send(transmit(action))
    except StopIteration as stop:
        result: UpdateAuthEventFeedbackResponse = stop.value
        return result
    finally:
        plan.close()


async def drive_async(
    plan: Plan,
    transmit: Callable[[Send], Awaitable[Reply | TransportError]],
    sleep: Callable[[float], Awaitable[None]],
) -> UpdateAuthEventFeedbackResponse:
    """``drive`` with awaited I/O; a cancelled call closes the plan the same way."""
    try:
        action = next(plan)
        while True:
            if isinstance(action, Sleep):
                await sleep(action.seconds)
                action = plan.send(None)
            else:
                action = plan.send(await transmit(action))
    except StopIteration as stop:
        result: UpdateAuthEventFeedbackResponse = stop.value
        return result
    finally:
        plan.close()


# RFC 9110 §8.4.1: "gzip" (x-gzip is its old alias) and "deflate" (the zlib
# format, which some servers send as bare deflate data).
_GZIP: Final = 16 + zlib.MAX_WBITS
_ZLIB: Final = zlib.MAX_WBITS
_RAW_DEFLATE: Final = -zlib.MAX_WBITS
_CODINGS: Final[dict[str, tuple[int, ...]]] = {
    "gzip": (_GZIP,),
    "x-gzip": (_GZIP,),
    "deflate": (_ZLIB, _RAW_DEFLATE),
}


def _first_coding(value: str | bytes | None) -> str:
    # A reply with several Content-Encoding values (repeated, or joined with
    # ",") is read by its first, like every header the clients read.
    if value is None:
        return ""
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    return text.split(",", 1)[0].strip().lower()


def _inflate(raw: bytes, wbits: int, limit: int) -> tuple[bytes, bool] | None:
    inflater = zlib.decompressobj(wbits=wbits)
    try:
        out = inflater.decompress(raw, limit + 1)
    except zlib.error:
        return None
    if len(out) > limit:
        return out[:limit], True  # more than the limit: a bomb stops here
    if not inflater.eof or inflater.unused_data:
        return None  # cut short, or followed by other bytes: not a whole stream
    return out, False


def decode_body(raw: bytes, coding: str | bytes | None, limit: int) -> tuple[bytes, bool]:
    """The body a reply meant, from the bytes received: ``(body, cut_at_limit)``.

    The one rule for every body: a body labelled ``gzip``/``x-gzip`` or
    ``deflate`` (the first ``Content-Encoding`` value) counts as compressed
    only if it is one complete stream of that coding; it is then
    decompressed, at most to ``limit`` bytes (``cut_at_limit`` says it went
    on). Any other body, a mislabelled one (a proxy that says gzip and sends
    ``{}``), a truncated stream or an unknown coding, is read exactly as
    received: never a silent prefix of what was meant. The clients ask for
    ``identity``, so compression only comes from something in between.
    """
    wbits_to_try = _CODINGS.get(_first_coding(coding), ())
    for wbits in wbits_to_try:
        decoded = _inflate(raw, wbits, limit)
        if decoded is not None:
            return decoded
    return raw, False


def finish_reply(
    status_code: int,
    headers: Headers,
    reader: BodyReader,
    content_encoding: str | bytes | None,
) -> Reply:
    """A ``Reply`` from what a shell read: status, raw header pairs and the bounded body."""
    body, cut = decode_body(reader.body, content_encoding, reader.limit)
    # Cut while reading (past the limit on the wire), or while decompressing.
    return Reply(status_code, headers, body, reader.truncated or cut)


def out_of_time() -> TransportError:
    """The error of an attempt past its deadline (``Timeout.total``, cut to the call's)."""
    return RequestTimeoutError("timed out (the attempt's total timeout ran out)")


def certificate_error(exc: BaseException) -> TransportError | None:
    """The error for ``exc`` if a TLS certificate check caused it (its cause chain), else None.

    Another handshake with the same server cannot succeed: not retried.
    """
    import ssl  # noqa: PLC0415 - loaded already wherever TLS was spoken

    seen: BaseException | None = exc
    for _ in range(8):
        if seen is None:
            return None
        if isinstance(seen, ssl.SSLCertVerificationError):
            return TransportError(
                f"TLS certificate verification failed ({seen.reason}: "
                f"{seen.verify_message or 'no detail'}); not retried",
                retryable=False,
            )
        seen = seen.__cause__ or seen.__context__
    return None


def ca_bundle_context(path: str) -> ssl.SSLContext:
    """A verifying TLS context trusting the CA bundle at ``path`` (a PEM file or a directory).

    Built for each client that asks (the client keeps it for its lifetime).
    Raises ``ValidationError`` (field ``verify``) when nothing is at ``path``.
    """
    import ssl  # noqa: PLC0415 - Pyodide, where the fetch client runs, has no ssl

    if os.path.isdir(path):
        return ssl.create_default_context(capath=path)
    if not os.path.isfile(path):
        raise ValidationError(field="verify", rule="must name a CA bundle file or directory")
    return ssl.create_default_context(cafile=path)
