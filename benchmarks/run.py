"""cognito-raw side by side with raw httpx, boto3, capo and aiobotocore, in one run.

    python benchmarks/run.py            # the full run (a few minutes)
    python benchmarks/run.py --quick    # a smoke run (under a minute)

Prints a table of ratios measured in this one run on this machine, each from
the median of repeated measurements, with PASS/MISS against the project's
targets, then the details, versions, CPU and the command. Absolute times vary
from run to run on a shared machine; the ratios are the result.

Every call goes over HTTPS to nginx on 127.0.0.1 (a canned Cognito reply; a
small Python server only if nginx cannot be had), with a certificate from a
CA made at the start of the run that each client is told to trust.

What is measured (every measurement in a fresh process, so no library's
imports or garbage weigh on another's numbers):

1. Cold start: a new process that makes one call and handles the reply
   (cognito-raw ``Client``; its floor, a raw ``httpx.post`` of the same
   bytes; boto3 with ``signature_version=UNSIGNED``; capo with
   ``anonymous=True``); the sans-I/O path alone vs boto3's import and client
   creation; ``import cognito_raw`` vs a bare interpreter. Clocks between the
   steps of the Client's and the floor's programs, and ``-X importtime``,
   show where the time goes.
2. Per-call CPU, no network: validate + build + parse vs boto3's call with
   the network stubbed by a ``before-send`` handler; the Client vs a raw
   httpx POST, both on ``httpx.MockTransport``.
3. Throughput: sequential sync calls, and 64 in flight on asyncio; the
   client process's CPU per call against raw httpx, calls/s against boto3,
   capo and aiobotocore.
4. Memory: peak RSS of a process making one call; RSS and tracked objects
   after many calls through one client vs after 1,000 (the sync Client on
   httpx.MockTransport, and the AsyncClient over HTTPS loopback).
5. The feedback app's outbox: clicks accepted per second with durable
   commits (SQLite, PostgreSQL) and the delivery rate at a configured limit
   (``_outbox.py``).
6. The fake Cognito's loopback server: the median round trip of one request
   on a kept-alive connection (``_fake.py``).
7. Edge runtimes (``_edge.py``): ``stdlib.Client``'s cold start and peak RSS
   against its floor (``build_request`` + ``http.client`` + ``parse_response``),
   boto3 and capo; ``fetch.AsyncClient``'s load, import and first call under
   Pyodide in Node.js.

aiobotocore cannot share an environment with the project's pinned botocore
(every aiobotocore release pins an older botocore), and capo brings its own
HTTP stack, so each runs under an interpreter of its own: ``--aio-python`` /
``--capo-python``, or a virtual environment this script makes in
benchmarks/out (venv-aio, venv-capo) from pinned versions on first use.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import signal
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import _edge
import _fake
import _outbox
import _server
from _coldstart import PEAK_RSS, PROGRAMS
from _worker import BOUNDED_CONNECTIONS, REQUEST_ID

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
WORKER = HERE / "_worker.py"
AIOBOTOCORE_PIN = "aiobotocore==3.10.0"
# capo's HTTP stack is a package of its own, pinned with it.
CAPO_PINS = ("capo-cognito-identity-provider==0.13.0", "zapros==0.23.0")
CONCURRENCY = 64
MIB = 1024 * 1024
# Installed, these are imported by httpx or httpcore at import, used or not.
OPPORTUNISTIC = ("trio", "brotli", "brotlicffi", "zstandard")
# --package DIR: children import cognito_raw from DIR (to measure a change
# before it lands) instead of the installed package.
SETTINGS: dict[str, str | None] = {"package": None}


@dataclass(frozen=True)
class Plan:
    """How many times and how long: the full run, or --quick."""

    cold_repeats: int
    rss_repeats: int
    import_repeats: int
    importtime_repeats: int
    percall_min_time: float
    percall_repeats: int
    rounds: int
    sync_count: int
    async_count: int
    seconds: float
    warmup: int
    growth_calls: int
    growth_async_calls: int
    growth_seconds: float


FULL = Plan(
    cold_repeats=31,
    rss_repeats=7,
    import_repeats=41,
    importtime_repeats=9,
    percall_min_time=0.2,
    percall_repeats=7,
    rounds=5,
    sync_count=5000,
    async_count=4000,
    seconds=8.0,
    warmup=200,
    growth_calls=100_000,
    growth_async_calls=30_000,
    growth_seconds=180.0,
)
QUICK = Plan(
    cold_repeats=5,
    rss_repeats=3,
    import_repeats=11,
    importtime_repeats=3,
    percall_min_time=0.05,
    percall_repeats=3,
    rounds=1,
    sync_count=500,
    async_count=1000,
    seconds=3.0,
    warmup=50,
    growth_calls=20_000,
    growth_async_calls=5_000,
    growth_seconds=60.0,
)


@dataclass
class Row:
    """One line of the table: a measurement, both sides, the ratio and the verdict."""

    section: str
    name: str
    ours: str
    other: str
    ratio: str
    target: str = ""
    passed: bool | None = None


@dataclass
class Report:
    """Everything the run found, for the screen, --markdown and out/last-run.json."""

    rows: list[Row] = field(default_factory=list)
    details: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)

    def add(self, row: Row) -> None:
        self.rows.append(row)

    def note(self, text: str) -> None:
        self.details.append(text)
        print(text, flush=True)


# -- processes --------------------------------------------------------------------


def child_env() -> dict[str, str]:
    """The environment of every measured process: no AWS config, no proxies."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.lower().endswith("_proxy") and not k.startswith("AWS_")
    }
    for name in ("PYTHONPATH", "PYTHONDONTWRITEBYTECODE", "PYTHONPROFILEIMPORTTIME"):
        env.pop(name, None)
    env.update(
        {
            # boto3 must find nothing of the machine's: the run is the same everywhere,
            # and nothing reaches for the instance metadata service.
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
            "NO_PROXY": "127.0.0.1,localhost",
        }
    )
    if SETTINGS["package"]:
        env["PYTHONPATH"] = SETTINGS["package"]
    return env


