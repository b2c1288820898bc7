"""The embedded store: one DuckDB file in the data directory, owned by the collector process.

Inserts arrive as Arrow batches in one transaction each; DuckDB appends them to its write-ahead
log and fdatasyncs it before COMMIT returns (verified with strace, see docs/collector.md), and
the directory is fsynced whenever a new WAL file appears, so an acknowledged measurement
survives kill -9 and power loss. Reads run on per-thread cursors of the same database.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import zstandard

from collector.core.errors import DataDirLocked, StorageUnavailable
from collector.regional.model import ModelSettings, NetworkCounts
from collector.storage import (
    analysed_rows,
    arrow_batches,
    export_pages,
    exports,
    report_records,
    reports,
    rollup_writes,
    rollups,
    search,
    test_lists,
)
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
    StorageCounts,
    TestListUrl,
)
from collector.storage.heap_trim import limit_heap_fragmentation, release_free_heap
from collector.storage.migrations import MigrationError, migrate
from collector.storage.sql import HAS_RAW, naive_utc

logger = logging.getLogger(__name__)

CHECKPOINT_THRESHOLD = "64MB"
"""WAL size at which DuckDB checkpoints; until then the WAL's rows are also held in memory."""

_INSERT = """
INSERT OR IGNORE INTO measurements (
    uid, received_at, start_time, day, probe_cc, probe_asn, probe_network_name, probe_id, region,
    input, domain, category_code, software_name, software_version, format_version,
    probe_verdict, probe_methods, probe_confidence, needs_analysis, methods, control_failed,
    source_cc, source_asn, geo_mismatch, raw, uploader_network, origin)
SELECT uid::UUID, received_at, start_time, CAST(start_time AS DATE), probe_cc, probe_asn,
    probe_network_name, probe_id, region, input, domain, category_code, software_name,
    software_version, format_version, probe_verdict, probe_methods, probe_confidence, true,
    []::VARCHAR[], control_failed, source_cc, source_asn, geo_mismatch, raw, uploader_network,
    origin
FROM ingest_batch
RETURNING uid::VARCHAR
"""
"""A new row's `methods` starts as an empty list rather than NULL: saving an analysis that
leaves a list column as it is skips rewriting the row (`_SAVE_ANALYSES_SAME_METHODS`)."""

_INSERT_NEW = _INSERT.replace("INSERT OR IGNORE", "INSERT").replace("RETURNING uid::VARCHAR", "")

_INSERT_ANALYSED = """
INSERT OR IGNORE INTO measurements (
    uid, received_at, start_time, day, probe_cc, probe_asn, probe_network_name, probe_id, region,
    input, domain, category_code, software_name, software_version, format_version,
    probe_verdict, probe_methods, probe_confidence, needs_analysis, methods, control_failed,
    source_cc, source_asn, geo_mismatch, raw, uploader_network, origin,
    verdict, confidence, blocking, accessible, fingerprint_confirmed, rules_version,
    reference_digest, analysed_at, analysis, packet_confirmed)
SELECT uid::UUID, received_at, start_time, CAST(start_time AS DATE), probe_cc, probe_asn,
    probe_network_name, probe_id, region, input, domain, category_code, software_name,
    software_version, format_version, probe_verdict, probe_methods, probe_confidence, false,
    methods, control_failed, source_cc, source_asn, geo_mismatch, raw, uploader_network,
    origin, verdict, confidence, blocking, accessible, fingerprint_confirmed, rules_version,
    reference_digest, analysed_at, analysis_json, packet_confirmed
FROM analysed_batch
RETURNING uid::VARCHAR
"""
"""Store rows with their analyses (`insert_analysed`): the columns `_INSERT` and then
`_SAVE_ANALYSES` would write, in one statement."""

_INSERT_ANALYSED_NEW = _INSERT_ANALYSED.replace("INSERT OR IGNORE", "INSERT").replace(
    "RETURNING uid::VARCHAR", ""
)

_SAVE_ANALYSES = """
UPDATE measurements AS m SET
    verdict = a.verdict, methods = a.methods, confidence = a.confidence, blocking = a.blocking,
    accessible = a.accessible, fingerprint_confirmed = a.fingerprint_confirmed,
    rules_version = a.rules_version, reference_digest = a.reference_digest,
    analysed_at = a.analysed_at, analysis = a.analysis_json, needs_analysis = false,
    packet_confirmed = a.packet_confirmed
FROM analysis_batch AS a
WHERE m.uid = a.uid::UUID
"""

