"""A blocking client over the standard library's ``http.client``: no third-party import.

For runtimes where every imported module counts (AWS Lambda, small
containers) or where httpx is not installed (``pip install --no-deps
cognito-raw``). The shell is as thin as the httpx one: the request and the
retry plan come from ``ShellConfig`` (``build_request`` and ``run_call``),
the reply goes back through ``finish_reply``; what lives here is moving
bytes with ``http.client``, a small pool of kept-alive connections, and
translating socket, ``ssl`` and ``http.client`` exceptions once, at the
boundary.

How long an attempt may take: before every socket operation the socket's
timeout is set to that operation's limit (``Timeout``'s ``connect`` for the
connect, each read of a proxy's answer to ``CONNECT`` and the TLS handshake,
``write`` for sending the request, ``read`` for each read of the reply, head
and body alike), cut to what the attempt has left then. Each read of the
reply, and of a proxy's answer to ``CONNECT``, goes through
``_BoundedReader``, so a server or proxy trickling its answer a byte at a
time cannot hold an attempt past its total. The handshake's timeout is set
when it starts (``_HTTPSConnection``), after the TCP connect and any
``CONNECT``, and CPython holds a whole handshake to one timeout however its
records are trickled: it too ends by the attempt's total.
"""

from __future__ import annotations

import contextvars
import http.client
import io
import os
import select
import ssl
import threading
import time
from collections.abc import Callable
from urllib.parse import unquote, urlsplit

from cognito_raw._call.driver import BodyReader, Reply, Send
from cognito_raw._core.errors import RequestTimeoutError, TransportError, ValidationError

from .shell import (
    CLOSED,
    DEFAULT_MAX_CONNECTIONS,
    BlockingShell,
    ShellConfig,
    ca_bundle_context,
    certificate_error,
    finish_reply,
)

# typing costs milliseconds at import; annotations alone need it (PEP 563).
TYPE_CHECKING = False
if TYPE_CHECKING:
    import socket
    from typing import Final

    from _typeshed import WriteableBuffer
    from typing_extensions import Unpack

    from .shell import ShellOptions

__all__ = ["Client"]

# Each body read asks for at most this much (and never more than one byte
# past the body limit).
_READ_SIZE: Final = 65536

# The longest the next read of a reply may wait (seconds; <= 0: time is up),
# handed from the exchange to the response http.client makes in
# getresponse(), which gives it nothing but the socket.
_READ_WAIT: Final[contextvars.ContextVar[Callable[[], float]]] = contextvars.ContextVar(
    "cognito_raw_stdlib_read_wait"
)

Verify = bool | str | ssl.SSLContext | None
Origin = tuple[str, str, int]  # scheme, host, port


def _system_context(verify: bool) -> ssl.SSLContext:
    # Built per client, which keeps it for its lifetime; only clients that
    # will speak https load the system's CA store at all.
    if verify:
        return ssl.create_default_context()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def _tls_context(verify: Verify, tls_needed: bool) -> ssl.SSLContext | None:
    """The TLS context for https endpoints; None when every call goes to http://."""
    if isinstance(verify, ssl.SSLContext):
        return verify
    if verify is not None and not isinstance(verify, bool | str):
        raise ValidationError(
            field="verify",
            rule="must be True, False, a CA bundle path or an ssl.SSLContext "
            f"(got {type(verify).__name__})",
        )
    if not tls_needed:
        return None
    if isinstance(verify, str):
        return ca_bundle_context(verify)
    return _system_context(verify is not False)


def _check_host(endpoint_url: str | None) -> None:
    # socket and ssl encode a non-ASCII host with Python's IDNA codec (IDNA
    # 2003) when connecting; a host it cannot encode is bad input, not a
    # network error.
    host = urlsplit(endpoint_url).hostname if endpoint_url else None
    if host is None or host.isascii():
        return
    try:
        host.encode("idna")
    except UnicodeError:
        raise ValidationError(
            field="endpoint_url", rule="the host must be a valid internationalised domain name"
        ) from None