@dataclass(frozen=True)
class Exit:
    """A finished child: wall time, CPU time (user + sys, from wait4) and its output."""

    wall: float
    cpu: float
    code: int
    out: str
    err: str


def spawn(argv: Sequence[str], env: dict[str, str], timeout: float = 120.0) -> Exit:
    """Run a child to the end; its CPU time comes from wait4, so it measures nothing itself."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        reaped = threading.Event()
        start = time.perf_counter()
        # cwd: not the checkout, whose cognito_raw/ would shadow --package for `python -c`.
        proc = subprocess.Popen(list(argv), stdout=out, stderr=err, env=env, cwd=OUT)

        def kill() -> None:
            if not reaped.is_set():
                proc.send_signal(signal.SIGKILL)

        timer = threading.Timer(timeout, kill)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
            wall = time.perf_counter() - start
            reaped.set()
        finally:
            timer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Exit(
            wall=wall,
            cpu=usage.ru_utime + usage.ru_stime,
            code=proc.returncode,
            out=out.read().decode(errors="replace"),
            err=err.read().decode(errors="replace"),
        )


def work(python: str, task: dict[str, Any], timeout: float = 600.0) -> dict[str, Any]:
    """Run one _worker.py task in a fresh process and return its JSON."""
    done = spawn([python, str(WORKER), json.dumps(task)], child_env(), timeout)
    if done.code != 0:
        raise RuntimeError(f"worker {task['task']}/{task.get('lib')} failed:\n{done.err[-3000:]}")
    result: dict[str, Any] = json.loads(done.out)
    return result


def median(values: Sequence[float]) -> float:
    """The median (the statistic every row reports)."""
    return statistics.median(values)


# -- formatting ---------------------------------------------------------------------


def ms(seconds: float) -> str:
    """Seconds as milliseconds."""
    return f"{seconds * 1000:.1f} ms"


def us(seconds: float) -> str:
    """Seconds as microseconds."""
    return f"{seconds * 1e6:.2f} µs" if seconds < 1e-5 else f"{seconds * 1e6:.1f} µs"


def mib(size: float) -> str:
    """Bytes as MiB."""
    return f"{size / MIB:.1f} MiB"


def verdict(passed: bool | None) -> str:
    """PASS, MISS or nothing (an informational row)."""
    return "" if passed is None else ("PASS" if passed else "MISS")


def table(rows: Sequence[Row]) -> list[list[str]]:
    """The rows as cells, header first."""
    head = ["#", "measurement", "cognito-raw", "compared with", "ratio", "target", "result"]
    return [head] + [
        [r.section, r.name, r.ours, r.other, r.ratio, r.target, verdict(r.passed)] for r in rows
    ]


def text_table(rows: Sequence[Row]) -> str:
    """A fixed-width table for the terminal."""
    cells = table(rows)
    widths = [max(len(line[i]) for line in cells) for i in range(len(cells[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) for line in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(line.rstrip() for line in lines)


def markdown_table(rows: Sequence[Row]) -> str:
    """The same table in Markdown."""
    cells = table(rows)
    lines = ["| " + " | ".join(cells[0]) + " |", "|" + "---|" * len(cells[0])]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in line) + " |" for line in cells[1:]]
    return "\n".join(lines)


# -- 1. cold start ------------------------------------------------------------------


@dataclass(frozen=True)
class Pythons:
    """The interpreters of the side environments (None: not measured), and where from."""

    aio: str | None = None
    aio_where: str = "not needed"
    capo: str | None = None
    capo_where: str = "not needed"


def program_python(name: str, pythons: Pythons) -> str | None:
    """The interpreter a cold-start program runs under (None: unavailable)."""
    return pythons.capo if name.startswith("capo-") else sys.executable


def run_program(name: str, code: str, pythons: Pythons, server: _server.Server) -> Exit:
    """One cold-start program in a fresh process, against the server, trusting its CA."""
    python = program_python(name, pythons)
    assert python is not None
    return spawn([python, "-c", code, server.url, server.ca_path], child_env())


def cold_names(pythons: Pythons) -> list[str]:
    """The cold-start programs this run can measure."""
    names = ["bare", "import", "ours-sansio", "boto3-create", "httpx-post", "ours-client"]
    names.append("boto3-client")
    if pythons.capo is not None:
        names.append("capo-client")
    return names


def cold_runs(plan: Plan, pythons: Pythons, server: _server.Server) -> dict[str, list[Exit]]:
    """Every program's runs, interleaved round by round so drift hits them alike."""
    names = cold_names(pythons)
    runs: dict[str, list[Exit]] = {name: [] for name in names}
    for name in names:  # warm the bytecode caches; not counted
        first = run_program(name, PROGRAMS[name], pythons, server)
        if first.code != 0 or (name not in ("bare", "import") and REQUEST_ID not in first.out):
            raise RuntimeError(f"cold-start program {name} failed:\n{first.err[-3000:]}")
    for round_ in range(plan.cold_repeats):
        for name in names if round_ % 2 == 0 else reversed(names):
            runs[name].append(run_program(name, PROGRAMS[name], pythons, server))
    # The import-only pair needs more samples: its difference is a few ms.
    for round_ in range(plan.import_repeats - plan.cold_repeats):
        for name in ("bare", "import") if round_ % 2 == 0 else ("import", "bare"):
            runs[name].append(run_program(name, PROGRAMS[name], pythons, server))
    for name, exits in runs.items():
        bad = [e for e in exits if e.code != 0]
        if bad:
            raise RuntimeError(f"cold-start program {name} failed:\n{bad[0].err[-3000:]}")
    return runs


