"""Feedback links: the template, the filled link, the parser, Custom email sender events.

The oracles here are written independently of cognito_raw.links._url: Cognito's
substitution (raw, one pass) and what a browser does to a link before sending it
(drops the fragment, percent-encodes non-ASCII and a few ASCII characters).
"""

from __future__ import annotations

import re
import urllib.parse
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from cognito_raw import FeedbackValue, UpdateAuthEventFeedbackRequest, ValidationError
from cognito_raw.links import (
    MAX_LINK_LENGTH,
    FeedbackContext,
    from_custom_email_sender_event,
    make_link,
    parse_link,
    template_link,
)
from cognito_raw.links._url import decode_username
from cognito_raw.testing import strategies as cst

BASE = "https://example.com/feedback"
POOL = "us-east-1_AbC123"
OTHER_POOL = "eu-west-1_Xyz"
EVENT = "c2c2cf89-c0d3-482d-aba6-99d78a5b0bfe"
TOKEN = "tOkEn-_=.123=="

# --- independent oracles --------------------------------------------------------------

_PLACEHOLDER = re.compile(r"\{(?:username|event-id|feedback-token)\}")


def simulate_cognito_substitution(template: str, values: dict[str, str]) -> str:
    """Cognito's template filling as we model it: raw values, one left-to-right pass."""
    return _PLACEHOLDER.sub(lambda m: values[m.group(0)], template)


def _percent(char: str) -> str:
    return "".join(f"%{b:02X}" for b in char.encode("utf-8"))


def simulate_browser(url: str, *, strict: bool = False) -> str:
    """What a browser sends for a clicked link (WHATWG URL, special-query set).

    ``strict`` also encodes what RFC 3986 forbids (some mail gateways do).
    """
    url = url.partition("#")[0]
    head, sep, query = url.partition("?")
    extra = "\\^`{|}" if strict else ""
    encoded = "".join(
        _percent(c) if c <= " " or c > "~" or c in "\"'<>" + extra else c for c in query
    )
    return head + sep + encoded


_LOOKS_ESCAPED = re.compile(r"%(?:2[27]|3[cCeE]|5[cCeE]|60|7[bBcCdD]|[89a-fA-F][0-9a-fA-F])")
# What encodeURIComponent, urllib.parse.quote and form serialisers may leave as it
# is, and an escape of anything but a letter or digit (which none of them escapes).
_ENCODED = re.compile(
    r"(?:[A-Za-z0-9\-_.~!*'()]|%(?![46][1-9A-Fa-f]|[57][0-9Aa]|3[0-9])[0-9A-Fa-f]{2})+"
)


def encode_uri_component(text: str) -> str:
    """JavaScript's encodeURIComponent."""
    return urllib.parse.quote(text, safe="-_.!~*'()")


ENCODERS = {
    "encodeURIComponent": encode_uri_component,
    "urllib quote": lambda text: urllib.parse.quote(text, safe=""),
    "form (quote_plus)": urllib.parse.quote_plus,
    "lower-case hex": lambda text: re.sub(
        r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), urllib.parse.quote(text, safe="")
    ),
}


def is_username(text: str) -> bool:
    try:
        UpdateAuthEventFeedbackRequest(**{**kwargs("x"), "username": text})
    except ValidationError:
        return False
    return True


def looks_encoded(username: str) -> bool:
    """A raw username that is wholly what an encoder makes of another valid username."""
    if "%" not in username or _ENCODED.fullmatch(username) is None:
        return False
    try:
        decoded = urllib.parse.unquote(username, errors="strict")
    except UnicodeDecodeError:
        return False
    return is_username(decoded)


def looks_escaped(username: str) -> bool:
    """A raw username that reads ambiguously: it holds an escape a browser could have
    made, or it is wholly an encoder's output (then it reads as what it encodes)."""
    return _LOOKS_ESCAPED.search(username) is not None or looks_encoded(username)


def values_of(kw: dict[str, Any]) -> dict[str, str]:
    return {
        "{username}": kw["username"],
        "{event-id}": kw["event_id"],
        "{feedback-token}": kw["feedback_token"],
    }


