"""Edge runtimes: ``stdlib.Client``'s cold start and peak RSS, and the Pyodide client under Node.

Every program is a fresh ``python -c CODE URL CA`` making one call over
HTTPS loopback and trusting the server's self-signed certificate at ``CA``:

- ``stdlib-client``: ``cognito_raw.stdlib.Client``, as a Lambda handler
  would make its first call;
- ``stdlib-floor``: the least any client of ours can do: ``build_request``,
  one ``http.client.HTTPSConnection`` request and ``parse_response``, no
  retries, no pool, no timeouts;
- ``boto3-client`` and ``capo-client``: the peers' programs of run.py's
  cold-start section (``_coldstart.py``), capo's under its own interpreter.

``pyodide_timing`` runs ``tests/pyodide/runner.mjs``: Pyodide's load, the
import of ``cognito_raw.fetch`` and the first call of ``fetch.AsyncClient``,
each run a fresh Node.js process trusting ``CA`` (``NODE_EXTRA_CA_CERTS``).

run.py runs ``section`` (both, with its own process spawner, its rows and
its notes); ``python benchmarks/_edge.py`` runs it alone against
``https_loopback``, a small HTTPS server of its own.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import statistics
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

from _coldstart import PEAK_RSS, _kwargs
from _coldstart import PROGRAMS as COLD_PROGRAMS
from _worker import OURS_KW

HERE = Path(__file__).resolve().parent
RUNNER = HERE.parent / "tests" / "pyodide" / "runner.mjs"


PROGRAMS: dict[str, str] = {
    "stdlib-client": f"""\
import sys
from cognito_raw import stdlib
with stdlib.Client(endpoint_url=sys.argv[1], verify=sys.argv[2]) as client:
    reply = client.update_auth_event_feedback({_kwargs(OURS_KW)})
print(reply.request_id)
""",
    "stdlib-floor": f"""\
import http.client
import ssl
import sys
from urllib.parse import urlsplit
from cognito_raw import UpdateAuthEventFeedbackRequest, build_request, parse_response
request = build_request(
    UpdateAuthEventFeedbackRequest({_kwargs(OURS_KW)}), endpoint_url=sys.argv[1]
)
url = urlsplit(request.url)
context = ssl.create_default_context(cafile=sys.argv[2])
conn = http.client.HTTPSConnection(url.hostname, url.port, context=context)
conn.request(request.method, url.path, body=request.body, headers=request.headers)
response = conn.getresponse()
reply = parse_response(response.status, response.getheaders(), response.read())
conn.close()
print(reply.request_id)
""",
    # The peers' programs of the cold-start section, as run.py runs them.
    "boto3-client": COLD_PROGRAMS["boto3-client"],
    "capo-client": COLD_PROGRAMS["capo-client"],
}

# The Pyodide side: one call, its request ID back (runner.mjs times it).
PYODIDE_CALL = f"""\
import json
from cognito_raw.fetch import AsyncClient

async def main(config):
    url = json.loads(config)["url"]
    async with AsyncClient(endpoint_url=url) as client:
        reply = await client.update_auth_event_feedback({_kwargs(OURS_KW)})
    return json.dumps({{"request_id": reply.request_id}})
"""


class Exit(Protocol):
    """What run.py's spawner returns for a finished child."""

    wall: float
    code: int
    out: str
    err: str


Spawn = Callable[[Sequence[str], dict[str, str]], Exit]


def _run(spawn: Spawn, argv: list[str], env: dict[str, str]) -> Exit:
    done = spawn(argv, env)
    if done.code != 0:
        raise RuntimeError(f"edge program failed: {argv[2][:60]!r}\n{done.err[-3000:]}")
    return done


