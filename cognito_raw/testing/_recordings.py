"""Recorded replies: loading the JSON files in ``cognito_raw/testing/recordings/``.

The format is described in spec/recordings/README.md. The files ship inside
the package (so an installed wheel has them) and are read with
importlib.resources. Loading is strict: an unknown key or a wrong type is an
error, so the format cannot drift from its description.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from collections.abc import Set as AbstractSet

    import httpx

__all__ = ["Expectation", "Recording", "list_recordings", "load_recording"]

_PACKAGE: Final = "cognito_raw.testing"
_FOLDER: Final = "recordings"
_NAME: Final = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_KEYS: Final = frozenset(
    {"name", "description", "source", "status", "headers", "body", "body_base64", "expect"}
)
_EXPECT_KEYS: Final = frozenset({"class", "code", "retryable", "message", "request_id"})


@dataclass(frozen=True, slots=True, kw_only=True)
class Expectation:
    """What ``parse_response`` makes of a recording.

    ``class_name`` is ``"UpdateAuthEventFeedbackResponse"`` for success, else
    the exception class (``"NotAuthorizedException"``, ``"ServiceError"``,
    ``"ProtocolError"``...). ``code`` and ``retryable`` apply to a
    ``ServiceError``, and so does ``message`` (``None``: the reply carries
    none); ``request_id`` is checked when given.
    """

    class_name: str
    code: str | None = None
    retryable: bool | None = None
    message: str | None = None
    request_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Recording:
    """One recorded reply: ``status``, ``headers`` and ``body``, and what it means."""

    name: str
    description: str
    source: str
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes
    expect: Expectation

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (case-insensitive), or None."""
        wanted = name.lower()
        return next((v for k, v in self.headers if k.lower() == wanted), None)

    def to_httpx(self) -> httpx.Response:
        """The reply as an ``httpx.Response``, e.g. for ``respx`` routes."""
        import httpx  # noqa: PLC0415 - the loader itself needs no HTTP stack

        return httpx.Response(self.status, headers=list(self.headers), content=self.body)


def list_recordings() -> list[str]:
    """The names of every shipped recording, sorted."""
    folder = resources.files(_PACKAGE).joinpath(_FOLDER)
    return sorted(
        entry.name.removesuffix(".json")
        for entry in folder.iterdir()
        if entry.name.endswith(".json")
    )


class _UnknownRecording(KeyError):
    # KeyError's str() is the repr of its argument (quotes, escaped
    # newlines); this one reads as the sentence it is.
    def __str__(self) -> str:
        return str(self.args[0])


def _unknown(name: object) -> KeyError:
    names = list_recordings()
    hint = ""
    if isinstance(name, str):
        # The usual slip: a Python identifier for a file name ("not_authorized").
        near = name.strip().lower().replace("_", "-")
        if near != name and near in names:
            hint = f" (did you mean {near!r}?)"
    # repr() of the name, cut short: it is the caller's input, maybe anything.
    shown = repr(name)
    if len(shown) > 80:
        shown = shown[:77] + "..."
    return _UnknownRecording(
        f"no recording named {shown}{hint}; the recordings are: {', '.join(names)}"
    )


def load_recording(name: str) -> Recording:
    """Load the recording called ``name`` (see ``list_recordings()``).

    Raises ``KeyError`` for an unknown name, with a message that lists the
    valid names, and ``ValueError`` for a file that does not follow the format.
    """
    if not isinstance(name, str) or _NAME.fullmatch(name) is None:
        raise _unknown(name)
    entry = resources.files(_PACKAGE).joinpath(_FOLDER).joinpath(f"{name}.json")
    if not entry.is_file():
        raise _unknown(name)
    return parse_recording(entry.read_text(encoding="utf-8"), name=name)


def _fail(name: str, why: str) -> ValueError:
    return ValueError(f"recording {name!r}: {why}")


def parse_recording(text: str, *, name: str) -> Recording:
    """Parse one recording file's text; ``name`` must match its ``name`` field."""
    data = json.loads(text)
    _check_fields(name, data)
    return Recording(
        name=name,
        description=data["description"],
        source=data["source"],
        status=data["status"],
        headers=_headers(name, data.get("headers")),
        body=_body(name, data),
        expect=_expectation(name, data.get("expect")),
    )


def _check_keys(name: str, data: dict[str, object], allowed: AbstractSet[str], what: str) -> None:
    unknown = set(data) - allowed
    if unknown:
        raise _fail(name, f"unknown {what} {sorted(unknown)}")


def _check_fields(name: str, data: object) -> None:
    # The object, its keys, its name and its texts and status.
    if not isinstance(data, dict):
        raise _fail(name, "not a JSON object")
    _check_keys(name, data, _KEYS, "keys")
    if data.get("name") != name:
        raise _fail(name, "its 'name' differs from the file name")
    for key in ("description", "source"):
        if not isinstance(data.get(key), str) or not data[key]:
            raise _fail(name, f"{key!r} must be a non-empty string")
    status = data.get("status")
    if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
        raise _fail(name, "'status' must be an HTTP status code")


def _headers(name: str, headers: object) -> tuple[tuple[str, str], ...]:
    if not isinstance(headers, list) or not all(
        isinstance(pair, list) and len(pair) == 2 and all(isinstance(x, str) for x in pair)
        for pair in headers
    ):
        raise _fail(name, "'headers' must be a list of [name, value] pairs")
    return tuple((k, v) for k, v in headers)


def _body(name: str, data: dict[str, object]) -> bytes:
    # Exactly one of "body" (UTF-8 text) and "body_base64".
    if ("body" in data) == ("body_base64" in data):
        raise _fail(name, "exactly one of 'body' and 'body_base64' is required")
    if "body" in data:
        if not isinstance(data["body"], str):
            raise _fail(name, "'body' must be a string")
        return data["body"].encode("utf-8")
    try:
        return base64.b64decode(data["body_base64"], validate=True)  # type: ignore[arg-type]
    except (TypeError, binascii.Error):
        raise _fail(name, "'body_base64' is not base64") from None


def _expectation(name: str, raw: object) -> Expectation:
    if not isinstance(raw, dict):
        raise _fail(name, "'expect' must be an object")
    _check_keys(name, raw, _EXPECT_KEYS, "'expect' keys")
    class_name = raw.get("class")
    if not isinstance(class_name, str):
        raise _fail(name, "'expect.class' must be a string")
    for key in ("code", "message", "request_id"):
        if raw.get(key) is not None and not isinstance(raw[key], str):
            raise _fail(name, f"'expect.{key}' must be a string or null")
    retryable = raw.get("retryable")
    if retryable is not None and not isinstance(retryable, bool):
        raise _fail(name, "'expect.retryable' must be true, false or null")
    return Expectation(
        class_name=class_name,
        code=raw.get("code"),
        retryable=retryable,
        message=raw.get("message"),
        request_id=raw.get("request_id"),
    )
