"""How many HTTP exports run at once, per source and in total, so a few unauthenticated
clients cannot take every reader thread, core and byte of memory.

Pure bookkeeping: sources arrive as the rate limiter's keyed hashes, never as addresses.
"""

from __future__ import annotations

from collector.core.errors import ExportsBusy, TooManyExports


class ExportSlots:
    """Counts running exports: at most `per_source` from one source, `total` overall."""

    def __init__(self, *, per_source: int, total: int) -> None:
        self.per_source = max(1, per_source)
        self.total = max(1, total)
        self._running: dict[bytes, int] = {}
        self._count = 0

    @property
    def running(self) -> int:
        """Return how many exports hold a slot."""
        return self._count

    def acquire(self, source: bytes) -> None:
        """Take a slot for `source`; return once taken.

        Raises:
            TooManyExports: this source already runs `per_source` exports (429).
            ExportsBusy: `total` exports are running (503).
        """
        if self._running.get(source, 0) >= self.per_source:
            raise TooManyExports(
                f"this source already runs {self.per_source} export(s); wait for one to finish"
            )
        if self._count >= self.total:
            raise ExportsBusy(f"{self.total} exports are running; retry in a moment")
        self._running[source] = self._running.get(source, 0) + 1
        self._count += 1

    def release(self, source: bytes) -> None:
        """Give back a slot `acquire` took for `source`."""
        left = self._running.get(source, 0) - 1
        if left < 0:
            return
        if left == 0:
            del self._running[source]
        else:
            self._running[source] = left
        self._count -= 1
