"""Atheris target: ``parse_response`` on arbitrary bytes must return or raise a CognitoError.

An input is an HTTP reply in a relaxed text form, so that the corpus is
readable and the fuzzer's mutations stay meaningful::

    400                                   <- status (any integer; junk means 200)
    x-amzn-ErrorType: NotAuthorizedException:
    x-amzn-RequestId: 5090ed1c-...        <- "name: value" header lines
                                          <- a blank line
    {"__type": "NotAuthorizedException"}  <- the body, as bytes

Input without a blank line is a body alone, for status 200. ``check`` is the
whole property; it needs no atheris, so tests/test_fuzz.py replays every file
of ``corpus/`` (the seeds) and ``regressions/`` (inputs that once crashed, or
that crash naive parsers) through it in the normal suite.

Run the fuzzer for a bounded time (atheris: ``pip install '.[fuzz]'``; the
results so far are in docs/reliability.md)::

    python tests/fuzz/fuzz_parse_response.py -max_total_time=60 \\
        -artifact_prefix=tests/fuzz/regressions/ tests/fuzz/corpus/

A crash is written to ``tests/fuzz/regressions/crash-<sha1>``: keep it there
(rename it to say what it is) once the bug is fixed; the replay test then
guards it forever. Do not point ``corpus/`` mutations at the repository's
copy if you do not want the fuzzer to add files to it: pass a scratch
directory first (``tmp_corpus/ tests/fuzz/corpus/``): libFuzzer writes new
inputs to the first directory only.
"""

from __future__ import annotations

import pickle
import sys

from cognito_raw import (
    CognitoError,
    ProtocolError,
    ServiceError,
    UpdateAuthEventFeedbackResponse,
    parse_response,
)

# Secrets the property checks are scrubbed: a hostile reply may echo them.
SECRETS = ("fuzz-user-Zq9", "FuzzToken-Xk7")
_MAX_STATUS_DIGITS = 12
_MAX_MESSAGE = 1024 + 3  # _core.protocol._MAX_MESSAGE and its "..."
_MAX_CODE = 128


def decode(data: bytes) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """Status, header pairs and body from an input (see the module docstring)."""
    text = data.replace(b"\r\n", b"\n")
    head, sep, body = text.partition(b"\n\n")
    if not sep:
        return 200, [], data
    first, *lines = head.split(b"\n")
    digits = first.strip()
    try:
        status = int(digits) if len(digits) <= _MAX_STATUS_DIGITS else 200
    except ValueError:
        status = 200
    headers = []
    for line in lines:
        name, _, value = line.partition(b":")
        headers.append((name.strip(), value.strip()))
    return status, headers, body


def check(data: bytes) -> None:
    """The property: only a response or a CognitoError, and sane ones."""
    status, pairs, body = decode(data)
    # The same reply as a str mapping, a repeated name folded into one value
    # joined with ", " (as httpx.Headers gives it): the first value counts in
    # both forms.
    as_text: dict[str, str] = {}
    for k, v in pairs:
        name, value = k.decode("latin-1").lower(), v.decode("latin-1")
        as_text[name] = f"{as_text[name]}, {value}" if name in as_text else value
    outcomes: list[tuple[type, str | None]] = []
    for headers in (pairs, as_text):
        try:
            result = parse_response(status, headers, body, secrets=SECRETS)
        except CognitoError as exc:
            _check_error(exc, status)
            outcomes.append((type(exc), getattr(exc, "code", None)))
        else:
            assert isinstance(result, UpdateAuthEventFeedbackResponse)
            assert 200 <= status < 300
            assert result.status_code == status
            outcomes.append((type(result), None))
    # Bytes pairs and a str mapping are the same reply.
    assert outcomes[0] == outcomes[1], outcomes


def _check_error(exc: CognitoError, status: int) -> None:
    assert isinstance(exc, ProtocolError | ServiceError), repr(exc)
    text = str(exc) + repr(exc)
    if isinstance(exc, ServiceError):
        assert 400 <= status <= 599
        assert exc.status_code == status
        assert exc.code is None or (
            0 < len(exc.code) <= _MAX_CODE and exc.code.strip() == exc.code
        )
        # A code is one printable token (it goes into str(), logs, the CLI):
        # no control characters (a newline would forge log lines), no
        # surrounding whitespace (above), no ':' or '#' left.
        assert exc.code is None or exc.code.isprintable()
        assert exc.code is None or not set(exc.code) & {":", "#"}
        assert exc.message is None or len(exc.message) <= _MAX_MESSAGE
        assert isinstance(exc.retryable, bool)
        for secret in SECRETS:
            assert secret not in (exc.message or "")
    else:
        assert not 400 <= status <= 599
    clone = pickle.loads(pickle.dumps(exc))
    assert type(clone) is type(exc)
    assert str(clone) + repr(clone) == text


def main() -> None:
    import atheris  # type: ignore[import-untyped]  # only the fuzzer needs it

    atheris.instrument_all()
    atheris.Setup(sys.argv, check)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
