"""The ASGI feedback app: a confirmation page on GET, the submission on POST.

Owns the browser-facing flow and its defences; links are read by
``_url``, pages drawn by ``_page``, and the call made by whatever
``FeedbackSender`` it is given (``cognito_raw.AsyncClient``). It does not
route on the path: mount it anywhere.

Why each defence:

- GET changes nothing: mail scanners and link previewers fetch every link.
- The POST is accepted only from this app's own page. The page is served with
  ``Referrer-Policy: no-referrer`` (the token is in its URL), and under that
  policy browsers send ``Origin: null`` on the form's POST (Fetch, "append a
  request Origin header"; rails/rails#30658). So the browser's own
  ``Sec-Fetch-Site: same-origin`` decides first; a real ``Origin`` must be
  this request's origin or a configured one; and a browser too old for Fetch
  Metadata that sends ``null`` or nothing must echo a ``SameSite=Strict``
  cookie in the form (double submit), which a cross-site page cannot do.
- The form posts the fields in its body to ``?``, so the token is not in the
  POST's request line either.
- Submissions are deduplicated by (pool, event, value) and a keyed digest of
  the username and token, so a double click, or two tabs, reaches Cognito
  once; the map is bounded. Only Cognito calls spend the global token
  bucket; every POST spends its client's (an IPv6 client's key is its /64).
  A client has one call in flight at a time, and one whose link Cognito
  rejects is held back, so that a crowd of addresses sending made-up links
  cannot keep the global bucket empty for real users.
- Nothing logged carries the username or the token.
- With an outbox (``_app_outbox``), a valid submission is committed to a
  database before any answer, and a transient failure answers 202 "received"
  instead of "try again": the deliverer sends it later.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import ipaddress
import logging
import math
import re
import secrets
import time
import urllib.parse
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Collection, Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Protocol

from cognito_raw._asgi import BodyTooLarge, acknowledge_lifespan, read_body
from cognito_raw._call.limiter import TokenBucket
from cognito_raw._core.errors import (
    CognitoError,
    InternalErrorException,
    InvalidParameterException,
    NotAuthorizedException,
    ServiceError,
    TooManyRequestsException,
    TransportError,
    UserNotFoundException,
    ValidationError,
)
from cognito_raw._core.model import (
    FeedbackValue,
    UpdateAuthEventFeedbackRequest,
    UpdateAuthEventFeedbackResponse,
)

from ._outbox.deliverer import Outbox, dedupe_material
from ._page import DEFAULT_STYLESHEET, FeedbackOutcome, FeedbackTexts, render_page, style_hash
from ._url import (
    MAX_LINK_LENGTH,
    PARAM_EVENT,
    PARAM_POOL,
    PARAM_TOKEN,
    PARAM_USERNAME,
    PARAM_VALUE,
    allowed_pools,
    parse_link,
    request_from_fields,
)

if TYPE_CHECKING:
    from ._app_outbox import OutboxFlow

__all__ = [
    "CSRF_COOKIE",
    "DEFAULT_GLOBAL_LIMIT",
    "DEFAULT_PER_CLIENT_LIMIT",
    "FeedbackApp",
    "FeedbackSender",
    "RateLimit",
    "client_key",
    "feedback_app",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_LOG: Final = logging.getLogger("cognito_raw.links")

CSRF_COOKIE: Final = "__Host-cognito-raw-csrf"
CSRF_FIELD: Final = "csrf"
_FORM_FIELDS: Final = (
    PARAM_VALUE,
    PARAM_POOL,
    PARAM_EVENT,
    PARAM_TOKEN,
    PARAM_USERNAME,
    CSRF_FIELD,
)
_FORM_TYPE: Final = "application/x-www-form-urlencoded"
# The form holds the link's fields, each escaped at most 3x; more is not ours.
_MAX_BODY: Final = 3 * MAX_LINK_LENGTH
_CSRF_MAX: Final = 64
# An error code is logged only when it looks like one: it comes from a reply.
_CODE_RE: Final = re.compile(r"[A-Za-z][A-Za-z0-9_.]{0,63}")


class FeedbackSender(Protocol):
    """What ``feedback_app`` needs from a client: ``cognito_raw.AsyncClient`` fits."""

    async def send(
        self, request: UpdateAuthEventFeedbackRequest, /
    ) -> UpdateAuthEventFeedbackResponse:
        """Deliver one request; raise ``cognito_raw`` exceptions on failure."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class RateLimit:
    """A token bucket: ``rate`` requests per second on average, bursts up to ``burst``."""

    rate: float
    burst: int

    def __post_init__(self) -> None:
        if not (math.isfinite(self.rate) and self.rate > 0):
            raise ValidationError(
                field="rate", rule=f"must be a positive number (got {self.rate!r})"
            )
        if self.burst < 1:
            raise ValidationError(field="burst", rule=f"must be at least 1 (got {self.burst!r})")


