"""While uploads keep arriving, the analyser holds analyses in memory and saves them together
(`analyser.SAVE_EVERY_S`): fewer saves, each a few rollup statements whatever its size."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest
import trio.testing

from collector.analyse.analyser import SAVE_EVERY_S, Analyser, ReferenceSource
from collector.config import Limits
from collector.core.metrics import Metrics
from collector.ingest.lines import split_lines
from collector.ingest.prepare import prepare
from collector.storage import ThreadedStorage
from collector.storage.duckdb import DuckDBStorage
from tests.collector.running import NOW, measurement

LIMITS = Limits()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[DuckDBStorage]:
    opened = DuckDBStorage(tmp_path / "collector.duckdb")
    try:
        yield opened
    finally:
        opened.close()


def _stored(store: DuckDBStorage, count: int) -> list[tuple[str, bytes]]:
    """Store `count` fresh measurements; return what ingest hands the analyser."""
    body = b"".join(msgspec.json.encode(measurement()) + b"\n" for _ in range(count))
    upload = prepare(
        split_lines(body, "ndjson", LIMITS),
        now=NOW,
        source_address=None,
        source=None,
        limits=LIMITS,
    )
    store.insert(upload.rows)
    return [(row.uid, row.raw_zstd) for row in upload.rows]


def _pending(store: DuckDBStorage) -> int:
    return store.counts().pending_analysis


async def test_analyses_held_while_rows_arrive_are_saved_together(
    store: DuckDBStorage, mock_clock: trio.testing.MockClock
) -> None:
    with Analyser(ThreadedStorage(store), ReferenceSource(), Metrics()) as analyser:
        await analyser.drain()  # the read-back of rows stored before it started (none)
        version = store.rollup_version
        analyser.offer(_stored(store, 3))
        assert await analyser.drain(hold=True) == 3
        assert (_pending(store), store.rollup_version) == (3, version)  # held, not saved

        mock_clock.jump(SAVE_EVERY_S / 2)
        analyser.offer(_stored(store, 2))
        assert await analyser.drain(hold=True) == 2
        assert (_pending(store), store.rollup_version) == (5, version)

        mock_clock.jump(SAVE_EVERY_S / 2)
        analyser.offer(_stored(store, 2))
        assert await analyser.drain(hold=True) == 2
        assert (_pending(store), store.rollup_version) == (0, version + 1)  # one save of 7


async def test_a_drain_without_hold_saves_what_was_held(
    store: DuckDBStorage, mock_clock: trio.testing.MockClock
) -> None:
    with Analyser(ThreadedStorage(store), ReferenceSource(), Metrics()) as analyser:
        await analyser.drain()
        version = store.rollup_version
        analyser.offer(_stored(store, 2))
        await analyser.drain(hold=True)
        assert _pending(store) == 2
        analyser.offer(_stored(store, 1))
        assert await analyser.drain() == 1
        assert (_pending(store), store.rollup_version) == (0, version + 1)


async def test_held_analyses_are_saved_before_stored_rows_are_read_back(
    store: DuckDBStorage, mock_clock: trio.testing.MockClock
) -> None:
    with Analyser(ThreadedStorage(store), ReferenceSource(), Metrics()) as analyser:
        await analyser.drain()
        analyser.offer(_stored(store, 2))
        await analyser.drain(hold=True)
        count = await analyser.request(everything=True)  # flags every analysed row again
        assert count == 0  # the held two are still pending, so not counted
        version = store.rollup_version
        # The read-back saves the held two first, so it does not analyse them a second time.
        assert await analyser.drain(hold=True) == 0
        assert (_pending(store), store.rollup_version) == (0, version + 1)
