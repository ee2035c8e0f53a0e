"""The ``cognito-raw`` command: send feedback, show the request, run the fake.

stdlib argparse only. The feedback token is never taken from the command
line (shell history keeps it): it comes from ``--token-file`` (``-`` for
stdin) or the ``COGNITO_FEEDBACK_TOKEN`` environment variable.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Final, TextIO

from ._core.errors import (
    CognitoError,
    NotAuthorizedException,
    ProtocolError,
    ResourceNotFoundException,
    ServiceError,
    TransportError,
    UserNotFoundException,
    ValidationError,
)
from ._core.model import feedback_request
from ._core.wiretext import show_request
from ._version import __version__

if TYPE_CHECKING:
    from ._clients.shell import ShellOptions
    from ._core.model import UpdateAuthEventFeedbackResponse

__all__ = [
    "EXIT_CODES",
    "TOKEN_ENV",
    "describe_error",
    "exit_code",
    "main",
    "run",
    "show_request",
]

TOKEN_ENV: Final = "COGNITO_FEEDBACK_TOKEN"  # noqa: S105 - a variable name

# Exit codes, one per outcome a script can act on (documented in --help and
# docs/cli.md).
EXIT_OK: Final = 0
EXIT_BAD_INPUT: Final = 2
EXIT_TOKEN_REJECTED: Final = 3
EXIT_NOT_FOUND: Final = 4
EXIT_UNAVAILABLE: Final = 5
EXIT_SERVICE_ERROR: Final = 6
EXIT_NETWORK: Final = 7
EXIT_NOT_COGNITO: Final = 8
EXIT_OUTBOX: Final = 9

EXIT_CODES: Final = {
    EXIT_OK: "feedback delivered",
    EXIT_BAD_INPUT: "bad input or usage (nothing was sent)",
    EXIT_TOKEN_REJECTED: "the feedback token was rejected (NotAuthorizedException)",
    EXIT_NOT_FOUND: "the user pool or the user does not exist",
    EXIT_UNAVAILABLE: "throttled or Cognito unavailable, after retries: try again later",
    EXIT_SERVICE_ERROR: "another error reply from Cognito",
    EXIT_NETWORK: "network error or timeout, after retries",
    EXIT_NOT_COGNITO: "the reply was not a Cognito answer (redirect, HTML...)",
    EXIT_OUTBOX: "outbox: the database could not be opened or used",
}


def exit_code(error: CognitoError) -> int:
    """The exit code for an exception."""
    if isinstance(error, ValidationError):
        return EXIT_BAD_INPUT
    if isinstance(error, NotAuthorizedException):
        return EXIT_TOKEN_REJECTED
    if isinstance(error, ResourceNotFoundException | UserNotFoundException):
        return EXIT_NOT_FOUND
    if isinstance(error, ServiceError):
        return EXIT_UNAVAILABLE if error.retryable else EXIT_SERVICE_ERROR
    if isinstance(error, TransportError):
        return EXIT_NETWORK
    if isinstance(error, ProtocolError):
        return EXIT_NOT_COGNITO
    return EXIT_SERVICE_ERROR


def describe_error(error: CognitoError) -> str:
    """One line for a person: what failed, each name said once.

    A ``ServiceError``'s text already starts with its code (or says it has
    none), and a modeled error's class is named after its code: prefixing the
    class name would repeat it. Other errors are prefixed with their class
    (``RequestTimeoutError: ...``), which their text does not carry.
    """
    if isinstance(error, ServiceError):
        return str(error)
    return f"{type(error).__name__}: {error}"


_EPILOG = "exit codes:\n" + "\n".join(f"  {code}  {text}" for code, text in EXIT_CODES.items())


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cognito-raw",
        description="Amazon Cognito UpdateAuthEventFeedback without an AWS SDK.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=_EPILOG,
    )
    parser.add_argument("--version", action="version", version=f"cognito-raw {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    feedback = commands.add_parser(
        "feedback",
        help="send feedback for one risky sign-in",
        description=(
            "Send Valid/Invalid feedback for a threat-protection event. The feedback "
            f"token is read from --token-file (- for stdin) or ${TOKEN_ENV}, never "
            "from the command line."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=_EPILOG,
    )
    feedback.add_argument("--user-pool-id", required=True, help="e.g. us-east-1_AbC123")
    feedback.add_argument("--username", required=True, help="username, alias or sub")
    feedback.add_argument("--event-id", required=True, help="the event ID from the email")
    feedback.add_argument("--value", required=True, type=str.lower, choices=["valid", "invalid"])
    feedback.add_argument("--token-file", metavar="PATH", help="token file, - for stdin")
    feedback.add_argument("--endpoint-url", help="a custom endpoint (cognito-local, a proxy)")
    feedback.add_argument(
        "--allow-http", action="store_true", help="allow http:// to a non-loopback host"
    )
    feedback.add_argument("--region", help="default: the user pool ID's prefix")
    feedback.add_argument("--fips", action="store_true", help="use the FIPS endpoint")
    feedback.add_argument("--dualstack", action="store_true", help="use the dual-stack endpoint")
    feedback.add_argument("--timeout", type=float, default=10.0, help="seconds per attempt")
    feedback.add_argument("--max-attempts", type=int, default=3, help="attempts in all")
    feedback.add_argument("--json", action="store_true", help="print the outcome as JSON")
    feedback.add_argument(
        "--dry-run",
        action="store_true",
        help="print the HTTP request the client would send (options checked as for a send)",
    )
    feedback.add_argument("--curl", action="store_true", help="with --dry-run: as a curl command")
    feedback.add_argument(
        "--show-secrets",
        action="store_true",
        help="with --dry-run: show the username and token instead of <redacted>",
    )
    feedback.add_argument("-v", "--verbose", action="store_true", help="log each attempt")

    commands.add_parser(
        "demo",
        help="run the whole flow against a local fake Cognito (no AWS account needed)",
    )
    fake = commands.add_parser(
        "fake-server", help="run the fake Cognito on 127.0.0.1 for clients in any language"
    )
    fake.add_argument("--port", type=int, default=0, help="default: any free port")
    from .links._outbox.cli import add_parser  # noqa: PLC0415 - a module of its own

    add_parser(commands, epilog=_EPILOG)
    return parser


class _Usage(Exception):
    """Bad command-line input: one line on stderr, exit 2."""


def _read_token(path: str | None, stdin: TextIO) -> str:
    if path == "-":
        token = stdin.read()
    elif path is not None:
        try:
            with open(path, encoding="utf-8") as handle:
                token = handle.read()
        except OSError as exc:
            raise _Usage(f"--token-file: cannot read {path!r}: {exc.strerror}") from exc
    else:
        token = os.environ.get(TOKEN_ENV, "")
        if not token:
            raise _Usage(f"no feedback token: use --token-file PATH (- for stdin) or ${TOKEN_ENV}")
    # A file saved by an editor ends with a newline; the token itself never does.
    return token.strip()


def _outcome_json(
    result: UpdateAuthEventFeedbackResponse | None, error: CognitoError | None, code: int
) -> str:
    if result is not None:
        data: dict[str, object] = {
            "ok": True,
            "request_id": result.request_id,
            "attempts": result.attempts,
        }
    else:
        assert error is not None  # noqa: S101 - one of the two is always set
        data = {
            "ok": False,
            "exit_code": code,
            "error": type(error).__name__,
            "message": str(error),
            "code": getattr(error, "code", None),
            "request_id": getattr(error, "request_id", None),
            "attempts": error.attempts,
            "retryable": getattr(error, "retryable", False),
        }
    return json.dumps(data)


def _client_options(args: argparse.Namespace) -> ShellOptions:
    # The one reading of the client's options, for the client and the dry run.
    from ._call.config import RetryPolicy  # noqa: PLC0415 - the call driver only for feedback

    return {
        "region": args.region,
        "endpoint_url": args.endpoint_url,
        "use_fips": args.fips,
        "use_dualstack": args.dualstack,
        "allow_http": args.allow_http,
        "timeout": args.timeout,
        "retry": RetryPolicy(max_attempts=args.max_attempts),
    }


def _feedback(args: argparse.Namespace, out: TextIO, err: TextIO, stdin: TextIO) -> int:
    if (args.curl or args.show_secrets) and not args.dry_run:
        raise _Usage("--curl and --show-secrets go with --dry-run")
    token = _read_token(args.token_file, stdin)
    request = feedback_request(args.user_pool_id, args.username, args.event_id, token, args.value)
    from ._clients.shell import ShellConfig  # noqa: PLC0415 - the shell only for feedback

    options = _client_options(args)
    if args.dry_run:
        # What the client would send, built by the client's own configuration.
        http = ShellConfig(**options).http_request(request)
        out.write(show_request(http, curl=args.curl, secrets=args.show_secrets) + "\n")
        return EXIT_OK
    if args.verbose:
        handler = logging.StreamHandler(err)
        handler.setFormatter(logging.Formatter("cognito-raw: %(message)s"))
        logging.getLogger("cognito_raw").addHandler(handler)
        logging.getLogger("cognito_raw").setLevel(logging.DEBUG)

    from ._clients.httpx_client import Client  # noqa: PLC0415 - httpx only when something is sent

    result: UpdateAuthEventFeedbackResponse | None = None
    failure: CognitoError | None = None
    with Client(**options) as client:
        try:
            result = client.send(request)
        except CognitoError as exc:
            failure = exc
    code = EXIT_OK if failure is None else exit_code(failure)
    if args.json:
        out.write(_outcome_json(result, failure, code) + "\n")
    elif result is not None:
        out.write(
            f"feedback delivered: {request.feedback_value} for event {request.event_id} "
            f"(request ID {result.request_id}, {result.attempts} attempt(s))\n"
        )
    if failure is not None:
        err.write(f"cognito-raw: {describe_error(failure)}\n")
    return code


def _outbox(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from .links._outbox.cli import UsageError, run_outbox  # noqa: PLC0415
    from .links._outbox.store import OutboxError  # noqa: PLC0415 - only for this command

    try:
        return run_outbox(args, out, err)
    except UsageError as exc:
        raise _Usage(str(exc)) from None
    except OutboxError as exc:
        err.write(f"cognito-raw: outbox: {exc}\n")
        return EXIT_OUTBOX


def main(
    argv: Sequence[str] | None = None,
    *,
    out: TextIO | None = None,
    err: TextIO | None = None,
    stdin: TextIO | None = None,
) -> int:
    """Run the command line; return the exit code."""
    out = out or sys.stdout
    err = err or sys.stderr
    stdin = stdin or sys.stdin
    args = _parser().parse_args(argv)
    try:
        if args.command == "feedback":
            return _feedback(args, out, err, stdin)
        if args.command == "demo":
            from .testing._demo import run_demo  # noqa: PLC0415 - the fake is not for every run

            return run_demo(out)
        if args.command == "fake-server":
            from .testing._demo import run_fake_server  # noqa: PLC0415

            return run_fake_server(args.port, out)
        if args.command == "outbox":
            return _outbox(args, out, err)
    except _Usage as exc:
        err.write(f"cognito-raw: {exc}\n")
        return EXIT_BAD_INPUT
    except ValidationError as exc:
        err.write(f"cognito-raw: invalid {exc}\n")
        return EXIT_BAD_INPUT
    return EXIT_BAD_INPUT  # pragma: no cover - argparse requires a command


def run() -> None:
    """Console-script entry point."""
    raise SystemExit(main())
