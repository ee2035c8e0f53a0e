"""Fuzzing: hypothesis over parse_response, request building and link parsing; corpus replay.

Every property here runs in the normal suite with the ``ci`` hypothesis profile
(200 examples each, derandomized, so CI is repeatable), and as a long random
run with the ``fuzz`` profile (20,000 examples each)::

    HYPOTHESIS_PROFILE=fuzz python -m pytest -q -p no:cacheprovider \\
        tests/test_fuzz.py tests/test_ssrf.py tests/test_secrets.py

The atheris target ``tests/fuzz/fuzz_parse_response.py`` holds the property
for ``parse_response`` (``check``); here it is replayed over every file in
``tests/fuzz/corpus/`` (seed replies, one per recording in
``cognito_raw/testing/recordings``) and ``tests/fuzz/regressions/`` (inputs
that crash naive reply parsers: JSON nested 20,000 deep, an integer of 5,000
digits, bad UTF-8, lone surrogates, UTF-16 JSON, NaN, codes made only of
separators, statuses out of range, members of the wrong JSON type, echoed
secrets, non-finite Retry-After; and any crash the fuzzer finds from now on),
and fed hypothesis-built replies in the same text form.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Final

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from cognito_raw import (
    CognitoError,
    HttpRequest,
    ServiceError,
    UpdateAuthEventFeedbackRequest,
    ValidationError,
    build_request,
    parse_response,
)
from cognito_raw.links import make_link, parse_link
from cognito_raw.testing import strategies as cst
from tests.fuzz.fuzz_parse_response import SECRETS, check, decode

FUZZ_DIR: Final = Path(__file__).parent / "fuzz"
CORPUS: Final = sorted((FUZZ_DIR / "corpus").iterdir())
REGRESSIONS: Final = sorted((FUZZ_DIR / "regressions").iterdir())


def test_the_corpus_and_the_regressions_are_there() -> None:
    # A parametrized test over an empty folder would pass without testing.
    assert len(CORPUS) >= 17
    assert len(REGRESSIONS) >= 20


@pytest.mark.parametrize("path", CORPUS + REGRESSIONS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_replay(path: Path) -> None:
    # BUG (reported; fix in cognito_raw/_core/protocol.py, parse_response): the
    # regressions code-cut-to-trailing-whitespace*.http (found by atheris),
    # code-with-a-newline.http and lone-surrogates.http fail today, as may
    # the generated-reply properties below: an error code is cut to 128
    # characters after it is stripped (so it can end in whitespace), and a
    # code holding control characters is kept (a newline in a JSON __type
    # forges a line in the client's debug log and the CLI's stderr). A code
    # must be one printable token, or no code.
    check(path.read_bytes())


def test_the_corpus_decodes_as_written() -> None:
    # The relaxed text form reads a recording back to its status and headers.
    status, headers, body = decode((FUZZ_DIR / "corpus" / "not-authorized.http").read_bytes())
    assert status == 400
    assert (b"x-amzn-ErrorType", b"NotAuthorizedException:") in headers
    assert json.loads(body)["__type"] == "NotAuthorizedException"


# --- parse_response ------------------------------------------------------------------------

_NAMES: Final = [
    "x-amzn-ErrorType",
    "X-AMZN-ERRORTYPE",
    "x-amzn-ErrorMessage",
    "x-amzn-RequestId",
    "x-amz-request-id",
    "x-amz-retry-after",
    "Retry-After",
    "Content-Type",
    "Content-Encoding",
]
_KEYS: Final = ["__type", "code", "Code", "message", "Message", "reasonCode", "type", "__Type"]
_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=30)
    | cst.error_codes().flatmap(cst.decorated_codes)
    | st.sampled_from([SECRETS[0], SECRETS[1], f"x {SECRETS[1]} y", "Rate exceeded", ""])
)
_json = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=8,
)
# Error-shaped objects (each interesting member present half the time), and
# any others.
_objects = st.fixed_dictionaries({}, optional=dict.fromkeys(_KEYS, _json)) | st.dictionaries(
    st.text(max_size=6), _json, max_size=4
)
_bodies = st.one_of(
    st.binary(max_size=300),
    _objects.map(lambda d: json.dumps(d).encode()),
    _objects.map(lambda d: json.dumps(d, ensure_ascii=False).encode("utf-8", "surrogatepass")),
    _json.map(lambda v: json.dumps(v).encode()),
    st.builds(
        lambda b, n: b * n, st.sampled_from([b"[", b"{", b" ", b"\xff"]), st.integers(0, 3000)
    ),
)
_header_values = st.one_of(
    st.text(max_size=40),
    cst.error_codes().flatmap(cst.decorated_codes),
    st.sampled_from(["nan", "inf", "-1", "1e400", "0.5", SECRETS[0]]),
)
_statuses = st.one_of(
    st.sampled_from([100, 101, 200, 201, 204, 206, 299, 300, 302, 399, 400, 403, 404, 429, 499]),
    st.sampled_from([500, 502, 503, 504, 599, 600, 0, -1]),
    st.integers(min_value=-(2**40), max_value=2**40),
)


def _encode(status: int, headers: list[tuple[str, str]], body: bytes) -> bytes:
    lines = [str(status)] + [f"{k}: {v}" for k, v in headers]
    return "\n".join(lines).encode("utf-8", "surrogatepass") + b"\n\n" + body


@given(
    status=_statuses,
    headers=st.lists(
        st.tuples(st.sampled_from(_NAMES), _header_values.filter(lambda v: "\n" not in v)),
        max_size=5,
    ),
    body=_bodies,
)
# Found by a fuzz-profile run (a flaw of the property, not of the code): a
# header repeated under two spellings; the last one wins in every form.
@example(
    status=500,
    headers=[("x-amzn-ErrorType", ""), ("X-AMZN-ERRORTYPE", "0"), ("x-amzn-ErrorType", "")],
    body=b"",
)
def test_parse_response_property_on_generated_replies(
    status: int, headers: list[tuple[str, str]], body: bytes
) -> None:
    check(_encode(status, headers, body))


@given(reply=cst.error_replies() | cst.success_replies())
def test_parse_response_property_on_the_strategies_replies(reply: tuple[Any, ...]) -> None:
    status, headers, body, _ = reply
    pairs = list(headers.items()) if hasattr(headers, "items") else list(headers)
    check(_encode(status, [(str(k), str(v)) for k, v in pairs], bytes(body)))


@given(
    seed=st.sampled_from(CORPUS + REGRESSIONS),
    edits=st.lists(st.tuples(st.integers(min_value=0), st.binary(max_size=4)), max_size=6),
    cut=st.integers(min_value=0),
)
def test_parse_response_property_on_mutated_corpus(
    seed: Path, edits: list[tuple[int, bytes]], cut: int
) -> None:
    # What a fuzzer does, in miniature: splice bytes into a real reply, cut it.
    data = bytearray(seed.read_bytes())
    for at, piece in edits:
        spot = at % (len(data) + 1)
        data[spot : spot + len(piece)] = piece
    check(bytes(data[: len(data) - cut % (len(data) + 1)]))


@given(
    status=_statuses,
    headers=st.one_of(
        st.dictionaries(st.text(max_size=20), st.text(max_size=40), max_size=4),
        st.lists(st.tuples(st.text(max_size=20), st.text(max_size=40)), max_size=4),
        st.lists(st.tuples(st.binary(max_size=20), st.binary(max_size=40)), max_size=4),
    ),
    body=_bodies,
)
def test_parse_response_takes_any_header_shape(status: int, headers: Any, body: bytes) -> None:
    # Names and values may hold anything a str or bytes can: no header form
    # may turn into an exception other than the documented ones.
    try:
        response = parse_response(status, headers, body, secrets=SECRETS)
    except ServiceError as exc:
        assert 400 <= status <= 599
        if exc.retry_after is not None:
            assert math.isfinite(exc.retry_after)
            assert exc.retry_after >= 0
    except CognitoError as exc:
        assert not isinstance(exc, ValidationError)
    else:
        assert 200 <= status < 300
        assert response.status_code == status


# --- building requests: hostile members, regions, endpoints ---------------------------------

_hostile_text = st.one_of(
    st.text(max_size=60),
    st.text(alphabet="us-east1_AbC.:/@#?%\\\r\n\t \x00\u2024\uff0e\u0430\u200b", max_size=40),
    st.builds(
        lambda region, junk, tail: f"{region}{junk}_{tail}",
        st.sampled_from(cst.REGIONS),
        st.sampled_from(
            ["", ".evil.com", "@evil.com", "#", "/x", "\\", "%2e", ":80", "\n", "\u3002"]
        ),
        st.text(max_size=10),
    ),
)
_member_values = st.one_of(_hostile_text, _json)


@given(
    pool=_hostile_text,
    username=_member_values,
    event=_member_values,
    token=_member_values,
    value=_member_values,
    region=st.none() | _hostile_text,
    agent=st.none() | st.text(max_size=20),
)
# Found by a fuzz-profile run: the ci profile's 200 examples missed it.
@example(
    pool="us-east-1_X",
    username="u",
    event="e",
    token="t",
    value="Valid",
    region=None,
    agent="app/1\r\nX-Injected: yes",
)
def test_build_request_is_total_and_never_injects_headers(
    pool: str,
    username: Any,
    event: Any,
    token: Any,
    value: Any,
    region: str | None,
    agent: str | None,
) -> None:
    request = UpdateAuthEventFeedbackRequest.unchecked(
        user_pool_id=pool,
        username=username,
        event_id=event,
        feedback_token=token,
        feedback_value=value,
    )
    # BUG (reported; fix in cognito_raw/_core/protocol.py, build_request): fails
    # today for a user_agent_extra holding CR, LF or another control
    # character, which goes into the User-Agent header as it is (header
    # injection for a sans-I/O caller's HTTP stack). The clients check it;
    # build_request, the public core, must too (ValidationError).
    try:
        http = build_request(request, region=region, user_agent_extra=agent)
    except ValidationError:
        return
    assert isinstance(http, HttpRequest)
    for name, header in http.headers.items():
        assert header.isascii()
        assert header.isprintable(), (name, header)
    body = json.loads(http.body)
    assert list(body) == ["UserPoolId", "Username", "EventId", "FeedbackToken", "FeedbackValue"]
    assert int(http.headers["Content-Length"]) == len(http.body)


# --- links ---------------------------------------------------------------------------------

POOL: Final = "us-east-1_AbC123"
BASE: Final = "https://example.com/feedback"


def _check_parsed(request: UpdateAuthEventFeedbackRequest, pools: list[str]) -> None:
    assert request.user_pool_id in pools
    # Whatever parse_link returns is a request the model accepts.
    UpdateAuthEventFeedbackRequest(
        user_pool_id=request.user_pool_id,
        username=request.username,
        event_id=request.event_id,
        feedback_token=request.feedback_token,
        feedback_value=request.feedback_value,
    )


@given(text=st.text(max_size=300) | _hostile_text.map(lambda t: "?value=valid&" + t))
def test_parse_link_on_any_text(text: str) -> None:
    for pools in ([POOL], [POOL, "eu-west-1_Xyz"]):
        try:
            request = parse_link(text, user_pool_ids=pools)
        except ValidationError:
            continue
        _check_parsed(request, pools)


@given(
    kw=cst.request_kwargs(),
    edits=st.lists(
        st.tuples(
            st.integers(min_value=0), st.text(max_size=4) | st.sampled_from(["&", "=", "%"])
        ),
        min_size=1,
        max_size=4,
    ),
)
def test_parse_link_on_mutated_links(kw: dict[str, Any], edits: list[tuple[int, str]]) -> None:
    # Distinctive secrets, so that "not in the message" means something.
    username = ("Us3rMark-" + kw["username"])[:128]
    token = "T0kenMark-" + kw["feedback_token"]
    link = make_link(
        BASE,
        user_pool_id=kw["user_pool_id"],
        username=username,
        event_id=kw["event_id"],
        feedback_token=token,
        value=str(kw["feedback_value"]),
    )
    for at, piece in edits:
        spot = at % (len(link) + 1)
        link = link[:spot] + piece + link[spot:]
    pools = [kw["user_pool_id"]]
    try:
        request = parse_link(link, user_pool_ids=pools)
    except ValidationError as exc:
        assert token not in str(exc)
        assert username not in str(exc)
        return
    _check_parsed(request, pools)
