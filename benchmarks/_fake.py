"""The fake Cognito's loopback server: per-request latency on one reused connection.

    python benchmarks/_fake.py [REQUESTS]    # prints the measurement as JSON

``FakeCognito().serve()`` (and ``cognito-raw fake-server``) is what the
testing kit's users call hundreds of times per test run, over keep-alive
connections. The row is the median round trip of one UpdateAuthEventFeedback
request on a connection already open (``http.client``, so no client library's
own cost is in it), measured in a fresh process as every other row is.
"""

from __future__ import annotations

import http.client
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

HERE = Path(__file__).resolve().parent
TARGET_MS = 1.0


def measure(requests: int) -> dict[str, Any]:
    """Serve a seeded fake, send ``requests`` feedback calls on one connection, time each."""
    from cognito_raw import build_request
    from cognito_raw.testing import FakeCognito

    fake = FakeCognito()
    event = fake.seed()
    with fake.serve() as url:
        wire = build_request(event.request("valid"), endpoint_url=url)
        parts = urlsplit(url)
        connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
        times: list[float] = []
        try:
            for _ in range(requests + 5):  # the first five warm the connection up
                started = time.perf_counter()
                connection.request("POST", "/", body=wire.body, headers=wire.headers)
                reply = connection.getresponse()
                reply.read()
                times.append(time.perf_counter() - started)
                if reply.status != 200:
                    raise RuntimeError(f"the fake answered {reply.status}")
        finally:
            connection.close()
    rest = times[5:]
    return {
        "requests": len(rest),
        "median_s": statistics.median(rest),
        "p90_s": statistics.quantiles(rest, n=10)[-1],
        "connections": 1,
    }


def section(report: Any, row: Any, *, quick: bool, env: dict[str, str]) -> None:
    """Add the fake-server row to ``report`` (``row`` is run.py's Row class)."""
    requests = 200 if quick else 2000
    done = subprocess.run(
        [sys.executable, str(HERE / "_fake.py"), str(requests)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=True,
    )
    result = json.loads(done.stdout)
    median_ms = result["median_s"] * 1000
    report.add(
        row(
            section="fake",
            name="fake server, one request on a reused connection (median)",
            ours=f"{median_ms:.3f} ms",
            other="",
            ratio="",
            target=f"< {TARGET_MS:g} ms",
            passed=median_ms < TARGET_MS,
        )
    )
    report.note(
        f"fake server: {result['requests']} requests on one keep-alive connection, "
        f"median {median_ms:.3f} ms, p90 {result['p90_s'] * 1000:.3f} ms"
    )


if __name__ == "__main__":
    print(json.dumps(measure(int(sys.argv[1]) if len(sys.argv) > 1 else 2000)))