def measure(
    url: str,
    ca: str,
    *,
    spawn: Spawn,
    env: dict[str, str],
    pythons: dict[str, str],
    repeats: int,
    rss_repeats: int,
) -> dict[str, dict[str, float]]:
    """Median process wall time and peak RSS (VmHWM) of each program ``pythons`` names.

    ``pythons`` maps a program of ``PROGRAMS`` to the interpreter that runs
    it (leave out what cannot run here). Runs are interleaved round by round,
    in alternating order, after one unmeasured run each to warm the caches.
    """
    names = [name for name in PROGRAMS if name in pythons]
    wall: dict[str, list[float]] = {name: [] for name in names}
    rss: dict[str, list[float]] = {name: [] for name in names}
    for name in names:
        _run(spawn, [pythons[name], "-c", PROGRAMS[name], url, ca], env)
    for round_ in range(max(repeats, rss_repeats)):
        for name in names if round_ % 2 == 0 else reversed(names):
            if round_ < repeats:
                argv = [pythons[name], "-c", PROGRAMS[name], url, ca]
                wall[name].append(_run(spawn, argv, env).wall)
            if round_ < rss_repeats:
                argv = [pythons[name], "-c", PROGRAMS[name] + PEAK_RSS, url, ca]
                out = _run(spawn, argv, env).out
                peaks = [line for line in out.splitlines() if line.startswith("VmHWM ")]
                rss[name].append(float(peaks[-1].split()[1]))
    return {
        "wall": {name: statistics.median(values) for name, values in wall.items()},
        "rss": {name: statistics.median(values) for name, values in rss.items()},
    }


Line = tuple[str, str, str, str, str, bool | None]  # name, ours, other, ratio, target, passed


def rows(figures: dict[str, dict[str, float]]) -> list[Line]:
    """The table's lines: ``stdlib.Client`` against its floor, boto3 and capo."""
    wall, rss = figures["wall"], figures["rss"]
    ours_ms, ours_rss = wall["stdlib-client"] * 1000, rss["stdlib-client"]
    mib = 1024 * 1024
    lines: list[Line] = []
    floor = wall["stdlib-floor"]
    lines.append(
        (
            "stdlib.Client cold start to first reply (HTTPS)",
            f"{ours_ms:.1f} ms",
            f"floor {floor * 1000:.1f} ms",
            f"{wall['stdlib-client'] / floor:.2f}x floor",
            "<= 1.15x floor",
            wall["stdlib-client"] <= 1.15 * floor,
        )
    )
    for other, target, least in (("boto3", ">= 2.8x faster", 2.8), ("capo", "faster", 1.0)):
        name = f"{other}-client"
        if name not in wall:
            missing = f"{other} unavailable"
            lines.append(("stdlib.Client cold start", "", missing, "", target, None))
            continue
        ratio = wall[name] / wall["stdlib-client"]
        lines.append(
            (
                "stdlib.Client cold start to first reply (HTTPS)",
                f"{ours_ms:.1f} ms",
                f"{other} {wall[name] * 1000:.1f} ms",
                f"{ratio:.2f}x faster",
                target,
                ratio >= least if least > 1 else ratio > least,
            )
        )
    lines.append(
        (
            "stdlib.Client peak RSS, one call",
            f"{ours_rss / mib:.1f} MiB",
            f"floor {rss['stdlib-floor'] / mib:.1f} MiB",
            f"{ours_rss / rss['stdlib-floor']:.2f}x floor",
            "<= 1.10x floor",
            ours_rss <= 1.10 * rss["stdlib-floor"],
        )
    )
    if "boto3-client" in rss:
        ratio = rss["boto3-client"] / ours_rss
        lines.append(
            (
                "stdlib.Client peak RSS, one call",
                f"{ours_rss / mib:.1f} MiB",
                f"boto3 {rss['boto3-client'] / mib:.1f} MiB",
                f"1/{ratio:.1f}",
                "<= 1/2",
                ratio >= 2,
            )
        )
    return lines


def pyodide_timing(
    url: str, ca: str, *, node: str, pyodide_dir: str, spawn: Spawn, repeats: int
) -> dict[str, float]:
    """Median milliseconds of Pyodide's load, ``import cognito_raw.fetch`` and the first call."""
    package = str(HERE.parent / "cognito_raw")
    samples: dict[str, list[float]] = {"load_ms": [], "import_ms": [], "run_ms": []}
    env = {**os.environ, "NODE_EXTRA_CA_CERTS": ca}
    with tempfile.TemporaryDirectory() as scratch:
        script = Path(scratch) / "call.py"
        script.write_text(PYODIDE_CALL)
        for _ in range(repeats):
            argv = [node, str(RUNNER), pyodide_dir, package, str(script), json.dumps({"url": url})]
            done = spawn(argv, env)
            if done.code != 0:
                raise RuntimeError(f"Pyodide run failed:\n{done.err[-3000:]}")
            report: dict[str, Any] = json.loads(done.out.strip().splitlines()[-1])
            if not report["result"].get("request_id"):
                raise RuntimeError(f"Pyodide call got no request ID: {report}")
            for key, values in samples.items():
                values.append(float(report[key]))
    return {key: statistics.median(values) for key, values in samples.items()}


