"""kill -9 the collector while probes upload: every acknowledged measurement survives exactly
once, and the probes' outboxes deliver the rest after a restart."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import trio

from probe.errors import CollectorUnreachable
from probe.store import Store
from probe.upload import Uploader, UploadPolicy
from tests.collector.running import measurement

ROOT = Path(__file__).resolve().parents[2]
PROBES = 3
PER_PROBE = 120
KILL_AFTER = 90
POLICY = UploadPolicy(
    batch_size=8, attempts=2, first_backoff_s=0.05, max_backoff_s=0.1, deadline_s=30.0
)
_SERVING = re.compile(rb"serving (http://127\.0\.0\.1:\d+)/api/v1")


@asynccontextmanager
async def collector_process(
    data_dir: Path, *extra: str, listen: str = "127.0.0.1:0"
) -> AsyncIterator[tuple[trio.Process, str]]:
    """Run `crenel-collector serve` (with `extra` flags) in a subprocess; yield it and its base
    URL."""
    command = [
        sys.executable,
        "-m",
        "collector.cli",
        "serve",
        "--data-dir",
        str(data_dir),
        "--listen",
        listen,
        "--rate-limit",
        "0",
        "--analysis-workers",
        "0",
        *extra,
    ]
    log = data_dir.parent / f"{data_dir.name}-stderr.log"
    with log.open("ab") as stderr:
        process = await trio.lowlevel.open_process(
            command, cwd=ROOT, stdout=subprocess.PIPE, stderr=stderr
        )
    try:
        assert process.stdout is not None
        seen = b""
        with trio.fail_after(30):
            while (match := _SERVING.search(seen)) is None:
                chunk = await process.stdout.receive_some(4096)
                assert chunk, "the collector exited before serving: " + _tail(log)
                seen += chunk
        yield process, match.group(1).decode()
    finally:
        if process.returncode is None:
            process.kill()
        with trio.move_on_after(10, shield=True):
            await process.wait()


def _tail(log: Path, size: int = 2000) -> str:
    """Return the end of the collector's stderr (for a failure message)."""
    text = log.read_bytes()[-size:].decode("utf-8", "replace") if log.exists() else ""
    return text or "(nothing on stderr)"


def fill_outbox(path: Path, probe: int) -> list[str]:
    uids = []
    with Store(path) as store:
        for i in range(PER_PROBE):
            m = measurement(url=f"http://site{i}.example.test/", probe_id=f"p-crash-{probe}")
            store.add(m)
            uids.append(m.uid)
    return uids


async def upload_all(
    stores: list[Path], url: str, acked: set[str], on_ack: trio.Event | None
) -> None:
    async def one(path: Path, client: httpx.AsyncClient) -> None:
        async def record(uids: list[str]) -> None:
            acked.update(uids)
            if on_ack is not None and len(acked) >= KILL_AFTER:
                on_ack.set()

        with Store(path) as store, contextlib.suppress(CollectorUnreachable):
            await Uploader(store, url, client, POLICY).upload_pending(on_uploaded=record)

    async with httpx.AsyncClient(trust_env=False) as client, trio.open_nursery() as nursery:
        for path in stores:
            nursery.start_soon(one, path, client)


async def test_acknowledged_measurements_survive_kill_9_and_outboxes_deliver_the_rest(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "collector"
    stores = [tmp_path / f"probe{i}" / "measurements.sqlite3" for i in range(PROBES)]
    everything: set[str] = set()
    for i, path in enumerate(stores):
        everything.update(fill_outbox(path, i))
    acked_before_kill: set[str] = set()

    async with collector_process(data_dir) as (process, url):
        killed = trio.Event()

        async def killer() -> None:
            await killed.wait()
            os.kill(process.pid, signal.SIGKILL)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(killer)
            await upload_all(stores, url, acked_before_kill, killed)
        with trio.fail_after(10):
            await process.wait()
        assert process.returncode == -signal.SIGKILL

    assert KILL_AFTER <= len(acked_before_kill) < len(everything)
    pending = 0
    for path in stores:
        with Store(path) as store:
            pending += store.count(pending_only=True)
    assert pending == len(everything) - len(acked_before_kill)

    async with collector_process(data_dir) as (process, url):
        async with httpx.AsyncClient(base_url=f"{url}/api/v1", trust_env=False) as client:
            for uid in sorted(acked_before_kill):
                assert (await client.get(f"/measurements/{uid}")).status_code == 200
            delivered: set[str] = set()
            await upload_all(stores, url, delivered, None)
            assert delivered | acked_before_kill >= everything
            health = (await client.get("/health")).json()
            assert health["measurements"] == len(everything)
            listed: list[str] = []
            page = (await client.get("/measurements", params={"limit": 1000})).json()
            listed.extend(r["uid"] for r in page["results"])
            assert page["next_cursor"] is None
            assert sorted(listed) == sorted(everything)
        process.send_signal(signal.SIGTERM)
        with trio.fail_after(15):
            await process.wait()
    for path in stores:
        with Store(path) as store:
            assert store.count(pending_only=True) == 0
