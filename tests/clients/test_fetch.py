"""``cognito_raw.fetch.AsyncClient`` under Pyodide in Node.js, against loopback servers.

The npm ``pyodide`` package (its directory in ``COGNITO_RAW_PYODIDE``, as
``.ci/run`` installs it) runs ``tests/pyodide/scenarios.py`` through
``tests/pyodide/runner.mjs``, which puts cognito_raw's source into Pyodide's
file system: no package is loaded and nothing is downloaded. Node's
``fetch`` (undici) calls servers this process runs on 127.0.0.1: the
FakeCognito (success, each modeled error, request IDs), a FakeCognito that
throttles twice (retried to a success), one that answers late (the
``AbortController`` ends the attempt), and the fault server (a redirect not
followed, a huge body cut at ``max_body``, a reset retried, a refused port).
The test skips without node or the package, and fails instead under
``CI=true``.

The rest runs in CPython: outside Pyodide the client refuses to be made,
and the module imports nothing outside the standard library.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import pytest

import cognito_raw
from cognito_raw import UpdateAuthEventFeedbackRequest, build_request, fetch
from cognito_raw.testing import AuthEvent, FakeCognito
from tests import faultserver, loopback
from tests.test_imports import modules_loaded_by, outside_the_standard_library

HERE: Final = Path(__file__).resolve().parents[1] / "pyodide"
PACKAGE: Final = Path(cognito_raw.__file__).parent


def _pyodide() -> tuple[str, str]:
    node = shutil.which("node")
    where = os.environ.get("COGNITO_RAW_PYODIDE", "")
    if node and where and (Path(where) / "pyodide.mjs").is_file():
        return node, where
    why = "node and the npm pyodide package (COGNITO_RAW_PYODIDE) are needed"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{why}: .ci/run installs them")
    pytest.skip(why)


def run_in_pyodide(config: dict[str, Any]) -> dict[str, Any]:
    """Run the scenarios under Pyodide; the runner's JSON (timings, packages, results)."""
    node, where = _pyodide()
    done = subprocess.run(
        [
            node,
            str(HERE / "runner.mjs"),
            where,
            str(PACKAGE),
            str(HERE / "scenarios.py"),
            json.dumps(config),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return report


def docs_worker() -> str:
    """docs/edge.md's Cloudflare Python Worker (``src/entry.py``), as written."""
    page = (Path(__file__).resolve().parents[2] / "docs" / "edge.md").read_text()
    return page.split("```python\n# src/entry.py", 1)[1].split("\n", 1)[1].split("```", 1)[0]


def feedback(seeded: AuthEvent) -> dict[str, str]:
    """The call's members for a seeded event."""
    return {
        "user_pool_id": seeded.user_pool_id,
        "username": seeded.username,
        "event_id": seeded.event_id,
        "feedback_token": seeded.feedback_token,
        "feedback_value": "invalid",
    }


@dataclass
class Run:
    """One run of the scenarios under Pyodide, and the servers it called."""

    report: dict[str, Any]
    fake: FakeCognito
    event: AuthEvent
    fake_url: str
    throttling: FakeCognito
    throttled_event: AuthEvent
    redirect_paths: list[str]

    @property
    def results(self) -> dict[str, Any]:
        return dict(self.report["result"])


@pytest.fixture(scope="module")
def run() -> Run:
    """The scenarios run once (loading Pyodide takes seconds); each test checks a part."""
    fake, throttling, slow = FakeCognito(), FakeCognito(), FakeCognito()
    event = fake.seed()
    stale = fake.create_auth_event(event.user_pool_id, event.username)
    fake.expire_auth_event(event.user_pool_id, stale.event_id)
    throttled_event = throttling.seed()
    throttling.throttle(2)
    slow_event = slow.seed()
    slow.delay(5.0)
    with (
        fake.serve() as fake_url,
        throttling.serve() as throttling_url,
        slow.serve() as slow_url,
        faultserver.serve("redirect_302") as redirect,
        faultserver.serve("huge_body_200") as huge,
        faultserver.serve("reset_before_status", "ok") as reset,
    ):
        report = run_in_pyodide(
            {
                "events": {
                    "fake": feedback(event),
                    "throttling": feedback(throttled_event),
                    "slow": feedback(slow_event),
                },
                "stale_event_id": stale.event_id,
                "unknown_pool": "us-east-1_Unknown99",
                "fake": fake_url,
                "throttling": throttling_url,
                "slow": slow_url,
                "redirect": redirect.url,
                "huge": huge.url,
                "reset": reset.url,
                "refused": loopback.closed_port(),
                "worker_code": docs_worker(),
            }
        )
        paths = list(redirect.paths)
    return Run(report, fake, event, fake_url, throttling, throttled_event, paths)


def test_only_pyodides_standard_library_was_loaded(run: Run) -> None:
    assert run.report["packages"] == []


def test_success_request_ids_and_the_wire(run: Run) -> None:
    success = run.results["success"]
    assert (success["kind"], success["status"], success["attempts"]) == ("ok", 200, 1)
    sent = run.fake.requests[0]
    assert sent.request_id == success["request_id"]
    assert sent.data is not None
    assert sent.data["FeedbackValue"] == "Invalid"
    # build_request's body and headers, less what fetch forbids (the runtime
    # writes those itself); Pyodide's Python, not this one, is in the User-Agent.
    expected = build_request(
        UpdateAuthEventFeedbackRequest(**feedback(run.event)), endpoint_url=run.fake_url
    )
    assert sent.body == expected.body
    headers = {name.lower(): value for name, value in sent.headers}
    for name, value in expected.headers.items():
        if name.lower() not in fetch.FORBIDDEN_HEADERS | {"user-agent"}:
            assert headers[name.lower()] == value, name
    assert headers["user-agent"].startswith(f"cognito-raw/{cognito_raw.__version__} python/3.")
    assert headers["content-length"] == str(len(expected.body))


@pytest.mark.parametrize(
    ("scenario", "kind"),
    [
        ("not_authorized", "NotAuthorizedException"),
        ("user_not_found", "UserNotFoundException"),
        ("pool_not_found", "ResourceNotFoundException"),
    ],
)
def test_modeled_errors(run: Run, scenario: str, kind: str) -> None:
    got = run.results[scenario]
    assert (got["kind"], got["code"], got["status"]) == (kind, kind, 400), got
    assert (got["attempts"], got["retryable"]) == (1, False), got
    assert got["request_id"] in {request.request_id for request in run.fake.requests}


def test_throttling_is_retried_to_a_success(run: Run) -> None:
    throttled = run.results["throttled"]
    assert (throttled["kind"], throttled["attempts"]) == ("ok", 3)
    assert throttled["attempt_codes"] == ["TooManyRequestsException"] * 2 + [None]
    assert len(run.throttling.requests) == 3
    seeded = run.throttled_event
    assert run.throttling.feedback(seeded.user_pool_id, seeded.event_id) == "Invalid"


def test_a_late_reply_is_aborted_at_the_timeout(run: Run) -> None:
    timeout = run.results["timeout"]
    assert (timeout["kind"], timeout["attempts"]) == ("RequestTimeoutError", 1), timeout
    assert 0.45 <= timeout["elapsed"] < 4.0  # 0.5 s, not the server's 5 s


@pytest.mark.parametrize(
    ("scenario", "kind", "attempts"),
    [
        ("redirect", "ProtocolError", 1),
        ("huge_body", "ProtocolError", 1),
        ("reset_then_ok", "ok", 2),
        ("refused", "TransportError", 3),
    ],
)
def test_faults(run: Run, scenario: str, kind: str, attempts: int) -> None:
    got = run.results[scenario]
    assert (got["kind"], got["attempts"]) == (kind, attempts), got
    if scenario == "redirect":
        assert run.redirect_paths == ["/"], "the redirect was not followed"


def test_the_docs_worker_handler(run: Run) -> None:
    # docs/edge.md's Worker under Pyodide, the workers module stood in for.
    assert run.results["worker"]["answers"] == [
        [200, "recorded"],
        [405, "use POST"],
        [400, "ValidationError"],
    ]
    assert run.fake.feedback(run.event.user_pool_id, run.event.event_id) == "Valid"


def test_misuse(run: Run) -> None:
    misuse = run.results["misuse"]
    assert misuse["validation"] == "feedback_value"
    assert "closed" in misuse["closed"]
    assert misuse["repr"] == f"AsyncClient({run.fake_url!r})"


def test_outside_pyodide_the_client_refuses_to_be_made() -> None:
    with pytest.raises(RuntimeError, match="Pyodide"):
        fetch.AsyncClient()


def test_the_forbidden_headers_are_ones_build_request_sets() -> None:
    request = UpdateAuthEventFeedbackRequest(
        user_pool_id="us-east-1_AbC123",
        username="u",
        event_id="e",
        feedback_token="t",
        feedback_value="valid",
    )
    names = {name.lower() for name in build_request(request).headers}
    assert fetch.FORBIDDEN_HEADERS.issubset(names)


_IMPORT_PROBE = textwrap.dedent(
    """
    import json, sys
    sys.path.insert(0, sys.argv[1])
    before = set(sys.modules)
    import cognito_raw.fetch
    print(json.dumps(sorted(set(sys.modules) - before)))
    """
)


def test_the_fetch_module_imports_only_the_standard_library() -> None:
    loaded = modules_loaded_by(_IMPORT_PROBE)
    assert outside_the_standard_library(loaded) == []
    assert "cognito_raw.fetch" in loaded
    assert "httpx" not in loaded
