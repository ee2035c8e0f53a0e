"""The request model: validation tables both ways, normalisation, redaction."""

from __future__ import annotations

import pickle
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cognito_raw import (
    FeedbackValue,
    UpdateAuthEventFeedbackRequest,
    ValidationError,
)
from cognito_raw.testing import strategies as cst

GOOD: dict[str, Any] = {
    "user_pool_id": "us-east-1_AbC123xyz",
    "username": "alice@example.com",
    "event_id": "c2c2cf89-c0d3-482d-aba6-99d78a5b0bfe",
    "feedback_token": "tOkEn-_=.123",
    "feedback_value": "Valid",
}

# (field, value, accepted). Each row is checked in the direction it states:
# accepted values build, rejected ones raise ValidationError naming the field.
TABLE: list[tuple[str, Any, bool]] = [
    ("user_pool_id", "us-east-1_AbC123", True),
    ("user_pool_id", "eu-central-1_x", True),
    ("user_pool_id", "a_b", True),
    ("user_pool_id", "a-b_c_d", True),
    ("user_pool_id", "a" * 53 + "_b", True),
    ("user_pool_id", "a" * 54 + "_b", False),  # 56 characters
    ("user_pool_id", "", False),
    ("user_pool_id", "us-east-1", False),
    ("user_pool_id", "us-east-1_", False),
    ("user_pool_id", "_abc", False),
    ("user_pool_id", "us-east-1_Ab-C", False),
    ("user_pool_id", "us-east-1_ÄbC", False),  # \w is ASCII in the service
    ("user_pool_id", "üs-east-1_AbC", False),
    ("user_pool_id", "us-east-1_AbC ", False),
    ("user_pool_id", "evil.com#_x", False),
    ("user_pool_id", "us-east-1_AbC\n", False),
    ("user_pool_id", None, False),
    ("username", "a", True),
    ("username", "Ünïcødé-用户", True),
    ("username", 'quote"back\\slash', True),
    ("username", "emoji😀", True),
    ("username", "e\u0301", True),  # combining mark (M)
    ("username", "x" * 128, True),
    ("username", "x" * 129, False),
    ("username", "", False),
    ("username", "two words", False),
    ("username", "trailing ", False),
    ("username", "zero\u200dwidth", False),  # Cf
    ("username", "tab\t", False),
    ("username", "nbsp\u00a0", False),
    ("username", "line\u2028sep", False),
    ("username", 42, False),
    ("event_id", "c2c2cf89-c0d3-482d-aba6-99d78a5b0bfe", True),
    ("event_id", "a+b_c-d", True),
    ("event_id", "e" * 50, True),
    ("event_id", "e" * 51, False),
    ("event_id", "", False),
    ("event_id", "a.b", False),
    ("event_id", "ünï", False),
    ("feedback_token", "abc", True),
    ("feedback_token", "A-z_0=9." * 500, True),
    ("feedback_token", "", False),
    ("feedback_token", "a b", False),
    ("feedback_token", "a/b", False),
    ("feedback_token", "a+b", False),
    ("feedback_value", "Valid", True),
    ("feedback_value", "Invalid", True),
    ("feedback_value", "valid", True),
    ("feedback_value", "INVALID", True),
    ("feedback_value", FeedbackValue.VALID, True),
    ("feedback_value", "yes", False),
    ("feedback_value", "", False),
    ("feedback_value", " Valid", False),
    ("feedback_value", True, False),
]


@pytest.mark.parametrize(("field", "value", "accepted"), TABLE)
def test_validation_table(field: str, value: Any, accepted: bool) -> None:
    kwargs = {**GOOD, field: value}
    if accepted:
        request = UpdateAuthEventFeedbackRequest(**kwargs)
        got = getattr(request, field)
        if field == "feedback_value":
            assert got is FeedbackValue(value)
        else:
            assert got == value
    else:
        with pytest.raises(ValidationError) as info:
            UpdateAuthEventFeedbackRequest(**kwargs)
        assert info.value.field == field
        assert str(info.value).startswith(f"{field}: ")


def test_every_field_has_rows_both_ways() -> None:
    for field in cst.FIELDS:
        verdicts = {accepted for f, _, accepted in TABLE if f == field}
        assert verdicts == {True, False}, field


@pytest.mark.parametrize(
    ("given_value", "member"),
    [
        ("Valid", FeedbackValue.VALID),
        ("valid", FeedbackValue.VALID),
        ("VaLiD", FeedbackValue.VALID),
        ("Invalid", FeedbackValue.INVALID),
        ("invalid", FeedbackValue.INVALID),
        ("INVALID", FeedbackValue.INVALID),
    ],
)
def test_feedback_value_normalises(given_value: str, member: FeedbackValue) -> None:
    assert FeedbackValue(given_value) is member
    assert str(member) == member.value
    assert member == member.value  # a str enum compares equal to its wire value


def test_feedback_value_rejects_other_text() -> None:
    with pytest.raises(ValueError, match="valid"):
        FeedbackValue("maybe")


_FEEDBACK_TEXT = st.one_of(
    st.text(max_size=12),
    # Each wire value with every letter's case chosen at random.
    st.sampled_from(["Valid", "Invalid"]).flatmap(
        lambda word: st.lists(st.booleans(), min_size=len(word), max_size=len(word)).map(
            lambda flips: "".join(
                c.swapcase() if f else c for c, f in zip(word, flips, strict=True)
            )
        )
    ),
    st.sampled_from(
        ["valid", "VALID", "invalid", "INVALID", "valid ", "\u017fvalid", "\u0130nvalid"]
    ),
)