def link_of(kw: dict[str, Any], *, with_pool: bool = True, base: str = BASE) -> str:
    return make_link(
        base,
        user_pool_id=kw["user_pool_id"] if with_pool else None,
        username=kw["username"],
        event_id=kw["event_id"],
        feedback_token=kw["feedback_token"],
        value=kw["feedback_value"],
    )


def kwargs(username: str = "alice", **over: Any) -> dict[str, Any]:
    kw: dict[str, Any] = {
        "user_pool_id": POOL,
        "username": username,
        "event_id": EVENT,
        "feedback_token": TOKEN,
        "feedback_value": "valid",
    }
    kw.update(over)
    return kw


# --- template_link ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("base", "value", "pool", "expected"),
    [
        (
            BASE,
            "valid",
            POOL,
            f"{BASE}?value=valid&pool={POOL}&event={{event-id}}&token={{feedback-token}}"
            "&username={username}&end=1",
        ),
        (
            BASE,
            FeedbackValue.INVALID,
            None,
            f"{BASE}?value=invalid&event={{event-id}}&token={{feedback-token}}"
            "&username={username}&end=1",
        ),
        (
            "https://example.com/",
            "VALID",
            None,
            "https://example.com/?value=valid&event={event-id}&token={feedback-token}"
            "&username={username}&end=1",
        ),
        (
            "https://example.com/fb?lang=fr",
            "Invalid",
            None,
            "https://example.com/fb?lang=fr&value=invalid&event={event-id}"
            "&token={feedback-token}&username={username}&end=1",
        ),
        (
            "https://example.com/fb?lang=fr&",
            "valid",
            None,
            "https://example.com/fb?lang=fr&value=valid&event={event-id}"
            "&token={feedback-token}&username={username}&end=1",
        ),
        (
            "https://example.com/fb?",
            "valid",
            None,
            "https://example.com/fb?value=valid&event={event-id}"
            "&token={feedback-token}&username={username}&end=1",
        ),
        (
            "http://127.0.0.1:8000/fb",
            "valid",
            None,
            "http://127.0.0.1:8000/fb?value=valid&event={event-id}"
            "&token={feedback-token}&username={username}&end=1",
        ),
    ],
)
def test_template_link_shape(base: str, value: Any, pool: str | None, expected: str) -> None:
    assert template_link(base, value, user_pool_id=pool) == expected


@pytest.mark.parametrize(
    ("base", "value", "pool", "field"),
    [
        ("http://example.com/fb", "valid", None, "base_url"),  # http only for loopback
        ("ftp://example.com/fb", "valid", None, "base_url"),
        ("https://example.com/fb#top", "valid", None, "base_url"),
        ("https://example.com/fb?x=1#top", "valid", None, "base_url"),
        ("https://user:pw@example.com/fb", "valid", None, "base_url"),
        ("https://example.com/f b", "valid", None, "base_url"),
        ("https://example.com/fé", "valid", None, "base_url"),
        ("example.com/fb", "valid", None, "base_url"),
        ("https://example.com/fb?token=1", "valid", None, "base_url"),
        ("https://example.com/fb?a=1&username=x", "valid", None, "base_url"),
        ("https://example.com/fb?end", "valid", None, "base_url"),
        ("https://example.com/fb?q={username}", "valid", None, "base_url"),
        ("https://example.com/fb?q=a b", "valid", None, "base_url"),
        (b"https://example.com", "valid", None, "base_url"),
        (BASE, "maybe", None, "feedback_value"),
        (BASE, None, None, "feedback_value"),
        (BASE, "valid", "us-east-1", "user_pool_id"),
        (BASE, "valid", "", "user_pool_id"),
    ],
)
def test_template_link_rejects(base: Any, value: Any, pool: Any, field: str) -> None:
    with pytest.raises(ValidationError) as info:
        template_link(base, value, user_pool_id=pool)
    assert info.value.field == field


# --- nasty usernames, every route ---------------------------------------------------------

