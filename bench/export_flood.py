"""Twelve concurrent HTTP exports against a running collector: what they cost the disk and
memory, and how long ordinary reads wait meanwhile.

`crenel-collector serve` runs in its own process on a fresh data directory holding N realistic
~5 KB measurements. Twelve clients then ask for a Parquet export of everything at once and read
it to the end, while a sampler records the data directory's size and the collector's RSS every
50 ms and a reader times `GET /measurements?limit=10` back to back. Completeness: every
exported file that arrived is read back with pyarrow and must hold all N rows.

`--source DIR` runs the collector from another checkout of the code (e.g. an older commit,
extracted with `git archive`), to measure the same thing before a change.

Usage: python bench/export_flood.py [--quick] [--measurements 20000] [--exports 12]
       [--source DIR] [--unbounded]
Prints its headline on the last line: `export flood: ...`.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pyarrow.parquet as pq
import trio
from collector_ingest import build_batches, start_collector

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_S = 0.05


def directory_bytes(path: Path) -> int:
    """Return the bytes of every file under `path` (0 for what vanished meanwhile)."""
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.stat(os.path.join(root, name)).st_size
            except OSError:
                continue
    return total


def rss_bytes(pid: int) -> int:
    """Return the resident set size of process `pid` (0 once it is gone)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


async def run(args: argparse.Namespace, tmp: Path) -> str:
    data_dir = tmp / "collector"
    extra = ["--analysis-workers", "0"]
    if args.unbounded:
        extra += ["--exports-per-source", str(args.exports), "--exports-total", str(args.exports)]
    process, url = start_collector(data_dir, extra, cwd=args.source)
    try:
        api = f"{url}/api/v1"
        bodies, size = build_batches(args.measurements, 500)
        async with httpx.AsyncClient(base_url=api, timeout=600, trust_env=False) as client:
            headers = {"Content-Type": "application/x-ndjson", "Content-Encoding": "gzip"}
            for body in bodies:
                reply = await client.post("/measurements", content=body, headers=headers)
                reply.raise_for_status()
            for _ in range(600):
                health = (await client.get("/health")).json()
                if health["pending_analysis"] == 0:
                    break
                await trio.sleep(0.5)
            print(f"stored {health['measurements']} measurements of ~{size} bytes", flush=True)
        base_dir = directory_bytes(data_dir)
        base_rss = rss_bytes(process.pid)
        today = datetime.now(UTC).date()
        window = {
            "since": (today - timedelta(days=2)).isoformat(),
            "until": (today + timedelta(days=1)).isoformat(),
            "format": "parquet",
        }
        peak_dir, peak_rss = base_dir, base_rss
        statuses: list[int] = []
        rows: list[int] = []
        latencies: list[float] = []
        done = trio.Event()

        async def sample() -> None:
            nonlocal peak_dir, peak_rss
            while not done.is_set():
                peak_dir = max(peak_dir, await trio.to_thread.run_sync(directory_bytes, data_dir))
                peak_rss = max(peak_rss, rss_bytes(process.pid))
                await trio.sleep(SAMPLE_S)

        async def read_meanwhile(client: httpx.AsyncClient) -> None:
            while not done.is_set():
                started = time.perf_counter()
                (await client.get("/measurements", params={"limit": 10})).raise_for_status()
                latencies.append(time.perf_counter() - started)
                await trio.sleep(SAMPLE_S)

        async def export(client: httpx.AsyncClient) -> None:
            async with client.stream("GET", "/export", params=window) as reply:
                statuses.append(reply.status_code)
                body = await reply.aread()
            if reply.status_code == 200:
                rows.append(pq.read_table(io.BytesIO(body)).num_rows)

        started = time.perf_counter()
        limits = httpx.Limits(max_connections=args.exports + 4)
        async with (
            httpx.AsyncClient(base_url=api, timeout=600, trust_env=False, limits=limits) as client,
            trio.open_nursery() as watchers,
        ):
            watchers.start_soon(sample)
            watchers.start_soon(read_meanwhile, client)
            async with trio.open_nursery() as exporters:
                for _ in range(args.exports):
                    exporters.start_soon(export, client)
            done.set()
        elapsed = time.perf_counter() - started
        left = sorted(p.name for p in data_dir.iterdir() if p.name.startswith("export-"))
    finally:
        process.terminate()
        process.wait(timeout=30)
    counts = {code: statuses.count(code) for code in sorted(set(statuses))}
    complete = sum(1 for n in rows if n == args.measurements)
    mib = 1 << 20
    print(f"exports answered: {counts} in {elapsed:.1f} s; complete files: {complete}/{len(rows)}")
    print(f"data directory: {base_dir / mib:.0f} MiB before, peak {peak_dir / mib:.0f} MiB")
    print(f"collector RSS: {base_rss / mib:.0f} MiB before, peak {peak_rss / mib:.0f} MiB")
    if latencies:
        p50, top = statistics.median(latencies) * 1000, max(latencies) * 1000
        print(f"reads meanwhile: {len(latencies)}, p50 {p50:.0f} ms, max {top:.0f} ms")
    print(f"export directories left behind: {len(left)}")
    worst = max(latencies, default=0.0) * 1000
    grown = (peak_dir - base_dir) / mib
    return (
        f"export flood: {args.exports} concurrent, data dir +{grown:.0f} MiB, "
        f"RSS +{(peak_rss - base_rss) / mib:.0f} MiB, max read {worst:.0f} ms, "
        f"refused {len(statuses) - counts.get(200, 0)}"
    )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="5,000 measurements (< 1 min)")
    parser.add_argument("--measurements", type=int, default=20_000)
    parser.add_argument("--exports", type=int, default=12)
    parser.add_argument("--source", type=Path, default=ROOT, help="code to run the collector from")
    parser.add_argument(
        "--unbounded",
        action="store_true",
        help="let every export run at once (--exports-per-source and --exports-total = N)",
    )
    args = parser.parse_args()
    if args.quick:
        args.measurements = min(args.measurements, 5_000)
    print(f"machine: {os.cpu_count()} cores, python {sys.version.split()[0]}", flush=True)
    with tempfile.TemporaryDirectory() as name:
        headline = trio.run(run, args, Path(name))
    print(headline)
    return 0


if __name__ == "__main__":
    sys.exit(main())
