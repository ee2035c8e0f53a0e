"""Where a request can go: a Cognito host, or the configured endpoint, and nowhere else.

SSRF: a user pool ID and a region can arrive in an untrusted feedback link, so
no input (region, pool ID, link, a header of the browser's request to the
feedback app) may steer a request to any host but ``cognito-idp[-fips].
<region>.<partition DNS suffix>``, or, when one is configured, exactly
``endpoint_url + "/"``. Properties over hostile text (unicode look-alikes of
``.`` and letters, ``@``, ``#``, ``/``, ``\\``, ``%2e``, ports, IP addresses,
``localhost``, newlines) check the URL as both ``urllib`` and ``httpx`` read
it; respx with ``assert_all_mocked=True`` proves no other host is contacted.

Transport security: TLS verification is on by default (a local HTTPS server
with a self-signed certificate is refused, and accepted with ``verify=`` that
certificate), and ``http://`` is allowed only to a loopback host unless
``allow_http=True``. The certificate is made with the ``openssl`` command
line tool (the ``cryptography`` package is not a dependency).
"""

from __future__ import annotations

import asyncio
import contextlib
import http.server
import os
import re
import shutil
import ssl
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote, urlsplit

import httpx
import pytest
import respx
from hypothesis import given
from hypothesis import strategies as st

from cognito_raw import (
    AsyncClient,
    Client,
    RetryPolicy,
    TransportError,
    UpdateAuthEventFeedbackRequest,
    ValidationError,
    build_request,
)
from cognito_raw._core.endpoints import PARTITIONS
from cognito_raw.links import RateLimit, feedback_app, make_link
from cognito_raw.testing import strategies as cst

SUFFIXES: Final = tuple(
    sorted({p.dns_suffix for p in PARTITIONS} | {p.dual_stack_dns_suffix for p in PARTITIONS})
)
COGNITO_HOST: Final = re.compile(
    r"cognito-idp(?:-fips)?\.([a-z0-9-]+)\.(" + "|".join(re.escape(s) for s in SUFFIXES) + r")",
    re.ASCII,
)
COGNITO_URL: Final = re.compile(r"https://" + COGNITO_HOST.pattern + "/", re.ASCII)

# Look-alikes of "." and of Latin letters, and separators URL parsers treat
# specially; all must be refused or stay inside one DNS label.
_TRICKS: Final = [
    "",
    ".",
    "..",
    "\u3002",  # ideographic full stop: IDNA maps it to "."
    "\uff0e",  # fullwidth full stop
    "\u2024",  # one dot leader
    "\u0430",  # Cyrillic a
    "\u0131",  # dotless i
    "\u212a",  # Kelvin sign: casefolds to k
    "\u200b",
    "@",
    "#",
    "?",
    "/",
    "\\",
    "%2e",
    "%2E%2E",
    ":443",
    ":80",
    ":0",
    "\n",
    "\r\n",
    "\t",
    " ",
    "\x00",
    "evil.com",
    ".evil.com",
    "@evil.com",
    "#.amazonaws.com",
    "/evil.com",
    "localhost",
    "127.0.0.1",
    "[::1]",
    "169.254.169.254",
    "0x7f.1",
    "2130706433",
    "amazonaws.com",
    "api.aws",
    "us-east-1.amazonaws.com/",
]
hostile = st.one_of(
    st.text(max_size=40),
    st.lists(st.sampled_from(_TRICKS), max_size=4).map("".join),
    st.builds(
        lambda region, trick, tail: region + trick + tail,
        st.sampled_from(cst.REGIONS),
        st.sampled_from(_TRICKS),
        st.sampled_from(_TRICKS),
    ),
    st.builds(
        lambda trick, region: trick + region,
        st.sampled_from(_TRICKS),
        st.sampled_from(cst.REGIONS),
    ),
)
hostile_pool_ids = st.one_of(
    hostile,
    st.builds(lambda region, suffix: f"{region}_{suffix}", hostile, st.text("Ab1", max_size=4)),
)


def unchecked(pool: str) -> UpdateAuthEventFeedbackRequest:
    return UpdateAuthEventFeedbackRequest.unchecked(
        user_pool_id=pool,
        username="ssrf-user",
        event_id="e1",
        feedback_token="SsrfToken1",
        feedback_value="Valid",
    )


def assert_cognito_url(url: str, region: str) -> None:
    """``url`` names exactly the Cognito host of ``region``, read by urllib and httpx alike."""
    assert COGNITO_URL.fullmatch(url), url
    parts = urlsplit(url)
    parsed = httpx.URL(url)
    assert parts.hostname == parsed.host == parts.netloc
    assert parsed.scheme == "https"
    assert parsed.port is None
    assert (parsed.path, parsed.query, parsed.fragment) == ("/", b"", "")
    match = COGNITO_HOST.fullmatch(parsed.host)
    assert match is not None
    assert match.group(1) == region


