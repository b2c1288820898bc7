"""The raw retention job: every hour, empty the accepted bytes of measurements received more
than `raw_retention_days` ago, in bounded batches. Summaries, analyses and rollups stay, so
search, aggregations and reports answer the same; only `GET /measurements/{uid}`, jsonl exports
and re-analysis lose those rows' bodies.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import trio

from collector.core.errors import StorageUnavailable
from collector.storage import ThreadedStorage

logger = logging.getLogger(__name__)

INTERVAL_S = 3600.0
BATCH_ROWS = 20_000
"""Rows per transaction: each one a short write, so uploads never wait long behind it."""
MAX_BATCHES = 10_000


class RawRetention:
    """Strips old measurement bodies; `run` repeats `run_once` until cancelled."""

    def __init__(
        self,
        storage: ThreadedStorage,
        days: int,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        interval_s: float = INTERVAL_S,
    ) -> None:
        self.storage = storage
        self.days = days
        self.clock = clock
        self.interval_s = interval_s

    async def run_once(self, now: datetime) -> int:
        """Strip the bodies of analysed rows received before `now` minus the retention; return
        how many.

        Raises:
            StorageUnavailable: the database refused a write (a full disk): retried next time.
        """
        before = now - timedelta(days=self.days)
        stripped = 0
        for _ in range(MAX_BATCHES):
            done = await self.storage.write(self.storage.backend.strip_raw, before, BATCH_ROWS)
            stripped += done
            if done < BATCH_ROWS:
                break
        if stripped:
            logger.info("raw retention: removed the bodies of %d measurements", stripped)
        return stripped

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Strip old bodies now and every `interval_s`, until cancelled (never when days is 0)."""
        task_status.started()
        if self.days <= 0:
            return
        while True:
            try:
                await self.run_once(self.clock())
            except StorageUnavailable as exc:
                logger.warning("raw retention postponed: %s", exc)
            await trio.sleep(self.interval_s)
