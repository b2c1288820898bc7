"""A store whose researcher reads go to a read replica: `ReplicaReads` writes, analyses and
answers probes from the primary, and serves searches, aggregations, exports and reports from
the replica (`--read-store`).

Backend-neutral: both sides are any `Storage` (`open_backend` opens each from its URL). A
report's cache version is the replica's, so a cached report always matches the data it was
built from.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from collector.storage.base import (
    AggregationQuery,
    AggregationRow,
    AnalysedRow,
    AnalysisRow,
    CheckInUrl,
    Cursor,
    ExportFormat,
    ExportPage,
    Filters,
    MeasurementRow,
    MeasurementSummary,
    Storage,
    StorageCounts,
    TestListUrl,
)

if TYPE_CHECKING:
    from collector.regional.model import ModelSettings, NetworkCounts
    from collector.storage.report_records import (
        CountryNetwork,
        CountrySummary,
        ReportQuery,
        ReportTable,
        Sample,
    )


class ReplicaReads:
    """A `Storage`: writes and the collector's own reads on `primary`, researchers' reads on
    `replica`."""

    def __init__(self, primary: Storage, replica: Storage) -> None:
        self.primary = primary
        self.replica = replica

    # -- the primary: writes, analysis, probes, health --

    def insert(self, rows: Sequence[MeasurementRow]) -> set[str]:
        """Return the new uids of `rows`, stored on the primary."""
        return self.primary.insert(rows)

    def insert_analysed(self, rows: Sequence[AnalysedRow]) -> set[str]:
        """Return the new uids of `rows`, stored analysed on the primary."""
        return self.primary.insert_analysed(rows)

    def save_analyses(self, rows: Sequence[AnalysisRow]) -> None:
        """Record the analyses on the primary; return nothing."""
        self.primary.save_analyses(rows)

    def request_reanalysis(
        self, *, rules_version: str, reference_digest: str, everything: bool
    ) -> int:
        """Return how many rows the primary flagged for analysis again."""
        return self.primary.request_reanalysis(
            rules_version=rules_version, reference_digest=reference_digest, everything=everything
        )

    def strip_raw(self, before: datetime, limit: int) -> int:
        """Return how many bodies the primary emptied."""
        return self.primary.strip_raw(before, limit)

    def replace_test_lists(self, urls: Sequence[TestListUrl], origin: str) -> int:
        """Return how many test-list URLs the primary now holds."""
        return self.primary.replace_test_lists(urls, origin)

    def rebuild_rollups(self) -> None:
        """Recompute the primary's rollups; return nothing."""
        self.primary.rebuild_rollups()

    def pending_analysis(self, limit: int) -> list[tuple[str, bytes]]:
        """Return the primary's rows waiting for analysis."""
        return self.primary.pending_analysis(limit)

    def check_in_urls(
        self, *, cc: str, asn: int, categories: Sequence[str], limit: int, since: datetime
    ) -> list[CheckInUrl]:
        """Return a probe's URLs, from the primary (its recent measurements count)."""
        return self.primary.check_in_urls(
            cc=cc, asn=asn, categories=categories, limit=limit, since=since
        )

    def counts(self) -> StorageCounts:
        """Return the primary's sizes."""
        return self.primary.counts()

    # -- the replica: researchers' reads --

    def raw(self, uid: str) -> bytes | None:
        """Return a measurement's accepted bytes, from the replica."""
        return self.replica.raw(uid)

    def summaries(
        self, filters: Filters, after: Cursor | None, limit: int
    ) -> list[MeasurementSummary]:
        """Return a page of matching measurements, from the replica."""
        return self.replica.summaries(filters, after, limit)

    def aggregate(self, query: AggregationQuery) -> list[AggregationRow]:
        """Return an aggregation's cells, from the replica."""
        return self.replica.aggregate(query)

    def export(self, filters: Filters, fmt: ExportFormat, out: Path, *, partitioned: bool) -> int:
        """Return how many rows an export from the replica wrote."""
        return self.replica.export(filters, fmt, out, partitioned=partitioned)

    def export_page(
        self, filters: Filters, fmt: ExportFormat, after: Cursor | None, limit: int
    ) -> ExportPage:
        """Return an export page, from the replica."""
        return self.replica.export_page(filters, fmt, after, limit)

    @property
    def rollup_version(self) -> int:
        """Return the replica's rollup version (the reports read its rollups)."""
        return self.replica.rollup_version

    def report_domains(
        self, query: ReportQuery, settings: ModelSettings, *, details: bool = True
    ) -> ReportTable:
        """Return each domain's per-network counts, from the replica."""
        return self.replica.report_domains(query, settings, details=details)

    def report_networks(self, query: ReportQuery) -> list[CountryNetwork]:
        """Return the window's networks, from the replica."""
        return self.replica.report_networks(query)

    def report_baselines(self, query: ReportQuery, settings: ModelSettings) -> dict[str, float]:
        """Return each domain's noise baseline, from the replica."""
        return self.replica.report_baselines(query, settings)

    def report_baselines_of(
        self, queries: Sequence[ReportQuery], settings: ModelSettings
    ) -> list[dict[str, float]]:
        """Return each query's noise baselines, from the replica."""
        return self.replica.report_baselines_of(queries, settings)

    def report_daily_domains(
        self, query: ReportQuery, settings: ModelSettings
    ) -> dict[date, ReportTable]:
        """Return each day's per-domain, per-network weighted counts, from the replica."""
        return self.replica.report_daily_domains(query, settings)

    def report_daily_shares(
        self, query: ReportQuery, settings: ModelSettings, domains: Sequence[str] | None = None
    ) -> dict[str, list[tuple[date, float, float]]]:
        """Return weighted daily shares per domain, from the replica."""
        return self.replica.report_daily_shares(query, settings, domains)

    def report_daily_networks(
        self, query: ReportQuery, settings: ModelSettings
    ) -> dict[date, list[NetworkCounts]]:
        """Return one domain's counts per day and network, from the replica."""
        return self.replica.report_daily_networks(query, settings)

    def report_countries(
        self, since: date, until: date, origin: str | None = None
    ) -> list[CountrySummary]:
        """Return every country with data, from the replica."""
        return self.replica.report_countries(since, until, origin)

    def report_samples(self, query: ReportQuery, limit: int) -> tuple[list[Sample], Counter[str]]:
        """Return a domain's samples and fingerprint counts, from the replica."""
        return self.replica.report_samples(query, limit)

    def close(self) -> None:
        """Close both stores; return nothing."""
        try:
            self.replica.close()
        finally:
            self.primary.close()
