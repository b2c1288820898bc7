"""Country reports kept until the rollups change: the dashboard, the overview and the gauges
ask for the same reports again and again, and each costs a few hundred milliseconds to build.

Exact, never stale: an entry remembers the storage's `rollup_version` read before it was
built, and is served only while that version is still current. Any saved analysis (or rollup
rebuild) changes the version, so the next request builds the report afresh.

Bounded by memory, not by count: a 7-day report of a large country holds about 5 MB, a 60-day
one 55 MB (measured: about 450 bytes per domain or network line), and anyone may ask for
many windows. Each entry is charged `ROW_BYTES` per line plus its JSON once encoded; the least
recently used go first when the budget is exceeded, and a report costing more than a quarter of
the budget is answered but not kept. Thread-safe: builds run in storage reader threads.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import msgspec

from collector.regional.model import ModelSettings
from collector.reports import build
from collector.reports.model import CountryReport
from collector.storage import ReportQuery, ReportStore

MAX_BYTES = 256 << 20
ROW_BYTES = 512
"""What one domain or network line of a report costs in memory (measured 450, rounded up)."""


@dataclass
class _Entry:
    version: int
    report: CountryReport
    cost: int
    encoded: bytes | None = None


@dataclass(frozen=True)
class CacheStats:
    """How often the cache answered, how often a report had to be built, and what it holds."""

    hits: int
    builds: int
    entries: int
    bytes: int


def report_cost(report: CountryReport) -> int:
    """Return the estimated memory a report holds (`ROW_BYTES` per domain and network line, and
    one for the report itself)."""
    lines = 1 + len(report.networks) + sum(1 + len(d.networks) for d in report.domains)
    return ROW_BYTES * lines


class ReportCache:
    """Country reports by (query, settings), valid while the rollups are unchanged."""

    def __init__(
        self, max_bytes: int = MAX_BYTES, record: Callable[[str], None] | None = None
    ) -> None:
        """`record` is told "cached" or "built" for every report asked for (for metrics)."""
        self._max_bytes = max(0, max_bytes)
        self._record = record
        self._lock = threading.Lock()
        self._entries: OrderedDict[tuple[ReportQuery, ModelSettings], _Entry] = OrderedDict()
        self._bytes = 0
        self._hits = 0
        self._builds = 0

    def _told(self, how: str) -> None:
        if self._record is not None:
            self._record(how)

    def _current(
        self,
        store: ReportStore,
        query: ReportQuery,
        settings: ModelSettings,
        now: datetime,
    ) -> _Entry:
        key = (query, settings)
        version = store.rollup_version  # read before building: a later write makes it stale
        with self._lock:
            entry = self._entries.get(key)
            hit = entry is not None and entry.version == version
            if hit:
                self._entries.move_to_end(key)
                self._hits += 1
        if entry is not None and hit:
            self._told("cached")
            return entry
        report = build.country_report(store, query, settings, now)
        fresh = _Entry(version, report, report_cost(report))
        with self._lock:
            self._builds += 1
            stored = self._entries.get(key)
            if stored is not None and stored.version == version:
                # Another reader built the same version meanwhile: everyone answers with the
                # one that was kept, so concurrent readers never see two reports of one state.
                self._entries.move_to_end(key)
                fresh = stored
            else:
                self._drop(key)
            if fresh is not stored and fresh.cost <= self._max_bytes // 4:
                self._entries[key] = fresh
                self._bytes += fresh.cost
                self._evict()
        self._told("built")
        return fresh

    def _drop(self, key: tuple[ReportQuery, ModelSettings]) -> None:
        old = self._entries.pop(key, None)
        if old is not None:
            self._bytes -= old.cost

    def _evict(self) -> None:
        while self._bytes > self._max_bytes and self._entries:
            _, oldest = self._entries.popitem(last=False)
            self._bytes -= oldest.cost

    def country_report(
        self,
        store: ReportStore,
        query: ReportQuery,
        settings: ModelSettings,
        now: datetime,
    ) -> CountryReport:
        """Return the country's report: the cached one if the rollups have not changed since
        it was built (its `generated_at` says when), else a new one."""
        return self._current(store, query, settings, now).report

    def country_json(
        self,
        store: ReportStore,
        query: ReportQuery,
        settings: ModelSettings,
        now: datetime,
    ) -> bytes:
        """Return `country_report` encoded as JSON (encoded once per kept report)."""
        entry = self._current(store, query, settings, now)
        encoded = entry.encoded
        if encoded is None:
            encoded = msgspec.json.encode(entry.report)
            with self._lock:
                if entry.encoded is None:
                    entry.encoded = encoded
                    entry.cost += len(encoded)
                    if self._entries.get((query, settings)) is entry:
                        self._bytes += len(encoded)
                        self._evict()
        return encoded

    def stats(self) -> CacheStats:
        """Return the hit and build counts so far and what the cache holds."""
        with self._lock:
            return CacheStats(
                hits=self._hits, builds=self._builds, entries=len(self._entries), bytes=self._bytes
            )
