"""The report cache: a report is reused only while the rollups it was built from are unchanged."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime

import msgspec
import numpy as np

from collector.regional.model import ModelSettings, NetworkCounts
from collector.reports.build import countries
from collector.reports.cache import ReportCache, report_cost
from collector.reports.model import CountryReport
from collector.storage import (
    CountryNetwork,
    CountrySummary,
    NetworkTable,
    ReportQuery,
    ReportTable,
    Sample,
)

DAY = date(2026, 11, 1)
NOW = datetime(2026, 11, 1, 12, tzinfo=UTC)
S = ModelSettings()


def _empty_table() -> ReportTable:
    ints, floats = np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float64)
    counts = ("informative", "informative_probes", "probes", "blocked", "ok", "down",
              "inconclusive", "confirmed", "packet_confirmed")  # fmt: skip
    networks = NetworkTable(
        group=ints, asn=ints, blocked_w=floats, ok_w=floats, methods=[],
        **dict.fromkeys(counts, ints),
    )  # fmt: skip
    return ReportTable(domains=[], categories={}, networks=networks, sparse={})


class CountingStore:
    """A report store with no data that counts report builds and has a settable version."""

    def __init__(self, countries: Sequence[str] = ("CN",)) -> None:
        self.rollup_version = 0
        self.builds: Counter[str] = Counter()
        self.countries = list(countries)
        self.during_build: list[Callable[[], None]] = []

    def report_domains(
        self, query: ReportQuery, settings: ModelSettings, *, details: bool = True
    ) -> ReportTable:
        self.builds[query.cc] += 1
        for action in self.during_build:
            action()
        return _empty_table()

    def report_networks(self, query: ReportQuery) -> list[CountryNetwork]:
        return [CountryNetwork(asn=64500 + self.builds[query.cc], name=None, measurements=0)]

    def report_baselines(self, query: ReportQuery, settings: ModelSettings) -> dict[str, float]:
        return {}

    def report_baselines_of(
        self, queries: Sequence[ReportQuery], settings: ModelSettings
    ) -> list[dict[str, float]]:
        return [{} for _ in queries]

    def report_daily_domains(
        self, query: ReportQuery, settings: ModelSettings
    ) -> dict[date, ReportTable]:
        return {}

    def report_daily_shares(
        self,
        query: ReportQuery,
        settings: ModelSettings,
        domains: Sequence[str] | None = None,
    ) -> dict[str, list[tuple[date, float, float]]]:
        return {}

    def report_daily_networks(
        self, query: ReportQuery, settings: ModelSettings
    ) -> dict[date, list[NetworkCounts]]:
        return {}

    def report_countries(
        self, since: date, until: date, origin: str | None = None
    ) -> list[CountrySummary]:
        return [CountrySummary(cc, 0, 0, 0, None) for cc in self.countries]

    def report_samples(self, query: ReportQuery, limit: int) -> tuple[list[Sample], Counter[str]]:
        return [], Counter()


CN = ReportQuery(cc="CN", since=DAY, until=DAY)


def test_a_report_is_built_once_while_the_rollups_are_unchanged() -> None:
    store, cache = CountingStore(), ReportCache()
    first = cache.country_report(store, CN, S, NOW)
    assert cache.country_report(store, CN, S, NOW) is first
    assert msgspec.json.decode(cache.country_json(store, CN, S, NOW), type=CountryReport) == first
    assert store.builds["CN"] == 1
    assert (cache.stats().hits, cache.stats().builds) == (2, 1)


def test_a_change_to_the_rollups_means_a_new_report() -> None:
    store, cache = CountingStore(), ReportCache()
    first = cache.country_report(store, CN, S, NOW)
    store.rollup_version += 1
    second = cache.country_report(store, CN, S, NOW)
    assert second is not first and second.networks[0].asn == 64502
    assert store.builds["CN"] == 2


def test_a_write_during_the_build_leaves_the_report_stale() -> None:
    store, cache = CountingStore(), ReportCache()

    def write() -> None:
        store.rollup_version += 1

    store.during_build.append(write)
    cache.country_report(store, CN, S, NOW)
    store.during_build.clear()
    cache.country_report(store, CN, S, NOW)
    assert store.builds["CN"] == 2  # the first report may have missed the write


def test_other_queries_and_settings_are_other_entries_and_the_oldest_go_first() -> None:
    store = CountingStore()
    one = report_cost(ReportCache().country_report(CountingStore(), CN, S, NOW))
    cache = ReportCache(max_bytes=4 * one)  # room for four reports like these
    queries = [ReportQuery(cc="CN", since=DAY, until=DAY, asn=asn) for asn in range(4)]
    for query in queries:
        cache.country_report(store, query, S, NOW)
    cache.country_report(store, CN, ModelSettings(min_probes=3), NOW)  # a fifth: other settings
    assert store.builds["CN"] == 5
    assert (cache.stats().entries, cache.stats().bytes) == (4, 4 * one)
    for query in queries[1:]:
        cache.country_report(store, query, S, NOW)
    assert store.builds["CN"] == 5
    cache.country_report(store, queries[0], S, NOW)  # the least recently used went first
    assert store.builds["CN"] == 6


def test_memory_is_bounded_and_a_huge_report_is_answered_but_not_kept() -> None:
    store = CountingStore()
    one = report_cost(ReportCache().country_report(CountingStore(), CN, S, NOW))
    cache = ReportCache(max_bytes=4 * one)
    body = cache.country_json(store, CN, S, NOW)  # the JSON is charged too
    assert cache.stats().bytes == one + len(body)
    small = ReportCache(max_bytes=4 * one - 1)  # this report costs more than a quarter of it
    for _ in range(2):
        assert small.country_report(store, CN, S, NOW).cc == "CN"
    assert (small.stats().entries, small.stats().bytes, small.stats().builds) == (0, 0, 2)


def test_the_overview_reuses_each_countrys_report_and_metrics_hear_of_it() -> None:
    store = CountingStore(["CN", "IR"])
    answers: Counter[str] = Counter()
    cache = ReportCache(record=lambda how: answers.update([how]))
    for _ in range(3):
        reply = countries(store, DAY, DAY, S, NOW, report_of=cache.country_report)
        assert [c.cc for c in reply.countries] == ["CN", "IR"]
    assert store.builds == {"CN": 1, "IR": 1}
    assert answers == {"built": 2, "cached": 4}


def test_concurrent_readers_get_one_consistent_report() -> None:
    store, cache = CountingStore(), ReportCache()
    seen: list[CountryReport] = []
    lock = threading.Lock()

    def read() -> None:
        for _ in range(50):
            report = cache.country_report(store, CN, S, NOW)
            with lock:
                seen.append(report)

    threads = [threading.Thread(target=read) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert len(seen) == 200 and all(r == seen[0] for r in seen)
    assert store.builds["CN"] <= 4  # at most one build per thread before the first is stored