def cold_start(report: Report, plan: Plan, pythons: Pythons, server: _server.Server) -> None:
    """One call over HTTPS from a new process: cognito-raw, its floor, boto3 and capo."""
    print("\n== 1. cold start (new process per run, HTTPS) ==", flush=True)
    runs = cold_runs(plan, pythons, server)
    wall = {name: median([e.wall for e in exits]) for name, exits in runs.items()}
    cpu = {name: median([e.cpu for e in exits]) for name, exits in runs.items()}
    report.data["cold_start"] = {"wall": wall, "cpu": cpu}
    ours = wall["ours-client"]
    ratio = paired(runs, "ours-client", "httpx-post")
    report.add(
        Row(
            "1",
            "cold start to first reply over HTTPS (process wall): Client vs its floor",
            ms(ours),
            f"raw httpx.post {ms(wall['httpx-post'])}",
            f"{ratio:.2f}x (of medians {ours / wall['httpx-post']:.2f}x, "
            f"CPU {cpu['ours-client'] / cpu['httpx-post']:.2f}x)",
            "<= 1.10x",
            ratio <= 1.10,
        )
    )
    for name, label in (("boto3-client", "boto3"), ("capo-client", "capo")):
        report.add(faster_row(label, runs, cpu, name))
    ratio = wall["boto3-create"] / wall["ours-sansio"]
    report.add(
        Row(
            "1",
            "sans-I/O: import+validate+build+parse vs boto3 import+client",
            ms(wall["ours-sansio"]),
            f"boto3 {ms(wall['boto3-create'])}",
            f"{ratio:.1f}x faster",
            ">= 10x",
            ratio >= 10,
        )
    )
    bare = wall["bare"]
    # Pairs run back to back, so the median of their differences is steadier
    # than the difference of the medians on a busy machine.
    added = median([i.wall - b.wall for b, i in zip(runs["bare"], runs["import"], strict=True)])
    report.add(
        Row(
            "1",
            "`import cognito_raw` over `python -c pass`",
            f"+{ms(added)}",
            f"bare {ms(bare)}",
            f"{(bare + added) / bare:.2f}x bare",
            "<= +10 ms",
            added <= 0.010,
        )
    )
    cold_details(report, plan, runs, wall, cpu)
    phases(report, runs)
    import_time(report, plan, server)


def paired(runs: dict[str, list[Exit]], a: str, b: str) -> float:
    """The median over rounds of ``a``'s wall time over ``b``'s.

    Each round runs every program once, close together, so a burst of load on
    a shared machine weighs on both sides of a pair; the ratio of the two
    medians can pair one program's quiet runs with the other's busy ones.
    """
    return median([x.wall / y.wall for x, y in zip(runs[a], runs[b], strict=True)])


def faster_row(label: str, runs: dict[str, list[Exit]], cpu: dict[str, float], key: str) -> Row:
    """Cold start against a peer: met when cognito-raw's process finishes first."""
    name = "cold start to first reply over HTTPS (process wall)"
    ours = median([e.wall for e in runs["ours-client"]])
    if key not in runs:
        return Row("1", name, ms(ours), f"{label}: not measured", "", "faster", False)
    ratio = paired(runs, key, "ours-client")
    by_cpu = cpu[key] / cpu["ours-client"]
    return Row(
        "1",
        name,
        ms(ours),
        f"{label} {ms(median([e.wall for e in runs[key]]))}",
        f"{ratio:.2f}x faster (CPU {by_cpu:.2f}x)",
        "> 1x",
        ratio > 1,
    )


def cold_details(
    report: Report,
    plan: Plan,
    runs: dict[str, list[Exit]],
    wall: dict[str, float],
    cpu: dict[str, float],
) -> None:
    """The per-program medians, and how the table's ratios are taken."""
    bare = wall["bare"]
    report.note(
        "process wall time, median of "
        f"{plan.cold_repeats} (import pair: {plan.import_repeats}); CPU = user+sys from wait4"
    )
    for name in runs:
        report.note(
            f"  {name:13s} wall {ms(wall[name]):>9s}  cpu {ms(cpu[name]):>9s}  "
            f"beyond bare {ms(wall[name] - bare):>9s}"
        )
    report.note(
        "ratios in the table are medians of per-round ratios (each round runs every program "
        "once); CPU ratios are of the CPU-time medians"
    )