NASTY_USERNAMES = [
    "alice",
    "alice@example.com",
    "a&b",
    "a=b",
    "==",
    "a+b",
    "+",
    "&",
    "&&",
    "?",
    "a?b/c",
    "/",
    "100%",
    "%",
    "%%",
    "%zz",
    "a%2",
    "%41",  # 'A' is never escaped by a browser or an encoder: read literally
    "%41%2B",  # (so the whole is not an encoder's output either)
    "50%off",  # a "%" not before two hex digits: not an encoding
    "a%2Bb@example.com",  # a raw '@' an encoder would have escaped: literal
    "a+b%2B",  # likewise a raw '+'
    "%2B%",
    "%20",  # would decode to a space: never a username
    "%E2%80%8B",  # would decode to a zero-width space (format): read as written
    'say"hi"',
    "o'brien",
    "<tag>",
    "back\\slash",
    "^`{|}",
    "{username}",
    "{event-id}",
    "{feedback-token}",
    "&end=1",
    "x&end=1",
    "x&end=1&y",
    "x&end=10",
    "&end=1&end=1",
    "&username=bob",
    "username=",
    "value=invalid",
    "&value=invalid&pool=eu-west-1_Xyz",
    "josé",
    "用户名",
    "emoji😀",
    "e\u0301",
    "ÿ",
]


@pytest.mark.parametrize("username", NASTY_USERNAMES)
@pytest.mark.parametrize("with_pool", [True, False])
def test_nasty_usernames_round_trip(username: str, with_pool: bool) -> None:
    kw = kwargs(username)
    expected = UpdateAuthEventFeedbackRequest(**kw)
    link = link_of(kw, with_pool=with_pool)
    assert parse_link(link, user_pool_ids=[POOL]) == expected
    # The template route produces the very same string.
    template = template_link(BASE, "valid", user_pool_id=POOL if with_pool else None)
    assert simulate_cognito_substitution(template, values_of(kw)) == link
    # What the browser sends, and what a strict gateway sends, read the same.
    assert parse_link(simulate_browser(link), user_pool_ids=[POOL]) == expected
    assert parse_link(simulate_browser(link, strict=True), user_pool_ids=[POOL]) == expected


@pytest.mark.parametrize("username", ["a#b", "#", "x#&end=1", "a#b&end=1z"])
def test_hash_in_username_is_exact_as_written_and_refused_after_a_browser(username: str) -> None:
    kw = kwargs(username)
    link = link_of(kw)
    assert parse_link(link, user_pool_ids=[POOL]) == UpdateAuthEventFeedbackRequest(**kw)
    with pytest.raises(ValidationError) as info:
        parse_link(simulate_browser(link), user_pool_ids=[POOL])
    assert info.value.field == "url"
    assert "incomplete" in info.value.rule


@pytest.mark.parametrize(
    ("raw_username", "read_as"),
    [
        ("%22", '"'),
        ("%27x", "'x"),
        ("%3c%3E", "<>"),
        ("%C3%A9", "é"),
        ("%c3%a9", "é"),
        ("%E7%94%A8", "用"),
        ("%F0%9F%98%80", "😀"),
        # Wholly an encoder's output: read as what it encodes.
        ("%25", "%"),
        ("%26", "&"),
        ("%2B", "+"),
        ("%23", "#"),
        ("a%2Bb", "a+b"),
        ("alice%2Btest%40example.com", "alice+test@example.com"),
        ("O'Brien%40example.com", "O'Brien@example.com"),
    ],
)
def test_the_one_ambiguity_prefers_the_browser_reading(raw_username: str, read_as: str) -> None:
    # A raw username that holds a browser-made escape, or is wholly an encoder's
    # output, is indistinguishable from the encoded form of another username. The
    # decoded reading wins.
    link = link_of(kwargs(raw_username))
    assert parse_link(link, user_pool_ids=[POOL]).username == read_as
    assert looks_escaped(raw_username)


