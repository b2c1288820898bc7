"""The storage interface the collector is written against, and the records that cross it.

`Storage` is everything any collector module asks of a store: ingest, analysis, search, exports,
test lists and check-in, rollups and reports (`ReportStore`, whose records are in
`report_records`). Every method is synchronous and may block; `collector.storage.threads` runs
them in worker threads for trio code. One embedded backend implements it today
(`duckdb.DuckDBStorage`); `backends.open_backend` picks the backend from a URL, so another
backend is one more module there.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Protocol

import msgspec

if TYPE_CHECKING:
    import pyarrow as pa

    from collector.regional.model import ModelSettings, NetworkCounts
    from collector.storage.report_records import (
        CountryNetwork,
        CountrySummary,
        ReportQuery,
        ReportTable,
        Sample,
    )

Doc = msgspec.Meta


@dataclass(frozen=True)
class MeasurementRow:
    """One accepted measurement, summarised for queries, with its accepted bytes compressed."""

    uid: str
    received_at: datetime
    start_time: datetime
    probe_cc: str
    probe_asn: int
    probe_network_name: str
    probe_id: str | None
    region: str | None
    input: str
    domain: str
    category_code: str | None
    software_name: str
    software_version: str
    format_version: str
    probe_verdict: str
    probe_methods: list[str]
    probe_confidence: float
    control_failed: bool
    source_cc: str | None
    source_asn: int | None
    geo_mismatch: bool | None
    raw_zstd: bytes
    uploader_network: str | None = None
    """Keyed hash of the uploading network (`collector.sources.uploaders`), never the address."""
    origin: str = "crenel"
    """Who measured: `crenel`, or the platform an imported measurement comes from (`ooni`)."""


@dataclass(frozen=True)
class AnalysisRow:
    """The collector's own analysis of one stored measurement."""

    uid: str
    verdict: str
    methods: list[str]
    confidence: float
    blocking: str | None
    accessible: bool | None
    fingerprint_confirmed: bool
    rules_version: str
    reference_digest: str
    analysed_at: datetime
    analysis_json: str
    packet_confirmed: bool = False
    """Packet-level evidence (an injected reset, DNS answer or bait) confirms the verdict."""


@dataclass(frozen=True)
class AnalysedRow:
    """A measurement that arrives with the collector's analysis of it (an import analyses each
    measurement before it is stored): stored already analysed, never waiting for the analyser."""

    row: MeasurementRow
    analysis: AnalysisRow
    """The analysis of `row` (the same uid)."""


@dataclass(frozen=True)
class Filters:
    """Which measurements a query, an aggregation or an export covers (all given ones must hold)."""

    country: tuple[str, ...] = ()
    asn: tuple[int, ...] = ()
    domain: tuple[str, ...] = ()
    input: str | None = None
    category: tuple[str, ...] = ()
    verdict: tuple[str, ...] = ()
    """The collector's verdicts; "pending" selects measurements it has not analysed yet."""
    method: tuple[str, ...] = ()
    """Any of these blocking methods in the collector's analysis."""
    since: datetime | None = None
    """Inclusive bound on start_time (UTC)."""
    until: datetime | None = None
    """Exclusive bound on start_time (UTC)."""
    software_name: str | None = None
    software_version: str | None = None
    confirmed: bool | None = None
    """Only measurements with (or without) a confirmed blockpage or forged-DNS fingerprint."""
    geo_mismatch: bool | None = None
    origin: str | None = None
    """Only measurements of this origin (`crenel`, `ooni`); None: all."""


@dataclass(frozen=True)
class Cursor:
    """Where the next page starts: strictly after this (start_time, uid) in newest-first order."""

    start_time: datetime
    uid: str


class Axis(StrEnum):
    """What an aggregation can group by."""

    DAY = "day"
    WEEK = "week"
    COUNTRY = "country"
    ASN = "asn"
    DOMAIN = "domain"
    CATEGORY = "category"
    METHOD = "method"
    VERDICT = "verdict"


@dataclass(frozen=True)
class AggregationQuery:
    """One or two axes, filters, and an optional cap on each probe's weight per cell."""

    axis_x: Axis
    axis_y: Axis | None = None
    filters: Filters = field(default_factory=Filters)
    max_per_probe: int | None = None
    """Weigh each probe at most this many measurements' worth in one cell (anti-flooding)."""
    with_probes: bool = False
    """Also count distinct probe ids per cell (a third scan: costs as much as the counts)."""