def phases(report: Report, runs: dict[str, list[Exit]]) -> None:
    """Where the Client's and the floor's processes spend their time, from their own clocks."""
    found: dict[str, list[list[float]]] = {}
    for name in ("ours-client", "httpx-post"):
        for done in runs[name]:
            line = next(x for x in done.out.splitlines() if x.startswith("phases "))
            found.setdefault(name, []).append([float(x) for x in line.split()[1:]])
    steps = {name: [median(c) for c in zip(*rows, strict=True)] for name, rows in found.items()}
    report.data["phases_ms"] = steps
    (ours_import, ours_create, ours_call), (floor_import, floor_post) = (
        steps["ours-client"],
        steps["httpx-post"],
    )
    report.note(
        "the same processes' own clocks (ms, medians): imports (until the client class is "
        f"loaded) Client {ours_import:.1f}, floor {floor_import:.1f}; then to the reply "
        f"Client {ours_create + ours_call:.1f} (creating the Client {ours_create:.1f}, the "
        f"call {ours_call:.1f}), httpx.post {floor_post:.1f} (creating its client included)"
    )


def parse_importtime(stderr: str) -> list[tuple[int, str, int, int]]:
    """-X importtime lines as (depth, module, self µs, cumulative µs)."""
    found = []
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "imported package" in line:
            continue
        self_us, cumulative, name = line[len("import time:") :].split("|")
        depth = (len(name) - len(name.lstrip(" "))) // 2
        found.append((depth, name.strip(), int(self_us), int(cumulative)))
    return found


ImportStats = dict[str, tuple[int, float, float]]


def importtime_stats(code: str, args: Sequence[str], repeats: int, skip: set[str]) -> ImportStats:
    """Per module (but those in ``skip``): depth, median self and cumulative µs."""
    samples: dict[str, list[tuple[int, int, int]]] = {}
    for _ in range(repeats):
        for depth, name, self_us, cumulative in parse_importtime(importtime_run(code, args)):
            if name not in skip:
                samples.setdefault(name, []).append((depth, self_us, cumulative))
    return {
        name: (values[0][0], median([v[1] for v in values]), median([v[2] for v in values]))
        for name, values in samples.items()
    }


def note_top(report: Report, stats: ImportStats, count: int = 10) -> None:
    """The modules with the largest self time."""
    top = sorted(stats.items(), key=lambda item: -item[1][1])[:count]
    for name, (_, self_us, cumulative) in top:
        report.note(f"  {self_us / 1000:6.2f} ms self {cumulative / 1000:7.2f} ms cum  {name}")


def import_time(report: Report, plan: Plan, server: _server.Server) -> None:
    """Where the imports go: ``-X importtime``, medians per module over repeated runs.

    ``import cognito_raw`` alone, then the Client's one-call program against
    its floor's: the modules only the Client's imports are its import cost.
    """
    startup = {m for _, m, _, _ in parse_importtime(importtime_run("pass", []))}
    repeats = plan.importtime_repeats
    stats = importtime_stats("import cognito_raw", [], repeats, startup)
    report.data["importtime"] = {"import cognito_raw": stats}
    report.note(
        f"-X importtime, `import cognito_raw`: {sum(v[1] for v in stats.values()) / 1000:.1f} ms "
        f"in {len(stats)} modules (median of {repeats}); the largest by self time:"
    )
    note_top(report, stats)
    args = [server.url, server.ca_path]
    ours = importtime_stats(PROGRAMS["ours-client"], args, repeats, startup)
    floor = importtime_stats(PROGRAMS["httpx-post"], args, repeats, startup)
    report.data["importtime"].update({"ours-client": ours, "httpx-post": floor})
    only = {name: value for name, value in ours.items() if name not in floor}
    report.note(
        "-X importtime of the one-call programs (self times, summed; the tool adds its own "
        f"overhead): Client {sum(v[1] for v in ours.values()) / 1000:.1f} ms in {len(ours)} "
        f"modules, raw httpx.post {sum(v[1] for v in floor.values()) / 1000:.1f} ms in "
        f"{len(floor)}; the {len(only)} modules only the Client's imports, "
        f"{sum(v[1] for v in only.values()) / 1000:.1f} ms:"
    )
    note_top(report, only, count=12)


def importtime_run(code: str, args: Sequence[str]) -> str:
    """The stderr of ``python -X importtime -c code *args``."""
    done = spawn([sys.executable, "-X", "importtime", "-c", code, *args], child_env())
    if done.code != 0:
        raise RuntimeError(f"python -X importtime -c {code!r} failed:\n{done.err[-3000:]}")
    return done.err


# -- 2. per-call CPU -------------------------------------------------------------------