@given(pool=hostile_pool_ids, region=st.none() | hostile, fips=st.booleans(), dual=st.booleans())
def test_pool_ids_and_regions_reach_only_cognito_hosts(
    pool: str, region: str | None, fips: bool, dual: bool
) -> None:
    try:
        http = build_request(unchecked(pool), region=region, use_fips=fips, use_dualstack=dual)
    except ValidationError as exc:
        assert exc.field in ("region", "use_fips", "use_dualstack")
        return
    expected_region = region if region is not None else pool.rpartition("_")[0]
    assert_cognito_url(http.url, expected_region)


ENDPOINTS: Final = [
    "http://127.0.0.1:9229",
    "http://localhost:1",
    "http://[::1]:8080/prefix",
    "https://cognito.internal.example:8443/base/path",
    "https://10.0.0.5",
]


@given(
    endpoint=st.sampled_from(ENDPOINTS),
    pool=hostile_pool_ids,
    region=st.none() | hostile,
)
def test_a_configured_endpoint_is_used_exactly_whatever_the_request(
    endpoint: str, pool: str, region: str | None
) -> None:
    http = build_request(unchecked(pool), endpoint_url=endpoint, region=region)
    assert http.url == endpoint + "/"


@given(links=st.lists(hostile, min_size=1, max_size=3), value=st.sampled_from(["valid", "x"]))
def test_links_reach_only_allowed_pools_at_cognito(links: list[str], value: str) -> None:
    # A link built around hostile pool/region text, or hostile text in any
    # field: parse_link either refuses it or yields an allowed pool, whose
    # endpoint is a Cognito host.
    from cognito_raw.links import parse_link

    pools = ["us-east-1_AbC123", "eu-west-1_Xyz"]
    candidates = [
        f"?value={value}&pool={links[0]}&event=e&token=t&username=u&end=1",
        f"https://example.com/f?value=valid&pool={links[0]}_Ab&event=e&token=t&username=u&end=1",
        f"https://{links[0]}/f?value=valid&event={links[-1]}&token=t&username=u&end=1",
        "?" + "&".join(links),
    ]
    for link in candidates:
        try:
            request = parse_link(link, user_pool_ids=pools)
        except ValidationError:
            continue
        assert request.user_pool_id in pools
        assert_cognito_url(build_request(request).url, request.user_pool_id.rpartition("_")[0])


def _send_with(flavor: str, request: UpdateAuthEventFeedbackRequest, **options: Any) -> None:
    if flavor == "sync":
        with Client(retry=RetryPolicy(max_attempts=1), **options) as client:
            client.send(request)
        return

    async def main() -> None:
        async with AsyncClient(retry=RetryPolicy(max_attempts=1), **options) as client:
            await client.send(request)

    asyncio.run(main())


@given(
    pool=hostile_pool_ids,
    flavor=st.sampled_from(["sync", "async"]),
    owner=st.sampled_from(["ours", "theirs"]),
)
def test_the_clients_contact_no_unexpected_host(pool: str, flavor: str, owner: str) -> None:
    # respx intercepts the clients' own httpx clients as well as a caller's:
    # with assert_all_mocked, any URL but the route's fails the test.
    options: dict[str, Any] = {}
    if owner == "theirs":
        options["http_client"] = httpx.Client() if flavor == "sync" else httpx.AsyncClient()
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as mock:
        route = mock.post(url__regex=COGNITO_URL.pattern).respond(200, json={})
        try:
            _send_with(flavor, unchecked(pool), **options)
        except ValidationError:
            assert route.call_count == 0
            return
        assert route.call_count == 1
        assert_cognito_url(str(route.calls.last.request.url), pool.rpartition("_")[0])


POOL: Final = "us-east-1_AbC123"
UNLIMITED: Final = RateLimit(rate=1e6, burst=1_000_000)


@given(host=hostile, forwarded=hostile, pool_text=hostile)
def test_the_feedback_app_calls_only_cognito_whatever_the_browser_sends(
    host: str, forwarded: str, pool_text: str
) -> None:
    # The browser controls the link, Host, X-Forwarded-Host, Origin...: none
    # of it may choose where the app's AsyncClient sends the feedback.
    link = make_link(
        "https://example.com/f",
        user_pool_id=POOL,
        username="ssrf-user",
        event_id="e1",
        feedback_token="SsrfToken1",
        value="valid",
    )
    # As a browser sends it: what a URL cannot hold, percent-encoded.
    hostile_link = link.replace(f"pool={POOL}", "pool=" + quote(pool_text, safe=""))
    headers = {
        "host": _header_safe(host) or "example.com",
        "x-forwarded-host": _header_safe(forwarded),
        "forwarded": f"host={_header_safe(forwarded)}",
        "sec-fetch-site": "same-origin",
    }
    form = {
        "value": "valid",
        "pool": pool_text,
        "event": "e1",
        "token": "SsrfToken1",
        "username": "ssrf-user",
    }

    async def main() -> int:
        # A caller's httpx client, so that respx (which patches httpx's own
        # transports) sees every request the app's AsyncClient makes.
        http = httpx.AsyncClient()
        async with AsyncClient(retry=RetryPolicy(max_attempts=1), http_client=http) as client:
            app = feedback_app(
                client=client,
                user_pool_ids=[POOL],
                per_client_limit=UNLIMITED,
                global_limit=UNLIMITED,
            )
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="https://app") as http:
                for url in (link, hostile_link):
                    await http.get(url.removeprefix("https://example.com"), headers=headers)
                for pool in (POOL, pool_text):
                    await http.post("/f?", data={**form, "pool": pool}, headers=headers)
        return 0

    with respx.mock(assert_all_mocked=True, assert_all_called=False) as mock:
        route = mock.post(url__regex=COGNITO_URL.pattern).respond(200, json={})
        asyncio.run(main())
    for call in route.calls:
        assert_cognito_url(str(call.request.url), "us-east-1")
    assert 1 <= route.call_count <= 2