@dataclass(slots=True)
class _Limiter:
    limit: RateLimit
    max_keys: int
    buckets: OrderedDict[str, TokenBucket] = field(default_factory=OrderedDict)

    def take(self, key: str, now: float) -> float:
        bucket = self.buckets.get(key)
        if bucket is None:
            bucket = TokenBucket(self.limit.rate, self.limit.burst, now)
            self.buckets[key] = bucket
            # Bounded memory: forget the least recently seen client. The
            # global bucket still caps what a crowd of addresses can do.
            while len(self.buckets) > self.max_keys:
                self.buckets.popitem(last=False)
        else:
            self.buckets.move_to_end(key)
        return bucket.take(now)

    def hold_back(self, key: str, now: float, seconds: float) -> None:
        # The key's next POST is admitted no sooner than `seconds` from now.
        bucket = self.buckets.get(key)
        if bucket is not None and seconds > 0:
            bucket.owe(now, seconds)


DEFAULT_PER_CLIENT_LIMIT: Final = RateLimit(rate=0.2, burst=5)
DEFAULT_GLOBAL_LIMIT: Final = RateLimit(rate=10.0, burst=20)

_SECURITY_HEADERS: Final = (
    ("cache-control", "no-store"),
    ("referrer-policy", "no-referrer"),
    ("x-frame-options", "DENY"),
    ("x-content-type-options", "nosniff"),
    ("cross-origin-opener-policy", "same-origin"),
    ("cross-origin-resource-policy", "same-origin"),
    ("x-robots-tag", "noindex, nofollow"),
)


def _header_map(scope: Scope) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name, value in scope.get("headers", ()):
        out.setdefault(bytes(name).decode("latin-1").lower(), []).append(
            bytes(value).decode("latin-1")
        )
    return out


def _single(headers: Mapping[str, list[str]], name: str) -> str | None:
    # A header sent twice is treated as absent-and-suspicious by the callers:
    # None for missing, "" for repeated.
    values = headers.get(name)
    if not values:
        return None
    return values[0].strip() if len(values) == 1 else ""


# Every header value the app reads as a number: ASCII digits only (str.isdigit()
# and int() also take "²", "٣" and "1_0"), at most this many, else a 400. A
# number that long is past every limit the app has anyway.
_MAX_NUMBER_DIGITS: Final = 16


def _header_number(headers: Mapping[str, list[str]], name: str) -> int | None:
    """The header's value as a number; None if absent; ValueError if not one.

    One field of 1 to 16 ASCII digits (RFC 9110's 1*DIGIT, bounded); a repeated
    field is not a number either.
    """
    value = _single(headers, name)
    if value is None:
        return None
    if not (0 < len(value) <= _MAX_NUMBER_DIGITS and value.isascii() and value.isdigit()):
        raise ValueError(f"{name} is not a number")
    return int(value)


def client_key(address: str, *, ipv6_prefix_length: int = 64) -> str:
    """The key of the per-client limit for a client address (text, as in the ASGI scope).

    An IPv4 address is its own key; an IPv6 address is keyed by its
    ``/ipv6_prefix_length`` network (``2001:db8:1:2::/64``), since one host
    commonly holds a whole /64 (RFC 4291 2.5.4; RFC 7421); an IPv4-mapped IPv6
    address (``::ffff:192.0.2.1``) is its IPv4 address. Anything else (a Unix
    socket path, ``"unknown"``) is its own key.
    """
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv4Address):
        return str(ip)
    if ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    # Masked by arithmetic: a scoped address ("fe80::1%eth0") loses its zone.
    host_bits = 128 - ipv6_prefix_length
    network = ipaddress.IPv6Address((int(ip) >> host_bits) << host_bits)
    return f"{network}/{ipv6_prefix_length}"