_SAVE_ANALYSES_SAME_METHODS = _SAVE_ANALYSES.replace("methods = a.methods, ", "")
"""`_SAVE_ANALYSES` for rows whose stored `methods` already equal the analysis's. DuckDB
updates a LIST column by deleting the row and inserting it again, raw bytes and all (measured:
a 1,000-row save's UPDATE and commit took 37 µs a row with `methods`, 6 without), and most
analyses find no method, so most saves leave the list alone."""


def _fsync_directory(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _same_methods(old: Sequence[tuple[Any, ...]], new: dict[str, AnalysisRow]) -> set[str]:
    """Return the uids among `rollups.OLD_STATE` rows whose stored methods (column 13, NULL for
    a row stored before methods started as an empty list) equal their new analysis's."""
    return {
        str(row[0])
        for row in old
        if row[13] is not None and list(row[13]) == list(new[str(row[0])].methods)
    }


class DuckDBStorage:
    """The `Storage` of one DuckDB file; safe to call from several threads.

    Writes are serialised by a lock on the one write connection; each read takes a cursor of its
    own from a small pool.
    """

    def __init__(self, path: Path, *, memory_mb: int | None = None, threads: int = 0) -> None:
        """Open (or create) the store; `memory_mb` and `threads` bound DuckDB (None, 0: its
        defaults)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._wal = path.with_name(path.name + ".wal")
        # Before DuckDB starts its threads, each of which would otherwise get an arena.
        limit_heap_fragmentation()
        try:
            self._con = duckdb.connect(str(path))
        except duckdb.IOException as exc:
            if "lock" in str(exc).lower():
                raise DataDirLocked(
                    f"{path.parent} is in use by another crenel-collector process ({exc})"
                ) from exc
            raise StorageUnavailable(f"cannot open {path}: {exc}") from exc
        try:
            # Explicit, so durability never depends on a default: fdatasync the WAL per commit.
            self._con.execute("SET fsync_mode = 'STANDARD'")
            # DuckDB checkpoints when the WAL reaches this size. At the default 16 MiB a busy
            # collector checkpoints every few seconds and rewrites the same row groups again
            # and again (measured: 5,000 rows/s at 100 rows per commit, 7,300 with 1 GB);
            # a larger WAL means rarer, longer pauses, a longer replay after a crash and more
            # memory: the uncheckpointed rows stay in memory (256 MiB grew the soak's RSS by
            # 12 MB a minute for 22 minutes), see docs/reliability.md.
            self._con.execute(f"SET checkpoint_threshold = '{CHECKPOINT_THRESHOLD}'")
            # DuckDB draws a progress bar on stdout for long queries, which would corrupt the
            # commands' --json output.
            self._con.execute("SET enable_progress_bar = false")
            if threads > 0:
                self._con.execute(f"SET threads = {int(threads)}")
            self._memory_mb = memory_mb
            with self._maintenance_memory():
                migrate(self._con)
        except (duckdb.Error, MigrationError) as exc:
            self._con.close()
            raise StorageUnavailable(f"cannot prepare {path}: {exc}") from exc
        _fsync_directory(path.parent)
        self._synced_wal: tuple[int, int] | None = None
        self._wal_size = 0
        self._write_lock = threading.Lock()
        self._rollup_version = 0
        self._pool_lock = threading.Lock()
        self._readers: list[duckdb.DuckDBPyConnection] = []
        self._all_readers: list[duckdb.DuckDBPyConnection] = []
        self._decompressor = threading.local()

    # -- plumbing -----------------------------------------------------------------------------

    @contextlib.contextmanager
    def _reader(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with self._pool_lock:
            cursor = self._readers.pop() if self._readers else None
            if cursor is None:
                cursor = self._con.cursor()
                self._all_readers.append(cursor)
        try:
            yield cursor
        finally:
            with self._pool_lock:
                self._readers.append(cursor)

    def _unzstd(self, data: bytes) -> bytes:
        decompressor = getattr(self._decompressor, "value", None)
        if decompressor is None:
            decompressor = zstandard.ZstdDecompressor()
            self._decompressor.value = decompressor
        return bytes(decompressor.decompress(data))

    def _sync_new_wal(self) -> None:
        """fsync the directory once per WAL file, so the file itself survives a power loss."""
        try:
            stat = self._wal.stat()
        except FileNotFoundError:
            stat = None
        size = 0 if stat is None else stat.st_size
        if size < self._wal_size:
            # A checkpoint emptied the WAL and freed its in-memory rows: hand the pages back.
            release_free_heap()
        self._wal_size = size
        if stat is None:
            return
        identity = (stat.st_dev, stat.st_ino)
        if identity != self._synced_wal:
            _fsync_directory(self.path.parent)
            self._synced_wal = identity

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with self._write_lock:
            con = self._con
            committed = False
            try:
                con.execute("BEGIN TRANSACTION")
                yield con
                con.execute("COMMIT")
                committed = True
            except duckdb.Error as exc:
                raise StorageUnavailable(f"the database refused the write: {exc}") from exc
            finally:
                if not committed:
                    with contextlib.suppress(duckdb.Error):
                        con.execute("ROLLBACK")
            self._sync_new_wal()

    # -- writes -------------------------------------------------------------------------------

    def insert(self, rows: Sequence[MeasurementRow]) -> set[str]:
        """Store the rows in one durable transaction; return the uids that were new.

        Raises:
            StorageUnavailable: the database could not write them (nothing was stored).
        """
        if not rows:
            return set()
        unique = list({r.uid: r for r in reversed(rows)}.values())[::-1]
        # DuckDB finds the Arrow table through this local name (a replacement scan): 2x
        # cheaper per commit than register()/unregister() (measured, 3.9 vs 7 ms).
        ingest_batch = arrow_batches.measurements_table(unique)  # noqa: F841 - read by the SQL
        # Re-uploads are rare: a plain INSERT is ~1.7x faster than INSERT OR IGNORE ...
        # RETURNING (measured), and the primary key still refuses a duplicate; only then is
        # the batch inserted again, skipping the uids already stored.
        try:
            with self._transaction() as con:
                con.execute(_INSERT_NEW).fetchall()
            return {r.uid for r in unique}
        except StorageUnavailable as exc:
            if not isinstance(exc.__cause__, duckdb.ConstraintException):
                raise
        with self._transaction() as con:
            stored = con.execute(_INSERT).fetchall()
        return {str(r[0]) for r in stored}

    def insert_analysed(self, rows: Sequence[AnalysedRow]) -> set[str]:
        """Store the rows with their analyses and move the rollups by the new rows alone, in
        one durable transaction; return the uids that were new (`Storage.insert_analysed`).

        Raises:
            StorageUnavailable: the database could not write them (nothing was stored).
        """
        if not rows:
            return set()
        unique = analysed_rows.unique(rows)
        analysed_batch = arrow_batches.analysed_table(unique)  # noqa: F841 - read by the SQL
        try:
            # As `insert`: a plain INSERT first; only when the primary key refuses a uid already
            # stored is the batch inserted again, skipping those, and its deltas recomputed.
            try:
                deltas = analysed_rows.deltas(unique)
                with self._transaction() as con:
                    con.execute(_INSERT_ANALYSED_NEW).fetchall()
                    rollup_writes.apply_deltas(con, deltas)
                return {r.row.uid for r in unique}
            except StorageUnavailable as exc:
                if not isinstance(exc.__cause__, duckdb.ConstraintException):
                    raise
            with self._transaction() as con:
                new = {str(r[0]) for r in con.execute(_INSERT_ANALYSED).fetchall()}
                rollup_writes.apply_deltas(
                    con, analysed_rows.deltas(r for r in unique if r.row.uid in new)
                )
            return new
        finally:
            self._rollups_changed()

    def save_analyses(self, rows: Sequence[AnalysisRow]) -> None:
        """Record the collector's analyses and clear their rows' pending flag.

        Raises:
            StorageUnavailable: the database could not write them.
        """
        if not rows:
            return
        new = {r.uid: r for r in rows}
        uids = pa.table({"uid": pa.array(list(new), pa.string())})
        try:
            with self._transaction() as con:
                with arrow_batches.registered(con, "analysis_batch", uids):
                    old = con.execute(rollups.OLD_STATE).fetchall()
                same = _same_methods(old, new)
                for statement, part in (
                    (_SAVE_ANALYSES, [r for r in rows if r.uid not in same]),
                    (_SAVE_ANALYSES_SAME_METHODS, [r for r in rows if r.uid in same]),
                ):
                    if part:
                        table = arrow_batches.analyses_table(part)
                        with arrow_batches.registered(con, "analysis_batch", table):
                            con.execute(statement).fetchall()
                rollup_writes.apply_deltas(
                    con, rollups.compute_deltas(rollup_writes.state_pairs(old, new))
                )
        finally:
            self._rollups_changed()

    def request_reanalysis(
        self, *, rules_version: str, reference_digest: str, everything: bool
    ) -> int:
        """Flag rows analysed with other rules or reference data (or all); return how many.

        Raises:
            StorageUnavailable: the database could not write.
        """
        condition = (
            "NOT needs_analysis"
            if everything
            else "NOT needs_analysis AND (rules_version IS DISTINCT FROM ? "
            "OR reference_digest IS DISTINCT FROM ?)"
        )
        condition += f" AND {HAS_RAW}"  # a body removed by retention cannot be analysed again
        params: list[object] = [] if everything else [rules_version, reference_digest]
        with self._transaction() as con:
            count = con.execute(
                f"UPDATE measurements SET needs_analysis = true WHERE {condition}", params
            ).fetchall()
        return int(str(count[0][0])) if count else 0

    def strip_raw(self, before: datetime, limit: int) -> int:
        """Empty the accepted bytes of up to `limit` analysed measurements received before
        `before`; return how many. Summaries, analyses and rollups stay.

        Raises:
            StorageUnavailable: the database could not write.
        """
        with self._transaction() as con:
            count = con.execute(
                f"UPDATE measurements SET raw = ''::BLOB WHERE uid IN (SELECT uid FROM "
                f"measurements WHERE received_at < ? AND NOT needs_analysis AND {HAS_RAW} "
                "LIMIT ?)",
                [naive_utc(before), limit],
            ).fetchall()
        return int(str(count[0][0])) if count else 0

    def replace_test_lists(self, urls: Sequence[TestListUrl], origin: str) -> int:
        """Replace every test list with `urls`; return how many are stored.

        Raises:
            StorageUnavailable: the database could not write.
        """
        unique = test_lists.unique(urls)
        with self._transaction() as con:
            test_lists.replace(con, unique, origin)
        return len(unique)

    # -- reads --------------------------------------------------------------------------------

    def raw(self, uid: str) -> bytes | None:
        """Return the accepted bytes of a measurement, b"" if retention removed them, or None."""
        with self._reader() as cur:
            try:
                rows = cur.execute(
                    "SELECT raw FROM measurements WHERE uid = ?::UUID", [uid]
                ).fetchall()
            except duckdb.ConversionException:
                return None
        if not rows:
            return None
        stored = bytes(rows[0][0])
        return self._unzstd(stored) if stored else b""

    def summaries(
        self, filters: Filters, after: Cursor | None, limit: int
    ) -> list[MeasurementSummary]:
        """Return up to `limit` matching measurements, newest first, strictly after `after`."""
        with self._reader() as cur:
            return search.summaries(cur, filters, after, limit)

    def aggregate(self, query: AggregationQuery) -> list[AggregationRow]:
        """Return the counts of every non-empty cell, ordered by x then y (`search.aggregate`)."""
        with self._reader() as cur:
            return search.aggregate(cur, query)

    def pending_analysis(self, limit: int) -> list[tuple[str, bytes]]:
        """Return (uid, zstd-compressed accepted bytes) of up to `limit` rows to analyse."""
        with self._reader() as cur:
            rows = cur.execute(
                f"SELECT uid::VARCHAR, raw FROM measurements WHERE needs_analysis AND {HAS_RAW} "
                "ORDER BY uid LIMIT ?",
                [limit],
            ).fetchall()
        return [(str(uid), bytes(raw)) for uid, raw in rows]

    def check_in_urls(
        self,
        *,
        cc: str,
        asn: int,
        categories: Sequence[str],
        limit: int,
        since: datetime,
    ) -> list[CheckInUrl]:
        """Return the URLs for this network: global plus its country, least measured first.

        Ties are broken at random, so probes of one network spread over equally covered URLs.
        """
        with self._reader() as cur:
            return test_lists.check_in_urls(
                cur, cc=cc, asn=asn, categories=categories, limit=limit, since=since
            )

    def counts(self) -> StorageCounts:
        """Return the sizes health and metrics report."""
        with self._reader() as cur:
            (row,) = cur.execute(
                "SELECT count(*), count(*) FILTER (WHERE needs_analysis) FROM measurements"
            ).fetchall()
            (lists,) = cur.execute("SELECT count(*) FROM test_list_urls").fetchall()
            (version,) = cur.execute("SELECT max(version) FROM schema_migrations").fetchall()
        return StorageCounts(
            measurements=int(row[0]),
            pending_analysis=int(row[1]),
            test_list_urls=int(lists[0]),
            schema_version=int(version[0]),
        )

    # -- export -------------------------------------------------------------------------------

    def export(self, filters: Filters, fmt: ExportFormat, out: Path, *, partitioned: bool) -> int:
        """Write the matching measurements to `out`; return how many rows were written
        (`exports.export` says what each format holds)."""
        with self._reader() as cur, self._reader() as sink:
            return exports.export(
                cur, filters, fmt, out, sink=sink, unzstd=self._unzstd, partitioned=partitioned
            )

    def export_page(
        self, filters: Filters, fmt: ExportFormat, after: Cursor | None, limit: int
    ) -> ExportPage:
        """Return the next page of an HTTP export, in (start_time, uid) order after `after`
        (`export_pages.export_page` says what each format holds)."""
        with self._reader() as cur:
            return export_pages.export_page(
                cur, filters, fmt, after, limit=limit, unzstd=self._unzstd
            )

    # -- reports (rollups) ---------------------------------------------------------------------

    @property
    def rollup_version(self) -> int:
        """Return a number that changes after every committed change to the rollups (reports
        built at one version stay exact until it changes)."""
        return self._rollup_version

    def _rollups_changed(self) -> None:
        # Called after the transaction ended, committed or not (a needless change only costs a
        # rebuilt report): a report built from the old rollups must not pass for the new ones.
        with self._write_lock:
            self._rollup_version += 1

    def rebuild_rollups(self) -> None:
        """Recompute every rollup from the analysed measurements (one transaction).

        Raises:
            StorageUnavailable: the database refused the write.
        """
        try:
            with self._maintenance_memory(), self._transaction() as con:
                for statement in rollups.REBUILD:
                    con.execute(statement)
        finally:
            self._rollups_changed()

    @contextlib.contextmanager
    def _maintenance_memory(self) -> Iterator[None]:
        """Lift the serving memory limit while a migration or a rollup rebuild runs, then set
        it (DuckDB's default meanwhile, 80 % of RAM: rebuilding the rollups of a million
        measurements needs more than 256 MiB, and a store that cannot migrate cannot open)."""
        if self._memory_mb is None:
            yield
            return
        self._con.execute("RESET memory_limit")
        try:
            yield
        finally:
            self._con.execute(f"SET memory_limit = '{int(self._memory_mb)}MiB'")

    def report_domains(
        self, query: report_records.ReportQuery, settings: ModelSettings, *, details: bool = True
    ) -> report_records.ReportTable:
        """Return each domain's per-network weighted counts for a report window (without
        methods and categories unless `details`)."""
        with self._reader() as con:
            return reports.domain_rows(con, query, settings, details=details)

    def report_networks(
        self, query: report_records.ReportQuery
    ) -> list[report_records.CountryNetwork]:
        """Return every network of a report window with its measurement count."""
        with self._reader() as con:
            return reports.networks(con, query)

    def report_baselines(
        self, query: report_records.ReportQuery, settings: ModelSettings
    ) -> dict[str, float]:
        """Return each domain's noise baseline from the other countries."""
        with self._reader() as con:
            return reports.baselines(con, query, settings)

    def report_baselines_of(
        self, queries: Sequence[report_records.ReportQuery], settings: ModelSettings
    ) -> list[dict[str, float]]:
        """Return each query's noise baselines, in one query when they share a window."""
        with self._reader() as con:
            return reports.baselines_of(con, queries, settings)

    def report_daily_domains(
        self, query: report_records.ReportQuery, settings: ModelSettings
    ) -> dict[date, report_records.ReportTable]:
        """Return each day's per-domain, per-network weighted counts of a report window."""
        with self._reader() as con:
            return reports.daily_domain_rows(con, query, settings)

    def report_daily_shares(
        self,
        query: report_records.ReportQuery,
        settings: ModelSettings,
        domains: Sequence[str] | None = None,
    ) -> dict[str, list[tuple[date, float, float]]]:
        """Return weighted (day, blocked, ok) per domain (only `domains`, when given)."""
        with self._reader() as con:
            return reports.daily_shares(con, query, settings, domains)

    def report_daily_networks(
        self, query: report_records.ReportQuery, settings: ModelSettings
    ) -> dict[date, list[NetworkCounts]]:
        """Return one domain's weighted counts per day and network."""
        with self._reader() as con:
            return reports.daily_networks(con, query, settings)

    def report_countries(
        self, since: date, until: date, origin: str | None = None
    ) -> list[report_records.CountrySummary]:
        """Return every country with measurements in the window (of one origin, when given)."""
        with self._reader() as con:
            return reports.countries(con, since, until, origin)

    def report_samples(
        self, query: report_records.ReportQuery, limit: int
    ) -> tuple[list[report_records.Sample], Counter[str]]:
        """Return sample measurements of one domain and its fingerprint counts."""
        with self._reader() as con:
            return reports.samples(con, query, limit)

    def close(self) -> None:
        """Checkpoint and close every connection."""
        with self._write_lock, self._pool_lock:
            for cursor in self._all_readers:
                with contextlib.suppress(duckdb.Error):
                    cursor.close()
            self._all_readers.clear()
            self._readers.clear()
            with contextlib.suppress(duckdb.Error):
                self._con.execute("CHECKPOINT")
            self._con.close()
