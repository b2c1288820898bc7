"""HTTP exports are bounded: one at a time per source and a few in total (429/503 with
Retry-After and a JSON error), nothing is written to disk, and files an earlier process left in
the data directory are removed at start-up."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import trio

from collector.core.errors import ExportsBusy, TooManyExports
from collector.sources.export_slots import ExportSlots
from tests.collector.running import NOW, RunningCollector, measurement, ndjson, start_collector

# The measurements start 5 minutes before NOW: a window from the day before holds them at any hour.
WINDOW = {"since": (NOW - timedelta(days=1)).date().isoformat(), "until": NOW.date().isoformat()}


def test_slots_refuse_beyond_the_per_source_and_the_total_limit() -> None:
    slots = ExportSlots(per_source=2, total=3)
    slots.acquire(b"a")
    slots.acquire(b"a")
    with pytest.raises(TooManyExports):
        slots.acquire(b"a")
    slots.acquire(b"b")
    with pytest.raises(ExportsBusy):
        slots.acquire(b"c")
    slots.release(b"a")
    slots.acquire(b"c")
    assert slots.running == 3
    for source in (b"a", b"b", b"c", b"c"):  # the last is one release too many: ignored
        slots.release(source)
    assert slots.running == 0


@pytest.fixture
async def filled(nursery: trio.Nursery, tmp_path: Path) -> RunningCollector:
    running = await start_collector(nursery, tmp_path)
    batch = [measurement(url=f"http://s{i}.test/") for i in range(7)]
    async with httpx.AsyncClient(base_url=running.api) as client:
        r = await client.post(
            "/measurements", content=ndjson(batch), headers={"content-type": "application/x-ndjson"}
        )
        assert r.status_code == 200
    return running


async def wait_until(condition: Callable[[], bool]) -> None:
    """Return once `condition()` holds; fail after 10 s."""
    with trio.fail_after(10):
        for _ in range(10_000):
            if condition():
                return
            await trio.sleep(0.01)


def data_files(running: RunningCollector) -> set[str]:
    return {p.name for p in running.config.data_dir.iterdir()}


async def test_exports_beyond_the_limits_are_refused_with_retry_after(
    filled: RunningCollector,
) -> None:
    collector = filled.collector
    slots = collector.exports
    here = collector.request_limits.source_key("127.0.0.1")
    before = data_files(filled)
    async with httpx.AsyncClient(base_url=filled.api) as client:
        slots.acquire(here)  # an export of this source still running
        refused = await client.get("/export", params={**WINDOW, "format": "jsonl"})
        assert refused.status_code == 429
        assert refused.json()["error"] == "too_many_exports"
        assert int(refused.headers["Retry-After"]) >= 1
        slots.release(here)

        for other in range(slots.total):  # other sources fill every slot
            slots.acquire(f"other-{other}".encode())
        busy = await client.get("/export", params={**WINDOW, "format": "csv"})
        assert busy.status_code == 503
        assert busy.json()["error"] == "exports_busy"
        assert int(busy.headers["Retry-After"]) >= 1
        slots.release(b"other-0")

        done = await client.get("/export", params={**WINDOW, "format": "jsonl"})
        assert done.status_code == 200
        assert len(done.content.splitlines()) == 7
        # its own slot is given back once the response has ended
        await wait_until(lambda: slots.running == slots.total - 1)
        assert data_files(filled) == before  # nothing written beside the database


async def test_a_client_that_leaves_mid_export_gives_its_slot_back(
    filled: RunningCollector,
) -> None:
    host, port = filled.url.removeprefix("http://").rsplit(":", 1)
    query = "&".join(f"{k}={v}" for k, v in {**WINDOW, "format": "parquet"}.items())
    stream = await trio.open_tcp_stream(host, int(port))
    async with stream:
        request = f"GET /api/v1/export?{query} HTTP/1.1\r\nHost: {host}\r\n\r\n"
        await stream.send_all(request.encode())
        first = await stream.receive_some(64)
        assert first.startswith(b"HTTP/1.1 200")
    await wait_until(lambda: filled.collector.exports.running == 0)


async def test_leftovers_of_an_earlier_run_are_removed_at_start(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    data_dir = tmp_path / "collector"
    (data_dir / "export-k2j3h4").mkdir(parents=True)
    (data_dir / "export-k2j3h4" / "crenel-20261101-20261130.parquet").write_bytes(b"x" * 4096)
    (data_dir / "collector.duckdb.tmp").mkdir()
    (data_dir / "collector.duckdb.tmp" / "duckdb_temp_storage-0.tmp").write_bytes(b"y" * 4096)
    (data_dir / "keep-me.txt").write_text("an operator's note")
    running = await start_collector(nursery, tmp_path)
    assert "export-k2j3h4" not in data_files(running)
    assert "collector.duckdb.tmp" not in data_files(running)
    assert "keep-me.txt" in data_files(running)
