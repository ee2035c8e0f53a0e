"""cognito_raw.stdlib.Client where httpx is not installed, against `cognito-raw fake-server`.

Run by .ci/run with the Python of an empty venv; the package is in the folder named
by the second argument, put there by `pip install --no-deps --target` as for a Lambda
zip (whose root Lambda puts on sys.path). The fake server's printed lines (url=...,
user_pool_id=..., ...) are in the file named by the first argument. Exits non-zero
on any surprise.
"""

from __future__ import annotations

import importlib.util
import sys
import time
from pathlib import Path


def seeded(path: Path) -> dict[str, str]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        text = path.read_text() if path.exists() else ""
        values = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
        if "feedback_token" in values:
            return values
        time.sleep(0.1)
    raise SystemExit("the fake server printed no seeded event within 30 s")


def main() -> None:
    target = Path(sys.argv[2]).resolve()
    sys.path.insert(0, str(target))
    assert importlib.util.find_spec("httpx") is None, "httpx is installed here"
    import cognito_raw
    from cognito_raw import NotAuthorizedException, RetryPolicy, stdlib

    assert Path(cognito_raw.__file__).resolve().is_relative_to(target), cognito_raw.__file__

    event = seeded(Path(sys.argv[1]))
    url = event.pop("url")
    before = set(sys.modules)
    with stdlib.Client(endpoint_url=url, retry=RetryPolicy(max_attempts=2)) as client:
        result = client.update_auth_event_feedback(**event, feedback_value="valid")
        assert (result.status_code, result.attempts) == (200, 1), result
        try:
            client.update_auth_event_feedback(
                **{**event, "feedback_token": "not-the-token"}, feedback_value="valid"
            )
        except NotAuthorizedException as exc:
            assert exc.request_id and exc.attempts == 1, exc
        else:
            raise SystemExit("a wrong token was accepted")
    loaded = sorted(
        name
        for name in set(sys.modules) - before
        if name.split(".")[0] not in sys.stdlib_module_names and not name.startswith("cognito_raw")
    )
    assert loaded == [], loaded
    print(f"stdlib.Client without httpx: ok ({result.request_id})")


if __name__ == "__main__":
    main()