@pytest.mark.parametrize(
    ("raw", "decoded"),
    [
        ("plain", "plain"),
        ("%", "%"),
        ("%%22", '%"'),
        ("%2", "%2"),
        ("%zz", "%zz"),
        ("%41%42", "%41%42"),
        ("%20", "%20"),  # a space is never in a username: keep the literal reading
        ("%2B", "+"),  # wholly an encoding
        ("%2Bx%40y", "+x@y"),
        ("%2b%40", "+@"),  # lower-case hex
        ("%2B@", "%2B@"),  # a raw '@': not an encoder's output
        ("%2B%zz", "%2B%zz"),
        ("%41%2B", "%41%2B"),  # an escaped letter: not an encoder's output
        ("%E2%80%8B", "%E2%80%8B"),  # decoded, not a username: as written
        ("%C2%A0x", "%C2%A0x"),  # NO-BREAK SPACE: likewise
        ("+", "+"),
        ("%C3", "%C3"),  # truncated UTF-8
        ("%C3%28", "%C3%28"),  # bad continuation byte: both kept literal
        ("%C0%AF", "%C0%AF"),  # overlong
        ("%ED%A0%80", "%ED%A0%80"),  # a surrogate
        ("%F4%90%80%80", "%F4%90%80%80"),  # above U+10FFFF
        ("%FF", "%FF"),
        ("a%C3%A9b%22c", 'aéb"c'),
        ("%E2%82%AC%E2%82", "€%E2%82"),
    ],
)
def test_decode_username(raw: str, decoded: str) -> None:
    assert decode_username(raw) == decoded


# --- percent-encoded usernames -----------------------------------------------------------


def link_with_raw_username(kw: dict[str, Any], raw_username: str) -> str:
    return (
        f"{BASE}?value=valid&pool={kw['user_pool_id']}&event={kw['event_id']}"
        f"&token={kw['feedback_token']}&username={raw_username}&end=1"
    )


def test_the_reported_encoded_username() -> None:
    url = (
        f"{BASE}?value=valid&pool={POOL}&event={EVENT}&token={TOKEN}"
        "&username=alice%2Btest%40example.com&end=1"
    )
    assert parse_link(url, user_pool_ids=[POOL]).username == "alice+test@example.com"


@given(kw=cst.request_kwargs(), encoder=st.sampled_from(sorted(ENCODERS)))
def test_any_username_encoded_whole_is_recovered(kw: dict[str, Any], encoder: str) -> None:
    # A click tracker or encodeURIComponent encoded the username: any valid
    # username comes back, whatever it holds (a '%' of its own too).
    raw = ENCODERS[encoder](kw["username"])
    got = parse_link(link_with_raw_username(kw, raw), user_pool_ids=[kw["user_pool_id"]])
    assert got.username == kw["username"]


# Usernames rich in '%', hex digits and what encoders escape.
PERCENT_HEAVY = st.text(st.sampled_from("%%%2B4aF0@+.~é\"'<"), min_size=1, max_size=12)


@given(username=PERCENT_HEAVY)
def test_a_username_with_a_percent_of_its_own_is_read_as_written_unless_ambiguous(
    username: str,
) -> None:
    assume(is_username(username))
    kw = kwargs(username)
    for link in (link_of(kw), simulate_browser(link_of(kw))):
        got = parse_link(link, user_pool_ids=[POOL]).username
        if not looks_escaped(username):
            assert got == username
        elif looks_encoded(username):
            # The documented ambiguity: it reads as what it encodes.
            assert got == urllib.parse.unquote(username)
        else:
            assert got == decode_username(username)


# --- properties over every valid input ----------------------------------------------------


@given(kw=cst.request_kwargs(), with_pool=st.booleans())
def test_round_trip_make_link(kw: dict[str, Any], with_pool: bool) -> None:
    expected = UpdateAuthEventFeedbackRequest(**kw)
    got = parse_link(link_of(kw, with_pool=with_pool), user_pool_ids=[kw["user_pool_id"]])
    assert got.user_pool_id == expected.user_pool_id
    assert got.event_id == expected.event_id
    assert got.feedback_token == expected.feedback_token
    assert got.feedback_value == expected.feedback_value
    if not looks_escaped(kw["username"]):
        assert got == expected
    else:
        assert got.username == decode_username(kw["username"])


