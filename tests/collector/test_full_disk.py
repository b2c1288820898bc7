"""A full disk on a real, size-limited filesystem: the collector answers 503 with Retry-After
while it lasts, keeps serving reads, stays alive and recovers on its own once space returns,
with every acknowledged measurement stored exactly once and analysed."""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import trio

from tests.collector.running import measurement, ndjson
from tests.collector.test_crash import collector_process

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not hasattr(os, "geteuid") or os.geteuid() != 0,
        reason="mounting a size-limited tmpfs needs root",
    ),
]

DISK_MB = 24
FILL_CHUNK = b"\0" * (1 << 20)
NDJSON = {"Content-Type": "application/x-ndjson"}


@contextlib.contextmanager
def small_filesystem(mountpoint: Path, size_mb: int) -> Iterator[Path]:
    """Mount a tmpfs of `size_mb` MiB on `mountpoint`; unmount it on exit, even on failure."""
    mountpoint.mkdir()
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs", str(mountpoint)], check=True
    )
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", "-l", str(mountpoint)], check=False)


def fill(path: Path, limit_mb: int) -> int:
    """Write `path` until the filesystem refuses (ENOSPC); return the bytes written."""
    written = 0
    with path.open("wb", buffering=0) as out:
        for _ in range(limit_mb + 1):
            try:
                written += out.write(FILL_CHUNK)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
                break
        else:
            raise AssertionError(f"{limit_mb} MiB written and the filesystem is still not full")
        for size in (65536, 4096, 512, 1):  # the last partial pages too
            for _ in range(64):
                try:
                    written += out.write(b"\0" * size)
                except OSError:
                    break
    return written


async def listed_uids(client: httpx.AsyncClient) -> list[str]:
    uids: list[str] = []
    cursor: str | None = None
    for _ in range(100):
        params: dict[str, str | int] = {"limit": 1000}
        if cursor:
            params["cursor"] = cursor
        page = (await client.get("/measurements", params=params)).json()
        uids.extend(r["uid"] for r in page["results"])
        cursor = page["next_cursor"]
        if cursor is None:
            return uids
    raise AssertionError("more than 100 pages")


async def wait_analysed(client: httpx.AsyncClient, expected: int) -> dict[str, object]:
    health: dict[str, object] = {}
    with trio.fail_after(90):
        while True:
            health = (await client.get("/health")).json()
            if health["measurements"] == expected and health["pending_analysis"] == 0:
                return health
            await trio.sleep(0.2)


async def test_full_disk_answers_503_keeps_reads_and_recovers_without_restart(
    tmp_path: Path,
) -> None:
    acked: set[str] = set()
    with small_filesystem(tmp_path / "disk", DISK_MB) as disk:
        async with (
            collector_process(disk / "collector") as (process, url),
            httpx.AsyncClient(base_url=f"{url}/api/v1", trust_env=False, timeout=30) as client,
        ):
            first = [measurement(url=f"http://before{i}.example.test/") for i in range(200)]
            reply = await client.post("/measurements", content=ndjson(first), headers=NDJSON)
            assert reply.status_code == 200
            acked.update(reply.json()["uids"])

            # Fill at once, before the analyser has saved its work: its write must fail too.
            filler = disk / "filler"
            await trio.to_thread.run_sync(fill, filler, DISK_MB)

            refused = 0
            for round_ in range(40):
                batch = [
                    measurement(url=f"http://full{round_}-{i}.example.test/") for i in range(5)
                ]
                reply = await client.post("/measurements", content=ndjson(batch), headers=NDJSON)
                if reply.status_code == 200:  # fitted in a page the filesystem still had
                    acked.update(reply.json()["uids"])
                    continue
                assert reply.status_code == 503, reply.text
                assert int(reply.headers["Retry-After"]) >= 1
                assert reply.json()["error"] == "storage_unavailable"
                refused += 1
            assert refused >= 30

            for _ in range(10):  # reads keep working while the disk stays full
                assert (await client.get("/health")).status_code == 200
                page = await client.get("/measurements", params={"limit": 5})
                assert page.status_code == 200
                assert len(page.json()["results"]) == 5
                await trio.sleep(0.3)
            assert process.returncode is None, "the collector exited on a full disk"

            filler.unlink()
            after = [measurement(url=f"http://after{i}.example.test/") for i in range(20)]
            reply = await client.post("/measurements", content=ndjson(after), headers=NDJSON)
            assert reply.status_code == 200, reply.text
            acked.update(reply.json()["uids"])

            await wait_analysed(client, len(acked))
            listed = await listed_uids(client)
            assert len(listed) == len(set(listed)) == len(acked)
            assert set(listed) == acked
            assert process.returncode is None
