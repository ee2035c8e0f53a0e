"""The core imports only the standard library; the public surface is explicit."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import cognito_raw

# -I drops the working directory from sys.path: point the child at the same
# cognito_raw this process imported (installed or checked out).
_PACKAGE_PARENT = str(Path(cognito_raw.__file__).resolve().parent.parent)

# Run in a fresh interpreter: this test process has httpx, hypothesis and
# botocore loaded already.
_PROBE = textwrap.dedent(
    """
    import json, sys
    sys.path.insert(0, sys.argv[1])
    before = set(sys.modules)
    import cognito_raw
    from cognito_raw import UpdateAuthEventFeedbackRequest, build_request, parse_response
    req = UpdateAuthEventFeedbackRequest(
        user_pool_id="eu-west-1_AbC", username="u", event_id="e",
        feedback_token="t", feedback_value="valid",
    )
    build_request(req)
    build_request(req, endpoint_url="http://127.0.0.1:9")
    parse_response(200, {"x-amzn-RequestId": "r"}, b"{}")
    try:
        parse_response(400, {}, b'{"__type":"NotAuthorizedException"}')
    except cognito_raw.ServiceError:
        pass
    new = sorted(m for m in set(sys.modules) - before)
    print(json.dumps(new))
    """
)


def probe_output(probe: str) -> str:
    """What ``probe`` prints, run in a fresh interpreter given this cognito_raw's parent folder."""
    return subprocess.run(
        [sys.executable, "-I", "-c", probe, _PACKAGE_PARENT],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def modules_loaded_by(probe: str) -> list[str]:
    """The modules a fresh interpreter loads running ``probe`` (it prints them as JSON)."""
    loaded: list[str] = json.loads(probe_output(probe))
    return loaded


def outside_the_standard_library(names: list[str]) -> list[str]:
    """The names of ``names`` that are neither the standard library's nor cognito_raw's."""
    return [
        name
        for name in names
        if name.split(".")[0] not in sys.stdlib_module_names
        and name.split(".")[0] != "cognito_raw"
    ]


def test_core_imports_only_the_standard_library() -> None:
    loaded = modules_loaded_by(_PROBE)
    assert outside_the_standard_library(loaded) == []
    assert "httpx" not in loaded
    assert "cognito_raw" in loaded


def test_all_is_sorted_and_complete() -> None:
    names = cognito_raw.__all__

    # ruff's RUF022 order: CONSTANTS, then Classes, then everything else.
    def group(name: str) -> tuple[int, str]:
        if name.isupper():
            return (0, name)
        return (1, name) if name[0].isupper() else (2, name)

    assert names == sorted(names, key=group)
    assert len(set(names)) == len(names)
    for name in names:
        assert getattr(cognito_raw, name) is not None
    public = {
        name
        for name in dir(cognito_raw)
        if not name.startswith("_") and not isinstance(getattr(cognito_raw, name), type(sys))
    }
    assert public - {"annotations", "TYPE_CHECKING"} <= set(names)


def test_public_names_have_docstrings() -> None:
    for name in cognito_raw.__all__:
        obj = getattr(cognito_raw, name)
        if callable(obj):
            assert obj.__doc__, name


# Probe code that counts every CA bundle or certificate store a TLS context
# loads (``CA_LOADS``): httpx's certifi bundle and ssl's system store both go
# through these two methods of ssl.SSLContext.
COUNT_CA_LOADS = textwrap.dedent(
    """
    import ssl
    CA_LOADS = []
    def _counting(name):
        original = getattr(ssl.SSLContext, name)
        def load(self, *args, **kwargs):
            CA_LOADS.append(name)
            return original(self, *args, **kwargs)
        return load
    for _name in ("load_verify_locations", "set_default_verify_paths"):
        setattr(ssl.SSLContext, _name, _counting(_name))
    """
)

_LAZY_PROBE = (
    textwrap.dedent(
        """
    import sys
    sys.path.insert(0, sys.argv[1])
    import cognito_raw
    assert "httpx" not in sys.modules
    assert "dataclasses" not in sys.modules
    assert "typing" not in sys.modules, "typing costs milliseconds at import"
    """
    )
    + COUNT_CA_LOADS
    + textwrap.dedent(
        """
    client = cognito_raw.Client(
        endpoint_url="http://127.0.0.1:9", retry=cognito_raw.RetryPolicy(max_attempts=1)
    )
    assert "httpx" in sys.modules
    try:
        client.update_auth_event_feedback(
            user_pool_id="eu-west-1_AbC", username="u", event_id="e",
            feedback_token="t", feedback_value="valid",
        )
    except cognito_raw.TransportError:
        pass
    # The blocking client leaves asyncio to the async one (httpcore imports
    # anyio and, where installed, trio, but starts neither).
    assert "asyncio" not in sys.modules
    # An http:// endpoint needs no CA bundle: none was loaded.
    assert CA_LOADS == [], CA_LOADS
    client.close()
    # https: each client loads its bundle once, when it is made.
    cognito_raw.Client().close()
    first = len(CA_LOADS)
    assert first >= 1, CA_LOADS
    cognito_raw.Client().close()
    assert len(CA_LOADS) == 2 * first, CA_LOADS
    print("ok")
    """
    )
)


def test_clients_and_heavy_modules_load_lazily() -> None:
    assert probe_output(_LAZY_PROBE).strip() == "ok"
