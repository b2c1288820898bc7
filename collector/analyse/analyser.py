"""The collector's own analysis: re-run `probe.analysis` on stored measurements with the
collector's fingerprints, after ingest and again whenever rules or reference data change.

Analysis never delays an acknowledgement: ingest stores rows flagged `needs_analysis` and hands
the freshly stored ones to the `Analyser` in memory; it analyses them in batches (in worker
processes when configured, since matching some 2,400 fingerprints costs milliseconds per page)
and records verdict, methods, rules version and reference digest per row. Rows it did not get
in memory (after a restart, a re-analysis request, or when its queue was full) it reads back
from the store. The probe's own verdict stays beside the collector's.
"""

from __future__ import annotations

import logging
import os
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import Self

import msgspec
import trio
import zstandard

from collector.analyse.worker_processes import start_workers, stop_workers
from collector.config import utc_now
from collector.core.collection import settle_after_start
from collector.core.errors import ConfigInvalid, StorageUnavailable
from collector.core.metrics import Metrics
from collector.ingest.rows import analysis_row
from collector.storage import AnalysisRow, ThreadedStorage
from probe.analysis import RULES_VERSION, ReferenceData, analyse
from probe.errors import ConfigError
from probe.model import Analysis, Measurement, Verdict
from probe.references import load_reference, read_set_file

logger = logging.getLogger(__name__)

BATCH_ROWS = 200
"""Rows analysed per worker in one save when few arrive (and per read-back of stored rows)."""
SAVE_ROWS = 4_000
"""Most rows whose analyses are saved in one transaction. A save costs some 20 ms of the one
write connection's time whatever its size (a few statements at ~4 ms each), so under load the
analyser saves what gathered in `GATHER_S` in one go: at 2,000 uploads/s, one save of ~1,000
rows instead of five of 200 (docs/performance.md)."""
FRESH_LIMIT = 20_000
"""Freshly stored rows kept in memory for the analyser; beyond, it reads them back later."""
MAX_BATCHES_PER_WAKE = 10_000
IDLE_RECHECK_S = 30.0
GATHER_S = 0.4
"""How long the analyser gathers fresh rows before analysing them (unless `SAVE_ROWS` arrived
first): with the analysis and the save, a measurement is in the reports within about 1 s."""
SAVE_EVERY_S = 0.5
"""While uploads keep arriving, analyses wait in memory up to this long (or until `SAVE_ROWS`
of them) and are saved together: a save's rollup statements cost about the same whatever its
size (docs/performance.md), so at most about two saves a second instead of one for every few
rows that arrived during the previous analysis and save. As soon as nothing more arrived,
what is held is saved at once; rows whose analysis is held stay flagged in the store, so a
crash only means analysing them again."""
RETRY_FIRST_S = 1.0
RETRY_MAX_S = 60.0
"""Backoff of the analyser after the store refused a write (a full disk): it doubles up to this."""
WORKER_NICENESS = 10
_decoder = msgspec.json.Decoder(Measurement)


@dataclass(frozen=True)
class ReferenceSource:
    """Where the collector's reference data comes from (so worker processes can load it too)."""

    fingerprint_paths: tuple[Path, ...] = ()
    fingerprint_set_path: Path | None = None
    public_networks: tuple[str, ...] = ()
    throttle_kbps: float = 256.0

    def load(self) -> ReferenceData:
        """Return the reference data.

        Raises:
            ConfigInvalid: a fingerprint file cannot be read or parsed.
        """
        try:
            versioned = (
                read_set_file(self.fingerprint_set_path) if self.fingerprint_set_path else None
            )
            return load_reference(
                self.fingerprint_paths,
                self.public_networks,
                self.throttle_kbps,
                fingerprint_set=versioned,
            )
        except ConfigError as exc:
            raise ConfigInvalid(str(exc)) from exc


