"""The cognito-raw command, run as a user runs it: in a subprocess."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from cognito_raw import (
    Client,
    CognitoError,
    NotAuthorizedException,
    ProtocolError,
    RequestTimeoutError,
    RetryPolicy,
    ServiceError,
    ValidationError,
    cli,
)
from tests import loopback
from tests.loopback import error, reply

USERNAME = "alice-cli-secret"
TOKEN = "CliSecretToken123"
BASE = [
    "feedback",
    "--user-pool-id",
    "us-east-1_AbC123",
    "--username",
    USERNAME,
    "--event-id",
    "c2c2cf89-c0d3-482d-aba6-99d78a5b0bfe",
    "--value",
    "invalid",
]


def run(
    args: list[str], *, token: str | None = TOKEN, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != cli.TOKEN_ENV}
    if token is not None:
        env[cli.TOKEN_ENV] = token
    return subprocess.run(
        [sys.executable, "-m", "cognito_raw", *args],
        capture_output=True,
        text=True,
        env=env,
        input=stdin,
        timeout=60,
        check=False,
    )


def assert_no_secrets(done: subprocess.CompletedProcess[str]) -> None:
    for secret in (USERNAME, TOKEN):
        assert secret not in done.stdout
        assert secret not in done.stderr


def test_feedback_delivered() -> None:
    with loopback.serve(reply(200)) as server:
        done = run([*BASE, "--endpoint-url", server.url])
    assert done.returncode == 0, done.stderr
    assert "feedback delivered: Invalid" in done.stdout
    assert json.loads(server.requests[0].body)["FeedbackToken"] == TOKEN
    assert_no_secrets(done)


def test_token_from_a_file_and_from_stdin(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text("FileToken123\n")
    with loopback.serve(reply(200)) as server:
        by_file = run([*BASE, "--endpoint-url", server.url, "--token-file", str(path)], token=None)
        by_stdin = run(
            [*BASE, "--endpoint-url", server.url, "--token-file", "-"], token=None, stdin="In1\n"
        )
    assert (by_file.returncode, by_stdin.returncode) == (0, 0)
    assert [json.loads(r.body)["FeedbackToken"] for r in server.requests] == [
        "FileToken123",
        "In1",
    ]


def test_missing_token_is_one_line_and_sends_nothing() -> None:
    done = run([*BASE, "--endpoint-url", "http://127.0.0.1:9"], token=None)
    assert done.returncode == cli.EXIT_BAD_INPUT
    assert done.stderr.count("\n") == 1
    assert "Traceback" not in done.stderr
    assert cli.TOKEN_ENV in done.stderr


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        (["--endpoint-url", "http://example.com"], "endpoint_url"),
        (["--region", "evil.com#"], "region"),
    ],
)
def test_bad_input_is_one_clear_line(extra: list[str], field: str) -> None:
    done = run([*BASE, *extra])
    assert done.returncode == cli.EXIT_BAD_INPUT
    assert done.stderr.startswith(f"cognito-raw: invalid {field}: ")
    assert done.stderr.count("\n") == 1


def test_bad_username_never_echoed() -> None:
    args = [*BASE]
    args[args.index(USERNAME)] = "secret name"
    done = run(args)
    assert done.returncode == cli.EXIT_BAD_INPUT
    assert "invalid username" in done.stderr
    assert "secret name" not in done.stderr


@pytest.mark.parametrize(
    ("step", "code"),
    [
        (error("NotAuthorizedException"), cli.EXIT_TOKEN_REJECTED),
        (error("UserNotFoundException"), cli.EXIT_NOT_FOUND),
        (error("ResourceNotFoundException"), cli.EXIT_NOT_FOUND),
        (error("TooManyRequestsException"), cli.EXIT_UNAVAILABLE),
        (error("InternalErrorException", status=500), cli.EXIT_UNAVAILABLE),
        (error("InvalidParameterException"), cli.EXIT_SERVICE_ERROR),
        (reply(302, b"", {"Location": "/x"}), cli.EXIT_NOT_COGNITO),
        (loopback.RESET, cli.EXIT_NETWORK),
    ],
)
def test_exit_codes(step: loopback.Step, code: int) -> None:
    with loopback.serve(step) as server:
        done = run([*BASE, "--endpoint-url", server.url, "--max-attempts", "2", "--json"])
    assert done.returncode == code, done.stderr
    outcome = json.loads(done.stdout)
    assert outcome["ok"] is False
    assert outcome["exit_code"] == code
    assert "Traceback" not in done.stderr
    assert_no_secrets(done)


def test_json_success() -> None:
    with loopback.serve(reply(200)) as server:
        done = run([*BASE, "--endpoint-url", server.url, "--json"])
    assert json.loads(done.stdout) == {"ok": True, "request_id": "req-loopback", "attempts": 1}


def test_dry_run_redacts_and_sends_nothing() -> None:
    done = run([*BASE, "--dry-run"])
    assert done.returncode == 0
    assert done.stdout.startswith("POST https://cognito-idp.us-east-1.amazonaws.com/ HTTP/1.1\n")
    assert "X-Amz-Target: AWSCognitoIdentityProviderService.UpdateAuthEventFeedback" in done.stdout
    assert '"Username": "<redacted>"' in done.stdout
    assert_no_secrets(done)


def test_dry_run_curl_with_secrets_is_a_working_command() -> None:
    with loopback.serve(reply(200)) as server:
        done = run([*BASE, "--dry-run", "--curl", "--show-secrets", "--endpoint-url", server.url])
        assert done.returncode == 0
        assert done.stdout.startswith("curl ")
        assert server.requests == []  # a dry run sends nothing
        # The printed command, run by a shell, sends the same request.
        subprocess.run(["bash", "-c", done.stdout], check=True, capture_output=True, timeout=30)
    (sent,) = server.requests
    body = json.loads(sent.body)
    assert (body["Username"], body["FeedbackToken"]) == (USERNAME, TOKEN)
    assert sent.headers["x-amz-target"].endswith(".UpdateAuthEventFeedback")


# Each row: the command's options, and the same options given to a Client.
_DRY_RUN_OPTIONS = [
    ([], {}),
    (["--region", "eu-west-1"], {"region": "eu-west-1"}),
    (["--fips"], {"use_fips": True}),
    (["--dualstack"], {"use_dualstack": True}),
    (
        ["--fips", "--dualstack", "--region", "us-west-2"],
        {"use_fips": True, "use_dualstack": True, "region": "us-west-2"},
    ),
    (["--endpoint-url", "http://127.0.0.1:9229"], {"endpoint_url": "http://127.0.0.1:9229"}),
    (
        ["--endpoint-url", "HTTP://Example.COM:80", "--allow-http"],
        {"endpoint_url": "HTTP://Example.COM:80", "allow_http": True},
    ),
    (["--endpoint-url", "https://idp.example/"], {"endpoint_url": "https://idp.example/"}),
    # Refused by the client, so refused by the dry run too.
    (["--endpoint-url", "http://example.com"], {"endpoint_url": "http://example.com"}),
    (
        ["--endpoint-url", "https://idp.example", "--fips"],
        {"endpoint_url": "https://idp.example", "use_fips": True},
    ),
    (["--region", "not a region"], {"region": "not a region"}),
    (["--max-attempts", "0"], {"max_attempts": 0}),
]


@pytest.mark.parametrize(("flags", "options"), _DRY_RUN_OPTIONS)
def test_dry_run_shows_what_the_client_sends(flags: list[str], options: dict[str, Any]) -> None:
    out, err = io.StringIO(), io.StringIO()
    argv = [*BASE, "--token-file", "-", "--dry-run", "--show-secrets", *flags]
    code = cli.main(argv, out=out, err=err, stdin=io.StringIO(TOKEN + "\n"))
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={})

    options = dict(options)
    try:
        if "max_attempts" in options:
            options["retry"] = RetryPolicy(max_attempts=options.pop("max_attempts"))
        client = Client(
            http_client=httpx.Client(transport=httpx.MockTransport(handler)), **options
        )
    except ValidationError:
        assert (code, out.getvalue()) == (cli.EXIT_BAD_INPUT, "")
        return
    with client:
        client.update_auth_event_feedback(
            user_pool_id=BASE[2],
            username=USERNAME,
            event_id=BASE[6],
            feedback_token=TOKEN,
            feedback_value=BASE[8],
        )
    (request,) = sent
    assert (code, err.getvalue()) == (0, "")
    request_line, *shown = out.getvalue().split("\n")
    method, url, version = request_line.split(" ")
    # httpx writes the URL in its own normal form (no default port).
    assert (method, httpx.URL(url), version) == (request.method, request.url, "HTTP/1.1")
    # httpx adds the connection's own headers; every other byte is the request's.
    headers = [
        f"{name.decode()}: {value.decode()}"
        for name, value in request.headers.raw
        if name.lower() not in (b"host", b"accept", b"connection")
    ]
    assert shown == [*headers, "", request.content.decode(), ""]


def test_curl_and_show_secrets_need_dry_run() -> None:
    done = run([*BASE, "--curl"])
    assert done.returncode == cli.EXIT_BAD_INPUT


def test_help_documents_the_exit_codes() -> None:
    done = run(["feedback", "--help"])
    assert done.returncode == 0
    for code, text in cli.EXIT_CODES.items():
        assert f"  {code}  {text}" in done.stdout


def test_demo_runs_the_whole_flow_offline() -> None:
    done = run(["demo"], token=None)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "X-Amz-Target: AWSCognitoIdentityProviderService.UpdateAuthEventFeedback" in out
    assert '"Username": "<redacted>"' in out
    assert "the fake recorded: Invalid" in out
    assert "attempt 2: HTTP 400 TooManyRequestsException" in out
    assert "delivered after 3 attempts; the fake recorded: Valid" in out
    assert "NotAuthorizedException: code='NotAuthorizedException' status=400" in out
    assert '"FeedbackToken": "<redacted>"' in out


def test_fake_server_serves_other_clients() -> None:
    env = {k: v for k, v in os.environ.items() if k != cli.TOKEN_ENV}
    with subprocess.Popen(
        [sys.executable, "-m", "cognito_raw", "fake-server"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    ) as server:
        _drive_fake_server(server)


def _drive_fake_server(server: subprocess.Popen[str]) -> None:
    try:
        assert server.stdout is not None
        seeded = dict(server.stdout.readline().strip().split("=", 1) for _ in range(5))
        assert seeded["url"].startswith("http://127.0.0.1:")
        args = [
            "feedback",
            "--endpoint-url",
            seeded["url"],
            "--user-pool-id",
            seeded["user_pool_id"],
            "--username",
            seeded["username"],
            "--event-id",
            seeded["event_id"],
            "--value",
            "valid",
            "--json",
        ]
        done = run(args, token=seeded["feedback_token"])
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["ok"] is True
        wrong = run(args, token="not-the-token")
        assert wrong.returncode == cli.EXIT_TOKEN_REJECTED
    finally:
        server.send_signal(signal.SIGINT)
        assert server.wait(timeout=10) == 0


@pytest.mark.parametrize(
    ("error", "line"),
    [
        (
            NotAuthorizedException(code="NotAuthorizedException", message="m", status_code=400),
            "NotAuthorizedException: m (HTTP 400)",
        ),
        (
            ServiceError(code="ThrottlingException", message="Rate exceeded", status_code=400),
            "ThrottlingException: Rate exceeded (HTTP 400)",
        ),
        (
            ServiceError(code=None, message=None, status_code=503),
            "error reply without a code (HTTP 503)",
        ),
        (RequestTimeoutError("read timed out"), "RequestTimeoutError: read timed out"),
        (ProtocolError("unexpected HTTP 302"), "ProtocolError: unexpected HTTP 302"),
    ],
)
def test_describe_error_names_each_thing_once(error: CognitoError, line: str) -> None:
    assert cli.describe_error(error) == line


def test_an_error_reply_is_one_line_without_the_class_name_twice() -> None:
    # The reported line: "cognito-raw: NotAuthorizedException: NotAuthorizedException: ..."
    with loopback.serve(error("NotAuthorizedException", "Invalid token.")) as server:
        done = run([*BASE, "--endpoint-url", server.url])
    assert done.returncode == cli.EXIT_TOKEN_REJECTED
    assert done.stderr.startswith("cognito-raw: NotAuthorizedException: Invalid token. (HTTP 400")
    assert done.stderr.count("NotAuthorizedException") == 1
    assert done.stderr.count("\n") == 1