def per_call(report: Report, plan: Plan) -> None:
    """In process, no network: calibrated loops, median of repeats."""
    print("\n== 2. per-call CPU, in process, no network ==", flush=True)
    subjects = ["cognito-raw-core", "boto3-stubbed", "cognito-raw-client-mock", "httpx-mock"]
    # One loop per process per round, rounds interleaved: a busy machine's load
    # drifts over seconds, and must weigh on every subject alike.
    numbers: dict[str, int] = {}
    samples: dict[str, list[float]] = {lib: [] for lib in subjects}
    for _ in range(plan.percall_repeats):
        for lib in subjects:
            task = {
                "task": "percall",
                "lib": lib,
                "min_time": plan.percall_min_time,
                "repeats": 1,
                "number": numbers.get(lib),
            }
            result = work(sys.executable, task)
            numbers[lib] = result["number"]
            samples[lib] += result["per_call"]
    times = {lib: median(values) for lib, values in samples.items()}
    for lib in subjects:
        report.note(
            f"  {lib:24s} {us(times[lib]):>10s} CPU per call (median of {plan.percall_repeats} "
            f"loops of {numbers[lib]}, one per process, interleaved)"
        )
    report.data["per_call"] = times
    ratio = times["boto3-stubbed"] / times["cognito-raw-core"]
    report.add(
        Row(
            "2",
            "per-call CPU: validate+build+parse vs boto3 call (before-send stub)",
            us(times["cognito-raw-core"]),
            f"boto3 {us(times['boto3-stubbed'])}",
            f"1/{ratio:.1f}",
            "<= 1/20",  # issue 14: plain code over per-call tuning
            ratio >= 20,
        )
    )
    over = times["cognito-raw-client-mock"] / times["httpx-mock"] - 1
    report.add(
        Row(
            "2",
            "Client call vs raw httpx POST, both on httpx.MockTransport",
            us(times["cognito-raw-client-mock"]),
            f"raw httpx {us(times['httpx-mock'])}",
            f"{over:+.0%} overhead",
        )
    )


# -- 3. throughput ---------------------------------------------------------------------


def throughput_libs(pythons: Pythons) -> list[tuple[str, str, str]]:
    """(mode, library, interpreter) for every measured client this run can have."""
    python = sys.executable
    libs = [("sync", lib, python) for lib in ("cognito-raw", "httpx", "boto3")]
    if pythons.capo is not None:
        libs.append(("sync", "capo", pythons.capo))
    libs += [("async", lib, python) for lib in ("cognito-raw", "httpx", "httpx-bounded")]
    if pythons.aio is not None:
        libs.append(("async", "aiobotocore", pythons.aio))
    return libs


def throughput_run(
    plan: Plan, server: _server.Server, mode: str, lib: str, python: str
) -> dict[str, Any]:
    """One bounded run of one client in a fresh process, with the connections it opened."""
    before = server.stats()
    task = {
        "task": mode,
        "lib": lib,
        "url": server.url,
        "ca": server.ca_path,
        "count": plan.sync_count if mode == "sync" else plan.async_count,
        "seconds": plan.seconds,
        "warmup": plan.warmup,
        "concurrency": CONCURRENCY,
    }
    result = work(python, task)
    after = server.stats()
    if before is not None and after is not None:
        # The second reading's own connection is counted in it.
        result["connections"] = after["accepts"] - before["accepts"] - 1
    print(
        f"  {mode + ':' + lib:20s} {result['rate']:8.0f} calls/s ({result['calls']} calls "
        f"in {result['elapsed']:.2f} s, {result.get('connections', '?')} connections)",
        flush=True,
    )
    return result


def throughput(report: Report, plan: Plan, pythons: Pythons, server: _server.Server) -> None:
    """Calls per second over HTTPS loopback, rounds interleaved across libraries."""
    print(f"\n== 3. throughput over HTTPS loopback ({server.kind}) ==", flush=True)
    results: dict[str, list[dict[str, Any]]] = {}
    for _ in range(plan.rounds):
        for mode, lib, python in throughput_libs(pythons):
            result = throughput_run(plan, server, mode, lib, python)
            results.setdefault(f"{mode}:{lib}", []).append(result)
    rate = {key: median([r["rate"] for r in runs]) for key, runs in results.items()}
    cpu = {key: median([r["cpu"] / r["calls"] for r in runs]) for key, runs in results.items()}
    report.data["throughput"] = {"rate": rate, "cpu_per_call": cpu, "runs": results}
    report.note(
        f"calls/s over HTTPS, median of {plan.rounds} round(s), each bounded by "
        f"{plan.sync_count} sync / {plan.async_count} async calls or {plan.seconds:.0f} s; "
        f"{CONCURRENCY} in flight for async"
    )
    for key, value in rate.items():
        connections = median([r.get("connections", 0) for r in results[key]])
        report.note(
            f"  {key:20s} {value:8.0f} calls/s  {us(cpu[key]):>10s} client CPU per call  "
            f"({connections:.0f} connections)"
        )
    report.note(
        "client overhead = the client process's CPU time per call over raw httpx's: the "
        "server's share and the scheduling of a busy 2-core machine are the same for both. "
        f"httpx-bounded: raw httpx.AsyncClient with AsyncClient's default pool of "
        f"{BOUNDED_CONNECTIONS} and at most {BOUNDED_CONNECTIONS} requests in flight"
    )
    overhead_rows(report, rate, cpu)
    peer_rows(report, rate)


def overhead_rows(report: Report, rate: dict[str, float], cpu: dict[str, float]) -> None:
    """CPU per call of cognito-raw's clients over raw httpx making the same POST."""
    pairs = (
        ("sync", "httpx", "sync sequential", "raw httpx"),
        ("async", "httpx", f"async, {CONCURRENCY} in flight", "raw httpx"),
        ("async", "httpx-bounded", f"async, {CONCURRENCY} in flight", "raw httpx, same bound"),
    )
    for mode, floor, label, other in pairs:
        ours, theirs = f"{mode}:cognito-raw", f"{mode}:{floor}"
        over = cpu[ours] / cpu[theirs] - 1
        wall = rate[theirs] / rate[ours] - 1
        report.add(
            Row(
                "3",
                f"{label}: client overhead over {other} (CPU per call)",
                f"{us(cpu[ours])} ({rate[ours]:.0f}/s)",
                f"{other} {us(cpu[theirs])} ({rate[theirs]:.0f}/s)",
                f"{over:+.0%} (wall {wall:+.0%})",
                "<= +10%",
                over <= 0.10,
            )
        )