@given(kw=cst.request_kwargs(), with_pool=st.booleans())
def test_round_trip_template_route(kw: dict[str, Any], with_pool: bool) -> None:
    assume(not looks_escaped(kw["username"]))
    pool = kw["user_pool_id"] if with_pool else None
    template = template_link(BASE, kw["feedback_value"], user_pool_id=pool)
    link = simulate_cognito_substitution(template, values_of(kw))
    assert link == link_of(kw, with_pool=with_pool)
    assert parse_link(
        link, user_pool_ids=[kw["user_pool_id"], OTHER_POOL] if with_pool else [kw["user_pool_id"]]
    ) == UpdateAuthEventFeedbackRequest(**kw)


@given(kw=cst.request_kwargs(), strict=st.booleans())
def test_round_trip_through_a_browser(kw: dict[str, Any], strict: bool) -> None:
    assume(not looks_escaped(kw["username"]))
    sent = simulate_browser(link_of(kw), strict=strict)
    assert sent.isascii()
    if "#" not in kw["username"]:
        assert parse_link(sent, user_pool_ids=[kw["user_pool_id"]]) == (
            UpdateAuthEventFeedbackRequest(**kw)
        )
        return
    # Cut at the '#': refused as incomplete, unless the part before the '#'
    # itself ended in "&end=1" (then a shorter username is read: Cognito will
    # refuse it, and the value cannot have changed).
    try:
        got = parse_link(sent, user_pool_ids=[kw["user_pool_id"]])
    except ValidationError as exc:
        assert exc.field in ("url", "username")
    else:
        assert "&end=1" in kw["username"].partition("#")[0]
        assert got.feedback_value == UpdateAuthEventFeedbackRequest(**kw).feedback_value


@given(kw=cst.request_kwargs(), extra=st.sampled_from(["&utm_source=mail", "&x", "&", "&end=2"]))
def test_parameters_appended_after_the_end_marker_are_ignored(
    kw: dict[str, Any], extra: str
) -> None:
    assume(not looks_escaped(kw["username"]))
    link = link_of(kw) + extra
    assert parse_link(link, user_pool_ids=[kw["user_pool_id"]]) == (
        UpdateAuthEventFeedbackRequest(**kw)
    )


def test_a_query_alone_parses() -> None:
    kw = kwargs("a&b")
    query = "?" + link_of(kw).partition("?")[2]
    assert parse_link(query, user_pool_ids=[POOL]) == UpdateAuthEventFeedbackRequest(**kw)


def test_the_base_urls_own_parameters_are_ignored() -> None:
    kw = kwargs()
    link = link_of(kw, base="https://example.com/fb?lang=fr&pool_hint=1")
    assert parse_link(link, user_pool_ids=[POOL]) == UpdateAuthEventFeedbackRequest(**kw)


def test_fixed_fields_tolerate_over_encoding() -> None:
    link = (
        f"{BASE}?value=%76alid&pool=us-east-1%5FAbC123&event=a%2Bb&token=x%3D%3D"
        "&username=bob&end=1"
    )
    got = parse_link(link, user_pool_ids=[POOL])
    assert (got.event_id, got.feedback_token, got.feedback_value) == (
        "a+b",
        "x==",
        FeedbackValue.VALID,
    )


# --- allow-list -------------------------------------------------------------------------


def test_missing_pool_uses_the_only_allowed_pool() -> None:
    link = link_of(kwargs(), with_pool=False)
    assert parse_link(link, user_pool_ids=(POOL,)).user_pool_id == POOL
    assert parse_link(link, user_pool_ids={OTHER_POOL}).user_pool_id == OTHER_POOL


def test_missing_pool_with_several_allowed_is_refused() -> None:
    with pytest.raises(ValidationError) as info:
        parse_link(link_of(kwargs(), with_pool=False), user_pool_ids=[POOL, OTHER_POOL])
    assert info.value.field == "user_pool_id"


def test_pool_not_in_the_allow_list_is_refused() -> None:
    with pytest.raises(ValidationError) as info:
        parse_link(link_of(kwargs()), user_pool_ids=[OTHER_POOL])
    assert info.value.field == "user_pool_id"
    assert "allowed" in info.value.rule