class _Proxy:
    """An http:// proxy from the environment: where it is, and its credentials header."""

    __slots__ = ("headers", "host", "port")

    def __init__(self, url: str) -> None:
        parts = urlsplit(url if "://" in url else f"http://{url}")
        if parts.scheme != "http" or not parts.hostname:
            # http.client tunnels through a proxy spoken to in plain HTTP only.
            raise ValidationError(
                field="HTTPS_PROXY/HTTP_PROXY",
                rule="must be an http:// proxy URL (http.client cannot speak TLS to a proxy)",
            )
        self.host = parts.hostname
        self.port = parts.port or 80
        self.headers: dict[str, str] = {}
        if parts.username is not None:
            import base64  # noqa: PLC0415 - only for a proxy that wants credentials

            pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
            self.headers["Proxy-Authorization"] = "Basic " + base64.b64encode(
                pair.encode()
            ).decode("ascii")


# The variables that can send a call through a proxy (NO_PROXY alone cannot).
_PROXY_VARIABLES: Final = frozenset({"http_proxy", "https_proxy"})


class _Proxies:
    """``HTTPS_PROXY``/``HTTP_PROXY``/``NO_PROXY`` as read when the client was made.

    urllib.request (the standard library's reading of these variables)
    costs milliseconds to import: it is loaded only when the environment
    names an http or https proxy.
    """

    def __init__(self) -> None:
        self._by_scheme: dict[str, _Proxy] = {}
        self._by_origin: dict[Origin, _Proxy | None] = {}
        if any(name.lower() in _PROXY_VARIABLES for name in os.environ):
            import urllib.request  # noqa: PLC0415

            self._variables = urllib.request.getproxies_environment()
            # With proxy variables set, proxy_bypass reads NO_PROXY from them.
            self._bypass = urllib.request.proxy_bypass
            self._by_scheme = {
                scheme: _Proxy(self._variables[scheme])
                for scheme in ("https", "http")
                if self._variables.get(scheme)
            }

    def for_origin(self, origin: Origin) -> _Proxy | None:
        """The proxy to reach ``origin`` through, or None to connect directly."""
        scheme, host, port = origin
        proxy = self._by_scheme.get(scheme)
        if proxy is None:
            return None
        if origin not in self._by_origin:
            bypass = self._bypass(f"{host}:{port}")
            self._by_origin[origin] = None if bypass else proxy
        return self._by_origin[origin]


