"""The ingest writer's group commit across requests: uploads already on their way are committed
with the one in front of them, a lone upload is not held back, and every upload is acknowledged
only after the commit that stored it."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import msgspec
import trio
import trio.testing
import zstandard

from collector.core.metrics import Metrics
from collector.ingest.rows import measurement_row
from collector.ingest.writer import Arrival, IngestWriter
from collector.storage import MeasurementRow, ThreadedStorage
from collector.storage.duckdb import DuckDBStorage
from tests.collector.running import NOW, measurement

LONG_WINDOW_S = 600.0
"""A window no test waits out: a writer that held a commit for it would trip `fail_after`."""
GUARD_S = 60.0


class CountingStorage(DuckDBStorage):
    """The real store, remembering the uids of each commit."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.commits: list[set[str]] = []

    def insert(self, rows: Sequence[MeasurementRow]) -> set[str]:
        stored = super().insert(rows)
        self.commits.append({r.uid for r in rows})
        return stored


def _row(n: int) -> MeasurementRow:
    m = measurement(url=f"https://site{n}.example/")
    raw = zstandard.ZstdCompressor().compress(msgspec.json.encode(m))
    return measurement_row(m, raw, received_at=NOW, source=None)


def _writer(store: CountingStorage) -> IngestWriter:
    return IngestWriter(
        ThreadedStorage(store),
        Metrics(),
        queue_rows=1000,
        commit_rows=1000,
        queue_wait_s=10.0,
        commit_window_s=LONG_WINDOW_S,
    )


async def test_uploads_on_their_way_share_the_commit_of_the_first(tmp_path: Path) -> None:
    store = CountingStorage(tmp_path / "c.duckdb")
    writer = _writer(store)
    first, second = _row(1), _row(2)
    try:
        with trio.fail_after(GUARD_S):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(writer.run)
                with writer.arrival() as a, writer.arrival() as b:

                    async def upload(row: MeasurementRow, arrival: Arrival) -> None:
                        stored = await writer.submit([row], arrival)
                        assert stored.stored == 1

                    async with trio.open_nursery() as uploads:
                        uploads.start_soon(upload, first, a)
                        # The writer has the first upload and waits: the second is on its way.
                        await trio.testing.wait_all_tasks_blocked()
                        assert store.commits == []
                        uploads.start_soon(upload, second, b)
                await writer.close()
    finally:
        store.close()
    assert store.commits == [{first.uid, second.uid}]


async def test_a_lone_upload_is_committed_without_waiting_for_the_window(tmp_path: Path) -> None:
    store = CountingStorage(tmp_path / "c.duckdb")
    writer = _writer(store)
    row = _row(1)
    try:
        with trio.fail_after(GUARD_S):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(writer.run)
                with writer.arrival() as arrival:
                    stored = await writer.submit([row], arrival)
                await writer.close()
    finally:
        store.close()
    assert stored.stored == 1
    assert store.commits == [{row.uid}]


async def test_an_upload_refused_on_its_way_does_not_hold_the_commit(tmp_path: Path) -> None:
    store = CountingStorage(tmp_path / "c.duckdb")
    writer = _writer(store)
    row = _row(1)
    try:
        with trio.fail_after(GUARD_S):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(writer.run)
                refused = writer.arrival()
                refused.__enter__()
                done = trio.Event()

                async def upload() -> None:
                    with writer.arrival() as arrival:
                        await writer.submit([row], arrival)
                    done.set()

                nursery.start_soon(upload)
                await trio.testing.wait_all_tasks_blocked()
                assert not done.is_set()  # held for the other upload on its way
                refused.__exit__(None, None, None)  # refused: nothing left on its way
                await done.wait()
                await writer.close()
    finally:
        store.close()
    assert store.commits == [{row.uid}]