def section(
    url: str,
    ca: str,
    *,
    spawn: Spawn,
    env: dict[str, str],
    capo_python: str | None,
    repeats: int,
    rss_repeats: int,
    add: Callable[[Line], None],
    note: Callable[[str], None],
) -> None:
    """Measure everything above against ``url`` (HTTPS, its certificate in ``ca``): rows, notes.

    The Pyodide timing needs node and the npm pyodide package (its directory
    in ``COGNITO_RAW_PYODIDE``, as ``.ci/run`` installs it); without them it
    is a note.
    """
    pythons = {name: sys.executable for name in PROGRAMS if name != "capo-client"}
    if capo_python:
        pythons["capo-client"] = capo_python
    figures = measure(
        url, ca, spawn=spawn, env=env, pythons=pythons, repeats=repeats, rss_repeats=rss_repeats
    )
    for line in rows(figures):
        add(line)
    note(f"edge: process wall medians of {repeats}, VmHWM medians of {rss_repeats}:")
    for name, wall in figures["wall"].items():
        rss = figures["rss"][name] / (1024 * 1024)
        note(f"  {name:14s} wall {wall * 1000:7.1f} ms  peak RSS {rss:5.1f} MiB")
    node, pyodide = shutil.which("node"), os.environ.get("COGNITO_RAW_PYODIDE")
    if not (node and pyodide):
        note("edge: Pyodide not measured (node, or COGNITO_RAW_PYODIDE, missing)")
        return
    timing = pyodide_timing(url, ca, node=node, pyodide_dir=pyodide, spawn=spawn, repeats=5)
    add(
        (
            "fetch.AsyncClient under Pyodide in Node.js: load, import, first call",
            f"{timing['load_ms']:.0f} + {timing['import_ms']:.0f} + {timing['run_ms']:.0f} ms",
            "",
            "",
            "",
            None,
        )
    )


@contextlib.contextmanager
def https_loopback() -> Iterator[tuple[str, str]]:
    """A canned-reply HTTPS server on 127.0.0.1, in a thread: ``(url, CA path)``.

    For runs without an HTTPS nginx: ``_pyserver``'s protocol behind a
    self-signed certificate that openssl makes for the block.
    """
    import asyncio
    import ssl
    import subprocess
    import threading

    import _pyserver

    with tempfile.TemporaryDirectory() as scratch:
        cert, key = Path(scratch) / "cert.pem", Path(scratch) / "key.pem"
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
             "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
             "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
            check=True, capture_output=True,
        )  # fmt: skip
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(cert, key)
        loop = asyncio.new_event_loop()
        server = loop.run_until_complete(
            loop.create_server(_pyserver._Reply, "127.0.0.1", 0, ssl=tls, backlog=256)
        )
        thread = threading.Thread(target=loop.run_forever, daemon=True)
        thread.start()
        try:
            yield f"https://127.0.0.1:{server.sockets[0].getsockname()[1]}", str(cert)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=5)


def main() -> int:
    """Run alone: ``python benchmarks/_edge.py [--capo-python PATH] [--repeats N]``."""
    import argparse

    import run

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--capo-python", help="an interpreter with capo installed")
    parser.add_argument("--repeats", type=int, default=21)
    args = parser.parse_args()
    run.OUT.mkdir(exist_ok=True)
    with https_loopback() as (url, ca):
        section(
            url,
            ca,
            spawn=run.spawn,
            env=run.child_env(),
            capo_python=args.capo_python,
            repeats=args.repeats,
            rss_repeats=max(3, args.repeats // 3),
            add=lambda line: print(" | ".join(str(cell) for cell in line)),
            note=print,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
