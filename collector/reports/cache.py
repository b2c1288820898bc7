"""Country reports kept until the rollups change: the dashboard, the overview and the gauges
ask for the same reports again and again, and each costs a few hundred milliseconds to build.

Exact, never stale: an entry remembers the storage's `rollup_version` read before it was
built, and is served only while that version is still current. Any saved analysis (or rollup
rebuild) changes the version, so the next request builds the report afresh. Bounded: the least
recently used entries go first. Thread-safe: builds run in storage reader threads.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import msgspec

from collector.regional import ModelSettings
from collector.reports import build
from collector.reports.model import CountryReport
from collector.storage.reports import ReportQuery

MAX_ENTRIES = 256


class VersionedReportStore(build.ReportStore, Protocol):
    """A report store that says when its rollups changed."""

    @property
    def rollup_version(self) -> int:
        """Return a number that changes after every change to the rollups."""
        ...


@dataclass
class _Entry:
    version: int
    report: CountryReport
    encoded: bytes | None = None


@dataclass(frozen=True)
class CacheStats:
    """How often the cache answered and how often a report had to be built."""

    hits: int
    builds: int
    entries: int


class ReportCache:
    """Country reports by (query, settings), valid while the rollups are unchanged."""

    def __init__(
        self, max_entries: int = MAX_ENTRIES, record: Callable[[str], None] | None = None
    ) -> None:
        """`record` is told "cached" or "built" for every report asked for (for metrics)."""
        self._max_entries = max(1, max_entries)
        self._record = record
        self._lock = threading.Lock()
        self._entries: OrderedDict[tuple[ReportQuery, ModelSettings], _Entry] = OrderedDict()
        self._hits = 0
        self._builds = 0

    def _current(
        self,
        store: VersionedReportStore,
        query: ReportQuery,
        settings: ModelSettings,
        now: datetime,
    ) -> _Entry:
        key = (query, settings)
        version = store.rollup_version  # read before building: a later write makes it stale
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry.version == version:
                self._entries.move_to_end(key)
                self._hits += 1
                hit = entry
            else:
                hit = None
        if hit is not None:
            if self._record is not None:
                self._record("cached")
            return hit
        fresh = _Entry(version, build.country_report(store, query, settings, now))
        with self._lock:
            self._builds += 1
            self._entries[key] = fresh
            self._entries.move_to_end(key)
            while len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)
        if self._record is not None:
            self._record("built")
        return fresh

    def country_report(
        self,
        store: VersionedReportStore,
        query: ReportQuery,
        settings: ModelSettings,
        now: datetime,
    ) -> CountryReport:
        """Return the country's report: the cached one if the rollups have not changed since
        it was built (its `generated_at` says when), else a new one."""
        return self._current(store, query, settings, now).report

    def country_json(
        self,
        store: VersionedReportStore,
        query: ReportQuery,
        settings: ModelSettings,
        now: datetime,
    ) -> bytes:
        """Return `country_report` encoded as JSON (encoded once per built report)."""
        entry = self._current(store, query, settings, now)
        encoded = entry.encoded
        if encoded is None:
            encoded = msgspec.json.encode(entry.report)
            entry.encoded = encoded  # same bytes whichever thread stores them
        return encoded

    def stats(self) -> CacheStats:
        """Return the hit and build counts so far and the number of entries."""
        with self._lock:
            return CacheStats(hits=self._hits, builds=self._builds, entries=len(self._entries))
