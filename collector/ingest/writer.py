"""Group commit: concurrent uploads hand their rows to one writer task, which stores everything
waiting in one transaction (one fsync) and then wakes every upload it covered.

An upload is acknowledged only after that commit returned, so an acknowledged measurement is
durable. The queue is bounded in rows; past the bound uploads wait, then are told to retry.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import trio

from collector.core.errors import CollectorError, Overloaded, StorageUnavailable
from collector.core.metrics import Metrics
from collector.storage import MeasurementRow, ThreadedStorage

logger = logging.getLogger(__name__)


@dataclass
class _Submission:
    rows: Sequence[MeasurementRow]
    done: trio.Event = field(default_factory=trio.Event)
    stored: set[str] = field(default_factory=set)
    error: CollectorError | None = None


@dataclass(frozen=True)
class Stored:
    """What one upload's commit did."""

    stored: int
    duplicates: int


class IngestWriter:
    """The single writer task and the bounded queue in front of it."""

    def __init__(
        self,
        storage: ThreadedStorage,
        metrics: Metrics,
        *,
        queue_rows: int,
        commit_rows: int,
        queue_wait_s: float,
        on_commit: Callable[[list[tuple[str, bytes]]], None] = lambda stored: None,
    ) -> None:
        self._storage = storage
        self._metrics = metrics
        self._queue_rows = max(1, queue_rows)
        self._commit_rows = max(1, commit_rows)
        self._queue_wait_s = queue_wait_s
        self._on_commit = on_commit
        self._send, self._receive = trio.open_memory_channel[_Submission](self._queue_rows)
        self._queued = 0
        self._space = trio.Event()

    @property
    def queued_rows(self) -> int:
        """Return how many measurements wait to be committed."""
        return self._queued

    async def submit(self, rows: Sequence[MeasurementRow]) -> Stored:
        """Return once `rows` are durably stored (or were already).

        Raises:
            Overloaded: the queue stayed full for the whole wait.
            StorageUnavailable: the commit failed; nothing of these rows is acknowledged.
        """
        needed = len(rows)
        with trio.move_on_after(self._queue_wait_s):
            while self._queued > 0 and self._queued + needed > self._queue_rows:
                await self._space.wait()
        if self._queued > 0 and self._queued + needed > self._queue_rows:
            raise Overloaded("the collector is busy storing other uploads; retry in a moment")
        submission = _Submission(rows)
        self._queued += needed
        self._metrics.queue_depth.set(self._queued)
        try:
            self._send.send_nowait(submission)
        except (trio.WouldBlock, trio.ClosedResourceError) as exc:
            self._release(needed)
            raise Overloaded("the collector is shutting down; retry later") from exc
        await submission.done.wait()
        if submission.error is not None:
            raise submission.error
        uids = {r.uid for r in rows}
        new = len(uids & submission.stored)
        return Stored(stored=new, duplicates=len(rows) - new)

    def _release(self, rows: int) -> None:
        self._queued -= rows
        self._metrics.queue_depth.set(self._queued)
        self._space.set()
        self._space = trio.Event()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Commit queued uploads until the queue is closed and drained."""
        task_status.started()
        async with self._receive:
            async for first in self._receive:
                group = [first]
                count = len(first.rows)
                while count < self._commit_rows:
                    try:
                        more = self._receive.receive_nowait()
                    except (trio.WouldBlock, trio.EndOfChannel):
                        break
                    group.append(more)
                    count += len(more.rows)
                await self._commit(group, count)

    async def _commit(self, group: list[_Submission], count: int) -> None:
        unique: dict[str, MeasurementRow] = {}
        for submission in group:
            for row in submission.rows:
                unique.setdefault(row.uid, row)
        started = trio.current_time()
        stored: set[str] = set()
        error: CollectorError | None = None
        try:
            stored = await self._storage.write(self._storage.backend.insert, list(unique.values()))
        except StorageUnavailable as exc:
            logger.error("commit of %d measurements failed: %s", len(unique), exc)
            error = exc
        self._metrics.commit_seconds.observe(trio.current_time() - started)
        self._metrics.commit_rows.observe(len(unique))
        if error is None:
            self._metrics.ingested.labels(result="stored").inc(len(stored))
            self._metrics.ingested.labels(result="duplicate").inc(count - len(stored))
        for submission in group:
            submission.stored = stored
            submission.error = error
            submission.done.set()
        self._release(count)
        if stored:
            self._on_commit([(uid, row.raw_zstd) for uid, row in unique.items() if uid in stored])

    async def close(self) -> None:
        """Stop taking uploads; the writer drains what is queued and returns."""
        await self._send.aclose()