def analyse_stored(
    items: Sequence[tuple[str, bytes]], reference: ReferenceData, analysed_at: datetime
) -> list[AnalysisRow]:
    """Return the collector's analysis of each (uid, zstd-compressed accepted bytes)."""
    rows: list[AnalysisRow] = []
    decompressor = zstandard.ZstdDecompressor()
    for uid, raw_zstd in items:
        try:
            measurement = _decoder.decode(decompressor.decompress(raw_zstd))
            analysis = analyse(measurement, reference)
        except (msgspec.DecodeError, zstandard.ZstdError) as exc:
            # Validated at ingest, so only a format change can get here; record it, do not loop.
            analysis = Analysis(
                verdict=Verdict.INCONCLUSIVE,
                confidence=0.0,
                notes=[f"collector: stored measurement no longer decodes: {exc}"],
                rules_version=RULES_VERSION,
                reference_digest=reference.digest,
            )
        rows.append(analysis_row(uid, analysis, analysed_at=analysed_at))
    return rows


_worker_reference: ReferenceData | None = None


def _init_worker(source: ReferenceSource) -> None:
    global _worker_reference  # noqa: PLW0603 - one reference per worker process, loaded once
    _worker_reference = source.load()
    settle_after_start()  # it decodes every measurement: thousands of short-lived objects each
    os.nice(WORKER_NICENESS)  # background work: uploads and queries come first on busy cores


def _analyse_in_worker(
    items: Sequence[tuple[str, bytes]], analysed_at: datetime
) -> list[AnalysisRow]:
    assert _worker_reference is not None
    return analyse_stored(items, _worker_reference, analysed_at)


