"""Hypothesis strategies for UpdateAuthEventFeedback inputs and replies.

For property tests of your own code::

    from hypothesis import given
    from cognito_raw.testing import strategies as cst

    @given(cst.requests())
    def test_my_handler(request): ...

Valid inputs follow the service model exactly (spec/cognito-idp.json);
``invalid_request_kwargs()`` breaks exactly one field by one rule and says
which.
"""

from __future__ import annotations

import re
import string
from typing import Any, Final

from hypothesis import strategies as st

from cognito_raw._model import (
    EVENT_ID_MAX,
    USER_POOL_ID_MAX,
    USERNAME_MAX,
    FeedbackValue,
    UpdateAuthEventFeedbackRequest,
)

__all__ = [
    "FIELDS",
    "REGIONS",
    "event_ids",
    "feedback_tokens",
    "feedback_values",
    "invalid_request_kwargs",
    "request_kwargs",
    "requests",
    "user_pool_ids",
    "usernames",
]

FIELDS: Final = ("user_pool_id", "username", "event_id", "feedback_token", "feedback_value")

# A sample of real regions, so generated pool IDs resolve to real endpoints.
REGIONS: Final = (
    "us-east-1",
    "us-east-2",
    "us-west-2",
    "eu-west-1",
    "eu-central-1",
    "ap-southeast-2",
    "ap-northeast-1",
    "ca-central-1",
    "sa-east-1",
    "cn-north-1",
    "us-gov-west-1",
)

_ALNUM: Final = string.ascii_letters + string.digits
_WORD: Final = _ALNUM + "_"
# The characters of FEEDBACK_TOKEN_PATTERN, as a set (tests/test_strategies.py checks).
_TOKEN_CHARS: Final = _ALNUM + "-_=."


def user_pool_ids(*, regional: bool = True) -> st.SearchStrategy[str]:
    """Valid user pool IDs; ``regional`` ones start with a real region."""
    if regional:
        return st.builds(
            lambda region, suffix: f"{region}_{suffix}",
            st.sampled_from(REGIONS),
            st.text(_ALNUM, min_size=1, max_size=20),
        )
    return st.from_regex(re.compile(r"[\w-]+_[0-9a-zA-Z]+", re.ASCII), fullmatch=True).filter(
        lambda s: len(s) <= USER_POOL_ID_MAX
    )


def usernames() -> st.SearchStrategy[str]:
    """Valid usernames: 1-128 letters, marks, symbols, numbers or punctuation.

    The categories are USERNAME_CATEGORIES (tests/test_spec.py checks).
    """
    return st.text(
        st.characters(categories=("L", "M", "S", "N", "P")),
        min_size=1,
        max_size=USERNAME_MAX,
    )


def event_ids() -> st.SearchStrategy[str]:
    """Valid event IDs: mostly UUIDs, as Cognito sends, and any model-valid string."""
    return st.one_of(
        st.uuids().map(str),
        st.text(_WORD + "+-", min_size=1, max_size=EVENT_ID_MAX),
    )


def feedback_tokens() -> st.SearchStrategy[str]:
    """Valid feedback tokens (the model sets no length bound)."""
    return st.text(_TOKEN_CHARS, min_size=1, max_size=600)


def feedback_values() -> st.SearchStrategy[FeedbackValue | str]:
    """Members and the spellings that normalise to them (``valid``, ``INVALID``...)."""
    return st.one_of(
        st.sampled_from(FeedbackValue),
        st.sampled_from(["Valid", "Invalid", "valid", "invalid", "VALID", "INVALID"]),
    )


def request_kwargs(*, regional: bool = True) -> st.SearchStrategy[dict[str, Any]]:
    """Keyword arguments for a valid ``UpdateAuthEventFeedbackRequest``."""
    return st.fixed_dictionaries(
        {
            "user_pool_id": user_pool_ids(regional=regional),
            "username": usernames(),
            "event_id": event_ids(),
            "feedback_token": feedback_tokens(),
            "feedback_value": feedback_values(),
        }
    )


def requests(*, regional: bool = True) -> st.SearchStrategy[UpdateAuthEventFeedbackRequest]:
    """Valid request objects."""
    return request_kwargs(regional=regional).map(lambda kw: UpdateAuthEventFeedbackRequest(**kw))


def _bad_username_chars() -> st.SearchStrategy[str]:
    return st.characters(categories=["Zs", "Zl", "Zp", "Cc", "Cf", "Co", "Cn"])


# One strategy per (field, rule): each yields a value that breaks that rule only.
_INVALID: Final[dict[tuple[str, str], st.SearchStrategy[Any]]] = {
    ("user_pool_id", "length"): st.one_of(
        st.just(""),
        st.text(_ALNUM, min_size=USER_POOL_ID_MAX - 1, max_size=80).map(lambda s: f"a_{s}"),
    ),
    ("user_pool_id", "pattern"): st.one_of(
        st.text(_ALNUM + "-", min_size=1, max_size=50),
        st.builds(
            lambda a, bad, b: f"{a}{bad}_{b}",
            st.text(_ALNUM, max_size=10),
            st.characters(exclude_characters=_WORD + "-", exclude_categories=["Cs"]),
            st.text(_ALNUM, min_size=1, max_size=10),
        ),
        st.text(_WORD + "-", min_size=1, max_size=20).map(lambda s: f"{s}_"),
    ),
    ("user_pool_id", "type"): st.one_of(st.none(), st.integers(), st.binary(max_size=5)),
    ("username", "length"): st.one_of(
        st.just(""), st.text("ab", min_size=USERNAME_MAX + 1, max_size=USERNAME_MAX + 40)
    ),
    ("username", "characters"): st.builds(
        lambda a, bad, b: a + bad + b,
        st.text("xy", max_size=10),
        _bad_username_chars(),
        st.text("z", max_size=10),
    ),
    ("event_id", "length"): st.one_of(
        st.just(""), st.text(_WORD, min_size=EVENT_ID_MAX + 1, max_size=EVENT_ID_MAX + 20)
    ),
    ("event_id", "pattern"): st.builds(
        lambda a, bad: a + bad,
        st.text(_WORD, max_size=20),
        st.characters(exclude_characters=_WORD + "+-", exclude_categories=["Cs"]),
    ).filter(lambda s: len(s) <= EVENT_ID_MAX),
    ("feedback_token", "length"): st.just(""),
    ("feedback_token", "pattern"): st.builds(
        lambda a, bad: a + bad,
        st.text(_TOKEN_CHARS, max_size=20),
        st.characters(exclude_characters=_TOKEN_CHARS, exclude_categories=["Cs"]),
    ),
    ("feedback_value", "enum"): st.text(max_size=12).filter(
        lambda s: s.casefold() not in ("valid", "invalid")
    ),
    ("feedback_value", "type"): st.one_of(st.none(), st.booleans(), st.integers()),
}


def invalid_request_kwargs() -> st.SearchStrategy[tuple[str, str, dict[str, Any]]]:
    """``(field, rule, kwargs)``: valid keyword arguments with one field broken."""

    def corrupt(
        key: tuple[str, str], base: dict[str, Any]
    ) -> st.SearchStrategy[tuple[str, str, dict[str, Any]]]:
        return _INVALID[key].map(lambda bad: (key[0], key[1], {**base, key[0]: bad}))

    return st.tuples(st.sampled_from(sorted(_INVALID)), request_kwargs()).flatmap(
        lambda pair: corrupt(*pair)
    )
