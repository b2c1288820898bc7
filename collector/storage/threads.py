"""Run a synchronous `Storage` from trio: writes one at a time, reads a few at once, all in threads.

The event loop never blocks on the database; the write limiter is what makes the ingest writer,
the analyser and admin imports take turns on the one write connection.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import trio

from collector.storage.base import Storage

T = TypeVar("T")


class ThreadedStorage:
    """A `Storage` plus the limiters that bound its worker threads."""

    def __init__(self, storage: Storage, *, read_threads: int = 4) -> None:
        self.backend = storage
        """The synchronous store these threads call."""
        self._reads = trio.CapacityLimiter(max(1, read_threads))
        self._writes = trio.CapacityLimiter(1)

    async def read(self, call: Callable[..., T], *args: object) -> T:
        """Return `call(*args)` run in a reader thread (a storage read method)."""
        return await trio.to_thread.run_sync(call, *args, limiter=self._reads)

    async def write(self, call: Callable[..., T], *args: object) -> T:
        """Return `call(*args)` run in the single writer thread slot (a storage write method)."""
        return await trio.to_thread.run_sync(call, *args, limiter=self._writes)
