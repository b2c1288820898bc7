"""A long run of mixed ingest and queries: does the collector's memory stay flat, and how fast
does it answer while it ingests?

`crenel-collector serve` runs in its own process (fresh data directory, per-source rate limits
and daily quotas off, its default analysis workers). For N minutes, paced trio tasks on
loopback send:

- uploads: 2 uploaders, each a gzip NDJSON batch of 10 realistic (~5.6 KB) measurements every
  0.5 s (40 measurements/s in total, 72,000 in 30 minutes);
- health: `GET /health` every 0.25 s;
- search: `GET /measurements?country=..&limit=50` every second, and the detail of a
  measurement acknowledged a moment ago;
- reports: `GET /reports` and `GET /reports/{cc}` every 2 s;
- aggregation: `GET /aggregation?axis_x=country&axis_y=day` every 2 s.

The collector's RSS (its process plus its analysis workers) is sampled every few seconds with
psutil. The slope is a least-squares fit of RSS against time; the headline's is over the second
half of the run (caches have filled by then, so a leak shows as a steady slope and bounded
caches as a flat one). It also prints the slope after the first minute (after the first third
of runs shorter than 3 minutes) and, for runs of 25 minutes or more, over the last 20 minutes.
Latency is per request kind, p50 and p99, measured by the client (so it includes the client's
own scheduling on a shared machine). It also prints why requests failed (status or exception),
the RSS curve, the server's and the workers' shares at the end, and the machine's load average
while it ran: figures are only as quiet as the machine.

With --internals the server runs through `bench/soak_server.py`, which samples DuckDB's memory
by tag, the WAL's size, the report cache's bytes and glibc's heap inside it every 10 s; the
figures are printed after the run (what grows, not only how much).

Usage: python bench/soak.py [--quick] [--minutes 30] [--sample-s 5] [--internals]
       [--db-memory-mb MIB]
Prints its headline on the last line: `soak: N min, p99 health X ms, RSS slope Y MB/min` (the
slope over the second half of the run).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import msgspec
import psutil
import trio
from collector_ingest import COUNTRIES, realistic

from collector.config import Limits

ROOT = Path(__file__).resolve().parents[1]
_SERVING = re.compile(r"serving (http://127\.0\.0\.1:\d+)/api/v1")
BATCH = 10


@dataclass
class Tally:
    """What the load generator saw: latencies and failures per request kind."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    failures: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    """Per kind: why requests failed (`HTTP 503`, an exception's name) and how often."""
    acknowledged: int = 0
    recent_uids: list[str] = field(default_factory=list)


def start_collector(
    data_dir: Path, log: Path, internals: Path | None = None, extra: Sequence[str] = ()
) -> tuple[subprocess.Popen[str], str]:
    """Start `crenel-collector serve` (through `soak_server.py` when `internals` names the file
    its memory internals go to); return the process and its base URL."""
    sampled = (str(ROOT / "bench" / "soak_server.py"),)
    program = ("-m", "collector.cli") if internals is None else sampled
    env = dict(os.environ)
    if internals is not None:
        env["CRENEL_SOAK_INTERNALS"] = str(internals)
    with log.open("ab") as stderr:
        process = subprocess.Popen(
            [
                *(sys.executable, *program, "serve"),
                *("--data-dir", str(data_dir), "--listen", "127.0.0.1:0", "--rate-limit", "0"),
                *("--quota-measurements-per-day", "0", "--quota-bytes-per-day", "0"),
                *extra,
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
    assert process.stdout is not None
    line = process.stdout.readline()
    match = _SERVING.search(line)
    if match is None:
        stop(process)
        raise SystemExit(f"the collector did not start: {line!r} (see {log})")
    return process, match.group(1)


def stop(process: subprocess.Popen[str]) -> None:
    """Stop the collector: SIGTERM, then SIGKILL if it has not exited within 30 s."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def rss_mb(pid: int) -> tuple[float, float]:
    """Return the resident memory of a process and of its children together, in MB."""
    children = 0
    try:
        parent = psutil.Process(pid)
        own = parent.memory_info().rss
        for child in parent.children(recursive=True):
            try:
                children += child.memory_info().rss
            except psutil.NoSuchProcess:
                continue
    except psutil.NoSuchProcess:
        return 0.0, 0.0
    return own / 1e6, children / 1e6


def slope_mb_per_min(samples: list[tuple[float, float]]) -> float:
    """Return the least-squares slope of (minutes, MB) samples, in MB per minute."""
    if len(samples) < 2:
        return 0.0
    xs = [x for x, _ in samples]
    ys = [y for _, y in samples]
    return statistics.linear_regression(xs, ys).slope


def percentile(values: list[float], fraction: float) -> float:
    """Return the value at `fraction` of the sorted values (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


Send = Callable[[], Awaitable[str | None]]
"""One request: returns None when it succeeded, else why it failed."""


async def paced(deadline: float, period: float, kind: str, tally: Tally, send: Send) -> None:
    """Call `send` every `period` seconds until the deadline, recording latency and failures."""
    while trio.current_time() < deadline:
        started = trio.current_time()
        t0 = time.perf_counter()
        try:
            failure = await send()
        except httpx.HTTPError as exc:
            failure = type(exc).__name__
        if failure is None:
            tally.latencies[kind].append(time.perf_counter() - t0)
        else:
            tally.failures[kind][failure] += 1
        await trio.sleep_until(min(deadline, started + period))


Sample = tuple[float, float, float, float]
"""(minutes into the run, RSS of the collector and its analysis workers in MB, the workers'
share, the machine's 1-minute load average)."""


async def load(url: str, pid: int, minutes: float, sample_s: float) -> tuple[Tally, list[Sample]]:
    """Run the mixed load for `minutes`; return the tally and the samples."""
    tally = Tally()
    samples: list[Sample] = []
    counter = 0
    began = trio.current_time()
    deadline = began + minutes * 60
    timeout = httpx.Timeout(60.0)

    async with httpx.AsyncClient(base_url=f"{url}/api/v1", trust_env=False, timeout=timeout) as c:

        async def upload() -> str | None:
            nonlocal counter
            now = datetime.now(UTC) - timedelta(minutes=1)
            lines = []
            for _ in range(BATCH):
                lines.append(msgspec.json.encode(realistic(counter, now)))
                counter += 1
            body = gzip.compress(b"\n".join(lines) + b"\n", 6)
            headers = {"content-type": "application/x-ndjson", "content-encoding": "gzip"}
            answer = await c.post("/measurements", content=body, headers=headers)
            if answer.status_code != 200:
                return f"HTTP {answer.status_code}"
            uids = answer.json()["uids"]
            tally.acknowledged += len(uids)
            tally.recent_uids = [*tally.recent_uids[-50:], *uids]
            return None

        async def get(path: str, **params: str | int) -> str | None:
            answer = await c.get(path, params=params)
            return None if answer.status_code == 200 else f"HTTP {answer.status_code}"

        async def search() -> str | None:
            cc = COUNTRIES[int(trio.current_time()) % len(COUNTRIES)]
            return await get("/measurements", country=cc, limit=50)

        async def detail() -> str | None:
            if not tally.recent_uids:
                return await get("/health")
            return await get(f"/measurements/{tally.recent_uids[-1]}")

        async def reports() -> str | None:
            cc = COUNTRIES[int(trio.current_time()) % len(COUNTRIES)]
            return await get("/reports") or await get(f"/reports/{cc}")

        async def aggregation() -> str | None:
            return await get("/aggregation", axis_x="country", axis_y="day")

        async def sampler() -> None:
            def sample() -> Sample:
                own, workers = rss_mb(pid)
                minute = (trio.current_time() - began) / 60
                return minute, own + workers, workers, os.getloadavg()[0]

            while trio.current_time() < deadline:
                samples.append(sample())
                await trio.sleep(sample_s)
            samples.append(sample())

        async with trio.open_nursery() as nursery:
            nursery.start_soon(sampler)
            for _ in range(2):
                nursery.start_soon(paced, deadline, 0.5, "upload", tally, upload)
            nursery.start_soon(paced, deadline, 0.25, "health", tally, lambda: get("/health"))
            nursery.start_soon(paced, deadline, 1.0, "search", tally, search)
            nursery.start_soon(paced, deadline, 1.0, "detail", tally, detail)
            nursery.start_soon(paced, deadline, 2.0, "reports", tally, reports)
            nursery.start_soon(paced, deadline, 2.0, "aggregation", tally, aggregation)
    return tally, samples


def pending_analysis(url: str) -> int:
    """Return how many measurements the collector has not analysed yet."""
    with httpx.Client(trust_env=False, timeout=30.0) as client:
        return int(client.get(f"{url}/api/v1/health").json()["pending_analysis"])


def read_internals(path: Path | None) -> list[dict[str, Any]] | None:
    """Return the records `soak_server.py` wrote (None: not asked for)."""
    if path is None:
        return None
    try:
        records = [json.loads(line) for line in path.read_text().splitlines()]
    except FileNotFoundError:
        return []
    return [r for r in records if "minute" in r]


def print_internals(records: list[dict[str, Any]]) -> None:
    """Print the server's memory internals, about ten rows of them."""
    if not records:
        print("internals: no samples (see the collector's stderr)", flush=True)
        return
    print(
        "internals (minute: server RSS (anonymous); C heap held / in use; Arrow pool; WAL; "
        "DuckDB by tag; report cache; Python objects; threads; in MB)",
        flush=True,
    )
    shown = records[:: max(1, len(records) // 10)]
    for r in shown if shown[-1] is records[-1] else [*shown, records[-1]]:
        duck = r.get("duckdb_mb", {})
        tags = ", ".join(f"{tag} {mb:.0f}" for tag, mb in sorted(duck.items()) if mb >= 1)
        traced = f"; traced Python heap {r['traced_mb']:.0f}" if "traced_mb" in r else ""
        print(
            f"  {r['minute']:.1f}: {r['rss_mb']:.0f} ({r.get('rss_anon_mb', 0):.0f}); "
            f"{r.get('heap_mb', 0):.0f} / {r.get('heap_in_use_mb', 0):.0f}; "
            f"Arrow {r.get('arrow_mb', 0):.0f}; WAL {r.get('wal_mb', 0):.0f}; "
            f"DuckDB {sum(duck.values()):.0f} ({tags}); "
            f"report cache {r.get('report_cache_mb', 0):.1f}; "
            f"{r.get('py_blocks', 0) / 1e6:.2f}M objects; {r.get('threads', 0)} threads{traced}",
            flush=True,
        )
    growth = records[-1].get("traced_growth")
    if growth:
        print("Python heap, largest growth since the first sample:", flush=True)
        for line in growth:
            print(f"  {line}", flush=True)


def flatness(
    series: list[tuple[float, float]], minutes: float, warmup: float, max_slope: float
) -> tuple[bool, str]:
    """Return whether a memory series (minutes, MB) is flat, and why: after `warmup` minutes,
    its least-squares slope over the last 20 minutes is at most `max_slope` MB/min, and its
    highest value in the last third of the steady part exceeds that of the first third by no
    more than that slope allows between them."""
    steady = [(t, mb) for t, mb in series if t >= warmup]
    if minutes - warmup < 15 or len(steady) < 10:
        return False, f"needs 15 minutes after the {warmup:g}-minute warm-up"
    slope = slope_mb_per_min([(t, mb) for t, mb in steady if t >= minutes - 20])
    third = (minutes - warmup) / 3
    first_peak = max(mb for t, mb in steady if t < warmup + third)
    last_peak = max(mb for t, mb in steady if t >= minutes - third)
    allowance = max_slope * 2 * third
    low, high = min(mb for _, mb in steady), max(mb for _, mb in steady)
    flat = slope <= max_slope and last_peak <= first_peak + allowance
    return flat, (
        f"slope over the last 20 min {slope:.2f} MB/min (bound {max_slope:g}); peak "
        f"{first_peak:.0f} MB in minutes {warmup:g}-{warmup + third:.0f}, {last_peak:.0f} MB in "
        f"{minutes - third:.0f}-{minutes:g} (bound +{allowance:.0f}); {low:.0f}-{high:.0f} MB "
        f"after the warm-up"
    )


def outside_duckdb(
    samples: list[Sample], records: list[dict[str, Any]]
) -> list[tuple[float, float]]:
    """Return (minutes, MB) of the memory DuckDB's limit does not bound: the server's RSS less
    DuckDB's tagged memory, plus the analysis workers' RSS at the nearest client sample."""
    series = []
    for r in records:
        nearest = min(samples, key=lambda s: abs(s[0] - r["minute"]))
        duck = sum(r.get("duckdb_mb", {}).values())
        series.append((r["minute"], r["rss_mb"] - duck + nearest[2]))
    return series


def _verdict(flat: bool, why: str) -> str:
    if why.startswith("needs"):
        return "not judged"
    return "flat" if flat else "NOT shown flat"


def print_verdict(
    samples: list[Sample],
    records: list[dict[str, Any]] | None,
    minutes: float,
    args: argparse.Namespace,
) -> bool:
    """Print whether memory is flat (all of it; with internals, also what DuckDB's limit does
    not bound, and DuckDB's peak against that limit); return the verdict on all of it."""
    flat, why = flatness(
        [(t, mb) for t, mb, _, _ in samples], minutes, args.warmup, args.flat_slope
    )
    print(f"memory {_verdict(flat, why)}: {why}", flush=True)
    if records:
        rest, why = flatness(
            outside_duckdb(samples, records), minutes, args.warmup, args.flat_slope
        )
        print(
            f"memory outside DuckDB's limit (RSS less DuckDB's tagged memory) "
            f"{_verdict(rest, why)}: {why}",
            flush=True,
        )
        duck = [(r["minute"], sum(r.get("duckdb_mb", {}).values())) for r in records]
        limit = args.db_memory_mb or Limits().db_memory_mb
        late = [mb for t, mb in duck if t >= args.warmup]
        after = f"; after the warm-up {min(late):.0f}-{max(late):.0f} MB" if late else ""
        print(
            f"DuckDB's tagged memory: peak {max(mb for _, mb in duck):.0f} MB of its "
            f"{limit} MiB limit ({limit * 1.048576:.0f} MB){after}",
            flush=True,
        )
    return flat


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="0.5 minutes (< 1 min in all)")
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--sample-s", type=float, default=5.0, help="seconds between RSS samples")
    parser.add_argument(
        "--internals",
        action="store_true",
        help="also sample the server's DuckDB memory by tag, WAL, report cache and C heap",
    )
    parser.add_argument(
        "--tracemalloc",
        action="store_true",
        help="with --internals: also trace the server's Python heap (slower)",
    )
    parser.add_argument(
        "--internals-out", type=Path, help="with --internals: also keep its records in this file"
    )
    parser.add_argument(
        "--db-memory-mb", type=int, help="the collector's --db-memory-mb (default: its own)"
    )
    parser.add_argument(
        "--warmup", type=float, default=10.0, help="minutes before memory is judged (default 10)"
    )
    parser.add_argument(
        "--flat-slope",
        type=float,
        default=1.0,
        help="the largest RSS slope over the last 20 minutes called flat, MB/min (default 1)",
    )
    args = parser.parse_args()
    if args.tracemalloc:
        os.environ["CRENEL_SOAK_TRACEMALLOC"] = "1"
    minutes = 0.5 if args.quick else args.minutes
    sample_s = min(args.sample_s, 2.0) if args.quick else args.sample_s
    print(f"machine: {os.cpu_count()} cores, python {sys.version.split()[0]}", flush=True)
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        internals = tmp / "internals.jsonl" if args.internals else None
        extra = () if args.db_memory_mb is None else ("--db-memory-mb", str(args.db_memory_mb))
        process, url = start_collector(
            tmp / "collector", tmp / "collector-stderr.log", internals, extra
        )
        try:
            print(f"soak: {minutes:g} min of mixed load against {url}", flush=True)
            tally, samples = trio.run(load, url, process.pid, minutes, sample_s)
            pending = pending_analysis(url)
        finally:
            stop(process)
        records = read_internals(internals)
        if internals is not None and args.internals_out is not None and internals.exists():
            args.internals_out.write_bytes(internals.read_bytes())
    for kind in sorted(tally.latencies.keys() | tally.failures.keys()):
        values = tally.latencies.get(kind, [])
        if values:
            p50 = percentile(values, 0.5) * 1000
            p99 = percentile(values, 0.99) * 1000
            figures = f"p50 {p50:.1f} ms, p99 {p99:.1f} ms"
        else:
            figures = "no answers"
        failed = tally.failures.get(kind, Counter())
        why = ", ".join(f"{n} {reason}" for reason, n in failed.most_common())
        print(
            f"{kind}: {len(values)} answered, {failed.total()} failed{f' ({why})' if why else ''}"
            f"; {figures}",
            flush=True,
        )
    warmup = 1.0 if minutes >= 3 else minutes / 3
    steady = [(t, mb) for t, mb, _, _ in samples if t >= warmup]
    slope = slope_mb_per_min(steady)
    second_half = [(t, mb) for t, mb, _, _ in samples if t >= minutes / 2]
    half_slope = slope_mb_per_min(second_half)
    last_20 = [(t, mb) for t, mb, _, _ in samples if t >= minutes - 20]
    peak = max(mb for _, mb, _, _ in samples)
    step = max(1, len(samples) // 10)
    curve = ", ".join(f"{t:.2f}: {mb:.0f}" for t, mb, _, _ in samples[::step])
    loads = [load for _, _, _, load in samples]
    print(
        f"measurements acknowledged: {tally.acknowledged}; pending analysis at the end: {pending}",
        flush=True,
    )
    print(
        f"RSS (collector + analysis workers): start {samples[0][1]:.0f} MB, "
        f"after {warmup:.2g} min {steady[0][1]:.0f} MB, end {samples[-1][1]:.0f} MB, "
        f"peak {peak:.0f} MB (at the end: server {samples[-1][1] - samples[-1][2]:.0f} MB, "
        f"analysis workers {samples[-1][2]:.0f} MB); {len(samples)} samples",
        flush=True,
    )
    print(f"RSS curve (minute: MB): {curve}", flush=True)
    print(
        f"RSS slope: {slope:.2f} MB/min after {warmup:.2g} min, {half_slope:.2f} MB/min over the "
        f"second half ({minutes / 2:g}-{minutes:g} min)"
        + (
            f", {slope_mb_per_min(last_20):.2f} MB/min over the last 20 min"
            if minutes >= 25
            else ""
        ),
        flush=True,
    )
    print(
        f"machine load average (1 min) during the run: mean {statistics.mean(loads):.1f}, "
        f"max {max(loads):.1f} on {os.cpu_count()} cores",
        flush=True,
    )
    if records is not None:
        print_internals(records)
    flat = print_verdict(samples, records, minutes, args)
    health = tally.latencies.get("health") or [0.0]
    print(
        f"soak: {minutes:g} min, p99 health {percentile(health, 0.99) * 1000:.0f} ms, "
        f"RSS slope {half_slope:.2f} MB/min, memory {'flat' if flat else 'not shown flat'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