@given(_FEEDBACK_TEXT)
def test_feedback_value_has_one_rule_for_every_entry_point(text: str) -> None:
    # A text names a member exactly when it case-folds to that member's wire
    # value; the enum, the validator and the request constructor all agree.
    expected = next((m for m in FeedbackValue if m.value.casefold() == text.casefold()), None)
    kwargs = {**GOOD, "feedback_value": text}
    if expected is None:
        with pytest.raises(ValueError, match="is not a valid FeedbackValue"):
            FeedbackValue(text)
        with pytest.raises(ValidationError) as info:
            UpdateAuthEventFeedbackRequest(**kwargs)
        assert info.value.field == "feedback_value"
    else:
        assert FeedbackValue(text) is expected
        assert UpdateAuthEventFeedbackRequest(**kwargs).feedback_value is expected


@given(cst.request_kwargs())
def test_valid_inputs_build(kwargs: dict[str, Any]) -> None:
    request = UpdateAuthEventFeedbackRequest(**kwargs)
    assert isinstance(request.feedback_value, FeedbackValue)
    assert request.username == kwargs["username"]


@given(cst.invalid_request_kwargs())
def test_invalid_inputs_raise_validation_error_naming_the_field(
    case: tuple[str, str, dict[str, Any]],
) -> None:
    field, _rule, kwargs = case
    with pytest.raises(ValidationError) as info:
        UpdateAuthEventFeedbackRequest(**kwargs)
    assert info.value.field == field
    assert isinstance(info.value, ValueError)


@given(cst.invalid_request_kwargs())
def test_validation_errors_never_show_secrets(case: tuple[str, str, dict[str, Any]]) -> None:
    field, _rule, kwargs = case
    with pytest.raises(ValidationError) as info:
        UpdateAuthEventFeedbackRequest(**kwargs)
    # Other fields' values may be shown; a broken username or token never is.
    secret = kwargs[field]
    if field in ("username", "feedback_token") and isinstance(secret, str) and len(secret) >= 6:
        assert secret not in str(info.value)
        assert secret not in repr(info.value)


@pytest.mark.parametrize("field", ["username", "feedback_token"])
@pytest.mark.parametrize("secret", ["sekrit value", "sekrit\x00", "s" * 200 + " ", "sekrit\u200d"])
def test_secret_fields_are_never_echoed(field: str, secret: str) -> None:
    with pytest.raises(ValidationError) as info:
        UpdateAuthEventFeedbackRequest(**{**GOOD, field: secret})
    assert "sekrit" not in str(info.value)
    assert "sss" not in str(info.value)
    assert "sekrit" not in repr(info.value)


@given(cst.requests(), cst.usernames(), cst.feedback_tokens())
def test_repr_does_not_depend_on_username_or_token(
    request: UpdateAuthEventFeedbackRequest, other_user: str, other_token: str
) -> None:
    # An exact form of "never shows the secrets": swapping them leaves repr unchanged.
    other = UpdateAuthEventFeedbackRequest(
        user_pool_id=request.user_pool_id,
        username=other_user,
        event_id=request.event_id,
        feedback_token=other_token,
        feedback_value=request.feedback_value,
    )
    assert repr(request) == repr(other)
    assert str(request) == str(other)
    assert "<redacted>" in repr(request)


def test_repr_example() -> None:
    request = UpdateAuthEventFeedbackRequest(**GOOD)
    assert repr(request) == (
        "UpdateAuthEventFeedbackRequest(user_pool_id='us-east-1_AbC123xyz', "
        "username=<redacted>, event_id='c2c2cf89-c0d3-482d-aba6-99d78a5b0bfe', "
        "feedback_token=<redacted>, feedback_value='Valid')"
    )
    assert "alice" not in str(request)


def test_request_is_frozen_and_keyword_only() -> None:
    request = UpdateAuthEventFeedbackRequest(**GOOD)
    with pytest.raises(AttributeError):
        request.username = "mallory"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        del request.username  # type: ignore[misc]
    assert pickle.loads(pickle.dumps(request)) == request
    assert hash(request) == hash(UpdateAuthEventFeedbackRequest(**GOOD))
    assert request != UpdateAuthEventFeedbackRequest(**{**GOOD, "event_id": "other"})
    with pytest.raises(TypeError):
        UpdateAuthEventFeedbackRequest(*GOOD.values())  # type: ignore[misc]


def test_unchecked_skips_validation_and_keeps_values_as_given() -> None:
    request = UpdateAuthEventFeedbackRequest.unchecked(
        user_pool_id="not a pool",
        username="two words",
        event_id="",
        feedback_token="no/slashes",
        feedback_value="maybe",
    )
    assert request.username == "two words"
    assert request.feedback_value == "maybe"
    assert "two words" not in repr(request)
    # An unchecked request equals a checked one with the same values.
    assert UpdateAuthEventFeedbackRequest.unchecked(**{**GOOD}) == UpdateAuthEventFeedbackRequest(
        **{**GOOD, "feedback_value": FeedbackValue.VALID}
    )


@pytest.mark.parametrize(
    "error",
    [
        ValidationError(field="username", rule="must be 1 to 128 characters long (got 0)"),
    ],
)
def test_validation_error_pickles(error: ValidationError) -> None:
    clone = pickle.loads(pickle.dumps(error))
    assert (type(clone), clone.field, clone.rule, str(clone)) == (
        type(error),
        error.field,
        error.rule,
        str(error),
    )


@given(st.text(max_size=200))
def test_username_rule_is_the_category_rule(text: str) -> None:
    import unicodedata

    expected = 1 <= len(text) <= 128 and all(unicodedata.category(c)[0] in "LMSNP" for c in text)
    try:
        UpdateAuthEventFeedbackRequest(**{**GOOD, "username": text})
    except ValidationError as exc:
        assert exc.field == "username"
        assert not expected
    else:
        assert expected
