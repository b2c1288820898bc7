"""Run an import: stream every file's lines through a preparation pool into a destination, with
progress, and render the summary.

Three things overlap: this task reads lines and hands chunks to the pool, the workers prepare
them, and a second task writes batches to the destination. Each hand-over is bounded (chunks in
flight, batches queued), so memory stays the same however large the files are.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator, Sequence
from pathlib import Path

import trio
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from collector.ooni_import.convert import ImportSummary
from collector.ooni_import.destinations import Destination, RemoteDestination
from collector.ooni_import.documents import Document, FileReader, LineBlock, Unreadable
from collector.ooni_import.pool import CHUNK_BYTES, PreparationPool
from collector.ooni_import.prepared import Prepared, PreparedChunk

BATCH = 2_000
"""Measurements stored per transaction (local imports)."""
UPLOAD_BATCH = 500
"""Measurements per upload (imports into a running collector)."""
QUEUED_BATCHES = 1
"""Full batches waiting for the destination while it stores the one before."""
COLLECT_EVERY_BATCHES = 10
"""Stored batches between two garbage collections in the importing process (each scans the
live rows, about 10 ms, whatever the interval)."""


async def import_files(
    paths: Sequence[Path],
    destination: Destination,
    pool: PreparationPool,
    summary: ImportSummary,
    *,
    show_progress: bool,
) -> None:
    """Stream every file into `destination`, counting into `summary`; return nothing."""
    batch_size = UPLOAD_BATCH if isinstance(destination, RemoteDestination) else BATCH
    total = sum(p.stat().st_size for p in paths)
    console = Console(stderr=True)
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TextColumn("{task.fields[count]} measurements"),
        TimeRemainingColumn(),
        console=console,
        disable=not (show_progress and console.is_terminal),
        transient=True,
    )
    send, receive = trio.open_memory_channel[list[Prepared]](QUEUED_BATCHES)
    with progress, _collections_per_batch():
        task = progress.add_task("importing", total=total, count=0)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_store_batches, receive, destination, summary)
            async with send:
                batcher = _Batcher(send, summary, batch_size)
                await _read_files(paths, pool, batcher, summary, progress=progress, task=task)
                await batcher.add(await pool.finish())
                await batcher.flush()
        await destination.finish(summary)
        progress.update(task, completed=total, count=summary.converted)


@contextlib.contextmanager
def _collections_per_batch() -> Iterator[None]:
    """Run the block with the cyclic garbage collector collecting once per
    `COLLECT_EVERY_BATCHES` stored batches (`_store_batches`) instead of every few hundred new
    objects, and never scanning the objects that exist now (modules, the analyser's reference
    data: hundreds of thousands). The rows decoded from the workers' results are many young
    objects without cycles; collecting as they came cost about 40 µs a measurement (py-spy), as
    it did in the workers."""
    gc.freeze()  # without collecting first: that alone took 130 ms, for little garbage
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.unfreeze()


class _Batcher:
    """Counts prepared chunks into the summary and sends full batches to the store's task."""

    def __init__(
        self, send: trio.MemorySendChannel[list[Prepared]], summary: ImportSummary, size: int
    ) -> None:
        self._send = send
        self._summary = summary
        self._size = size
        self._batch: list[Prepared] = []

    async def add(self, chunks: list[PreparedChunk]) -> None:
        """Count the chunks and send every batch they fill; return nothing."""
        for chunk in chunks:
            self._summary.add(chunk.summary)
            self._batch.extend(chunk.measurements)
            if len(self._batch) >= self._size:
                await self.flush()

    async def flush(self) -> None:
        """Send the batch so far, however small; return nothing."""
        if self._batch:
            await self._send.send(self._batch)
            self._batch = []


async def _read_files(
    paths: Sequence[Path],
    pool: PreparationPool,
    batcher: _Batcher,
    summary: ImportSummary,
    *,
    progress: Progress,
    task: TaskID,
) -> None:
    done_bytes = 0
    for path in paths:
        summary.files += 1
        reader = FileReader(path)
        chunk: list[LineBlock | Document | Unreadable] = []
        chunk_bytes = 0
        for item in reader.blocks():
            chunk.append(item)
            chunk_bytes += len(item.text) if isinstance(item, LineBlock) else 1
            if chunk_bytes >= CHUNK_BYTES:
                await batcher.add(await pool.submit(chunk))
                chunk, chunk_bytes = [], 0
                progress.update(
                    task, completed=done_bytes + reader.position, count=summary.converted
                )
        if chunk:
            await batcher.add(await pool.submit(chunk))
        done_bytes += path.stat().st_size


async def _store_batches(
    receive: trio.MemoryReceiveChannel[list[Prepared]],
    destination: Destination,
    summary: ImportSummary,
) -> None:
    async with receive:
        stored = 0
        async for batch in receive:
            await destination.store(batch, summary)
            stored += 1
            if stored % COLLECT_EVERY_BATCHES == 0:
                gc.collect()  # what the batches left behind (the collector is paused meanwhile)


def render_summary(summary: ImportSummary) -> str:
    """Return the import's summary as a few lines of text."""
    lines = [
        f"read {summary.documents} OONI measurements from {summary.files} files: "
        f"{summary.stored} stored, {summary.duplicates} already stored, "
        f"{summary.converted - summary.stored - summary.duplicates} not stored"
    ]
    if summary.analysed:
        lines.append(f"analysed {summary.analysed} measurements")
    if summary.other_tests:
        tests = ", ".join(f"{n} {name}" for name, n in sorted(summary.other_tests.items()))
        lines.append(f"skipped other OONI tests: {tests}")
    if summary.skipped:
        reasons = ", ".join(f"{n} {reason}" for reason, n in sorted(summary.skipped.items()))
        lines.append(f"skipped unreadable lines: {reasons}")
        lines.extend(f"  {p.file}:{p.line}: {p.reason}: {p.detail}" for p in summary.problems[:20])
        hidden = sum(summary.skipped.values()) - min(20, len(summary.problems))
        if hidden > 0:
            lines.append(f"  ... and {hidden} more (--json lists the first 100)")
    return "\n".join(lines) + "\n"
