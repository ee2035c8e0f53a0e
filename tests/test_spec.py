"""spec/cognito-idp.json against the installed botocore, and the code against spec/.

The constants stay written in code (no JSON at import time); these tests are
what keeps the two copies honest.
"""

from __future__ import annotations

import importlib.util
import json
import re
from functools import cache
from pathlib import Path
from typing import Any

from cognito_raw import FeedbackValue, UpdateAuthEventFeedbackRequest, build_request
from cognito_raw._core import model, protocol
from cognito_raw._core.errors import (
    ERROR_CLASSES,
    InternalErrorException,
    InvalidParameterException,
)

EXAMPLE = UpdateAuthEventFeedbackRequest(
    user_pool_id="us-east-1_AbC",
    username="u",
    event_id="e",
    feedback_token="t",
    feedback_value="valid",
)
SPEC = Path(__file__).resolve().parent.parent / "spec"


@cache
def vendored() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((SPEC / "cognito-idp.json").read_text(encoding="utf-8"))
    return data


def shape(name: str) -> dict[str, Any]:
    result: dict[str, Any] = vendored()["shapes"][name]
    return result


def member_shape(member: str) -> dict[str, Any]:
    ref = shape("UpdateAuthEventFeedbackRequest")["members"][member]["shape"]
    return shape(ref)


def test_spec_matches_the_installed_botocore() -> None:
    # Fails when botocore (pinned in the dev extra) moves on: rerun
    # spec/regenerate.py and bring the constants in line.
    module_spec = importlib.util.spec_from_file_location(
        "_spec_regenerate", SPEC / "regenerate.py"
    )
    assert module_spec is not None
    assert module_spec.loader is not None
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    assert module.regenerate_model() == vendored()


def test_target_and_protocol() -> None:
    meta = vendored()["metadata"]
    assert meta["targetPrefix"] == protocol.TARGET_PREFIX
    assert meta["protocol"] == "json"
    assert f"application/x-amz-json-{meta['jsonVersion']}" == protocol.CONTENT_TYPE
    operation = vendored()["operation"]
    assert operation["name"] == protocol.OPERATION
    assert operation["http"] == {"method": "POST", "requestUri": "/"}
    assert operation["auth"] == ["smithy.api#noAuth"]  # sent unsigned


def test_members_and_their_order() -> None:
    request = shape(vendored()["operation"]["input"]["shape"])
    assert request["required"] == list(request["members"])
    body = json.loads(build_request(EXAMPLE).body)
    assert list(body) == list(request["members"])
    assert shape(vendored()["operation"]["output"]["shape"]) == {
        "type": "structure",
        "members": {},
    }


def test_constraints_match_the_code() -> None:
    # The table the validators and the fake read, member by member: its JSON
    # key names a member, and its bounds, pattern and secrecy are the model's.
    # TokenModelType has no length bound; the pattern's `+` gives the 1.
    members = shape("UpdateAuthEventFeedbackRequest")["members"]
    assert [member.key for member in model.MEMBERS] == list(members)[: len(model.MEMBERS)]
    for member in model.MEMBERS:
        spec = member_shape(member.key)
        assert (spec.get("min", 1), spec.get("max"), spec["pattern"]) == (
            member.low,
            member.high,
            member.pattern,
        )
        assert bool(spec.get("sensitive")) == member.sensitive
        assert member.wire == member.key[0].lower() + member.key[1:]
    # The named constants (the strategies read them) are the table's.
    assert [(member.low, member.high, member.pattern) for member in model.MEMBERS] == [
        (model.USER_POOL_ID_MIN, model.USER_POOL_ID_MAX, model.USER_POOL_ID_PATTERN),
        (model.USERNAME_MIN, model.USERNAME_MAX, model.USERNAME_PATTERN),
        (model.EVENT_ID_MIN, model.EVENT_ID_MAX, model.EVENT_ID_PATTERN),
        (model.FEEDBACK_TOKEN_MIN, None, model.FEEDBACK_TOKEN_PATTERN),
    ]
    user = member_shape("Username")
    assert set(re.findall(r"\\p\{(\w)\}", user["pattern"])) == model.USERNAME_CATEGORIES
    assert member_shape("FeedbackValue")["enum"] == [v.value for v in FeedbackValue]


def test_sensitive_members_are_the_redacted_ones() -> None:
    members = shape("UpdateAuthEventFeedbackRequest")["members"]
    sensitive = {name for name in members if member_shape(name).get("sensitive")}
    assert sensitive == {"Username", "FeedbackToken"}
    shown = json.loads(build_request(EXAMPLE).redacted_body())
    assert {k for k, v in shown.items() if v == "<redacted>"} == sensitive


def test_errors_match_the_code() -> None:
    modeled = [ref["shape"] for ref in vendored()["operation"]["errors"]]
    assert sorted(modeled) == sorted(ERROR_CLASSES)
    server_faults = {name for name in modeled if shape(name).get("error", {}).get("fault")}
    server_faults |= {name for name in modeled if shape(name).get("fault")}
    assert server_faults <= {InternalErrorException.__name__}
    assert "reasonCode" in shape(InvalidParameterException.__name__)["members"]
    for name in modeled:
        assert not shape(name).get("retryable")  # no modeled retryable trait


def test_strategy_alphabets_are_the_model_patterns() -> None:
    # cognito_raw.testing.strategies writes the alphabets out for hypothesis;
    # they must be exactly what the patterns allow (ASCII, as the service reads them).
    from cognito_raw.testing import strategies

    ascii_chars = [chr(i) for i in range(128)]
    token_re = re.compile(model.FEEDBACK_TOKEN_PATTERN, re.ASCII)
    assert set(strategies._TOKEN_CHARS) == {c for c in ascii_chars if token_re.fullmatch(c)}
    event_re = re.compile(model.EVENT_ID_PATTERN, re.ASCII)
    assert set(strategies._WORD + "+-") == {c for c in ascii_chars if event_re.fullmatch(c)}
    assert set(strategies._USERNAME_CATEGORIES) == model.USERNAME_CATEGORIES
