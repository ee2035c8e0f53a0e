"""cognito-raw side by side with boto3, aiobotocore and raw httpx, in one run.

    python benchmarks/run.py            # the full run (a few minutes)
    python benchmarks/run.py --quick    # a smoke run (under a minute)

Prints a table of ratios measured in this one run on this machine, each from
the median of repeated measurements, with PASS/MISS against the project's
targets, then the details, versions, CPU and the command. Absolute times vary
from run to run on a shared machine; the ratios are the result.

What is measured (every measurement in a fresh process, so no library's
imports or garbage weigh on another's numbers):

1. Cold start: a new process that makes one call and handles the reply,
   against the same loopback server (cognito-raw ``Client``, boto3 with
   ``signature_version=UNSIGNED``, raw ``httpx.post``); the sans-I/O path
   alone vs boto3's import and client creation; ``import cognito_raw`` vs a
   bare interpreter, with ``-X importtime`` to show where the time goes.
2. Per-call CPU, no network: validate + build + parse vs boto3's call with
   the network stubbed by a ``before-send`` handler.
3. Throughput over loopback against nginx (started here on 127.0.0.1 with a
   canned Cognito reply; a small Python server only if nginx cannot be had):
   sequential sync calls, and 64 in flight on asyncio.
4. Memory: peak RSS of a process making one call; RSS and tracked objects
   after 100,000 calls through one client vs after 1,000 (the sync Client on
   httpx.MockTransport, and the AsyncClient's own transport over loopback).
5. The feedback app's outbox: clicks accepted per second with durable
   commits (SQLite, PostgreSQL) and the delivery rate at a configured limit
   (``_outbox.py``).
6. The fake Cognito's loopback server: the median round trip of one request
   on a kept-alive connection (``_fake.py``).

aiobotocore cannot share an environment with the project's pinned botocore
(every aiobotocore release pins an older botocore), so it runs under its own
interpreter: ``--aio-python``, or a virtual environment this script makes in
benchmarks/out/venv-aio on first use.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import signal
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

import _fake
import _outbox
import _server
from _coldstart import PEAK_RSS, PROGRAMS
from _worker import REQUEST_ID

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
WORKER = HERE / "_worker.py"
AIOBOTOCORE_PIN = "aiobotocore==3.10.0"
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
    growth_seconds: float


FULL = Plan(
    cold_repeats=21,
    rss_repeats=7,
    import_repeats=41,
    importtime_repeats=9,
    percall_min_time=0.2,
    percall_repeats=7,
    rounds=5,
    sync_count=5000,
    async_count=4000,
    seconds=10.0,
    warmup=200,
    growth_calls=100_000,
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


def cold_start(report: Report, plan: Plan, url: str) -> None:
    """New processes, interleaved round by round so drift hits every program alike."""
    print("\n== 1. cold start (new process per run) ==", flush=True)
    env = child_env()
    python = sys.executable
    names = ["bare", "import", "ours-sansio", "boto3-create", "httpx-post", "ours-client"]
    names.append("boto3-client")
    runs: dict[str, list[Exit]] = {name: [] for name in names}
    for name in names:  # warm the bytecode caches; not counted
        first = spawn([python, "-c", PROGRAMS[name], url], env)
        if first.code != 0 or (name not in ("bare", "import") and REQUEST_ID not in first.out):
            raise RuntimeError(f"cold-start program {name} failed:\n{first.err[-3000:]}")
    for round_ in range(plan.cold_repeats):
        for name in names if round_ % 2 == 0 else reversed(names):
            runs[name].append(spawn([python, "-c", PROGRAMS[name], url], env))
    # The import-only pair needs more samples: its difference is a few ms.
    for round_ in range(plan.import_repeats - plan.cold_repeats):
        for name in ("bare", "import") if round_ % 2 == 0 else ("import", "bare"):
            runs[name].append(spawn([python, "-c", PROGRAMS[name], url], env))
    for name, exits in runs.items():
        bad = [e for e in exits if e.code != 0]
        if bad:
            raise RuntimeError(f"cold-start program {name} failed:\n{bad[0].err[-3000:]}")
    wall = {name: median([e.wall for e in exits]) for name, exits in runs.items()}
    cpu = {name: median([e.cpu for e in exits]) for name, exits in runs.items()}
    report.data["cold_start"] = {"wall": wall, "cpu": cpu}

    ratio = wall["boto3-client"] / wall["ours-client"]
    report.add(
        Row(
            "1",
            "cold start to first reply (process wall)",
            ms(wall["ours-client"]),
            f"boto3 {ms(wall['boto3-client'])}",
            f"{ratio:.1f}x faster",
            ">= 4x",
            ratio >= 4,
        )
    )
    ratio = wall["httpx-post"] / wall["ours-client"]
    report.add(
        Row(
            "1",
            "cold start to first reply (process wall)",
            ms(wall["ours-client"]),
            f"raw httpx {ms(wall['httpx-post'])}",
            f"{ratio:.2f}x",
        )
    )
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
    # Both sides start the same interpreter; without it the gap is wider.
    ours_net, boto_net = wall["ours-client"] - bare, wall["boto3-client"] - bare
    report.note(
        "process wall time, median of "
        f"{plan.cold_repeats} (import pair: {plan.import_repeats}); CPU = user+sys from wait4"
    )
    for name in names:
        report.note(
            f"  {name:13s} wall {ms(wall[name]):>9s}  cpu {ms(cpu[name]):>9s}  "
            f"beyond bare {ms(wall[name] - bare):>9s}"
        )
    report.note(
        f"  beyond the bare interpreter: cognito-raw {ms(ours_net)}, boto3 {ms(boto_net)} "
        f"({boto_net / ours_net:.1f}x); by CPU time boto3/cognito-raw is "
        f"{cpu['boto3-client'] / cpu['ours-client']:.1f}x for the call, "
        f"{cpu['boto3-create'] / cpu['ours-sansio']:.1f}x for the sans-I/O path"
    )
    import_time(report, plan)


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


def import_time(report: Report, plan: Plan) -> None:
    """Where the import goes: ``-X importtime``, medians per module over repeated runs."""
    env = child_env()
    startup = {m for _, m, _, _ in parse_importtime(importtime_run(env, "pass"))}
    for label, code in (
        ("import cognito_raw", "import cognito_raw"),
        ("import cognito_raw; cognito_raw.Client (httpx)", "import cognito_raw as c; c.Client"),
    ):
        samples: dict[str, list[tuple[int, int, int]]] = {}
        for _ in range(plan.importtime_repeats):
            for depth, name, self_us, cumulative in parse_importtime(importtime_run(env, code)):
                if name not in startup:
                    samples.setdefault(name, []).append((depth, self_us, cumulative))
        stats = {
            name: (
                values[0][0],
                median([v[1] for v in values]),
                median([v[2] for v in values]),
            )
            for name, values in samples.items()
        }
        total = sum(s[1] for s in stats.values())
        report.data.setdefault("importtime", {})[label] = stats
        report.note(
            f"-X importtime, `{label}`: {total / 1000:.1f} ms in {len(stats)} modules "
            f"(median of {plan.importtime_repeats}); the largest by self time:"
        )
        top = sorted(stats.items(), key=lambda item: -item[1][1])[:10]
        for name, (_, self_us, cumulative) in top:
            report.note(f"  {self_us / 1000:6.2f} ms self {cumulative / 1000:7.2f} ms cum  {name}")


def importtime_run(env: dict[str, str], code: str) -> str:
    """The stderr of ``python -X importtime -c code``."""
    done = spawn([sys.executable, "-X", "importtime", "-c", code], env)
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
            f"  {lib:24s} {us(times[lib]):>10s} per call (median of {plan.percall_repeats} "
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
            "<= 1/30",
            ratio >= 30,
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


def throughput(report: Report, plan: Plan, server: _server.Server, aio_python: str | None) -> None:
    """Calls per second over loopback, rounds interleaved across libraries."""
    print(f"\n== 3. throughput over loopback ({server.kind}) ==", flush=True)
    python = sys.executable
    sync_libs = [("cognito-raw", python), ("httpx", python), ("boto3", python)]
    async_libs = [("cognito-raw", python), ("httpx", python)]
    if aio_python is not None:
        async_libs.append(("aiobotocore", aio_python))
    rates: dict[str, list[float]] = {}
    results: dict[str, list[dict[str, Any]]] = {}
    for _ in range(plan.rounds):
        for mode, libs, count in (
            ("sync", sync_libs, plan.sync_count),
            ("async", async_libs, plan.async_count),
        ):
            for lib, interpreter in libs:
                before = server.stats()
                task = {
                    "task": mode,
                    "lib": lib,
                    "url": server.url,
                    "count": count,
                    "seconds": plan.seconds,
                    "warmup": plan.warmup,
                    "concurrency": CONCURRENCY,
                }
                result = work(interpreter, task)
                after = server.stats()
                if before is not None and after is not None:
                    result["connections"] = after["accepts"] - before["accepts"]
                key = f"{mode}:{lib}"
                rates.setdefault(key, []).append(result["rate"])
                results.setdefault(key, []).append(result)
                print(
                    f"  {key:18s} {result['rate']:8.0f} calls/s ({result['calls']} calls "
                    f"in {result['elapsed']:.2f} s, {result.get('connections', '?')} connections)",
                    flush=True,
                )
    rate = {key: median(values) for key, values in rates.items()}
    report.data["throughput"] = {"rate": rate, "runs": results, "server": server.kind}
    report.note(
        f"calls/s, median of {plan.rounds} round(s), each bounded by {plan.sync_count} sync / "
        f"{plan.async_count} async calls or {plan.seconds:.0f} s; "
        f"{CONCURRENCY} in flight for async"
    )
    cpu = {key: median([r["cpu"] / r["calls"] for r in runs]) for key, runs in results.items()}
    report.data["throughput"]["cpu_per_call"] = cpu
    for key, value in rate.items():
        report.note(f"  {key:18s} {value:8.0f} calls/s  {us(cpu[key]):>10s} client CPU per call")
    report.note(
        "client overhead = the client process's CPU time per call over raw httpx's: the "
        "server's share and the scheduling of a busy 2-core machine are the same for both"
    )
    for mode, label in (("sync", "sync sequential"), ("async", f"async, {CONCURRENCY} in flight")):
        over = cpu[f"{mode}:cognito-raw"] / cpu[f"{mode}:httpx"] - 1
        wall = rate[f"{mode}:httpx"] / rate[f"{mode}:cognito-raw"] - 1
        report.add(
            Row(
                "3",
                f"{label}: client overhead over raw httpx (CPU per call)",
                f"{us(cpu[f'{mode}:cognito-raw'])} ({rate[f'{mode}:cognito-raw']:.0f}/s)",
                f"raw httpx {us(cpu[f'{mode}:httpx'])} ({rate[f'{mode}:httpx']:.0f}/s)",
                f"{over:+.0%} (wall {wall:+.0%})",
                "<= +10%",
                over <= 0.10,
            )
        )
    ratio = rate["sync:cognito-raw"] / rate["sync:boto3"]
    report.add(
        Row(
            "3",
            "sync sequential calls/s",
            f"{rate['sync:cognito-raw']:.0f}/s",
            f"boto3 {rate['sync:boto3']:.0f}/s",
            f"{ratio:.2f}x",
        )
    )
    if "async:aiobotocore" in rate:
        ratio = rate["async:cognito-raw"] / rate["async:aiobotocore"]
        report.add(
            Row(
                "3",
                f"async, {CONCURRENCY} in flight, calls/s",
                f"{rate['async:cognito-raw']:.0f}/s",
                f"aiobotocore {rate['async:aiobotocore']:.0f}/s",
                f"{ratio:.2f}x",
                ">= 2x",
                ratio >= 2,
            )
        )
    else:
        report.add(Row("3", "async vs aiobotocore", "", "aiobotocore unavailable", "", ">= 2x"))


# -- 4. memory -------------------------------------------------------------------------


def peak_rss(plan: Plan, url: str) -> dict[str, float]:
    """Median VmHWM of each one-call program, runs interleaved."""
    env = child_env()
    names = ["bare", "ours-sansio", "ours-client", "httpx-post", "boto3-create", "boto3-client"]
    peaks: dict[str, list[int]] = {name: [] for name in names}
    for round_ in range(plan.rss_repeats):
        for name in names if round_ % 2 == 0 else reversed(names):
            done = spawn([sys.executable, "-c", PROGRAMS[name] + PEAK_RSS, url], env)
            lines = [line for line in done.out.splitlines() if line.startswith("VmHWM ")]
            if done.code != 0 or not lines:
                raise RuntimeError(f"memory program {name} failed:\n{done.err[-3000:]}")
            peaks[name].append(int(lines[-1].split()[1]))
    return {name: median(values) for name, values in peaks.items()}


def memory(report: Report, plan: Plan, url: str) -> None:
    """Peak RSS of one-call processes; growth through one long-lived client."""
    print("\n== 4. memory ==", flush=True)
    rss = peak_rss(plan, url)
    report.data["peak_rss"] = rss
    ratio = rss["boto3-client"] / rss["ours-client"]
    report.add(
        Row(
            "4",
            "peak RSS of a process making one call",
            mib(rss["ours-client"]),
            f"boto3 {mib(rss['boto3-client'])}",
            f"1/{ratio:.1f}",
            "<= 1/2",
            ratio >= 2,
        )
    )
    report.note(f"peak RSS (VmHWM of the process itself), median of {plan.rss_repeats}:")
    for name, value in rss.items():
        report.note(f"  {name:13s} {mib(value):>9s}  (beyond bare: {mib(value - rss['bare'])})")
    marks = sorted({1000, plan.growth_calls // 10, plan.growth_calls // 2, plan.growth_calls})
    runs = [
        # The client's own code, in process (the sync Client on httpx.MockTransport)...
        ("growth", "one Client", "one Client on httpx.MockTransport", {}),
        # ...and the AsyncClient's own transport, over loopback with 64 in flight.
        (
            "growth_async",
            "one AsyncClient, loopback",
            f"one AsyncClient and its own transport over loopback, {CONCURRENCY} in flight",
            {"url": url, "concurrency": CONCURRENCY},
        ),
    ]
    report.data["growth"] = {}
    for name, short, long, extra in runs:
        task = {
            "task": name,
            "lib": "cognito-raw-client-mock",
            "checkpoints": marks,
            "seconds": plan.growth_seconds,
            **extra,
        }
        result = work(sys.executable, task, timeout=plan.growth_seconds + 120)
        samples = result["samples"]
        report.data["growth"][name] = result
        report.note(f"RSS through {long} (gc.collect() before each reading):")
        for s in samples:
            report.note(
                f"  after {s['calls']:>7,} calls: RSS {mib(s['rss'])}, "
                f"{s['objects']:,} tracked objects"
            )
        first, last = samples[0], samples[-1]
        grown = last["rss"] - first["rss"]
        objects = last["objects"] - first["objects"]
        reached = last["calls"] >= plan.growth_calls
        report.add(
            Row(
                "4",
                f"RSS after {last['calls']:,} calls vs after {first['calls']:,} ({short})",
                f"{mib(last['rss'])} vs {mib(first['rss'])}",
                f"{objects:+,} tracked objects",
                f"{grown / 1024:+.0f} KiB",
                "no growth (< 1 MiB)",
                reached and grown < MIB and objects < 1000,
            )
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


def find_aio_python(args: argparse.Namespace) -> tuple[str | None, str]:
    """An interpreter that can import aiobotocore, making one if allowed."""
    if args.aio_python:
        return args.aio_python, "given with --aio-python"
    probe = [sys.executable, "-c", "import aiobotocore"]
    if subprocess.run(probe, capture_output=True, check=False).returncode == 0:
        return sys.executable, "this interpreter"
    venv = OUT / "venv-aio"
    python = venv / "bin" / "python"
    probe[0] = str(python)
    if python.exists() and subprocess.run(probe, capture_output=True, check=False).returncode == 0:
        return str(python), f"{venv.relative_to(HERE.parent)}"
    if args.no_aio_venv:
        return None, "aiobotocore not importable and --no-aio-venv given"
    print(f"making {venv} with {AIOBOTOCORE_PIN} (once; about 15 s)...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    install = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    if subprocess.run([*install, AIOBOTOCORE_PIN], check=False).returncode != 0:
        return None, f"pip could not install {AIOBOTOCORE_PIN}"
    return str(python), f"{venv.relative_to(HERE.parent)} (made by this run)"


def versions(aio_python: str | None, aio_where: str, server: _server.Server | None) -> list[str]:
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
    if aio_python is not None:
        packages = ["aiobotocore", "botocore", "aiohttp"]
        found = work(aio_python, {"task": "versions", "packages": packages})
        lines.append(
            f"aiobotocore {found['aiobotocore']} with botocore {found['botocore']}, aiohttp "
            f"{found['aiohttp']}, python {found['python']} ({aio_where})"
        )
    else:
        lines.append(f"aiobotocore: not measured ({aio_where})")
    if server is not None:
        lines.append(f"server: {server.kind} {server.version} at {server.url}")
    return lines


# -- main ------------------------------------------------------------------------------


SECTIONS = ("cold", "cpu", "throughput", "memory", "outbox", "fake")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a fast smoke run")
    parser.add_argument(
        "--only", help=f"comma-separated sections to run, of {','.join(SECTIONS)} (default: all)"
    )
    parser.add_argument("--aio-python", help="an interpreter that has aiobotocore installed")
    parser.add_argument(
        "--no-aio-venv", action="store_true", help="never make benchmarks/out/venv-aio"
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
    aio_python, aio_where = (None, "not needed")
    if "throughput" in sections:
        aio_python, aio_where = find_aio_python(args)
    server, how = _server.start(install=args.install_nginx, lifetime=3600)
    try:
        header = versions(aio_python, aio_where, server)
        header.append(f"server choice: {how}")
        header.append(f"plan: {'--quick' if args.quick else 'full'} {plan}")
        print("\n".join(header), flush=True)
        steps: list[tuple[str, Callable[[], None]]] = [
            ("cold", lambda: cold_start(report, plan, server.url)),
            ("cpu", lambda: per_call(report, plan)),
            ("throughput", lambda: throughput(report, plan, server, aio_python)),
            ("memory", lambda: memory(report, plan, server.url)),
            # 5. The feedback app's outbox (benchmarks/_outbox.py).
            (
                "outbox",
                lambda: [report.add(Row(**r)) for r in _outbox.measure(args.quick, report.note)],
            ),
            # 6. The testing kit's fake server (benchmarks/_fake.py).
            ("fake", lambda: _fake.section(report, Row, quick=args.quick, env=child_env())),
        ]
        for name, step in steps:
            if name in sections:
                step()
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
