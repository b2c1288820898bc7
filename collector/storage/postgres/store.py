"""The PostgreSQL store: one database that several collector processes write at once.

A psycopg 3 connection pool serves every call; each write is one transaction that commits
before the call returns (synchronous commit, the server's default), so an acknowledged
measurement is durable. Inserts COPY into a session staging table and move with
`INSERT ... ON CONFLICT DO NOTHING`: whichever instance gets a re-upload, a uid is stored once.
Saving analyses locks the measurements it changes (by uid) before reading their old verdicts,
so two instances analysing the same rows move the rollups exactly once.
"""

from __future__ import annotations

import contextlib
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import psycopg
import psycopg_pool
import zstandard

from collector.core.errors import StorageUnavailable
from collector.regional.model import ModelSettings, NetworkCounts
from collector.storage import analysed_rows, report_records, rollup_writes, rollups
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
from collector.storage.migrations import MigrationError
from collector.storage.postgres import (
    batches,
    derived_rollups,
    exports,
    network_window,
    queries,
    reports,
    rollup_upserts,
    schema,
)
from collector.storage.postgres.partitions import Partitions, months_ahead
from collector.storage.sql import HAS_RAW, naive_utc
from collector.storage.test_lists import unique as unique_urls

Con = psycopg.Connection[tuple[Any, ...]]

POOL_CONNECTIONS = 8
"""Most connections one collector process opens (its writer, analyser and readers)."""

CONNECT_TIMEOUT_S = 10.0
WRITE_ATTEMPTS = 3
"""How often a batch whose transaction lost a lock race (deadlock, serialization failure) is
tried again: it was rolled back whole, so trying again stores each row once."""


ANALYSES_COMMIT = "off"
"""`synchronous_commit` of a transaction saving analyses. Measurements are acknowledged only
once flushed (the server's default, kept for inserts); an analysis is derived data: a crash
can lose only whole transactions, and one lost leaves its measurements flagged for analysis
with the rollups as they were, so the analyser redoes it. Not waiting saves one WAL flush per
batch of analyses (the flush of the next acknowledged insert covers it)."""

SESSION_SETTINGS = {"jit": "off", "work_mem": "64MB"}
"""Set on every pooled connection. JIT compilation costs 100-300 ms per report query at this
size and saves nothing; report aggregates over a few hundred thousand rollup rows spill to
disk at the 4 MB default."""


def _configure(con: Con) -> None:
    for name, value in SESSION_SETTINGS.items():
        con.execute("SELECT set_config(%s, %s, false)", [name, value])
    batches.create_staging(con)
    con.execute(derived_rollups.DELTA)