class MeasurementSummary(msgspec.Struct, frozen=True, kw_only=True):
    """One stored measurement as listed by the query API: the probe's and the collector's view."""

    uid: str
    start_time: datetime
    received_at: datetime
    probe_cc: str
    probe_asn: Annotated[str, Doc(description="AS number as ASnnn.")]
    probe_network_name: str
    input: str
    domain: str
    category_code: str | None
    software_name: str
    software_version: str
    format_version: str
    verdict: Annotated[
        str | None, Doc(description="The collector's verdict; null until it has analysed it.")
    ]
    methods: Annotated[list[str], Doc(description="The collector's blocking methods.")]
    confidence: float | None
    blocking: Annotated[str | None, Doc(description="OONI-compatible: false, a reason or null.")]
    accessible: bool | None
    fingerprint_confirmed: Annotated[
        bool | None,
        Doc(description="A blockpage or forged-DNS fingerprint matched (no false positive)."),
    ]
    rules_version: str | None
    probe_verdict: Annotated[str, Doc(description="The verdict the probe reached itself.")]
    probe_methods: list[str]
    probe_confidence: float
    control_failed: Annotated[bool, Doc(description="The probe got no usable control reply.")]
    geo_mismatch: Annotated[
        bool | None,
        Doc(description="The uploader's address geolocates elsewhere than the claimed network."),
    ]


class AggregationRow(msgspec.Struct, frozen=True, kw_only=True):
    """The counts of one cell of an aggregation."""

    x: str
    y: str | None = None
    measurements: int
    ok: int
    blocked: int
    down: int
    inconclusive: int
    pending: Annotated[int, Doc(description="Not analysed by the collector yet.")]
    confirmed: Annotated[int, Doc(description="Blocked with a fingerprint match.")]
    probes: Annotated[
        int | None, Doc(description="Distinct probe ids; null unless asked for (probes=true).")
    ] = None
    methods: Annotated[
        dict[str, int], Doc(description="Measurements per blocking method (non-zero only).")
    ] = {}


class TestListUrl(msgspec.Struct, frozen=True, kw_only=True):
    """One URL of an imported test list."""

    __test__ = False  # not a pytest test class

    url: str
    category_code: str | None = None
    cc: Annotated[str, Doc(description="Upper-case country of the list; empty for global.")] = ""
    date_added: date | None = None
    source: str | None = None


class CheckInUrl(msgspec.Struct, frozen=True, kw_only=True):
    """One URL handed to a probe at check-in."""

    url: str
    category_code: str | None
    list: Annotated[str, Doc(description="`global` or the country list it comes from.")]
    recent_measurements: Annotated[
        int, Doc(description="Measurements of it from this network over the last 7 days.")
    ]


@dataclass(frozen=True)
class ExportPage:
    """One page of an HTTP export and where the next one starts (None after the last page)."""

    table: pa.Table
    after: Cursor | None


@dataclass(frozen=True)
class StorageCounts:
    """Sizes the health and metrics endpoints report."""

    measurements: int
    pending_analysis: int
    test_list_urls: int
    schema_version: int
    """The newest migration applied to the store, in its backend's own numbering (DuckDB's and
    PostgreSQL's migrations are numbered apart)."""


class ExportFormat(StrEnum):
    """Bulk export formats."""

    PARQUET = "parquet"
    JSONL = "jsonl"
    CSV = "csv"
    OONI = "ooni"
    """JSON lines in OONI's web_connectivity format (data format 0.2.0)."""