class _HTTPSConnection(http.client.HTTPSConnection):
    """http.client's HTTPS connection, its TLS handshake bounded by ``wait()``.

    http.client wraps the socket with whatever timeout it was left with: the
    one the TCP connect began with, or the one the last read of a proxy's
    answer to CONNECT began with. The time those took would come on top of
    the attempt's total, so the handshake gets its own wait, taken when it
    starts. CPython bounds a handshake on a socket with a timeout as a whole
    (one deadline over all its reads and writes, however the server trickles
    its records), so one timeout set just before it is enough.
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        timeout: float,
        context: ssl.SSLContext,
        server_hostname: str,
        wait: Callable[[], float],
    ) -> None:
        super().__init__(host, port, timeout=timeout, context=context)
        self._tls = context
        self._server_hostname = server_hostname
        self._wait = wait

    def connect(self) -> None:
        http.client.HTTPConnection.connect(self)  # TCP, then CONNECT through a proxy
        wait = self._wait()
        if wait <= 0:
            raise TimeoutError("the attempt's total timeout ran out before the TLS handshake")
        self.sock.settimeout(wait)
        self.sock = self._tls.wrap_socket(self.sock, server_hostname=self._server_hostname)


def _open_connection(
    origin: Origin,
    tls: ssl.SSLContext | None,
    proxy: _Proxy | None,
    timeout: float,
    wait: Callable[[], float],
) -> http.client.HTTPConnection:
    # ``wait`` bounds each read of a proxy's answer to CONNECT, which
    # http.client reads inside connect(), and the TLS handshake: a proxy or
    # server trickling them cannot hold the attempt past its end.
    scheme, host, port = origin
    where = (host, port) if proxy is None else (proxy.host, proxy.port)
    conn: http.client.HTTPConnection
    if scheme == "https":
        if tls is None:  # made for every client whose endpoint may be https
            raise RuntimeError("an https endpoint on a client without a TLS context")
        conn = _HTTPSConnection(
            *where, timeout=timeout, context=tls, server_hostname=host, wait=wait
        )
        if proxy is not None:
            conn.set_tunnel(host, port, headers=proxy.headers)
    else:
        conn = http.client.HTTPConnection(*where, timeout=timeout)
    conn.response_class = _BoundedResponse
    token = _READ_WAIT.set(wait)
    try:
        conn.connect()
    except BaseException:
        conn.close()  # http.client leaves the socket open when the CONNECT fails
        raise
    finally:
        _READ_WAIT.reset(token)
    return conn


def _still_open(conn: http.client.HTTPConnection) -> bool:
    # An idle kept-alive connection that has something to read was closed
    # (or reset) by the server while it waited (docs/protocol.md, psf/requests#4506):
    # do not send on it. httpcore makes the same check before reuse.
    sock = conn.sock
    if sock is None:
        return False
    if hasattr(select, "poll"):
        poller = select.poll()
        poller.register(sock, select.POLLIN)
        return not poller.poll(0)
    readable, _, _ = select.select([sock], [], [], 0)
    return not readable


class _Pool:
    """Kept-alive connections per origin, and the bound on connections in use.

    A connection goes back only after a complete reply was read from it; at
    most ``size`` are in use at once (others wait, within the pool timeout)
    and at most ``size`` idle ones are kept per origin.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._slots = threading.BoundedSemaphore(size)
        self._lock = threading.Lock()
        self._idle: dict[Origin, list[http.client.HTTPConnection]] = {}
        self._in_use = 0
        self.closed = False

    def acquire(self, wait: float) -> bool:
        """Take a slot for one attempt; False if none came free within ``wait`` seconds."""
        if not self._slots.acquire(timeout=wait):
            return False
        with self._lock:
            self._in_use += 1
        return True

    def release(self) -> None:
        with self._lock:
            self._in_use -= 1
        self._slots.release()

    @property
    def in_use(self) -> int:
        """Attempts holding a slot now."""
        return self._in_use

    def take(self, origin: Origin) -> http.client.HTTPConnection | None:
        """An idle connection to ``origin`` still fit to send on, or None."""
        while True:
            with self._lock:
                idle = self._idle.get(origin)
                if not idle:
                    return None
                conn = idle.pop()
            if _still_open(conn):
                return conn
            conn.close()

    def give_back(self, origin: Origin, conn: http.client.HTTPConnection) -> None:
        with self._lock:
            idle = self._idle.setdefault(origin, [])
            if not self.closed and len(idle) < self.size:
                idle.append(conn)
                return
        conn.close()

    def close(self) -> None:
        with self._lock:
            self.closed = True
            idle = [conn for conns in self._idle.values() for conn in conns]
            self._idle.clear()
        for conn in idle:
            conn.close()


class _BoundedReader(io.RawIOBase):
    """A reply's socket reader whose every read waits at most ``wait()`` seconds.

    http.client reads a reply head line by line, with as many socket reads
    as the server makes it: each read gets the attempt's time left then, not
    the time left when the head began. ``original`` (http.client's own
    reader of the socket) is held and closed with this one: while it is
    open the socket stays open, as http.client expects of a reply that
    outlives its connection (a body read until the server closes).
    """

    def __init__(
        self, sock: socket.socket, original: io.BufferedReader, wait: Callable[[], float]
    ) -> None:
        super().__init__()
        self._sock = sock
        self._original = original
        self._wait = wait

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        wait = self._wait()
        if wait <= 0:
            raise TimeoutError("the attempt's total timeout ran out")
        self._sock.settimeout(wait)
        return self._sock.recv_into(buffer)

    def close(self) -> None:
        self._original.close()
        super().close()