def _cookie(headers: Mapping[str, list[str]], name: str) -> str | None:
    found: list[str] = []
    for line in headers.get("cookie", ()):
        for pair in line.split(";"):
            key, sep, value = pair.strip().partition("=")
            if sep and key == name:
                found.append(value)
    return found[0] if len(found) == 1 else None


def _good_csrf(value: str | None) -> bool:
    return (
        value is not None
        and 16 <= len(value) <= _CSRF_MAX
        and all(c.isascii() and (c.isalnum() or c in "-_") for c in value)
    )


def _normalise_origin(origin: str) -> str:
    text = origin.strip().rstrip("/").lower()
    parts = urllib.parse.urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.path or parts.query:
        raise ValidationError(
            field="allowed_origins", rule=f"not an origin (scheme://host[:port]): {origin!r}"
        )
    return text


class FeedbackApp:
    """The ASGI 3 app that feedback links open; mount it at any path.

    ``feedback_app(client=..., user_pool_ids=..., ...)`` makes one: it is
    this class under the name the docs use.

    GET shows a confirmation page with one button and changes nothing (mail
    scanners fetch links). POST, from that page only, sends the feedback
    through ``client.send`` (a ``cognito_raw.AsyncClient``) and shows the
    outcome: recorded, already recorded, expired or invalid link, try again
    (throttled, Cognito unreachable), or something went wrong.

    - ``user_pool_ids``: the allow-list; links for any other pool are refused.
    - ``texts``: every page text (language, brand); see ``FeedbackTexts``.
    - ``allowed_origins``: extra origins (``https://example.com``) a POST's
      ``Origin`` may name, e.g. the public origin behind a proxy that rewrites
      ``Host`` or terminates TLS.
    - ``per_client_limit`` (by the client address in the ASGI scope: run your
      server with its proxy-headers option behind a proxy; an IPv6 client by
      its ``/ipv6_prefix_length`` network, see ``client_key``) and
      ``global_limit`` (Cognito calls; the account's quota is 25 per second
      for this category, shared) throttle POSTs with a "try again" page.
      Only a POST that will call Cognito spends the global bucket (not an
      invalid link, a refused origin, or a repeat answered from memory); a
      client has one call of its own in flight at a time; and a client whose
      link Cognito rejects (expired or made-up token, unknown user) waits
      ``rejection_penalty`` seconds before its next POST. So a crowd of N
      keys spends at most N calls at once and N per penalty after that (the
      lockout is worked out in docs/feedback-app.md, "4. Operating the
      feedback app"). With an ``outbox``
      these last two rules do not apply: the outbox's own flow spends the
      bucket.
    - ``remember_for`` seconds a success is remembered (double clicks then
      see "already recorded"); at most ``max_tracked`` entries per map.
    - ``stylesheet`` replaces the CSS; it is allowed by hash in the CSP.
    - ``outbox``: ``sqlite:///absolute/path.db`` or ``postgresql://...`` (or
      an ``Outbox`` with its settings) keeps every valid submission in a
      database before answering, so none is lost to throttling or an
      outage: the call is tried at once; success, "already recorded" and
      "expired" pages are as without it; a throttle, 5xx, network error,
      timeout or a spent ``global_limit`` answers 202 "received, will be
      delivered" instead of "try again", and a deliverer started in the ASGI
      lifespan (or ``cognito-raw outbox deliver``) sends it later, retrying
      until delivered, rejected or ``max_age`` old. A bad URL raises
      ``ValidationError``; an outbox that cannot be opened fails the
      lifespan startup (or shows "try again" when there is no lifespan).

    Every page is sent with ``Cache-Control: no-store``, ``Referrer-Policy:
    no-referrer``, a Content-Security-Policy without scripts,
    ``frame-ancestors 'none'`` and ``X-Frame-Options: DENY``, and
    ``X-Content-Type-Options: nosniff``. Usernames and tokens are never
    logged (logger ``cognito_raw.links``). Runs on asyncio.
    """

    def __init__(
        self,
        *,
        client: FeedbackSender,
        user_pool_ids: Collection[str],
        texts: FeedbackTexts | None = None,
        allowed_origins: Collection[str] = (),
        per_client_limit: RateLimit = DEFAULT_PER_CLIENT_LIMIT,
        global_limit: RateLimit = DEFAULT_GLOBAL_LIMIT,
        stylesheet: str = DEFAULT_STYLESHEET,
        remember_for: float = 900.0,
        max_tracked: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
        outbox: str | Outbox | None = None,
        ipv6_prefix_length: int = 64,
        rejection_penalty: float = 60.0,
    ) -> None:
        if "</" in stylesheet:
            raise ValidationError(
                field="stylesheet", rule="must not contain '</' (it is inlined in <style>)"
            )
        if isinstance(allowed_origins, str):
            raise TypeError("allowed_origins must be a collection of origins, not a single str")
        if max_tracked < 1 or not remember_for > 0:
            raise ValidationError(
                field="max_tracked", rule="max_tracked and remember_for must be positive"
            )
        if not (isinstance(ipv6_prefix_length, int) and 1 <= ipv6_prefix_length <= 128):
            raise ValidationError(field="ipv6_prefix_length", rule="must be an int from 1 to 128")
        if not (math.isfinite(rejection_penalty) and rejection_penalty >= 0):
            raise ValidationError(
                field="rejection_penalty", rule="must be a finite number of seconds, 0 or more"
            )
        self._client = client
        self._pools = allowed_pools(user_pool_ids)
        self._texts = texts if texts is not None else FeedbackTexts()
        self._origins = frozenset(_normalise_origin(o) for o in allowed_origins)
        self._clients = _Limiter(limit=per_client_limit, max_keys=max_tracked)
        self._v6 = ipv6_prefix_length
        self._penalty = float(rejection_penalty)
        # Client keys with a Cognito call of their own in flight.
        self._calling: set[str] = set()
        self._global = TokenBucket(global_limit.rate, global_limit.burst, clock())
        self._stylesheet = stylesheet
        self._csp = (
            f"default-src 'none'; style-src {style_hash(stylesheet)}; form-action 'self'; "
            "frame-ancestors 'none'; base-uri 'none'"
        )
        self._remember_for = remember_for
        self._max_tracked = max_tracked
        self._clock = clock
        # Per-process key for the dedupe digests: the maps never hold a
        # username or token, nor a hash that could be checked against a guess
        # without this key.
        self._key = secrets.token_bytes(32)
        self._in_flight: dict[bytes, asyncio.Task[FeedbackOutcome]] = {}
        self._recorded: OrderedDict[bytes, float] = OrderedDict()
        self._outbox: OutboxFlow | None = None
        if outbox is not None:
            from ._app_outbox import OutboxFlow  # noqa: PLC0415 - anyio only with an outbox

            self._outbox = OutboxFlow(
                outbox if isinstance(outbox, Outbox) else Outbox(url=outbox),
                client=client,
                bucket=self._global,
                clock=clock,
            )

    async def aclose(self) -> None:
        """Close the outbox's database connections; the ASGI lifespan's shutdown does this."""
        if self._outbox is not None:
            await self._outbox.aclose()

    def lifespan(self) -> contextlib.AbstractAsyncContextManager[None]:
        """The app's lifespan as ``async with``: the outbox's deliverer runs inside it.

        For hosts that do not pass lifespan events to a mounted app
        (Starlette's and FastAPI's ``Mount``: Kludex/starlette#649): enter it
        in the host's own lifespan. ``OutboxError`` if the outbox cannot be
        opened; without an outbox it does nothing.
        """
        if self._outbox is None:
            return contextlib.nullcontext()
        return self._outbox.running()

    # -- ASGI -------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one ASGI connection (``http``; ``lifespan`` is acknowledged)."""
        kind = scope.get("type")
        if kind == "lifespan":
            await self._lifespan(receive, send)
            return
        if kind != "http":
            # Websockets are not part of the flow: refuse the handshake.
            if kind == "websocket":
                await send({"type": "websocket.close", "code": 1008})
            return
        method = str(scope.get("method", "GET")).upper()
        if method in ("GET", "HEAD"):
            await self._confirm(scope, send, head=method == "HEAD")
        elif method == "POST":
            await self._submit(scope, receive, send)
        else:
            await self._page(
                send,
                405,
                self._texts.bad_request_title,
                [self._texts.bad_request_body],
                extra=[("allow", "GET, HEAD, POST")],
            )

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        if self._outbox is not None:
            await self._outbox.lifespan(receive, send)
        else:
            await acknowledge_lifespan(receive, send)

    async def _page(
        self,
        send: Send,
        status: int,
        title: str,
        paragraphs: list[str],
        *,
        form: Mapping[str, str] | None = None,
        button: str | None = None,
        extra: list[tuple[str, str]] | None = None,
        head: bool = False,
    ) -> None:
        body = render_page(
            texts=self._texts,
            stylesheet=self._stylesheet,
            title=title,
            paragraphs=paragraphs,
            form_fields=form,
            button=button,
        )
        headers = [
            ("content-type", "text/html; charset=utf-8"),
            ("content-length", str(len(body))),
            ("content-security-policy", self._csp),
            *_SECURITY_HEADERS,
            *(extra or ()),
        ]
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers],
            }
        )
        await send({"type": "http.response.body", "body": b"" if head else body})

    # -- GET: confirm -----------------------------------------------------------------------

    async def _confirm(self, scope: Scope, send: Send, *, head: bool) -> None:
        texts = self._texts
        try:
            query = bytes(scope.get("query_string", b"")).decode("utf-8")
            request = parse_link("?" + query, user_pool_ids=self._pools)
        except UnicodeDecodeError:
            _LOG.info("feedback link refused: the query is not UTF-8")
            await self._invalid_link(send, head=head)
            return
        except ValidationError as exc:
            # The field name only: the rule may quote a pool or event ID, and
            # nothing from the link needs to be in a log.
            _LOG.info("feedback link refused: %s", exc.field)
            await self._invalid_link(send, head=head)
            return
        cookie = _cookie(_header_map(scope), CSRF_COOKIE)
        extra: list[tuple[str, str]] = []
        if cookie is not None and _good_csrf(cookie):
            csrf = cookie
        else:
            csrf = secrets.token_urlsafe(24)
            extra.append(
                (
                    "set-cookie",
                    f"{CSRF_COOKIE}={csrf}; Path=/; Secure; HttpOnly; SameSite=Strict; "
                    "Max-Age=86400",
                )
            )
        valid = request.feedback_value is FeedbackValue.VALID
        await self._page(
            send,
            200,
            texts.confirm_valid_title if valid else texts.confirm_invalid_title,
            [texts.confirm_valid_body if valid else texts.confirm_invalid_body],
            form=self._form(request, csrf),
            button=texts.confirm_valid_button if valid else texts.confirm_invalid_button,
            extra=extra,
            head=head,
        )

    @staticmethod
    def _form(request: UpdateAuthEventFeedbackRequest, csrf: str) -> dict[str, str]:
        return {
            PARAM_VALUE: str(request.feedback_value).lower(),
            PARAM_POOL: request.user_pool_id,
            PARAM_EVENT: request.event_id,
            PARAM_TOKEN: request.feedback_token,
            PARAM_USERNAME: request.username,
            CSRF_FIELD: csrf,
        }

    async def _invalid_link(self, send: Send, *, head: bool = False) -> None:
        texts = self._texts
        await self._page(send, 400, texts.invalid_link_title, [texts.invalid_link_body], head=head)

    # -- POST: submit -----------------------------------------------------------------------

    async def _submit(self, scope: Scope, receive: Receive, send: Send) -> None:
        texts = self._texts
        client = scope.get("client")
        key = client_key(str(client[0]) if client else "unknown", ipv6_prefix_length=self._v6)
        wait = self._clients.take(key, self._clock())
        if wait > 0:
            _LOG.warning("feedback POST refused: per-client rate limit")
            await self._too_many(send, wait)
            return
        headers = _header_map(scope)
        content_type = (_single(headers, "content-type") or "").split(";")[0].strip().lower()
        if content_type != _FORM_TYPE:
            await self._page(send, 415, texts.bad_request_title, [texts.bad_request_body])
            return
        try:
            length = _header_number(headers, "content-length")
        except ValueError:
            await self._page(send, 400, texts.bad_request_title, [texts.bad_request_body])
            return
        if length is not None and length > _MAX_BODY:
            await self._page(send, 413, texts.bad_request_title, [texts.bad_request_body])
            return
        try:
            body = await read_body(receive, limit=_MAX_BODY)
        except BodyTooLarge:
            await self._page(send, 413, texts.bad_request_title, [texts.bad_request_body])
            return
        if body is None:
            return  # the client went away
        form = self._parse_form(body)
        if form is None:
            await self._page(send, 400, texts.bad_request_title, [texts.bad_request_body])
            return
        if not self._same_origin(scope, headers, form.get(CSRF_FIELD)):
            _LOG.warning("feedback POST refused: not from this site's own page")
            await self._page(send, 403, texts.forbidden_title, [texts.forbidden_body])
            return
        try:
            request = request_from_fields(
                user_pool_id=form.get(PARAM_POOL),
                username=form.get(PARAM_USERNAME, ""),
                event_id=form.get(PARAM_EVENT, ""),
                feedback_token=form.get(PARAM_TOKEN, ""),
                value=form.get(PARAM_VALUE, ""),
                pools=self._pools,
            )
        except ValidationError as exc:
            _LOG.info("feedback POST refused: %s", exc.field)
            await self._invalid_link(send)
            return
        csrf = form.get(CSRF_FIELD, "")
        if self._outbox is not None:

            async def show(outcome: FeedbackOutcome) -> None:
                await self._outcome_page(send, request, outcome, csrf)

            await self._outbox.submit(request, show)
            return
        outcome = await self._deliver_once(request, key)
        await self._outcome_page(send, request, outcome, csrf)

    @staticmethod
    def _parse_form(body: bytes) -> dict[str, str] | None:
        # Browsers send the form percent-encoded (ASCII) in UTF-8, as the page
        # asks. Each field at most once; unknown fields are ignored.
        try:
            pairs = urllib.parse.parse_qsl(
                body.decode("ascii"),
                keep_blank_values=True,
                errors="strict",
                max_num_fields=2 * len(_FORM_FIELDS),
            )
        except (UnicodeDecodeError, ValueError):
            return None
        form: dict[str, str] = {}
        for name, value in pairs:
            if name in _FORM_FIELDS:
                if name in form:
                    return None
                form[name] = value
        return form

    def _own_origins(self, scope: Scope, headers: Mapping[str, list[str]]) -> set[str]:
        origins = set(self._origins)
        scheme = str(scope.get("scheme", "http")).lower()
        host = _single(headers, "host")
        if host:
            origins.add(f"{scheme}://{host.lower()}")
        return origins

    def _same_origin(
        self, scope: Scope, headers: Mapping[str, list[str]], form_csrf: str | None
    ) -> bool:
        site = _single(headers, "sec-fetch-site")
        if site == "same-origin":
            # Set by the browser, never by a page's script.
            return True
        origin = _single(headers, "origin")
        if origin is not None and origin != "null":
            # "" is a repeated or empty header: refused.
            return origin != "" and origin.rstrip("/").lower() in self._own_origins(scope, headers)
        if site is None:
            # No Fetch Metadata and no usable Origin (an older browser under
            # no-referrer, or no browser at all): the double-submit cookie.
            cookie = _cookie(headers, CSRF_COOKIE)
            return (
                _good_csrf(cookie)
                and _good_csrf(form_csrf)
                and hmac.compare_digest(str(cookie), str(form_csrf))
            )
        return False

    async def _too_many(self, send: Send, wait: float) -> None:
        texts = self._texts
        await self._page(
            send,
            429,
            texts.too_many_title,
            [texts.too_many_body],
            extra=[("retry-after", str(max(1, math.ceil(wait))))],
        )

    async def _outcome_page(
        self,
        send: Send,
        request: UpdateAuthEventFeedbackRequest,
        outcome: FeedbackOutcome,
        csrf: str,
    ) -> None:
        texts = self._texts
        if outcome is FeedbackOutcome.SUCCESS:
            valid = request.feedback_value is FeedbackValue.VALID
            body = texts.success_valid_body if valid else texts.success_invalid_body
            await self._page(send, 200, texts.success_title, [body])
        elif outcome is FeedbackOutcome.ACCEPTED:
            await self._page(send, 202, texts.accepted_title, [texts.accepted_body])
        elif outcome is FeedbackOutcome.ALREADY_RECORDED:
            await self._page(
                send, 200, texts.already_recorded_title, [texts.already_recorded_body]
            )
        elif outcome is FeedbackOutcome.EXPIRED:
            await self._page(send, 400, texts.expired_title, [texts.expired_body])
        elif outcome is FeedbackOutcome.UNAVAILABLE:
            # Say "try again", and let them: the same form, once more.
            await self._page(
                send,
                503,
                texts.unavailable_title,
                [texts.unavailable_body],
                form=self._form(request, csrf),
                button=texts.retry_button,
                extra=[("retry-after", "5")],
            )
        else:
            await self._page(send, 502, texts.error_title, [texts.error_body])

    # -- once, and only once ----------------------------------------------------------------

    def _digest(self, request: UpdateAuthEventFeedbackRequest) -> bytes:
        material = dedupe_material(request)
        return hashlib.blake2b(material, key=self._key, digest_size=16).digest()

    def _forget_old(self, now: float) -> None:
        while self._recorded:
            key, until = next(iter(self._recorded.items()))
            if until > now and len(self._recorded) <= self._max_tracked:
                break
            del self._recorded[key]

    async def _deliver_once(
        self, request: UpdateAuthEventFeedbackRequest, client: str
    ) -> FeedbackOutcome:
        now = self._clock()
        self._forget_old(now)
        key = self._digest(request)
        if key in self._recorded:
            return FeedbackOutcome.ALREADY_RECORDED
        task = self._in_flight.get(key)
        if task is None:
            refusal = self._refuse_call(client, now)
            if refusal is not None:
                _LOG.warning("feedback POST refused: %s", refusal)
                return FeedbackOutcome.UNAVAILABLE
            task = asyncio.ensure_future(self._deliver(request))
            self._in_flight[key] = task
            self._calling.add(client)
            task.add_done_callback(lambda done: self._finished(key, client, done))
        # Shielded: a client that disconnects mid-call does not cancel the
        # submission that a second click may be waiting on.
        return await asyncio.shield(task)

    def _refuse_call(self, client: str, now: float) -> str | None:
        # Why a new Cognito call is not made now, or None to make it. The
        # global bucket is spent last, by a call that will be made.
        if len(self._in_flight) >= self._max_tracked:
            return "too many submissions in flight"
        if client in self._calling:
            # One call of its own in flight per client: a crowd's burst is
            # one call per key, not the per-client burst (a double click joins
            # the call in flight above and never gets here).
            return "this client has a call in flight"
        if self._global.take(now) > 0:
            return "global rate limit"
        return None

    def _finished(self, key: bytes, client: str, task: asyncio.Task[FeedbackOutcome]) -> None:
        self._in_flight.pop(key, None)
        self._calling.discard(client)
        if task.cancelled() or task.exception() is not None:
            return
        if task.result() is FeedbackOutcome.EXPIRED:
            # Cognito rejected the link's token, user or parameters: what a
            # made-up link gets. Its client waits before its next POST, so a
            # crowd of addresses spends the global bucket at most once per
            # key per penalty.
            self._clients.hold_back(client, self._clock(), self._penalty)
        if task.result() is FeedbackOutcome.SUCCESS:
            self._recorded[key] = self._clock() + self._remember_for
            self._forget_old(self._clock())

    async def _deliver(self, request: UpdateAuthEventFeedbackRequest) -> FeedbackOutcome:
        code: str | None = None
        try:
            await self._client.send(request)
        except (NotAuthorizedException, UserNotFoundException, InvalidParameterException) as exc:
            outcome, code = FeedbackOutcome.EXPIRED, exc.code
        except (TooManyRequestsException, InternalErrorException) as exc:
            outcome, code = FeedbackOutcome.UNAVAILABLE, exc.code
        except ServiceError as exc:
            retryable = exc.retryable
            outcome = FeedbackOutcome.UNAVAILABLE if retryable else FeedbackOutcome.ERROR
            code = exc.code
        except TransportError as exc:
            outcome, code = FeedbackOutcome.UNAVAILABLE, type(exc).__name__
        except CognitoError as exc:
            outcome, code = FeedbackOutcome.ERROR, type(exc).__name__
        else:
            outcome = FeedbackOutcome.SUCCESS
        # Pool, event ID and value are not secret; the username and token
        # never reach a log line, and neither does an exception's message.
        _LOG.info(
            "feedback %s: pool=%s event=%s value=%s code=%s",
            outcome.value,
            request.user_pool_id,
            request.event_id,
            request.feedback_value,
            code if code is None or _CODE_RE.fullmatch(code) else "<unusual code>",
        )
        return outcome


# The public maker is the class itself, so that its keywords, defaults and
# documentation are written once, on ``FeedbackApp``.
feedback_app: Final = FeedbackApp
