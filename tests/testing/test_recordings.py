"""Replies: the recordings (format, meaning, respx replay) and the reply strategies."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from hypothesis import given

import cognito_raw
from cognito_raw import (
    ProtocolError,
    ServiceError,
    UpdateAuthEventFeedbackRequest,
    UpdateAuthEventFeedbackResponse,
    build_request,
    parse_response,
)
from cognito_raw._core.errors import ERROR_CLASSES
from cognito_raw._core.protocol import Headers
from cognito_raw.testing import Recording, list_recordings, load_recording
from cognito_raw.testing import strategies as cst
from cognito_raw.testing._recordings import parse_recording

NAMES = list_recordings()
ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "spec" / "recordings" / "README.md"
REQUEST = UpdateAuthEventFeedbackRequest(
    user_pool_id="us-east-1_AbC123xyz",
    username="alice",
    event_id="c2c2cf89-c0d3-482d-aba6-99d78a5b0bfe",
    feedback_token="FeedbackTokenValue123=",
    feedback_value="Invalid",
)


def outcome(status: int, headers: Headers, body: bytes) -> object:
    try:
        return parse_response(status, headers, body)
    except cognito_raw.CognitoError as exc:
        return exc


def check(recording: Recording, result: object) -> None:
    expect = recording.expect
    assert type(result).__name__ == expect.class_name
    if isinstance(result, UpdateAuthEventFeedbackResponse):
        assert result.status_code == recording.status
    elif isinstance(result, ServiceError):
        assert result.code == expect.code
        assert result.message == expect.message
        assert result.retryable is expect.retryable
        assert result.status_code == recording.status
    else:
        assert isinstance(result, ProtocolError)
        assert result.status_code == recording.status
    if expect.message is not None:
        assert isinstance(result, ServiceError)
    if expect.request_id is not None:
        assert getattr(result, "request_id", None) == expect.request_id


def test_there_is_a_recording_for_every_outcome() -> None:
    classes = {load_recording(name).expect.class_name for name in NAMES}
    assert set(ERROR_CLASSES) <= classes
    assert {"UpdateAuthEventFeedbackResponse", "ServiceError", "ProtocolError"} <= classes
    assert len(NAMES) >= 17


@pytest.mark.parametrize("name", NAMES)
def test_recording_follows_the_format(name: str) -> None:
    recording = load_recording(name)
    assert recording.name == name
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", name)
    assert recording.source.startswith(("captured: ", "constructed: "))
    length = recording.header("Content-Length")
    if length is not None:
        assert int(length) == len(recording.body)
    # Listed, with its status, in the README's table.
    assert re.search(
        rf"^\| `{re.escape(name)}` \| {recording.status} \|", README.read_text(), re.M
    )


@pytest.mark.parametrize("name", NAMES)
def test_recording_parses_to_its_expectation(name: str) -> None:
    recording = load_recording(name)
    check(recording, outcome(recording.status, recording.headers, recording.body))


@pytest.mark.parametrize("name", NAMES)
def test_recording_replays_through_respx_and_httpx(name: str) -> None:
    recording = load_recording(name)
    http = build_request(REQUEST)
    with respx.mock(assert_all_called=True, assert_all_mocked=True) as router:
        route = router.post(http.url, headers={"X-Amz-Target": http.headers["X-Amz-Target"]})
        route.mock(return_value=recording.to_httpx())
        with httpx.Client(follow_redirects=False) as client:
            reply = client.post(http.url, headers=http.headers, content=http.body)
    assert route.call_count == 1
    sent = route.calls.last.request
    assert json.loads(sent.content) == json.loads(http.body)
    assert reply.content == recording.body
    check(recording, outcome(reply.status_code, reply.headers.multi_items(), reply.content))


def test_only_the_not_authorized_reply_is_a_capture() -> None:
    captured = [n for n in NAMES if load_recording(n).source.startswith("captured: ")]
    assert captured == ["not-authorized"]
    recording = load_recording("not-authorized")
    # As quoted in docs/protocol.md, trailing colon included.
    assert recording.header("x-amzn-ErrorType") == "NotAuthorizedException:"
    assert recording.header("x-amzn-RequestId") == "5090ed1c-b098-47e5-8397-e2f3ef4b41d5"


@pytest.mark.parametrize(
    "name", ["", "nope", "../success", "Success", "success.json", "a b", "not_authorized", 7]
)
def test_unknown_names_are_key_errors_that_list_the_valid_names(name: Any) -> None:
    with pytest.raises(KeyError) as info:
        load_recording(name)
    text = str(info.value)
    assert text.startswith("no recording named ")
    assert text.endswith("the recordings are: " + ", ".join(NAMES))


@pytest.mark.parametrize(
    ("name", "hint"),
    [
        # The reported slip: a Python identifier for a file name.
        ("not_authorized", "(did you mean 'not-authorized'?)"),
        ("Too_Many_Requests", "(did you mean 'too-many-requests'?)"),
        ("not_a_recording", None),
        ("nope", None),
    ],
)
def test_a_near_miss_is_named(name: str, hint: str | None) -> None:
    with pytest.raises(KeyError) as info:
        load_recording(name)
    assert (hint in str(info.value)) if hint else "did you mean" not in str(info.value)


def test_the_testing_docs_list_every_recording() -> None:
    page = (Path(__file__).resolve().parents[2] / "docs" / "testing.md").read_text(
        encoding="utf-8"
    )
    for name in NAMES:
        assert f"`{name}`" in page, name


BASE = {
    "name": "x",
    "description": "d",
    "source": "constructed: t",
    "status": 400,
    "headers": [["a", "b"]],
    "body": "",
    "expect": {"class": "ServiceError"},
}


@pytest.mark.parametrize(
    "change",
    [
        {"extra": 1},
        {"name": "y"},
        {"description": ""},
        {"status": 42},
        {"status": True},
        {"headers": [["a"]]},
        {"headers": {"a": "b"}},
        {"body": None},
        {"body_base64": "AA=="},
        {"expect": {"class": "ServiceError", "colour": "red"}},
        {"expect": {"class": 1}},
        {"expect": {"class": "ServiceError", "retryable": "yes"}},
        {"expect": {"class": "ServiceError", "code": 5}},
    ],
)
def test_loading_is_strict(change: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="recording 'x'"):
        parse_recording(json.dumps({**BASE, **change}), name="x")


def test_base64_bodies() -> None:
    data = {**BASE, "body_base64": "/w==", "status": 502}
    del data["body"]
    recording = parse_recording(json.dumps(data), name="x")
    assert recording.body == b"\xff"
    with pytest.raises(ValueError, match="not base64"):
        parse_recording(json.dumps({**data, "body_base64": "**"}), name="x")


# --- the reply strategies ----------------------------------------------------------------


@given(cst.error_replies())
def test_error_replies_decode_to_their_code(
    reply: tuple[int, dict[str, str], bytes, str | None],
) -> None:
    status, headers, body, code = reply
    with pytest.raises(ServiceError) as info:
        parse_response(status, headers, body)
    assert info.value.code == code
    assert info.value.status_code == status
    if code in ERROR_CLASSES:
        assert type(info.value) is ERROR_CLASSES[code]
        assert status == (500 if code == "InternalErrorException" else 400)


@given(cst.success_replies())
def test_success_replies_decode(reply: tuple[int, dict[str, str], bytes, str | None]) -> None:
    status, headers, body, request_id = reply
    result = parse_response(status, headers, body)
    assert (result.status_code, result.request_id) == (status, request_id)


@pytest.mark.parametrize("code", ["NotAuthorizedException", "X"])
@given(data=cst.st.data())
def test_decorated_codes_sanitise_to_the_code(code: str, data: cst.st.DataObject) -> None:
    wire = data.draw(cst.decorated_codes(code))
    assert cognito_raw.sanitize_error_code(wire) == code


def test_error_replies_cover_every_form() -> None:
    """Each form the docstring promises shows up in a modest sample."""
    seen: set[str] = set()

    @given(cst.error_replies())
    def sample(reply: tuple[int, dict[str, str], bytes, str | None]) -> None:
        _, headers, body, code = reply
        names = {k.lower() for k in headers}
        seen.add("no code" if code is None else "with a code")
        if "x-amzn-errortype" in names:
            seen.add("header")
            wire = next(v for k, v in headers.items() if k.lower() == "x-amzn-errortype")
        else:
            try:
                fields = json.loads(body)
            except ValueError:
                fields = None
            seen.add("html" if body.startswith(b"<") else "empty" if not body else "json/text")
            wire = ""
            if isinstance(fields, dict):
                wire = str(fields.get("code") or fields.get("__type") or "")
                seen.update(k for k in ("code", "__type", "message", "Message") if k in fields)
        if "x-amzn-errormessage" in names:
            seen.add("header message")
        if "#" in wire:
            seen.add("namespace")
        if ":http" in wire:
            seen.add("uri")
        if wire.endswith(":"):
            seen.add("trailing colon")

    sample()
    assert seen >= {
        "with a code", "no code", "header", "code", "__type", "message", "Message",
        "header message", "namespace", "uri", "trailing colon", "html", "empty", "json/text",
    }  # fmt: skip