class _BoundedResponse(http.client.HTTPResponse):
    """http.client's response, reading through a ``_BoundedReader``."""

    def __init__(
        self,
        sock: socket.socket,
        debuglevel: int = 0,
        method: str | None = None,
        url: str | None = None,
    ) -> None:
        super().__init__(sock, debuglevel, method, url)
        wait = _READ_WAIT.get(None)
        if wait is not None:  # set around every connect and exchange of the client
            self.fp = io.BufferedReader(_BoundedReader(sock, self.fp, wait))


def _translate(exc: OSError | http.client.HTTPException) -> TransportError:
    """The one place socket, ssl and http.client exceptions become ours."""
    error: TransportError
    if isinstance(exc, TimeoutError):  # socket.timeout is TimeoutError
        error = RequestTimeoutError(f"timed out ({type(exc).__name__}: {exc or 'no detail'})")
    elif (untrusted := certificate_error(exc)) is not None:
        error = untrusted
    elif isinstance(exc, OSError):
        error = TransportError(f"{type(exc).__name__}: {exc or 'no detail'}")
    else:
        # http.client's protocol errors quote what the server sent (a status
        # line, a header), which may echo a secret back: name the kind only,
        # and keep them out of the traceback too.
        return TransportError(f"the reply is not HTTP/1.1 ({type(exc).__name__})")
    error.__cause__ = exc
    return error


class _Exchange:
    """One attempt on one connection: send, read the head, read the bounded body."""

    def __init__(self, conn: http.client.HTTPConnection, send: Send, config: ShellConfig) -> None:
        self.conn = conn
        self.send = send
        self.config = config
        self.complete = False

    def _read_wait(self) -> float:
        # Each read: the read limit, never past the attempt's end.
        left = self.send.deadline - self.config.clock()
        return min(self.send.timeout.read, left)

    def run(self, target: str) -> Reply | TransportError:
        http = self.send.request
        sock = self.conn.sock
        if sock is not None:  # sendall: one timeout for all it sends
            sock.settimeout(min(self.send.timeout.write, self.config.time_left(self.send)))
        self.conn.request(http.method, target, body=http.body, headers=http.headers)
        token = _READ_WAIT.set(self._read_wait)
        try:
            response = self.conn.getresponse()
        finally:
            _READ_WAIT.reset(token)
        if response.status < 200:
            # http.client skips 100 Continue only; any other interim reply
            # (101 nobody asked for, 103) would be taken as the answer.
            return TransportError(f"an interim HTTP {response.status} reply came as the answer")
        return self._read(response)

    def _read(self, response: http.client.HTTPResponse) -> Reply | TransportError:
        reader = BodyReader(self.config.max_body)
        room = reader.limit + 1  # one byte more than the limit says the body went on
        while room > 0:
            chunk = response.read1(min(_READ_SIZE, room))
            if not chunk:
                if response.length:  # http.client does not raise for a short body
                    raise http.client.IncompleteRead(b"", response.length)
                # The whole reply was read: the connection may serve another.
                response.close()
                self.complete = True
                break
            room -= len(chunk)
            reader.feed(chunk)
        return finish_reply(
            response.status, response.getheaders(), reader, response.getheader("content-encoding")
        )