def peer_rows(report: Report, rate: dict[str, float]) -> None:
    """Calls per second against the AWS SDKs and capo: reported, no target."""
    peers = (
        ("sync", "boto3", "sync sequential calls/s"),
        ("sync", "capo", "sync sequential calls/s"),
        ("async", "aiobotocore", f"async, {CONCURRENCY} in flight, calls/s"),
    )
    for mode, lib, label in peers:
        ours, theirs = rate[f"{mode}:cognito-raw"], rate.get(f"{mode}:{lib}")
        if theirs is None:
            report.add(Row("3", label, f"{ours:.0f}/s", f"{lib}: not measured", ""))
            continue
        report.add(
            Row("3", label, f"{ours:.0f}/s", f"{lib} {theirs:.0f}/s", f"{ours / theirs:.2f}x")
        )


# -- 4. memory -------------------------------------------------------------------------


def peak_rss(plan: Plan, pythons: Pythons, server: _server.Server) -> dict[str, float]:
    """Median VmHWM of each one-call program, runs interleaved."""
    names = [name for name in cold_names(pythons) if name != "import"]
    peaks: dict[str, list[int]] = {name: [] for name in names}
    for round_ in range(plan.rss_repeats):
        for name in names if round_ % 2 == 0 else reversed(names):
            done = run_program(name, PROGRAMS[name] + PEAK_RSS, pythons, server)
            lines = [line for line in done.out.splitlines() if line.startswith("VmHWM ")]
            if done.code != 0 or not lines:
                raise RuntimeError(f"memory program {name} failed:\n{done.err[-3000:]}")
            peaks[name].append(int(lines[-1].split()[1]))
    return {name: median(values) for name, values in peaks.items()}


def rss_rows(report: Report, rss: dict[str, float]) -> None:
    """Peak RSS against boto3 and capo (below both is the target), and the floor."""
    ours = rss["ours-client"]
    name = "peak RSS of a process making one call over HTTPS"
    for key, label in (("boto3-client", "boto3"), ("capo-client", "capo")):
        other = rss.get(key)
        if other is None:
            report.add(Row("4", name, mib(ours), f"{label}: not measured", "", "below", False))
            continue
        report.add(
            Row(
                "4",
                name,
                mib(ours),
                f"{label} {mib(other)}",
                f"1/{other / ours:.2f}",
                "< 1",
                ours < other,
            )
        )
    floor = rss["httpx-post"]
    report.add(
        Row("4", name, mib(ours), f"raw httpx.post {mib(floor)}", f"{mib(ours - floor)} more")
    )