class Analyser:
    """Analyses rows flagged `needs_analysis` whenever woken; a context manager owning its pool."""

    def __init__(
        self,
        storage: ThreadedStorage,
        source: ReferenceSource,
        metrics: Metrics,
        *,
        workers: int = 0,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.storage = storage
        self.clock = clock
        self.source = source
        self.reference = source.load()
        self.metrics = metrics
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None
        self._wake = trio.Event()
        self._idle = trio.Event()
        self._limiter = trio.CapacityLimiter(max(1, workers))
        self._fresh: deque[tuple[str, bytes]] = deque()
        self._enough = trio.Event()
        self._read_back = True  # rows stored before this process started
        self._held: list[AnalysisRow] = []  # analysed, not saved yet (`SAVE_EVERY_S`)
        self._held_since = 0.0

    def __enter__(self) -> Self:
        self._pool = start_workers(self.workers, _init_worker, (self.source,))
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        stop_workers(self._pool)
        self._pool = None

    @property
    def rules_version(self) -> str:
        """Return the version of the rules this collector analyses with."""
        return RULES_VERSION

    @property
    def reference_digest(self) -> str:
        """Return the digest of this collector's reference data."""
        return self.reference.digest

    def offer(self, items: Sequence[tuple[str, bytes]]) -> None:
        """Hand over freshly stored rows, (uid, zstd-compressed bytes), and wake the analyser."""
        if len(self._fresh) + len(items) > FRESH_LIMIT:
            self._read_back = True
        else:
            self._fresh.extend(items)
        if len(self._fresh) >= SAVE_ROWS:
            self._enough.set()
        self.wake()

    def wake(self) -> None:
        """Tell the analyser that rows may need analysing."""
        if self._idle.is_set():
            self._idle = trio.Event()
        self._wake.set()

    async def wait_idle(self) -> None:
        """Return once everything flagged so far has been analysed."""
        await self._idle.wait()

    async def _analyse(self, items: list[tuple[str, bytes]]) -> list[AnalysisRow]:
        now = self.clock()
        if self._pool is None:
            return await trio.to_thread.run_sync(
                analyse_stored, items, self.reference, now, limiter=self._limiter
            )
        pool = self._pool
        parts = max(1, min(self.workers, len(items)))
        size = -(-len(items) // parts)
        chunks = [items[i : i + size] for i in range(0, len(items), size)]
        futures = [pool.submit(_analyse_in_worker, chunk, now) for chunk in chunks]
        rows: list[AnalysisRow] = []
        for future in futures:
            rows.extend(await trio.to_thread.run_sync(future.result))
        return rows

    async def _analyse_and_save(self, items: list[tuple[str, bytes]], *, hold: bool) -> int:
        rows = await self._analyse(items)
        if not self._held:
            self._held_since = trio.current_time()
        self._held.extend(rows)
        if (
            not hold
            or len(self._held) >= SAVE_ROWS
            or trio.current_time() - self._held_since >= SAVE_EVERY_S
        ):
            await self._save_held()
        return len(rows)

    async def _save_held(self) -> None:
        rows, self._held = self._held, []
        if rows:
            await self.storage.write(self.storage.backend.save_analyses, rows)
            self.metrics.analysed.inc(len(rows))

    async def drain(self, *, max_batches: int = MAX_BATCHES_PER_WAKE, hold: bool = False) -> int:
        """Analyse what was handed over, then (if needed) flagged rows read back from the store,
        batch by batch until none are left; return how many.

        With `hold`, analyses of handed-over rows may stay in memory for the next call
        (`SAVE_EVERY_S`), and fewer than a batch that arrived meanwhile are left for the next
        call too (the caller gathers more first); without, everything handed over is analysed
        and saved before it returns.
        """
        done = 0
        batch_rows = BATCH_ROWS * max(1, self.workers)
        for _ in range(max_batches):
            if not self._fresh or (hold and done and len(self._fresh) < batch_rows):
                break
            count = min(SAVE_ROWS, len(self._fresh))
            items = [self._fresh.popleft() for _ in range(count)]
            done += await self._analyse_and_save(items, hold=hold)
        if not self._read_back:
            if not hold:
                await self._save_held()
            return done
        self._read_back = False
        await self._save_held()  # else the store would hand the held rows back as pending
        for _ in range(max_batches):
            items = await self.storage.read(self.storage.backend.pending_analysis, batch_rows)
            if not items:
                break
            done += await self._analyse_and_save(items, hold=False)
        counts = await self.storage.read(self.storage.backend.counts)
        self.metrics.analysis_pending.set(counts.pending_analysis)
        return done

    async def request(self, *, everything: bool) -> int:
        """Flag rows analysed with other rules or reference data (or all); return how many."""
        flag = partial(
            self.storage.backend.request_reanalysis,
            rules_version=self.rules_version,
            reference_digest=self.reference_digest,
            everything=everything,
        )
        count = await self.storage.write(flag)
        self._read_back = True
        self.wake()
        return count

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Analyse flagged rows whenever woken (and every half minute), until cancelled.

        A write the store refuses (a full disk) pauses the analyser with a doubling backoff;
        the rows it held stay flagged in the store and are read back when writes work again.
        """
        task_status.started()
        retry_s = RETRY_FIRST_S
        while True:
            if not self._read_back:
                # Gather a batch (or wait a moment): one UPDATE commit per batch, not per upload.
                with trio.move_on_after(GATHER_S):
                    await self._enough.wait()
            self._enough = trio.Event()
            self._wake = trio.Event()
            try:
                await self.drain(hold=True)
                if not self._wake.is_set() and not self._fresh:
                    await self._save_held()  # nothing more arrived: no reason to wait
            except StorageUnavailable as exc:
                # The rows stay flagged in the store: read them back once writes work again.
                self._held = []
                self._read_back = True
                logger.warning("analysis paused for %.0f s: %s", retry_s, exc)
                await trio.sleep(retry_s)
                retry_s = min(retry_s * 2, RETRY_MAX_S)
                continue
            retry_s = RETRY_FIRST_S
            if self._wake.is_set() or self._fresh:
                continue  # rows arrived while draining
            self._idle.set()
            with trio.move_on_after(IDLE_RECHECK_S) as idle:
                await self._wake.wait()
            if idle.cancelled_caught:
                self._read_back = True  # nothing for a while: make sure nothing was missed
