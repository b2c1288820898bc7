"""kill -9 the collector while many probes upload: is every acknowledged measurement stored
exactly once, and does every probe's outbox empty?

Each uploader is a probe's real outbox and upload code: its own SQLite store (`probe.store`)
filled beforehand with realistic ~5.6 KB measurements, sent by `probe.upload.Uploader` (gzip
NDJSON batches of 25; a measurement is marked uploaded only when the collector's answer lists
its uid; anything else stays pending and is sent again). When the collector is down an uploader
waits 0.3 s and starts another pass, bounded by the run's deadline.

`crenel-collector serve` runs in its own process group (fresh data directory, rate limits off,
its default analysis worker). At seeded random moments (after a random share of the total has
been acknowledged, plus a random delay of up to 0.3 s) the bench sends SIGKILL to the whole
group (the server and its analysis worker: nothing gets to flush or close) and starts it again
on the same data directory. At the end, with every outbox drained, the collector is stopped and
its DuckDB file read directly:

- lost: uids a probe saw acknowledged that are not stored;
- duplicated: stored rows beyond one per uid (and the report rollups must count each analysed
  measurement once);
- undelivered: measurements never stored (outboxes not empty);
- outboxes: measurements still pending in the probes' stores.

Usage: python bench/durability.py [--quick] [--uploaders 200] [--measurements 100000]
       [--kills 3] [--seed 13]
Prints its headline on the last line:
`durability: N acknowledged, L lost, D duplicated, K kills`.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import httpx
import msgspec
import trio
from collector_ingest import realistic

from probe.errors import CollectorUnreachable
from probe.store import Store
from probe.upload import Uploader, UploadPolicy

ROOT = Path(__file__).resolve().parents[1]
_SERVING = re.compile(r"serving (http://127\.0\.0\.1:\d+)/api/v1")
POLICY = UploadPolicy(
    batch_size=25,
    attempts=3,
    first_backoff_s=0.2,
    max_backoff_s=1.0,
    request_timeout_s=30.0,
    deadline_s=120.0,
)


@dataclass
class Collector:
    """The collector process currently serving, and where."""

    data_dir: Path
    log: Path
    process: subprocess.Popen[str] | None = None
    url: str = ""
    starts: int = 0

    def start(self) -> None:
        """Start `crenel-collector serve` in a new process group and wait until it serves."""
        with self.log.open("ab") as stderr:
            self.process = subprocess.Popen(
                [
                    *(sys.executable, "-m", "collector.cli", "serve", "--data-dir"),
                    *(str(self.data_dir), "--listen", "127.0.0.1:0", "--rate-limit", "0"),
                ],
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
                start_new_session=True,
            )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        match = _SERVING.search(line)
        if match is None:
            self.kill()
            raise SystemExit(f"the collector did not start: {line!r} (see {self.log})")
        self.url = match.group(1)
        self.starts += 1

    def kill(self) -> None:
        """SIGKILL the collector's whole process group and reap it."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        """Stop the collector cleanly (SIGTERM), or kill it if it takes over 30 s."""
        if self.process is None or self.process.poll() is not None:
            self.kill()
            return
        self.process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=30)
        self.kill()  # also reaps any worker left in the group


@dataclass
class Progress:
    """What the probes saw."""

    acknowledged: set[str] = field(default_factory=set)
    acks: int = 0
    """Acknowledgements received, counting a uid acknowledged again after a lost answer."""
    unreachable: int = 0
    kills: list[float] = field(default_factory=list)
    """Seconds into the run of each kill."""


def fill_outboxes(stores: list[Path], total: int) -> set[str]:
    """Fill each probe's store with its share of `total` measurements; return all uids."""
    start = datetime.now(UTC) - timedelta(hours=1)
    uids: set[str] = set()
    for n, path in enumerate(stores):
        share = range(n, total, len(stores))
        with Store(path) as store:
            store._db.execute("BEGIN")  # one transaction per store: the bench's own shortcut
            for i in share:
                m = realistic(i, start + timedelta(milliseconds=i))
                store.add(m)
                uids.add(m.uid)
            store._db.execute("COMMIT")
    return uids


async def drain(path: Path, collector: Collector, progress: Progress, deadline: float) -> None:
    """Upload one probe's outbox until it is empty (or the deadline), whatever the collector
    does meanwhile."""

    async def record(uids: list[str]) -> None:
        progress.acknowledged.update(uids)
        progress.acks += len(uids)

    limits = httpx.Limits(max_connections=2, max_keepalive_connections=1)
    with Store(path) as store:
        async with httpx.AsyncClient(trust_env=False, limits=limits) as client:
            while trio.current_time() < deadline:
                uploader = Uploader(store, collector.url, client, POLICY)
                try:
                    await uploader.upload_pending(on_uploaded=record)
                except CollectorUnreachable:
                    progress.unreachable += 1
                    await trio.sleep(0.3)
                    continue
                left = await trio.to_thread.run_sync(lambda: store.count(pending_only=True))
                if left == 0:
                    return
                await trio.sleep(0.1)