@pytest.mark.parametrize(
    ("pools", "error"),
    [
        ([], ValidationError),
        (["not-a-pool"], ValidationError),
        ([POOL, ""], ValidationError),
        (POOL, TypeError),
    ],
)
def test_bad_allow_lists(pools: Any, error: type[Exception]) -> None:
    with pytest.raises(error):
        parse_link(link_of(kwargs()), user_pool_ids=pools)


# --- rejection table ----------------------------------------------------------------------

GOOD_QUERY = f"value=valid&pool={POOL}&event={EVENT}&token={TOKEN}&username=bob&end=1"

REJECTED: list[tuple[str, str]] = [
    ("", "url"),
    (BASE, "url"),
    (BASE + "?", "url"),
    ("?" + GOOD_QUERY.replace("&end=1", ""), "url"),
    ("?" + GOOD_QUERY.replace("&end=1", "&end=2"), "url"),
    ("?" + GOOD_QUERY.replace("&end=1", "&end=1x"), "url"),
    ("?" + GOOD_QUERY.replace("&end=1", "&END=1"), "url"),
    ("?" + GOOD_QUERY.replace("value=valid&", ""), "feedback_value"),
    ("?" + GOOD_QUERY.replace("value=valid", "value=maybe"), "feedback_value"),
    ("?" + GOOD_QUERY.replace("value=valid", "value="), "feedback_value"),
    ("?" + GOOD_QUERY.replace("value=valid", "value"), "feedback_value"),
    ("?value=invalid&" + GOOD_QUERY, "feedback_value"),
    ("?" + GOOD_QUERY.replace(f"event={EVENT}&", ""), "event_id"),
    ("?" + GOOD_QUERY.replace(f"event={EVENT}", "event=a%20b"), "event_id"),
    ("?" + GOOD_QUERY.replace(f"event={EVENT}", "event=a.b"), "event_id"),
    ("?" + GOOD_QUERY.replace(f"event={EVENT}", "event=" + "e" * 51), "event_id"),
    ("?" + GOOD_QUERY.replace(f"event={EVENT}", "event=%C3%A9"), "event_id"),
    ("?" + GOOD_QUERY.replace(f"event={EVENT}", "event=%FF"), "event_id"),
    (f"?event={EVENT}&" + GOOD_QUERY, "event_id"),
    ("?" + GOOD_QUERY.replace(f"token={TOKEN}&", ""), "feedback_token"),
    ("?" + GOOD_QUERY.replace(f"token={TOKEN}", "token="), "feedback_token"),
    ("?" + GOOD_QUERY.replace(f"token={TOKEN}", "token=a/b"), "feedback_token"),
    ("?" + GOOD_QUERY.replace(f"token={TOKEN}", "token=a%FFb"), "feedback_token"),
    ("?token=x&" + GOOD_QUERY, "feedback_token"),
    ("?" + GOOD_QUERY.replace(f"pool={POOL}", "pool=us-east-1"), "user_pool_id"),
    ("?" + GOOD_QUERY.replace(f"pool={POOL}", "pool=evil.com#_x"), "user_pool_id"),
    ("?" + GOOD_QUERY.replace(f"pool={POOL}", "pool=" + OTHER_POOL), "user_pool_id"),
    (f"?pool={POOL}&" + GOOD_QUERY, "user_pool_id"),
    ("?" + GOOD_QUERY.replace("username=bob&", ""), "username"),
    ("?" + GOOD_QUERY.replace("username=bob", "username="), "username"),
    ("?" + GOOD_QUERY.replace("username=bob", "username=two words"), "username"),
    ("?" + GOOD_QUERY.replace("username=bob", "username=" + "x" * 129), "username"),
    ("?" + GOOD_QUERY.replace("username=bob", "username=zero\u200dwidth"), "username"),
    ("?" + GOOD_QUERY.replace("username=bob", "username=tab\t"), "username"),
    # Fields after the username belong to it: the token is then missing.
    (f"?value=valid&pool={POOL}&event={EVENT}&username=bob&token={TOKEN}&end=1", "feedback_token"),
    ("?" + GOOD_QUERY + "&" + "x" * MAX_LINK_LENGTH, "url"),
]