def _header_safe(text: str) -> str:
    return "".join(c for c in text if " " <= c <= "~")


# --- TLS -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def self_signed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key, made with openssl."""
    openssl = shutil.which("openssl")
    if openssl is None:
        if os.environ.get("CI"):
            pytest.fail(
                "the openssl command is needed for the TLS tests (apt-get install openssl)"
            )
        pytest.skip("no openssl command line tool")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cert, key


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    seen: list[str]

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.seen.append(self.path)
        body = b"{}"
        self.send_response(200)
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base's name
        pass


@contextlib.contextmanager
def https_server(cert: Path, key: Path) -> Iterator[tuple[str, list[str]]]:
    """A one-route HTTPS server on 127.0.0.1; yields its URL and the paths it served."""
    seen: list[str] = []
    handler = type("Handler", (_Handler,), {"seen": seen, "timeout": 5})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert, key)
    server.socket = tls.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


FEEDBACK: Final = {
    "user_pool_id": POOL,
    "username": "tls-user",
    "event_id": "e1",
    "feedback_token": "TlsToken1",
    "feedback_value": "valid",
}
ONCE: Final = RetryPolicy(max_attempts=1)


def test_tls_verification_is_on_by_default(self_signed: tuple[Path, Path]) -> None:
    with https_server(*self_signed) as (url, seen):
        with Client(endpoint_url=url, retry=ONCE) as client:
            with pytest.raises(TransportError) as info:
                client.update_auth_event_feedback(**FEEDBACK)

        async def go() -> None:
            async with AsyncClient(endpoint_url=url, retry=ONCE) as client:
                await client.update_auth_event_feedback(**FEEDBACK)

        with pytest.raises(TransportError) as async_info:
            asyncio.run(go())
    for error in (info.value, async_info.value):
        assert "CERTIFICATE_VERIFY_FAILED" in str(error)
        assert isinstance(error.__cause__, httpx.ConnectError)
    assert seen == [], "nothing was sent over the unverified connection"


def test_a_ca_bundle_makes_the_certificate_trusted(self_signed: tuple[Path, Path]) -> None:
    # The path goes to ssl.create_default_context(cafile=...), never to httpx,
    # which deprecates verify=<str> (a DeprecationWarning is an error here).
    cert, _ = self_signed
    with https_server(*self_signed) as (url, seen):
        with Client(endpoint_url=url, retry=ONCE, verify=str(cert)) as client:
            result = client.update_auth_event_feedback(**FEEDBACK)

        async def go() -> int:
            async with AsyncClient(endpoint_url=url, retry=ONCE, verify=str(cert)) as client:
                return (await client.update_auth_event_feedback(**FEEDBACK)).status_code

        async_status = asyncio.run(go())
    assert (result.status_code, async_status) == (200, 200)
    assert seen == ["/", "/"]


def test_an_ssl_context_makes_the_certificate_trusted(self_signed: tuple[Path, Path]) -> None:
    cert, _ = self_signed
    context = ssl.create_default_context(cafile=str(cert))
    with https_server(*self_signed) as (url, seen):
        with Client(endpoint_url=url, retry=ONCE, verify=context) as client:
            assert client.update_auth_event_feedback(**FEEDBACK).status_code == 200
    assert seen == ["/"]


@pytest.mark.parametrize(
    ("endpoint", "allowed"),
    [
        ("http://127.0.0.1:9229", True),
        ("http://127.10.20.30:1", True),
        ("http://localhost:9229", True),
        ("http://[::1]:9229", True),
        ("http://example.com", False),
        ("http://10.0.0.1:9229", False),
        ("http://169.254.169.254", False),
        ("http://[::ffff:127.0.0.1]", False),
        ("http://localhost.example.com", False),
        ("http://127.0.0.1.nip.io", False),
        ("http://0x7f.0.0.1", False),
        ("http://2130706433", False),
        ("http://localhost@example.com", False),
    ],
)
def test_http_only_to_loopback_unless_allowed(endpoint: str, allowed: bool) -> None:
    for cls in (Client, AsyncClient):
        if allowed:
            client = cls(endpoint_url=endpoint)
        else:
            with pytest.raises(ValidationError) as info:
                cls(endpoint_url=endpoint)
            assert info.value.field == "endpoint_url"
        # allow_http lifts the loopback rule, not the URL's other rules.
        try:
            client = cls(endpoint_url=endpoint, allow_http=True)
        except ValidationError:
            assert not allowed
            continue
        if isinstance(client, Client):
            client.close()
        else:
            asyncio.run(client.aclose())