class PostgresStorage:
    """The `Storage` of one PostgreSQL database; safe to call from several threads and from
    several processes at once."""

    def __init__(
        self, url: str, *, connections: int = POOL_CONNECTIONS, create_ahead: bool = True
    ) -> None:
        """Connect, migrate and create the coming months' partitions (`create_ahead`).

        Raises:
            StorageUnavailable: the server cannot be reached or the schema migrated.
        """
        self.url = url
        try:
            # One plain connection first: an unreachable server fails at once, with its reason.
            with psycopg.connect(
                url, autocommit=True, connect_timeout=int(CONNECT_TIMEOUT_S)
            ) as con:
                schema.migrate(con)
        except (psycopg.Error, MigrationError) as exc:
            raise StorageUnavailable(f"cannot use the PostgreSQL database: {exc}") from exc
        self._pool: psycopg_pool.ConnectionPool[Con] = psycopg_pool.ConnectionPool(
            url,
            min_size=1,
            max_size=max(2, connections),
            kwargs={"autocommit": True, "connect_timeout": int(CONNECT_TIMEOUT_S)},
            configure=_configure,
            open=False,
            name="crenel",
        )
        try:
            self._pool.open(wait=True, timeout=CONNECT_TIMEOUT_S)
        except (psycopg.Error, psycopg_pool.PoolTimeout) as exc:
            self._pool.close()
            raise StorageUnavailable(f"cannot use the PostgreSQL database: {exc}") from exc
        self._partitions = Partitions()
        if create_ahead:
            with self._write() as con:
                self._partitions.ensure(con, months_ahead(datetime.now(UTC).date()))
        self._decompressor = threading.local()

    # -- plumbing -----------------------------------------------------------------------------

    @contextlib.contextmanager
    def _write(self) -> Iterator[Con]:
        """A pooled connection for writes: a refused write is `StorageUnavailable`."""
        try:
            with self._pool.connection() as con:
                yield con
        except (psycopg.Error, psycopg_pool.PoolTimeout) as exc:
            raise StorageUnavailable(f"the database refused the write: {exc}") from exc

    @contextlib.contextmanager
    def _read(self) -> Iterator[Con]:
        try:
            with self._pool.connection() as con:
                yield con
        except (psycopg.OperationalError, psycopg_pool.PoolTimeout) as exc:
            raise StorageUnavailable(f"the database cannot be read: {exc}") from exc

    def _unzstd(self, data: bytes) -> bytes:
        decompressor = getattr(self._decompressor, "value", None)
        if decompressor is None:
            decompressor = zstandard.ZstdDecompressor()
            self._decompressor.value = decompressor
        return bytes(decompressor.decompress(data))

    # -- writes -------------------------------------------------------------------------------

    def insert(self, rows: Sequence[MeasurementRow]) -> set[str]:
        """Store the rows in one durable transaction; return the uids that were new (a uid any
        instance stored before is skipped).

        Raises:
            StorageUnavailable: the database could not write them (nothing was stored).
        """
        if not rows:
            return set()
        unique = list({r.uid: r for r in reversed(rows)}.values())[::-1]

        def store(cur: psycopg.Cursor[tuple[Any, ...]]) -> set[str]:
            batches.copy_measurements(cur, unique)
            return {str(r[0]) for r in cur.execute(batches.INSERT_NEW).fetchall()}

        return self._store(store, {naive_utc(r.start_time).date() for r in unique})

    def insert_analysed(self, rows: Sequence[AnalysedRow]) -> set[str]:
        """Store the rows with their analyses and move the rollups by the new rows alone, in
        one durable transaction; return the uids that were new (a uid any instance stored
        before is skipped: `Storage.insert_analysed`).

        Raises:
            StorageUnavailable: the database could not write them (nothing was stored).
        """
        if not rows:
            return set()
        unique = analysed_rows.unique(rows)

        def store(cur: psycopg.Cursor[tuple[Any, ...]]) -> set[str]:
            batches.copy_analysed(cur, unique)
            new = {str(r[0]) for r in cur.execute(batches.INSERT_ANALYSED).fetchall()}
            deltas = analysed_rows.deltas(r for r in unique if r.row.uid in new)
            rollup_upserts.apply_deltas(cur, deltas)
            return new

        try:
            return self._store(store, {naive_utc(r.row.start_time).date() for r in unique})
        finally:
            self._rollups_changed()

    def _store(
        self, store: Callable[[psycopg.Cursor[tuple[Any, ...]]], set[str]], days: set[date]
    ) -> set[str]:
        """Return what `store` returns, run in one transaction after the partitions of `days`
        exist, and run again (up to `WRITE_ATTEMPTS`) when it lost a lock race."""
        with self._write() as con:
            self._partitions.ensure(con, days)
            for attempt in range(1, WRITE_ATTEMPTS + 1):
                try:
                    with con.transaction(), con.cursor() as cur:
                        return store(cur)
                except psycopg.errors.CheckViolation:
                    self._partitions.forget()  # a partition was dropped behind our back
                    raise
                except (psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure):
                    if attempt == WRITE_ATTEMPTS:
                        raise  # rolled back: nothing stored, the uploader is told to retry
        raise AssertionError("unreachable: the last attempt returns or raises")

    def save_analyses(self, rows: Sequence[AnalysisRow]) -> None:
        """Record the collector's analyses, clear their rows' pending flag and move the rollups
        by the difference (one transaction).

        Raises:
            StorageUnavailable: the database could not write them.
        """
        if not rows:
            return
        new = {r.uid: r for r in rows}
        try:
            with self._write() as con, con.transaction(), con.cursor() as cur:
                # Not waiting for the WAL flush (`ANALYSES_COMMIT`): what a crash could lose
                # is the whole transaction, flag and rollups with it, so it is analysed again.
                cur.execute(f"SET LOCAL synchronous_commit = {ANALYSES_COMMIT}")
                batches.copy_analyses(cur, list(new.values()))
                # The uids as a parameter too: the planner knows the staging table's size only
                # from them, and reads each partition's primary key instead of scanning it.
                uids = sorted(new)
                old = cur.execute(
                    rollups.OLD_STATE
                    + " WHERE m.uid = ANY(%s::UUID[]) ORDER BY m.uid FOR UPDATE OF m",
                    [uids],
                ).fetchall()
                cur.execute(batches.SAVE_ANALYSES, [uids])
                deltas = rollups.compute_deltas(rollup_writes.state_pairs(old, new))
                rollup_upserts.apply_deltas(cur, deltas)
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
            else "NOT needs_analysis AND (rules_version IS DISTINCT FROM %s "
            "OR reference_digest IS DISTINCT FROM %s)"
        )
        params: list[object] = [] if everything else [rules_version, reference_digest]
        with self._write() as con:
            cur = con.execute(
                f"UPDATE measurements SET needs_analysis = true WHERE {condition} AND {HAS_RAW}",
                params,
            )
            return cur.rowcount

    def strip_raw(self, before: datetime, limit: int) -> int:
        """Empty the accepted bytes of up to `limit` analysed measurements received before
        `before`; return how many. Summaries, analyses and rollups stay.

        Raises:
            StorageUnavailable: the database could not write.
        """
        with self._write() as con:
            cur = con.execute(
                "UPDATE measurements SET raw = ''::BYTEA WHERE (uid, day) IN (SELECT uid, day "
                f"FROM measurements WHERE received_at < %s AND NOT needs_analysis AND {HAS_RAW} "
                "LIMIT %s)",
                [naive_utc(before), limit],
            )
            return cur.rowcount

    def replace_test_lists(self, urls: Sequence[TestListUrl], origin: str) -> int:
        """Replace every test list with `urls`; return how many are stored.

        Raises:
            StorageUnavailable: the database could not write.
        """
        unique = unique_urls(urls)
        with self._write() as con, con.transaction(), con.cursor() as cur:
            cur.execute("DELETE FROM test_list_urls")
            with cur.copy(
                "COPY test_list_urls (url, category_code, cc, date_added, source) FROM STDIN"
            ) as copy:
                for u in unique:
                    copy.write_row((u.url, u.category_code, u.cc, u.date_added, u.source))
            cur.execute(
                "INSERT INTO test_list_imports VALUES (%s, %s, %s)",
                [datetime.now(UTC).replace(tzinfo=None), origin, len(unique)],
            )
        return len(unique)

    # -- reads --------------------------------------------------------------------------------

    def raw(self, uid: str) -> bytes | None:
        """Return the accepted bytes of a measurement, b"" if retention removed them, or None."""
        with self._read() as con:
            try:
                row = con.execute(
                    "SELECT raw FROM measurements WHERE uid = %s::UUID LIMIT 1", [uid]
                ).fetchone()
            except psycopg.errors.InvalidTextRepresentation:
                return None
        if row is None:
            return None
        stored = bytes(row[0])
        return self._unzstd(stored) if stored else b""

    def summaries(
        self, filters: Filters, after: Cursor | None, limit: int
    ) -> list[MeasurementSummary]:
        """Return up to `limit` matching measurements, newest first, strictly after `after`."""
        with self._read() as con:
            return queries.summaries(con, filters, after, limit)

    def aggregate(self, query: AggregationQuery) -> list[AggregationRow]:
        """Return the counts of every non-empty cell, ordered by x then y."""
        with self._read() as con:
            return queries.aggregate(con, query)

    def pending_analysis(self, limit: int) -> list[tuple[str, bytes]]:
        """Return (uid, zstd-compressed accepted bytes) of up to `limit` rows to analyse."""
        with self._read() as con:
            rows = con.execute(
                f"SELECT uid::TEXT, raw FROM measurements WHERE needs_analysis AND {HAS_RAW} "
                "ORDER BY uid LIMIT %s",
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
        """Return the URLs for this network: global plus its country, least measured first."""
        with self._read() as con:
            return queries.check_in_urls(
                con, cc=cc, asn=asn, categories=categories, limit=limit, since=since
            )

    def counts(self) -> StorageCounts:
        """Return the sizes health and metrics report."""
        with self._read() as con:
            row = con.execute(
                "SELECT count(*), count(*) FILTER (WHERE needs_analysis) FROM measurements"
            ).fetchone()
            lists = con.execute("SELECT count(*) FROM test_list_urls").fetchone()
            version = con.execute("SELECT max(version) FROM schema_migrations").fetchone()
        assert row is not None and lists is not None and version is not None
        return StorageCounts(
            measurements=int(row[0]),
            pending_analysis=int(row[1]),
            test_list_urls=int(lists[0]),
            schema_version=int(version[0]),
        )

    # -- export -------------------------------------------------------------------------------

    def export(self, filters: Filters, fmt: ExportFormat, out: Path, *, partitioned: bool) -> int:
        """Write the matching measurements to `out`; return how many rows were written."""
        with self._read() as con:
            return exports.export(
                con, filters, fmt, out, unzstd=self._unzstd, partitioned=partitioned
            )

    def export_page(
        self, filters: Filters, fmt: ExportFormat, after: Cursor | None, limit: int
    ) -> ExportPage:
        """Return up to `limit` rows of an export in (start_time, uid) order after `after`."""
        with self._read() as con:
            return exports.export_page(con, filters, fmt, after, limit=limit, unzstd=self._unzstd)

    # -- reports (rollups) ---------------------------------------------------------------------

    @property
    def rollup_version(self) -> int:
        """Return a number that changes after every committed change to the rollups, made by
        any instance (the `rollup_changes` sequence, advanced after each change)."""
        with self._read() as con:
            row = con.execute("SELECT last_value + is_called::INT FROM rollup_changes").fetchone()
        return int(row[0]) if row else 0

    def _rollups_changed(self) -> None:
        # After the transaction ended, committed or not, as on DuckDB: a report built from the
        # old rollups must not pass for the new ones.
        with self._write() as con:
            con.execute("SELECT nextval('rollup_changes')")

    def rebuild_rollups(self) -> None:
        """Recompute every rollup from the analysed measurements (one transaction).

        Raises:
            StorageUnavailable: the database refused the write.
        """
        try:
            with self._write() as con, con.transaction():
                con.execute(
                    "LOCK TABLE rollup_probe_day, rollup_methods, rollup_domain_day, "
                    "rollup_uploader_day, rollup_probe_window, rollup_uploader_window, "
                    "rollup_window_span, rollup_network_day, rollup_network_window, "
                    "rollup_pooled_window, rollup_category_day, rollup_network_name_day"
                )
                with con.cursor() as cur:
                    for statement in rollup_upserts.REBUILD:
                        cur.execute(statement)
                    derived_rollups.refresh(cur)
                    for statement in network_window.REFILL:
                        cur.execute(statement)
        finally:
            self._rollups_changed()

    def report_domains(
        self, query: report_records.ReportQuery, settings: ModelSettings, *, details: bool = True
    ) -> report_records.ReportTable:
        """Return each domain's per-network weighted counts for a report window (with methods
        and categories whatever `details` says: the protocol allows leaving them out)."""
        with self._read() as con:
            return reports.domain_rows(con, query, settings)

    def report_networks(
        self, query: report_records.ReportQuery
    ) -> list[report_records.CountryNetwork]:
        """Return every network of a report window with its measurement count."""
        with self._read() as con:
            return reports.networks(con, query)

    def report_baselines(
        self, query: report_records.ReportQuery, settings: ModelSettings
    ) -> dict[str, float]:
        """Return each domain's noise baseline from the other countries."""
        with self._read() as con:
            return reports.baselines(con, query, settings)

    def report_baselines_of(
        self, queries: Sequence[report_records.ReportQuery], settings: ModelSettings
    ) -> list[dict[str, float]]:
        """Return each query's noise baselines (one query each)."""
        with self._read() as con:
            return [reports.baselines(con, query, settings) for query in queries]

    def report_daily_domains(
        self, query: report_records.ReportQuery, settings: ModelSettings
    ) -> dict[date, report_records.ReportTable]:
        """Return each day's per-domain, per-network weighted counts of a report window."""
        with self._read() as con:
            return reports.daily_domain_rows(con, query, settings)

    def report_daily_shares(
        self,
        query: report_records.ReportQuery,
        settings: ModelSettings,
        domains: Sequence[str] | None = None,
    ) -> dict[str, list[tuple[date, float, float]]]:
        """Return weighted (day, blocked, ok) per domain (only `domains`, when given)."""
        with self._read() as con:
            return reports.daily_shares(con, query, settings, domains)

    def report_daily_networks(
        self, query: report_records.ReportQuery, settings: ModelSettings
    ) -> dict[date, list[NetworkCounts]]:
        """Return one domain's weighted counts per day and network."""
        with self._read() as con:
            return reports.daily_networks(con, query, settings)

    def report_countries(
        self, since: date, until: date, origin: str | None = None
    ) -> list[report_records.CountrySummary]:
        """Return every country with measurements in the window (of one origin, when given)."""
        with self._read() as con:
            return reports.countries(con, since, until, origin)

    def report_samples(
        self, query: report_records.ReportQuery, limit: int
    ) -> tuple[list[report_records.Sample], Counter[str]]:
        """Return sample measurements of one domain and its fingerprint counts."""
        with self._read() as con:
            return reports.samples(con, query, limit)

    def close(self) -> None:
        """Close every pooled connection."""
        self._pool.close()