async def killer(
    collector: Collector, progress: Progress, thresholds: list[int], rng: random.Random
) -> None:
    """Kill -9 the collector once the acknowledged count passes each threshold, and restart it."""
    began = trio.current_time()
    for threshold in thresholds:
        for _ in range(100_000):  # bounded by the uploaders' deadline too
            if len(progress.acknowledged) >= threshold:
                break
            await trio.sleep(0.02)
        else:
            return
        await trio.sleep(rng.uniform(0.0, 0.3))
        await trio.to_thread.run_sync(collector.kill)
        progress.kills.append(trio.current_time() - began)
        print(
            f"kill -9 #{len(progress.kills)} at {progress.kills[-1]:.1f} s, "
            f"{len(progress.acknowledged)} acknowledged",
            flush=True,
        )
        await trio.to_thread.run_sync(collector.start)


async def run_load(
    stores: list[Path], collector: Collector, thresholds: list[int], seed: int, budget_s: float
) -> Progress:
    """Drain every outbox while the killer works; return what the probes saw."""
    progress = Progress()
    deadline = trio.current_time() + budget_s
    rng = random.Random(seed)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(killer, collector, progress, thresholds, rng)
        async with trio.open_nursery() as uploaders:
            for path in stores:
                uploaders.start_soon(drain, path, collector, progress, deadline)
        nursery.cancel_scope.cancel()
    return progress


def stored_uids(database: Path) -> tuple[set[str], int, int, int]:
    """Return the stored uids, the number of stored rows, how many have a verdict and how many
    the report rollups count (read-only, collector stopped)."""
    con = duckdb.connect(str(database), read_only=True)
    try:
        rows = con.execute("SELECT uid::VARCHAR FROM measurements").fetchall()
        (analysed,) = con.execute(
            "SELECT count(*) FROM measurements WHERE verdict IS NOT NULL"
        ).fetchone() or (0,)
        (counted,) = con.execute(
            "SELECT coalesce(sum(blocked + blocked_no_control + ok + down + inconclusive), 0) "
            "FROM rollup_probe_day"
        ).fetchone() or (0,)
    finally:
        con.close()
    return {uid for (uid,) in rows}, len(rows), int(analysed), int(counted)


def wait_analysed(url: str, timeout_s: float) -> int:
    """Return how many measurements are still unanalysed when analysis caught up or time ran
    out."""
    pending = -1
    with httpx.Client(trust_env=False, timeout=30.0) as client:
        for _ in range(int(timeout_s * 5)):
            pending = int(client.get(f"{url}/api/v1/health").json()["pending_analysis"])
            if pending == 0:
                break
            time.sleep(0.2)
    return pending


def pending_in(stores: list[Path]) -> int:
    """Return how many measurements are still pending in the probes' outboxes."""
    total = 0
    for path in stores:
        with Store(path) as store:
            total += store.count(pending_only=True)
    return total


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="20 uploaders, 5,000, 1 kill")
    parser.add_argument("--uploaders", type=int, default=200)
    parser.add_argument("--measurements", type=int, default=100_000)
    parser.add_argument("--kills", type=int, default=3)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--budget-s", type=float, default=900.0, help="upload deadline")
    args = parser.parse_args()
    if args.quick:
        args.uploaders, args.measurements, args.kills = 20, 5000, 1
    rng = random.Random(args.seed)
    thresholds = sorted(int(rng.uniform(0.1, 0.9) * args.measurements) for _ in range(args.kills))
    print(f"machine: {os.cpu_count()} cores, python {sys.version.split()[0]}", flush=True)
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        stores = [tmp / f"probe{n:03d}" / "measurements.sqlite3" for n in range(args.uploaders)]
        t0 = time.perf_counter()
        everything = fill_outboxes(stores, args.measurements)
        print(
            f"filled {args.uploaders} outboxes with {len(everything)} measurements "
            f"in {time.perf_counter() - t0:.1f} s; kills after {thresholds} acknowledged",
            flush=True,
        )
        collector = Collector(tmp / "collector", tmp / "collector-stderr.log")
        try:
            collector.start()
            t0 = time.perf_counter()
            progress = trio.run(run_load, stores, collector, thresholds, args.seed, args.budget_s)
            elapsed = time.perf_counter() - t0
            unanalysed = wait_analysed(collector.url, 30.0 if args.quick else 300.0)
            with httpx.Client(trust_env=False, timeout=30.0) as client:
                health = msgspec.json.decode(client.get(f"{collector.url}/api/v1/health").content)
        finally:
            collector.stop()
        stored, rows, analysed, counted = stored_uids(tmp / "collector" / "collector.duckdb")
        outboxes = pending_in(stores)
    acknowledged = progress.acknowledged
    lost = len(acknowledged - stored)
    duplicated = rows - len(stored)
    undelivered = len(everything - stored)
    print(
        f"uploaded in {elapsed:.1f} s ({len(acknowledged) / elapsed:.0f} measurements/s "
        f"with {len(progress.kills)} kills and {collector.starts} starts); "
        f"{progress.acks - len(acknowledged)} acknowledged again after a lost answer; "
        f"{progress.unreachable} upload passes found the collector unreachable",
        flush=True,
    )
    print(
        f"stored {len(stored)} (rows {rows}, health says {health['measurements']}); "
        f"undelivered {undelivered}; outboxes still pending {outboxes}",
        flush=True,
    )
    print(
        f"analysed {analysed} ({unanalysed} pending when the bench stopped waiting); "
        f"counted in the report rollups {counted}",
        flush=True,
    )
    print(
        f"durability: {len(acknowledged)} acknowledged, {lost} lost, {duplicated} duplicated, "
        f"{len(progress.kills)} kills"
    )
    held = lost == duplicated == undelivered == outboxes == 0 and counted == analysed
    return 0 if held else 1


if __name__ == "__main__":
    sys.exit(main())
