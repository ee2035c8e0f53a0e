"""The feedback link format: build it for Cognito's template, fill it, parse it back.

This module owns the query-string layout of a feedback link and the one
decoding rule that reads it back. It is pure (standard library only) and
validates through the request model, never beside it.

The layout, and why (the long form is in ``template_link``'s docstring)::

    <base>?value=valid&pool=<id>&event={event-id}&token={feedback-token}&username={username}&end=1

Cognito substitutes ``{username}`` raw, and a username may hold any letter,
mark, symbol, number or punctuation, ``&``, ``=``, ``#``, ``%`` and ``"``
included. So the username goes last and is read literally up to the final
``&end=1``; the other fields have URL-safe alphabets. ``end=1`` marks the link
as whole: a link cut short (a ``#`` in the username ends the query for a
browser, a ``"`` ends an HTML attribute, a mail client may wrap a long line)
is refused instead of being read with a shortened username.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Collection, Mapping
from typing import Final

from cognito_raw._core.endpoints import check_endpoint_url
from cognito_raw._core.errors import ValidationError
from cognito_raw._core.model import (
    FeedbackValue,
    UpdateAuthEventFeedbackRequest,
    feedback_request,
    validate_event_id,
    validate_feedback_token,
    validate_feedback_value,
    validate_user_pool_id,
    validate_username,
)

__all__ = [
    "END_MARKER",
    "MAX_LINK_LENGTH",
    "PARAMS",
    "PARAM_END",
    "PARAM_EVENT",
    "PARAM_POOL",
    "PARAM_TOKEN",
    "PARAM_USERNAME",
    "PARAM_VALUE",
    "PLACEHOLDERS",
    "allowed_pools",
    "decode_username",
    "make_link",
    "parse_link",
    "request_from_fields",
    "substitute",
    "template_link",
]

# Query parameter names, in link order (the username is always last).
PARAM_VALUE: Final = "value"
PARAM_POOL: Final = "pool"
PARAM_EVENT: Final = "event"
PARAM_TOKEN: Final = "token"  # noqa: S105 - a parameter name, not a secret
PARAM_USERNAME: Final = "username"
PARAM_END: Final = "end"
END_MARKER: Final = "&end=1"
PARAMS: Final = (PARAM_VALUE, PARAM_POOL, PARAM_EVENT, PARAM_TOKEN, PARAM_USERNAME, PARAM_END)

# Cognito's placeholders for the adaptive-authentication notification template.
PLACEHOLDERS: Final[Mapping[str, str]] = {
    "username": "{username}",
    "event_id": "{event-id}",
    "feedback_token": "{feedback-token}",
}

# A URL longer than this is refused before any parsing. Common HTTP servers cap
# the whole request head near 8-16 KiB anyway (h11: 16 KiB).
MAX_LINK_LENGTH: Final = 16_384

# The model field each link parameter feeds, for error messages.
_FIELD_OF: Final[Mapping[str, str]] = {
    PARAM_VALUE: "feedback_value",
    PARAM_POOL: "user_pool_id",
    PARAM_EVENT: "event_id",
    PARAM_TOKEN: "feedback_token",
    PARAM_USERNAME: "username",
}

# ASCII characters a browser or a strict URL tool percent-encodes when it
# normalises a query: the WHATWG special-query set (", ', <, >) plus the
# characters RFC 3986 forbids outright (\ ^ ` { | }). Spaces and controls are
# left out on purpose: no username contains them, so "%20" is more likely a
# literal username than an escape.
_ESCAPED_ASCII: Final = frozenset("\"'<>\\^`{|}")
_HEX: Final = frozenset("0123456789abcdefABCDEF")
# What an encoder of a query value leaves as it is: RFC 3986's unreserved set
# plus what JavaScript's encodeURIComponent also leaves (! * ' ( )). Letters and
# digits are never escaped by any of them.
_ALNUM: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
_ENCODER_SAFE: Final = _ALNUM | frozenset("-_.~!*'()")
_END_RE: Final = re.compile(re.escape(END_MARKER))
_PLACEHOLDER_RE: Final = re.compile("|".join(re.escape(p) for p in PLACEHOLDERS.values()))


def _utf8_length(lead: int) -> int:
    # The length of a UTF-8 sequence from its lead byte; 0 for a byte that
    # cannot start one (continuation bytes, C0/C1 overlongs, > U+10FFFF).
    if 0xC2 <= lead <= 0xDF:
        return 2
    if 0xE0 <= lead <= 0xEF:
        return 3
    if 0xF0 <= lead <= 0xF4:
        return 4
    return 0


def _escape_at(text: str, index: int) -> int | None:
    # The byte of a %XX escape starting at index, or None.
    if text[index] != "%" or index + 3 > len(text):
        return None
    pair = text[index + 1 : index + 3]
    if pair[0] in _HEX and pair[1] in _HEX:
        return int(pair, 16)
    return None


def _whole_encoding(raw: str) -> str | None:
    # The username `raw` is an encoder's output of, or None. An encoder
    # (encodeURIComponent, urllib.parse.quote, a form serialiser, a click
    # tracker re-writing the link) escapes every character outside its safe
    # set and never a letter or a digit; so `raw` qualifies when it holds at
    # least one escape, no other '%', only safe characters besides, no escape
    # of a letter or digit, and its bytes decode as strict UTF-8 to a valid
    # username.
    if "%" not in raw:
        return None
    out = bytearray()
    i = 0
    while i < len(raw):
        byte = _escape_at(raw, i)
        if byte is not None and chr(byte) not in _ALNUM:
            out.append(byte)
            i += 3
        elif raw[i] in _ENCODER_SAFE:
            out.append(ord(raw[i]))
            i += 1
        else:
            return None
    try:
        text = out.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return text if _is_username(text) else None


def decode_username(raw: str) -> str:
    """The username a link's raw ``username`` field stands for.

    Cognito substitutes ``{username}`` unencoded; two kinds of hands may
    encode it on the way, and each is undone:

    - A link encoded whole (``alice%2Btest%40example.com``: a click-tracking
      redirect, a link built with ``encodeURIComponent``): when ``raw`` is
      what such an encoder makes of a valid username (only escapes and the
      encoders' safe characters ``A-Z a-z 0-9 - _ . ~ ! * ' ( )``, at least one
      escape, none of a letter or digit, strict UTF-8), it is decoded whole.
    - Else, what a browser adds to a raw link: escapes of the ASCII
      characters browsers and strict URL tools encode (``" ' < > \\ ^ ` { |
      }``) and escape runs that form well-formed UTF-8 for a non-ASCII
      character. Everything else stays literal: a ``%`` not followed by such
      an escape, ``%25``, ``%26``, ``+`` (no username holds a space, so ``+``
      is never a space).

    The ambiguity raw substitution leaves: a username that itself holds such
    an escape (``a%2Bb``, ``%22``, ``%C3%A9``), or is wholly an encoder's
    output, reads as what it encodes. A username with a ``%`` anywhere else
    (``100%``, ``50%off``, ``a%2Bb@x``, ``%41``) is read as written, and so is
    one whose decoded form would not be a valid username (``%E2%80%8B``).
    """
    whole = _whole_encoding(raw)
    if whole is not None:
        return whole
    decoded = _browser_decoding(raw)
    if decoded == raw or _is_username(decoded):
        return decoded
    # Decoding would make an invalid username of a valid one ("%E2%80%8B" is
    # a zero-width space): the literal reading is the only one Cognito can
    # accept.
    return raw if _is_username(raw) else decoded


def _is_username(text: str) -> bool:
    try:
        validate_username(text)
    except ValidationError:
        return False
    return True


def _browser_decoding(raw: str) -> str:
    # The escapes a browser adds to a raw username, undone (decode_username).
    out: list[str] = []
    i = 0
    n = len(raw)
    while i < n:
        byte = _escape_at(raw, i)
        if byte is not None:
            if byte < 0x80:
                if chr(byte) in _ESCAPED_ASCII:
                    out.append(chr(byte))
                    i += 3
                    continue
            else:
                length = _utf8_length(byte)
                seq = [byte]
                for k in range(1, length):
                    nxt = _escape_at(raw, i + 3 * k) if i + 3 * k < n else None
                    if nxt is None:
                        break
                    seq.append(nxt)
                if length and len(seq) == length:
                    try:
                        out.append(bytes(seq).decode("utf-8"))
                    except UnicodeDecodeError:
                        pass
                    else:
                        i += 3 * length
                        continue
        out.append(raw[i])
        i += 1
    return "".join(out)


def allowed_pools(user_pool_ids: Collection[str]) -> frozenset[str]:
    """Validate an allow-list of user pool IDs; return it as a frozenset."""
    if isinstance(user_pool_ids, str):
        # A lone string is a collection of characters: almost always a slip.
        raise TypeError("user_pool_ids must be a collection of pool IDs, not a single str")
    pools = frozenset(validate_user_pool_id(pool) for pool in user_pool_ids)
    if not pools:
        raise ValidationError(field="user_pool_ids", rule="must name at least one user pool")
    return pools


def _check_base_url(base_url: str) -> str:
    if not isinstance(base_url, str):
        raise ValidationError(
            field="base_url", rule=f"must be a string (got {type(base_url).__name__})"
        )
    head, sep, query = base_url.partition("?")
    try:
        # The endpoint check's URL rules fit a link to our own site as well:
        # http only for a loopback host, no user info, no fragment.
        check_endpoint_url(head)
    except ValidationError as exc:
        raise ValidationError(field="base_url", rule=exc.rule) from None
    if not sep:
        return base_url + "?"
    if any(c <= " " or c >= "\x7f" or c in "#{}" for c in query):
        raise ValidationError(
            field="base_url",
            rule="its query must be printable ASCII without spaces, '#', '{' or '}'",
        )
    for part in query.split("&"):
        if part.partition("=")[0] in PARAMS:
            raise ValidationError(
                field="base_url",
                rule=f"its query must not use the link's own parameters {', '.join(PARAMS)}",
            )
    return base_url if query == "" or query.endswith("&") else base_url + "&"


def _link_value(value: FeedbackValue | str) -> str:
    return validate_feedback_value(value).value.lower()


def template_link(
    base_url: str, value: FeedbackValue | str, *, user_pool_id: str | None = None
) -> str:
    """The feedback link to paste into Cognito's notification email template.

    ``base_url`` is where ``feedback_app`` is served (https, or http for a
    loopback host; it may carry a query of its own). ``value`` is
    ``"valid"`` (it was me) or ``"invalid"`` (it was not). Put one link of
    each in the template. In an HTML template, escape it first
    (``html.escape(link)``: ``&`` becomes ``&amp;``; the placeholders are
    unaffected)::

        https://example.com/feedback?value=valid&pool=us-east-1_AbC&event={event-id}&token={feedback-token}&username={username}&end=1

    Why this shape. Cognito replaces the placeholders with raw values, not
    URL-encoded ones, and a username may contain any letter, mark, symbol,
    number or punctuation (``& = # + % ? / "``...). The username cannot be
    left out: UpdateAuthEventFeedback needs it (or an alias, or the ``sub``,
    but the template offers only ``{username}``). So:

    - the username is the last field and is read literally, ``&`` and ``=``
      included, up to the final ``&end=1``;
    - the event ID (``[\\w+-]+``) and token (``[A-Za-z0-9-_=.]+``) are safe in
      a query as they are; ``+`` is read as ``+`` (never a space: no field
      can hold one) and ``=`` after the first one belongs to the value;
    - ``end=1`` proves the link arrived whole. A browser ends the query at a
      ``#`` and never sends the rest, an HTML attribute ends at a ``"``, and
      plain-text mail may wrap or trim a long link: ``parse_link`` refuses
      such a link (``ValidationError(field="url")``) rather than submit a
      shortened username;
    - a browser percent-encodes non-ASCII characters and ``" ' < >``, and a
      click tracker or a link built with ``encodeURIComponent`` encodes the
      whole username (``alice%2Btest%40example.com``): the parser undoes
      exactly those (``decode_username``). A raw username that reads as such
      an encoding itself (``%22``, ``%C3%A9``, ``a%2Bb``) reads as its decoded
      form: the one ambiguity raw substitution leaves.

    The value comes first, so no truncation can change it. Without
    ``user_pool_id`` the link names no pool, and the parser uses its single
    allowed pool.
    """
    base = _check_base_url(base_url)
    parts = [f"{PARAM_VALUE}={_link_value(value)}"]
    if user_pool_id is not None:
        parts.append(f"{PARAM_POOL}={validate_user_pool_id(user_pool_id)}")
    parts += [
        f"{PARAM_EVENT}={PLACEHOLDERS['event_id']}",
        f"{PARAM_TOKEN}={PLACEHOLDERS['feedback_token']}",
        f"{PARAM_USERNAME}={PLACEHOLDERS['username']}",
    ]
    return base + "&".join(parts) + END_MARKER


def substitute(template: str, *, username: str, event_id: str, feedback_token: str) -> str:
    """Fill a template link's placeholders in one pass, raw, as Cognito does.

    One pass: a username that contains ``{event-id}`` stays as it is.
    """
    values = {
        PLACEHOLDERS["username"]: username,
        PLACEHOLDERS["event_id"]: event_id,
        PLACEHOLDERS["feedback_token"]: feedback_token,
    }
    return _PLACEHOLDER_RE.sub(lambda m: values[m.group(0)], template)


def make_link(
    base_url: str,
    *,
    user_pool_id: str | None = None,
    username: str,
    event_id: str,
    feedback_token: str,
    value: FeedbackValue | str,
) -> str:
    """The feedback link with concrete values (for a Custom email sender, and tests).

    Exactly what Cognito's substitution into ``template_link(base_url, value,
    user_pool_id=...)`` produces, so ``parse_link`` reads both the same way.
    The values are validated first (``ValidationError``). The result is an
    IRI when the username is not ASCII: put it in an email as it is;
    browsers encode it when they follow it.
    """
    # The model's own validators (the request's, one by one, since the pool
    # may be absent here); template_link checks the pool and value.
    validate_username(username)
    validate_event_id(event_id)
    validate_feedback_token(feedback_token)
    template = template_link(base_url, value, user_pool_id=user_pool_id)
    return substitute(
        template, username=username, event_id=event_id, feedback_token=feedback_token
    )


def request_from_fields(
    *,
    user_pool_id: str | None,
    username: str,
    event_id: str,
    feedback_token: str,
    value: str,
    pools: frozenset[str],
) -> UpdateAuthEventFeedbackRequest:
    """Build the validated request from decoded link fields, enforcing the allow-list."""
    if user_pool_id is None:
        if len(pools) != 1:
            raise ValidationError(
                field="user_pool_id",
                rule="missing from the link (parameter 'pool'), and more than one pool is allowed",
            )
        (user_pool_id,) = pools
    request = feedback_request(user_pool_id, username, event_id, feedback_token, value)
    if request.user_pool_id not in pools:
        raise ValidationError(
            field="user_pool_id",
            rule=f"{request.user_pool_id!r} is not one of the allowed user pools",
        )
    return request


def _unquote_field(param: str, raw: str) -> str:
    # The fixed fields' alphabets have no '%', so decoding them fully is safe
    # and undoes over-eager encoders (%2B for '+', %3D for '=').
    try:
        return urllib.parse.unquote(raw, errors="strict")
    except UnicodeDecodeError:
        raise ValidationError(
            field=_FIELD_OF[param],
            rule=f"garbled in the link (parameter {param!r} is not valid percent-encoded UTF-8)",
        ) from None


def _split_username(rest: str) -> str:
    # The username runs to the last "&end=1" that ends the query or is followed
    # by another parameter (a mail system may append tracking parameters).
    # Searching from the right keeps a username that contains "&end=1" whole.
    # (Occurrences cannot overlap: the marker's '&' appears in it only once.)
    for match in reversed(list(_END_RE.finditer(rest))):
        after = match.end()
        if after == len(rest) or rest[after] == "&":
            return rest[: match.start()]
    raise ValidationError(
        field="url",
        rule="the link is incomplete: it must end with '&end=1'. It was probably cut "
        "short: a '#' or '\"' in the username, or a mail client that wrapped the line",
    )


def parse_link(url: str, *, user_pool_ids: Collection[str]) -> UpdateAuthEventFeedbackRequest:
    """Read a feedback link back into a validated request.

    ``url`` is a whole link or just its query (``"?value=..."``), raw as
    Cognito or ``make_link`` wrote it or as a browser sent it. Every field
    goes through ``UpdateAuthEventFeedbackRequest``'s validation. A missing,
    repeated or garbled field, an incomplete link, or a pool not in
    ``user_pool_ids`` raises ``ValidationError`` naming the field; messages
    never contain the username or the token. Without a ``pool`` parameter the
    only allowed pool is used. Parameters before the username that are not
    the link's own (the base URL's) are ignored.
    """
    pools = allowed_pools(user_pool_ids)
    if not isinstance(url, str):
        raise ValidationError(field="url", rule=f"must be a string (got {type(url).__name__})")
    if len(url) > MAX_LINK_LENGTH:
        raise ValidationError(field="url", rule=f"longer than {MAX_LINK_LENGTH} characters")
    # Everything after the first '?' is the query, '#' included: the links
    # have no fragment of their own, so a '#' can only come from a username.
    _, sep, query = url.partition("?")
    if not sep or not query:
        raise ValidationError(field="url", rule="the link has no query string")
    fields: dict[str, str] = {}
    username_raw: str | None = None
    position = 0
    while position <= len(query):
        amp = query.find("&", position)
        segment = query[position:] if amp < 0 else query[position:amp]
        key, _, raw = segment.partition("=")
        if key == PARAM_USERNAME:
            username_raw = _split_username(query[position + len(key) + 1 :])
            break
        if key in _FIELD_OF:
            if key in fields:
                raise ValidationError(
                    field=_FIELD_OF[key], rule=f"appears more than once in the link ({key!r})"
                )
            fields[key] = _unquote_field(key, raw)
        if amp < 0:
            break
        position = amp + 1
    for param in (PARAM_VALUE, PARAM_EVENT, PARAM_TOKEN):
        if param not in fields:
            raise ValidationError(
                field=_FIELD_OF[param], rule=f"missing from the link (parameter {param!r})"
            )
    if username_raw is None:
        raise ValidationError(
            field="username", rule="missing from the link (parameter 'username')"
        )
    return request_from_fields(
        user_pool_id=fields.get(PARAM_POOL),
        username=decode_username(username_raw),
        event_id=fields[PARAM_EVENT],
        feedback_token=fields[PARAM_TOKEN],
        value=fields[PARAM_VALUE],
        pools=pools,
    )
