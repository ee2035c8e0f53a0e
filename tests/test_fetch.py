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
from pathlib import Path
from typing import Any, Final

import pytest

import cognito_raw
from cognito_raw import UpdateAuthEventFeedbackRequest, build_request, fetch
from cognito_raw.testing import FakeCognito
from tests import faultserver, loopback
from tests.test_imports import modules_loaded_by, outside_the_standard_library

HERE: Final = Path(__file__).parent / "pyodide"
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


def test_the_fetch_client_under_pyodide_in_node() -> None:
    fake, throttling, slow = FakeCognito(), FakeCognito(), FakeCognito()
    event = fake.seed()
    stale = fake.create_auth_event(event.user_pool_id, event.username)
    fake.expire_auth_event(event.user_pool_id, stale.event_id)
    throttled_event = throttling.seed()
    throttling.throttle(2)
    slow_event = slow.seed()
    slow.delay(5.0)

    def feedback(seeded: Any) -> dict[str, str]:
        return {
            "user_pool_id": seeded.user_pool_id,
            "username": seeded.username,
            "event_id": seeded.event_id,
            "feedback_token": seeded.feedback_token,
            "feedback_value": "invalid",
        }

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
            }
        )
    results = report["result"]
    assert report["packages"] == [], "only Pyodide's own standard library was used"

    success = results["success"]
    assert (success["kind"], success["status"], success["attempts"]) == ("ok", 200, 1)
    assert fake.feedback(event.user_pool_id, event.event_id) == "Invalid"
    sent = fake.requests[0]
    served_ids = {request.request_id for request in fake.requests}
    assert success["request_id"] in served_ids

    for name, kind in [
        ("not_authorized", "NotAuthorizedException"),
        ("user_not_found", "UserNotFoundException"),
        ("pool_not_found", "ResourceNotFoundException"),
    ]:
        got = results[name]
        assert (got["kind"], got["code"], got["status"]) == (kind, kind, 400), got
        assert (got["attempts"], got["retryable"]) == (1, False), got
        assert got["request_id"] in served_ids, got

    throttled = results["throttled"]
    assert (throttled["kind"], throttled["attempts"]) == ("ok", 3)
    assert throttled["attempt_codes"] == ["TooManyRequestsException"] * 2 + [None]
    assert len(throttling.requests) == 3
    assert throttling.feedback(throttled_event.user_pool_id, throttled_event.event_id) == "Invalid"

    timeout = results["timeout"]
    assert (timeout["kind"], timeout["attempts"]) == ("RequestTimeoutError", 1), timeout
    assert 0.45 <= timeout["elapsed"] < 4.0

    redirect_result = results["redirect"]
    assert (redirect_result["kind"], redirect_result["attempts"]) == ("ProtocolError", 1)
    assert redirect.paths == ["/"], "the redirect was not followed"
    huge_result = results["huge_body"]
    assert (huge_result["kind"], huge_result["attempts"]) == ("ProtocolError", 1)
    assert (results["reset_then_ok"]["kind"], results["reset_then_ok"]["attempts"]) == ("ok", 2)
    refused = results["refused"]
    assert (refused["kind"], refused["attempts"], refused["retryable"]) == (
        "TransportError",
        3,
        True,
    )

    misuse = results["misuse"]
    assert misuse["validation"] == "feedback_value"
    assert "closed" in misuse["closed"]
    assert misuse["repr"] == f"AsyncClient({fake_url!r})"

    # The wire: build_request's body and headers, less what fetch forbids,
    # which the runtime writes itself.
    expected = build_request(
        UpdateAuthEventFeedbackRequest(**feedback(event)), endpoint_url=fake_url
    )
    assert sent.body == expected.body
    headers = {name.lower(): value for name, value in sent.headers}
    for name, value in expected.headers.items():
        if name.lower() not in fetch.FORBIDDEN_HEADERS | {"user-agent"}:
            assert headers[name.lower()] == value, name
    # Pyodide's Python, not this one, is in the User-Agent; Node sends it.
    assert headers["user-agent"].startswith(f"cognito-raw/{cognito_raw.__version__} python/3.")
    assert headers["content-length"] == str(len(expected.body))


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