class Client(BlockingShell):
    """A blocking UpdateAuthEventFeedback client over ``http.client``: standard library only.

    The same options, results and exceptions as ``cognito_raw.Client``,
    without ``http_client``. Safe to share between threads. The endpoint comes
    from each call's user pool ID unless ``region`` or ``endpoint_url`` pins
    it (``http://`` only to a loopback host unless ``allow_http``).
    ``timeout`` is seconds (each attempt, end to end) or a ``Timeout``;
    ``retry`` a ``RetryPolicy``; ``rate_limit`` calls per second (or a shared
    ``RateLimiter``); ``max_body`` the most bytes of a reply body read.

    - **TLS:** ``verify`` is ``True`` (the default: the system's CA store
      through ``ssl.create_default_context()``, which honours
      ``SSL_CERT_FILE``/``SSL_CERT_DIR``), ``False`` (no verification), a CA
      bundle path (a PEM file or a directory) or an ``ssl.SSLContext``. A
      failed certificate check is a ``TransportError`` that is not retried.
    - **Connections:** at most ``max_connections`` (10) attempts are in
      flight at once (others wait up to ``Timeout.pool``); a connection is
      kept alive and reused only after its reply was read completely, and an
      idle one the server has closed is never sent on.
    - **Proxies:** ``HTTPS_PROXY``/``HTTP_PROXY``/``NO_PROXY`` (either case)
      as the standard library reads them (``urllib.request``), read when the
      client is made; https goes through an http:// proxy with ``CONNECT``.
      A proxy URL of another scheme raises ``ValidationError``.
    - **Redirects** are never followed; ``Content-Encoding`` gzip/deflate is
      decoded only when the body is one complete stream.

    ``on_attempt`` is called with an ``AttemptInfo`` after every attempt;
    ``sleep``, ``clock`` and ``random`` are for tests. A closed client raises
    ``RuntimeError``; every other failure is a ``CognitoError``.
    """

    def __init__(
        self,
        *,
        verify: Verify = None,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        sleep: Callable[[float], None] = time.sleep,
        **options: Unpack[ShellOptions],
    ) -> None:
        self._config = ShellConfig(max_connections=max_connections, **options)
        _check_host(self._config.endpoint_url)
        self._tls = _tls_context(verify, self._config.tls_needed)
        self._proxies = _Proxies()
        self._pool = _Pool(max_connections)
        self._sleep = sleep

    def _check_open(self) -> None:
        if self._pool.closed:
            raise RuntimeError(CLOSED)

    def _transmit(self, send: Send) -> Reply | TransportError:
        wait = min(send.timeout.pool, self._config.time_left(send))
        if not self._pool.acquire(wait):
            return RequestTimeoutError(
                f"timed out waiting for a connection (all {self._pool.size} in use)"
            )
        try:
            return self._attempt(send)
        finally:
            self._pool.release()

    def _attempt(self, send: Send) -> Reply | TransportError:
        url = urlsplit(send.request.url)
        scheme, host = url.scheme, url.hostname or ""
        origin = (scheme, host, url.port or (443 if scheme == "https" else 80))
        try:
            proxy = self._proxies.for_origin(origin)
            conn = self._pool.take(origin) or self._connect(origin, proxy, send)
        except (OSError, http.client.HTTPException) as exc:
            return _translate(exc)
        # Plain http through a proxy asks for the absolute URL; else the path.
        target = send.request.url if proxy is not None and scheme == "http" else url.path
        exchange = _Exchange(conn, send, self._config)
        try:
            return exchange.run(target)
        except (OSError, http.client.HTTPException) as exc:
            return _translate(exc)
        finally:
            if exchange.complete and conn.sock is not None:
                self._pool.give_back(origin, conn)
            else:
                conn.close()

    def _connect(
        self, origin: Origin, proxy: _Proxy | None, send: Send
    ) -> http.client.HTTPConnection:
        def wait() -> float:
            # Each step of connecting after the TCP connect (each read of a
            # proxy's answer to CONNECT, the TLS handshake): the connect
            # limit, never past the attempt's end.
            return min(send.timeout.connect, send.deadline - self._config.clock())

        left = self._config.time_left(send)
        return _open_connection(origin, self._tls, proxy, min(send.timeout.connect, left), wait)

    def close(self) -> None:
        """Close the kept-alive connections; later calls raise ``RuntimeError``."""
        self._pool.close()