def growth_runs(plan: Plan, server: _server.Server) -> list[tuple[str, str, str, dict[str, Any]]]:
    """(task, short label, long label, task arguments) of the two growth measurements."""
    sync_marks = sorted({1000, plan.growth_calls // 10, plan.growth_calls // 2, plan.growth_calls})
    calls = plan.growth_async_calls
    async_marks = sorted({1000, calls // 10, calls // 2, calls})
    return [
        # The client's own code, in process (the sync Client on httpx.MockTransport)...
        ("growth", "one Client", "one Client on httpx.MockTransport", {"checkpoints": sync_marks}),
        # ...and the AsyncClient with its httpx pool, over HTTPS loopback.
        (
            "growth_async",
            "one AsyncClient, HTTPS loopback",
            f"one AsyncClient over HTTPS loopback, {CONCURRENCY} in flight",
            {
                "checkpoints": async_marks,
                "url": server.url,
                "ca": server.ca_path,
                "concurrency": CONCURRENCY,
            },
        ),
    ]


def memory(report: Report, plan: Plan, pythons: Pythons, server: _server.Server) -> None:
    """Peak RSS of one-call processes; growth through one long-lived client."""
    print("\n== 4. memory ==", flush=True)
    rss = peak_rss(plan, pythons, server)
    report.data["peak_rss"] = rss
    rss_rows(report, rss)
    report.note(f"peak RSS (VmHWM of the process itself), median of {plan.rss_repeats}:")
    for name, value in rss.items():
        report.note(f"  {name:13s} {mib(value):>9s}  (beyond bare: {mib(value - rss['bare'])})")
    report.data["growth"] = {}
    for name, short, long, extra in growth_runs(plan, server):
        task = {"task": name, "lib": "cognito-raw-client-mock", "seconds": plan.growth_seconds}
        result = work(sys.executable, {**task, **extra}, timeout=plan.growth_seconds + 120)
        report.data["growth"][name] = result
        report.add(growth_row(report, result["samples"], extra["checkpoints"][-1], short, long))


def growth_row(
    report: Report, samples: list[dict[str, int]], wanted: int, short: str, long: str
) -> Row:
    """RSS and tracked objects at the last checkpoint against the first."""
    report.note(f"RSS through {long} (gc.collect() before each reading):")
    for s in samples:
        report.note(
            f"  after {s['calls']:>7,} calls: RSS {mib(s['rss'])}, "
            f"{s['objects']:,} tracked objects"
        )
    first, last = samples[0], samples[-1]
    grown = last["rss"] - first["rss"]
    objects = last["objects"] - first["objects"]
    return Row(
        "4",
        f"RSS after {last['calls']:,} calls vs after {first['calls']:,} ({short})",
        f"{mib(last['rss'])} vs {mib(first['rss'])}",
        f"{objects:+,} tracked objects",
        f"{grown / 1024:+.0f} KiB",
        "no growth (< 1 MiB)",
        last["calls"] >= wanted and grown < MIB and objects < 1000,
    )


# -- environment ----------------------------------------------------------------------


def cpu_model() -> str:
    """The CPU as /proc/cpuinfo names it, and how many this process may use."""
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model}, {len(os.sched_getaffinity(0))} cores"


def version(name: str) -> str:
    """An installed distribution's version, or 'not installed'."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


@dataclass(frozen=True)
class SideVenv:
    """A virtual environment of the benchmark's own for a peer that cannot share ours."""

    folder: str
    pins: tuple[str, ...]
    option: str


# aiobotocore pins an older botocore than the project's; capo brings its own
# HTTP stack (zapros), kept out of the environment whose imports are measured.
AIO_VENV = SideVenv("venv-aio", (AIOBOTOCORE_PIN,), "--aio-python")
CAPO_VENV = SideVenv("venv-capo", CAPO_PINS, "--capo-python")


def has_pins(python: Path, pins: Sequence[str]) -> bool:
    """Whether ``python`` has exactly the pinned versions installed."""
    code = (
        "import sys; from importlib.metadata import version as v; "
        "sys.exit(any(v(n) != w for n, w in (p.split('==') for p in sys.argv[1:])))"
    )
    done = subprocess.run([str(python), "-c", code, *pins], capture_output=True, check=False)
    return done.returncode == 0


def side_python(side: SideVenv, given: str | None, make: bool) -> tuple[str | None, str]:
    """The interpreter of a side environment, making it (once) if allowed."""
    if given:
        return given, f"given with {side.option}"
    venv = OUT / side.folder
    python = venv / "bin" / "python"
    where = str(venv.relative_to(HERE.parent))
    if python.exists() and has_pins(python, side.pins):
        return str(python), where
    if not make:
        return None, f"{where} missing and --no-side-venvs given"
    print(f"making {venv} with {' '.join(side.pins)} (once; about 15 s)...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    install = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    if subprocess.run([*install, *side.pins], check=False).returncode != 0:
        return None, f"pip could not install {' '.join(side.pins)}"
    return str(python), f"{where} (made by this run)"


def find_pythons(args: argparse.Namespace, sections: set[str]) -> Pythons:
    """The side interpreters the chosen sections need."""
    aio, aio_where = None, "not needed"
    capo, capo_where = None, "not needed"
    make = not args.no_side_venvs
    if "throughput" in sections:
        aio, aio_where = side_python(AIO_VENV, args.aio_python, make)
    if sections & {"cold", "throughput", "memory", "edge"}:
        capo, capo_where = side_python(CAPO_VENV, args.capo_python, make)
    return Pythons(aio=aio, aio_where=aio_where, capo=capo, capo_where=capo_where)


def versions(pythons: Pythons, server: _server.Server | None) -> list[str]:
    """The versions, CPU and command lines of the report."""
    where = spawn(
        [sys.executable, "-c", "import cognito_raw; print(cognito_raw.__file__)"], child_env()
    ).out.strip()
    git = subprocess.run(
        ["git", "-C", str(HERE.parent), "describe", "--always", "--dirty"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    lines = [
        f"command: {' '.join(shlex.quote(a) for a in ['python', *sys.argv])}",
        f"cognito_raw measured from {where} (checkout {git or 'unknown'})",
        f"machine: {cpu_model()}; {platform.platform()}; load average at start "
        f"{'/'.join(f'{x:.2f}' for x in os.getloadavg())}",
        f"python: {sys.version.split()[0]} ({platform.python_implementation()}) {sys.executable}",
        "cognito-raw {}, httpx {}, httpcore {}, anyio {}, h11 {}, sniffio {}".format(
            *(version(n) for n in ("cognito-raw", "httpx", "httpcore", "anyio", "h11", "sniffio"))
        ),
        "boto3 {}, botocore {}, urllib3 {}".format(
            *(version(n) for n in ("boto3", "botocore", "urllib3"))
        ),
    ]
    # httpx and httpcore import these at start-up when they are installed
    # (httpcore imports trio): a dev environment with them measures more than
    # a user's install does.
    extras = [n for n in OPPORTUNISTIC if version(n) != "not installed"]
    lines.append(
        f"WARNING: also installed, and imported by httpx/httpcore when present: {extras}; "
        "a clean environment measures what users get (see benchmarks/README.md)"
        if extras
        else "clean environment: none of " + ", ".join(OPPORTUNISTIC) + " installed"
    )
    if version("sniffio") == "not installed":
        lines.append(
            "sniffio not installed (anyio 4.16 no longer needs it): httpcore's async locks "
            "retry `import sniffio` on every use, a failed import each time"
        )
    lines += side_versions(pythons)
    if server is not None:
        lines.append(
            f"server: {server.kind} {server.version} at {server.url}, over TLS with a "
            f"certificate from a CA made for this run ({ssl.OPENSSL_VERSION} on the client side)"
        )
    return lines


def side_versions(pythons: Pythons) -> list[str]:
    """What the side environments hold."""
    sides = (
        ("aiobotocore", pythons.aio, pythons.aio_where, ["aiobotocore", "botocore", "aiohttp"]),
        ("capo", pythons.capo, pythons.capo_where, [CAPO_PINS[0].split("==")[0], "zapros", "h11"]),
    )
    lines = []
    for label, python, where, packages in sides:
        if python is None:
            lines.append(f"{label}: not measured ({where})")
            continue
        found = work(python, {"task": "versions", "packages": packages})
        shown = ", ".join(f"{name} {found[name]}" for name in packages)
        lines.append(f"{shown}, python {found['python']} ({where})")
    return lines


# -- main ------------------------------------------------------------------------------


def per_call_step(report: Report, plan: Plan, pythons: Pythons, server: _server.Server) -> None:
    """Section 2 needs no server and no side environment."""
    per_call(report, plan)


def outbox_step(report: Report, plan: Plan, pythons: Pythons, server: _server.Server) -> None:
    """Section 5, the feedback app's outbox (benchmarks/_outbox.py): no HTTPS server."""
    for row in _outbox.measure(plan is QUICK, report.note):
        report.add(Row(**row))


def fake_step(report: Report, plan: Plan, pythons: Pythons, server: _server.Server) -> None:
    """Section 6, the testing kit's fake server (benchmarks/_fake.py): its own loopback."""
    _fake.section(report, Row, quick=plan is QUICK, env=child_env())


def edge_step(report: Report, plan: Plan, pythons: Pythons, server: _server.Server) -> None:
    """Section 7, the edge runtimes' clients (benchmarks/_edge.py), against the HTTPS server."""
    print("\n== 7. edge runtimes ==", flush=True)
    _edge.section(
        server.url,
        server.ca_path,
        spawn=spawn,
        env=child_env(),
        capo_python=pythons.capo,
        repeats=plan.cold_repeats,
        rss_repeats=plan.rss_repeats,
        add=lambda line: report.add(Row("7", *line)),
        note=report.note,
    )


# Every section takes the same arguments: the report to add rows and details
# to, the plan, the side interpreters, and the HTTPS server (``url``, and
# ``ca_path``, the CA file every client must be told to trust).
Step = Callable[[Report, Plan, Pythons, _server.Server], None]
STEPS: tuple[tuple[str, Step], ...] = (
    ("cold", cold_start),
    ("cpu", per_call_step),
    ("throughput", throughput),
    ("memory", memory),
    ("outbox", outbox_step),
    ("fake", fake_step),
    ("edge", edge_step),
)
SECTIONS = tuple(name for name, _ in STEPS)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a fast smoke run")
    parser.add_argument(
        "--only", help=f"comma-separated sections to run, of {','.join(SECTIONS)} (default: all)"
    )
    parser.add_argument("--aio-python", help="an interpreter that has aiobotocore installed")
    parser.add_argument(
        "--capo-python", help="an interpreter that has capo-cognito-identity-provider installed"
    )
    parser.add_argument(
        "--no-side-venvs",
        action="store_true",
        help="never make benchmarks/out/venv-aio or venv-capo (their rows are then not measured)",
    )
    parser.add_argument(
        "--install-nginx", action="store_true", help="apt-get install nginx if it is missing"
    )
    parser.add_argument("--markdown", type=Path, help="also write the report as Markdown here")
    parser.add_argument(
        "--package",
        type=Path,
        help="measure the cognito_raw package in this directory (its parent goes on "
        "PYTHONPATH) instead of the installed one, to try a change before it lands",
    )
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL
    if args.package:
        SETTINGS["package"] = str(args.package.resolve().parent)
    sections = set(args.only.split(",")) if args.only else set(SECTIONS)
    OUT.mkdir(exist_ok=True)
    report = Report()
    started = time.perf_counter()
    pythons = find_pythons(args, sections)
    server, how = _server.start(install=args.install_nginx, lifetime=3600, tls_dir=OUT / "tls")
    try:
        header = versions(pythons, server)
        header.append(f"server choice: {how}")
        header.append(f"plan: {'--quick' if args.quick else 'full'} {plan}")
        print("\n".join(header), flush=True)
        for name, step in STEPS:
            if name in sections:
                step(report, plan, pythons, server)
    finally:
        server.stop()
    elapsed = time.perf_counter() - started
    load = "/".join(f"{x:.2f}" for x in os.getloadavg())
    header.append(f"took {elapsed:.0f} s; load average at the end {load}")
    print(f"\n== results (ratios from this one run; took {elapsed:.0f} s) ==")
    print(text_table(report.rows))
    missed = [r for r in report.rows if r.passed is False]
    print(f"\n{len(missed)} target(s) missed" if missed else "\nevery target met")
    report.data["header"] = header
    report.data["rows"] = [r.__dict__ for r in report.rows]
    (OUT / "last-run.json").write_text(json.dumps(report.data, indent=2, default=str) + "\n")
    if args.markdown:
        args.markdown.write_text(
            "## Results\n\n"
            + markdown_table(report.rows)
            + "\n\n## Run\n\n"
            + "\n".join(f"- {line}" for line in header)
            + "\n\n## Details\n\n```\n"
            + "\n".join(report.details)
            + "\n```\n"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