@pytest.mark.parametrize(("url", "field"), REJECTED)
def test_rejections_name_the_field(url: str, field: str) -> None:
    with pytest.raises(ValidationError) as info:
        parse_link(url, user_pool_ids=[POOL])
    assert info.value.field == field


def test_the_good_query_of_the_rejection_table_parses() -> None:
    assert parse_link("?" + GOOD_QUERY, user_pool_ids=[POOL]).username == "bob"


def test_non_string_url_is_refused() -> None:
    with pytest.raises(ValidationError) as info:
        parse_link(b"?value=valid", user_pool_ids=[POOL])  # type: ignore[arg-type]
    assert info.value.field == "url"


# --- secrets never appear in messages --------------------------------------------------------

_MARK_USER = "Zq9xUSER"
_MARK_TOKEN = "Zq9xTOKEN"


def _corruptions(link: str) -> list[str]:
    head, _, query = link.partition("?")
    return [
        link.replace("&end=1", ""),
        link.replace("value=valid", "value=nope"),
        link.replace("value=invalid", "value=nope"),
        head + "?" + query.replace("&event=", "&event=%25"),
        head + "?" + query.replace("&token=", "&token=/"),
        head + "?" + query.replace("&token=", "&token=x&token="),
        head + "?" + query.replace("&username=", "&username=\u200d"),
        head + "?" + query.replace("&username=", "&username= "),
        link.replace("&username=", "&username=" + "x" * 200),
        link.partition("&username=")[0] + "&end=1",
        link[: len(link) // 2],
        link[: len(link) * 3 // 4],
    ]


@given(kw=cst.request_kwargs(), user=cst.usernames(), token=cst.feedback_tokens())
def test_error_messages_never_contain_the_username_or_token(
    kw: dict[str, Any], user: str, token: str
) -> None:
    kw = {**kw, "username": (_MARK_USER + user)[:128], "feedback_token": _MARK_TOKEN + token}
    secrets = (kw["username"], kw["feedback_token"], _MARK_USER, _MARK_TOKEN)
    for url in [*_corruptions(link_of(kw)), link_of(kw)]:
        for pools in ([OTHER_POOL], [kw["user_pool_id"]]):
            try:
                parse_link(url, user_pool_ids=pools)
            except ValidationError as exc:
                for secret in secrets:
                    assert secret not in str(exc)
                    assert secret not in repr(exc)
                    assert secret not in exc.rule


# --- Custom email sender events -----------------------------------------------------------


_DROP: Any = object()


def ato_event(**attributes: Any) -> dict[str, Any]:
    attrs: dict[str, Any] = {
        "EVENT_ID": EVENT,
        "USER_NAME": "alice&co",
        "IP_ADDRESS": "203.0.113.7",
        "ACCOUNT_TAKE_OVER_ACTION": "BLOCK",
        "ONE_CLICK_LINK_VALID": "https://auth.example.com/confirm?token=" + TOKEN,
        "ONE_CLICK_LINK_INVALID": "https://auth.example.com/deny?token=" + TOKEN,
        "LOGIN_TIME": "2024-05-01T10:30:00Z",
        "FEEDBACK_TOKEN": TOKEN,
        "CITY": "Lisbon",
        "COUNTRY": "Portugal",
        "DEVICE_NAME": "Firefox on Linux",
        "email": "alice@example.com",
    }
    attrs.update(attributes)
    attrs = {k: v for k, v in attrs.items() if v is not _DROP}
    return {
        "version": "1",
        "triggerSource": "CustomEmailSender_AccountTakeOverNotification",
        "region": "us-east-1",
        "userPoolId": POOL,
        "userName": "alice&co",
        "callerContext": {"awsSdkVersion": "aws-sdk-unknown-unknown", "clientId": "abc"},
        "request": {"type": "customEmailSenderRequestV1", "code": None, "userAttributes": attrs},
        "response": {},
    }


def test_context_from_an_ato_event() -> None:
    ctx = from_custom_email_sender_event(ato_event())
    assert ctx == FeedbackContext(
        user_pool_id=POOL,
        username="alice&co",
        event_id=EVENT,
        feedback_token=TOKEN,
        one_click_link_valid="https://auth.example.com/confirm?token=" + TOKEN,
        one_click_link_invalid="https://auth.example.com/deny?token=" + TOKEN,
        ip_address="203.0.113.7",
        login_time="2024-05-01T10:30:00Z",
        city="Lisbon",
        country="Portugal",
        device_name="Firefox on Linux",
        action="BLOCK",
    )
    assert ctx.request("invalid") == UpdateAuthEventFeedbackRequest(
        user_pool_id=POOL,
        username="alice&co",
        event_id=EVENT,
        feedback_token=TOKEN,
        feedback_value=FeedbackValue.INVALID,
    )
    links = ctx.links(BASE)
    assert parse_link(links.valid, user_pool_ids=[POOL]) == ctx.request("valid")
    assert parse_link(links.invalid, user_pool_ids=[POOL]) == ctx.request("invalid")
    assert links.valid == link_of(kwargs("alice&co"))
    assert "pool=" not in ctx.link(BASE, "valid", include_pool=False)
    for text in (repr(ctx), repr(links), str(ctx)):
        assert "alice" not in text
        assert TOKEN not in text
    assert "Lisbon" in repr(ctx)


def test_optional_attributes_may_be_missing() -> None:
    event = ato_event(
        CITY=_DROP,
        COUNTRY=_DROP,
        DEVICE_NAME=_DROP,
        ONE_CLICK_LINK_VALID=_DROP,
        ONE_CLICK_LINK_INVALID=_DROP,
        IP_ADDRESS=_DROP,
        LOGIN_TIME=_DROP,
        ACCOUNT_TAKE_OVER_ACTION=_DROP,
    )
    ctx = from_custom_email_sender_event(event)
    assert (ctx.city, ctx.country, ctx.device_name, ctx.ip_address, ctx.action) == (None,) * 5


@pytest.mark.parametrize(
    "source",
    [
        "CustomEmailSender_SignUp",
        "CustomEmailSender_ForgotPassword",
        "CustomEmailSender_AdminCreateUser",
        "CustomMessage_SignUp",
        None,
        "",
    ],
)
def test_other_trigger_sources_are_refused(source: Any) -> None:
    event = ato_event()
    event["triggerSource"] = source
    with pytest.raises(ValidationError) as info:
        from_custom_email_sender_event(event)
    assert info.value.field == "triggerSource"
    assert "AccountTakeOverNotification" in info.value.rule


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"EVENT_ID": _DROP}, "request.userAttributes.EVENT_ID"),
        ({"USER_NAME": _DROP}, "request.userAttributes.USER_NAME"),
        ({"FEEDBACK_TOKEN": _DROP}, "request.userAttributes.FEEDBACK_TOKEN"),
        ({"FEEDBACK_TOKEN": 12}, "request.userAttributes.FEEDBACK_TOKEN"),
        ({"CITY": 3}, "request.userAttributes.CITY"),
        ({"FEEDBACK_TOKEN": "bad/token"}, "feedback_token"),
        ({"USER_NAME": "two words"}, "username"),
        ({"EVENT_ID": "bad id"}, "event_id"),
    ],
)
def test_bad_attributes_are_refused(change: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        from_custom_email_sender_event(ato_event(**change))
    assert info.value.field == field
    assert "alice" not in str(info.value)
    assert "bad/token" not in str(info.value)


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda e: e.pop("userPoolId"), "userPoolId"),
        (lambda e: e.__setitem__("userPoolId", "nope"), "user_pool_id"),
        (lambda e: e.pop("request"), "request"),
        (lambda e: e["request"].pop("userAttributes"), "request.userAttributes"),
        (lambda e: e["request"].__setitem__("userAttributes", []), "request.userAttributes"),
    ],
)
def test_bad_event_shapes_are_refused(mutate: Any, field: str) -> None:
    event = ato_event()
    mutate(event)
    with pytest.raises(ValidationError) as info:
        from_custom_email_sender_event(event)
    assert info.value.field == field


def test_a_non_mapping_event_is_refused() -> None:
    with pytest.raises(ValidationError) as info:
        from_custom_email_sender_event([])  # type: ignore[arg-type]
    assert info.value.field == "event"