class ReportStore(Protocol):
    """The reads reports need: the rollups of a window, and a version that says when they
    changed (`collector.reports` is written against this part of `Storage` alone)."""

    @property
    def rollup_version(self) -> int:
        """Return a number that changes after every committed change to the rollups."""
        ...

    def report_domains(
        self, query: ReportQuery, settings: ModelSettings, *, details: bool = True
    ) -> ReportTable:
        """Return each domain's per-network weighted counts; with `details` False, methods and
        categories may be left empty (verdicts need neither: the overview asks so)."""
        ...

    def report_networks(self, query: ReportQuery) -> list[CountryNetwork]:
        """Return every network of the window with its measurement count."""
        ...

    def report_baselines(self, query: ReportQuery, settings: ModelSettings) -> dict[str, float]:
        """Return each domain's noise baseline from the other countries."""
        ...

    def report_baselines_of(
        self, queries: Sequence[ReportQuery], settings: ModelSettings
    ) -> list[dict[str, float]]:
        """Return `report_baselines` of each query (the overview asks for every country's)."""
        ...

    def report_daily_domains(
        self, query: ReportQuery, settings: ModelSettings
    ) -> dict[date, ReportTable]:
        """Return, for each day of the window with data, what `report_domains` returns for
        that day alone (weights capped per day), all days in one pass, but without methods and
        without the summed networks too small to decide (`ReportTable.sparse` is empty); the
        categories may be left empty too."""
        ...

    def report_daily_shares(
        self,
        query: ReportQuery,
        settings: ModelSettings,
        domains: Sequence[str] | None = None,
    ) -> dict[str, list[tuple[date, float, float]]]:
        """Return weighted (day, blocked, ok) per domain (only `domains`, when given)."""
        ...

    def report_daily_networks(
        self, query: ReportQuery, settings: ModelSettings
    ) -> dict[date, list[NetworkCounts]]:
        """Return one domain's weighted counts per day and network."""
        ...

    def report_countries(
        self, since: date, until: date, origin: str | None = None
    ) -> list[CountrySummary]:
        """Return every country with data (of one origin, when given)."""
        ...

    def report_samples(self, query: ReportQuery, limit: int) -> tuple[list[Sample], Counter[str]]:
        """Return sample measurements and fingerprint counts of one domain."""
        ...


class Storage(ReportStore, Protocol):
    """What the collector needs from a measurement store (every method any collector module
    calls on one)."""

    def insert(self, rows: Sequence[MeasurementRow]) -> set[str]:
        """Store the rows in one durable transaction; return the uids that were new.

        Rows whose uid is already stored are ignored (idempotent upload).
        """

    def insert_analysed(self, rows: Sequence[AnalysedRow]) -> set[str]:
        """Store the rows with their analyses and move the rollups by the new rows alone, in
        one durable transaction; return the uids that were new.

        What `insert` and then `save_analyses` of the new rows' analyses would store, without
        reading the stored rows back: a row whose uid is already stored (analysed or not) is
        skipped and counts nowhere, and a uid twice in `rows` is stored once (its first row).
        """

    def raw(self, uid: str) -> bytes | None:
        """Return the accepted bytes of a measurement, b"" if retention removed them, or None."""

    def summaries(
        self, filters: Filters, after: Cursor | None, limit: int
    ) -> list[MeasurementSummary]:
        """Return up to `limit` matching measurements, newest first, strictly after `after`."""

    def aggregate(self, query: AggregationQuery) -> list[AggregationRow]:
        """Return the counts of every non-empty cell, ordered by x then y."""

    def pending_analysis(self, limit: int) -> list[tuple[str, bytes]]:
        """Return (uid, zstd-compressed accepted bytes) of up to `limit` rows to analyse."""

    def save_analyses(self, rows: Sequence[AnalysisRow]) -> None:
        """Record the collector's analyses and clear their rows' pending flag."""

    def request_reanalysis(
        self, *, rules_version: str, reference_digest: str, everything: bool
    ) -> int:
        """Flag rows analysed with other rules or reference data (or all); return how many."""

    def strip_raw(self, before: datetime, limit: int) -> int:
        """Empty the bodies of up to `limit` analysed rows received before `before`; return
        how many."""

    def replace_test_lists(self, urls: Sequence[TestListUrl], origin: str) -> int:
        """Replace every test list with `urls`; return how many are stored."""

    def check_in_urls(
        self,
        *,
        cc: str,
        asn: int,
        categories: Sequence[str],
        limit: int,
        since: datetime,
    ) -> list[CheckInUrl]:
        """Return the URLs for this network: global plus its country, least measured first."""

    def export(self, filters: Filters, fmt: ExportFormat, out: Path, *, partitioned: bool) -> int:
        """Write the matching measurements to `out` (a directory when partitioned); return rows."""

    def export_page(
        self, filters: Filters, fmt: ExportFormat, after: Cursor | None, limit: int
    ) -> ExportPage:
        """Return up to `limit` rows of an export in (start_time, uid) order after `after`."""

    def counts(self) -> StorageCounts:
        """Return the sizes health and metrics report."""

    def rebuild_rollups(self) -> None:
        """Recompute every rollup from the analysed measurements (one transaction)."""

    def close(self) -> None:
        """Close the store (a checkpoint, then release the file)."""


def iter_chunks(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    """Yield consecutive slices of `items` of at most `size` elements."""
    for start in range(0, len(items), size):
        yield items[start : start + size]
