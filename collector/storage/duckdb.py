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
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import zstandard

from collector.errors import DataDirLocked, StorageUnavailable
from collector.regional import ModelSettings, NetworkCounts
from collector.storage import reports, rollup_writes, rollups
from collector.storage.base import (
    AggregationQuery,
    AggregationRow,
    AnalysisRow,
    Axis,
    CheckInUrl,
    Cursor,
    ExportFormat,
    Filters,
    MeasurementRow,
    MeasurementSummary,
    StorageCounts,
    TestListUrl,
)
from collector.storage.migrations import MigrationError, migrate
from collector.storage.sql import AXIS_SQL, PENDING, axis_text, naive_utc, where

logger = logging.getLogger(__name__)

EXPORT_BATCH_ROWS = 20_000
CHECKPOINT_THRESHOLD = "256MB"

_INSERT = """
INSERT OR IGNORE INTO measurements (
    uid, received_at, start_time, day, probe_cc, probe_asn, probe_network_name, probe_id, region,
    input, domain, category_code, software_name, software_version, format_version,
    probe_verdict, probe_methods, probe_confidence, needs_analysis, control_failed,
    source_cc, source_asn, geo_mismatch, raw)
SELECT uid::UUID, received_at, start_time, CAST(start_time AS DATE), probe_cc, probe_asn,
    probe_network_name, probe_id, region, input, domain, category_code, software_name,
    software_version, format_version, probe_verdict, probe_methods, probe_confidence, true,
    control_failed, source_cc, source_asn, geo_mismatch, raw
FROM ingest_batch
RETURNING uid::VARCHAR
"""

_INSERT_NEW = _INSERT.replace("INSERT OR IGNORE", "INSERT").replace("RETURNING uid::VARCHAR", "")

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

_SUMMARY_COLUMNS = (
    "uid::VARCHAR, start_time, received_at, probe_cc, probe_asn, probe_network_name, input, "
    "domain, category_code, software_name, software_version, format_version, verdict, methods, "
    "confidence, blocking, accessible, fingerprint_confirmed, rules_version, probe_verdict, "
    "probe_methods, probe_confidence, control_failed, geo_mismatch"
)

EXPORT_COLUMNS = (
    "uid::VARCHAR AS uid, start_time, received_at, day, probe_cc, probe_asn, probe_network_name, "
    "probe_id, region, input, domain, category_code, software_name, software_version, "
    "format_version, verdict, methods, confidence, blocking, accessible, fingerprint_confirmed, "
    "rules_version, reference_digest, probe_verdict, probe_methods, probe_confidence, "
    "control_failed, geo_mismatch"
)
"""The summary columns every export carries (docs/collector.md documents each)."""

_CSV_COLUMNS = EXPORT_COLUMNS.replace(
    "methods, confidence", "array_to_string(methods, ' ') AS methods, confidence"
).replace(
    "probe_methods, probe_confidence",
    "array_to_string(probe_methods, ' ') AS probe_methods, probe_confidence",
)


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _rows_table(rows: Sequence[MeasurementRow]) -> pa.Table:
    return pa.table(
        {
            "uid": pa.array([r.uid for r in rows], pa.string()),
            "received_at": pa.array([naive_utc(r.received_at) for r in rows], pa.timestamp("us")),
            "start_time": pa.array([naive_utc(r.start_time) for r in rows], pa.timestamp("us")),
            "probe_cc": pa.array([r.probe_cc for r in rows], pa.string()),
            "probe_asn": pa.array([r.probe_asn for r in rows], pa.uint32()),
            "probe_network_name": pa.array([r.probe_network_name for r in rows], pa.string()),
            "probe_id": pa.array([r.probe_id for r in rows], pa.string()),
            "region": pa.array([r.region for r in rows], pa.string()),
            "input": pa.array([r.input for r in rows], pa.string()),
            "domain": pa.array([r.domain for r in rows], pa.string()),
            "category_code": pa.array([r.category_code for r in rows], pa.string()),
            "software_name": pa.array([r.software_name for r in rows], pa.string()),
            "software_version": pa.array([r.software_version for r in rows], pa.string()),
            "format_version": pa.array([r.format_version for r in rows], pa.string()),
            "probe_verdict": pa.array([r.probe_verdict for r in rows], pa.string()),
            "probe_methods": pa.array([r.probe_methods for r in rows], pa.list_(pa.string())),
            "probe_confidence": pa.array([r.probe_confidence for r in rows], pa.float64()),
            "control_failed": pa.array([r.control_failed for r in rows], pa.bool_()),
            "source_cc": pa.array([r.source_cc for r in rows], pa.string()),
            "source_asn": pa.array([r.source_asn for r in rows], pa.uint32()),
            "geo_mismatch": pa.array([r.geo_mismatch for r in rows], pa.bool_()),
            "raw": pa.array([r.raw_zstd for r in rows], pa.binary()),
        }
    )


def _analyses_table(rows: Sequence[AnalysisRow]) -> pa.Table:
    return pa.table(
        {
            "uid": pa.array([r.uid for r in rows], pa.string()),
            "verdict": pa.array([r.verdict for r in rows], pa.string()),
            "methods": pa.array([r.methods for r in rows], pa.list_(pa.string())),
            "confidence": pa.array([r.confidence for r in rows], pa.float64()),
            "blocking": pa.array([r.blocking for r in rows], pa.string()),
            "accessible": pa.array([r.accessible for r in rows], pa.bool_()),
            "fingerprint_confirmed": pa.array([r.fingerprint_confirmed for r in rows], pa.bool_()),
            "rules_version": pa.array([r.rules_version for r in rows], pa.string()),
            "reference_digest": pa.array([r.reference_digest for r in rows], pa.string()),
            "analysed_at": pa.array([naive_utc(r.analysed_at) for r in rows], pa.timestamp("us")),
            "analysis_json": pa.array([r.analysis_json for r in rows], pa.string()),
            "packet_confirmed": pa.array([r.packet_confirmed for r in rows], pa.bool_()),
        }
    )


def _fsync_directory(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class DuckDBStorage:
    """The `Storage` of one DuckDB file; safe to call from several threads.

    Writes are serialised by a lock on the one write connection; each read takes a cursor of its
    own from a small pool.
    """

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._wal = path.with_name(path.name + ".wal")
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
            # a larger WAL means rarer, longer pauses and a longer replay after a crash.
            self._con.execute(f"SET checkpoint_threshold = '{CHECKPOINT_THRESHOLD}'")
            migrate(self._con)
        except (duckdb.Error, MigrationError) as exc:
            self._con.close()
            raise StorageUnavailable(f"cannot prepare {path}: {exc}") from exc
        _fsync_directory(path.parent)
        self._synced_wal: tuple[int, int] | None = None
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
        ingest_batch = _rows_table(unique)  # noqa: F841 - read by the SQL below
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

    @staticmethod
    @contextlib.contextmanager
    def _registered(con: duckdb.DuckDBPyConnection, name: str, table: pa.Table) -> Iterator[None]:
        con.register(name, table)
        try:
            yield
        finally:
            # An aborted transaction refuses even this; the next register replaces the view.
            with contextlib.suppress(duckdb.Error):
                con.unregister(name)

    def save_analyses(self, rows: Sequence[AnalysisRow]) -> None:
        """Record the collector's analyses and clear their rows' pending flag.

        Raises:
            StorageUnavailable: the database could not write them.
        """
        if not rows:
            return
        table = _analyses_table(rows)
        new = {r.uid: r for r in rows}
        try:
            with self._transaction() as con, self._registered(con, "analysis_batch", table):
                old = con.execute(rollups.OLD_STATE).fetchall()
                con.execute(_SAVE_ANALYSES).fetchall()
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
        params: list[object] = [] if everything else [rules_version, reference_digest]
        with self._transaction() as con:
            count = con.execute(
                f"UPDATE measurements SET needs_analysis = true WHERE {condition}", params
            ).fetchall()
        return int(str(count[0][0])) if count else 0

    def replace_test_lists(self, urls: Sequence[TestListUrl], origin: str) -> int:
        """Replace every test list with `urls`; return how many are stored.

        Raises:
            StorageUnavailable: the database could not write.
        """
        seen: dict[tuple[str, str], TestListUrl] = {}
        for entry in urls:
            seen.setdefault((entry.cc, entry.url), entry)
        unique = list(seen.values())
        table = pa.table(
            {
                "url": pa.array([u.url for u in unique], pa.string()),
                "category_code": pa.array([u.category_code for u in unique], pa.string()),
                "cc": pa.array([u.cc for u in unique], pa.string()),
                "date_added": pa.array([u.date_added for u in unique], pa.date32()),
                "source": pa.array([u.source for u in unique], pa.string()),
            }
        )
        with self._transaction() as con:
            con.execute("DELETE FROM test_list_urls").fetchall()
            with self._registered(con, "list_batch", table):
                con.execute(
                    "INSERT INTO test_list_urls SELECT url, category_code, cc, date_added, source "
                    "FROM list_batch"
                ).fetchall()
            con.execute(
                "INSERT INTO test_list_imports VALUES (?, ?, ?)",
                [datetime.now(UTC).replace(tzinfo=None), origin, len(unique)],
            ).fetchall()
        return len(unique)

    # -- reads --------------------------------------------------------------------------------

    def raw(self, uid: str) -> bytes | None:
        """Return the accepted bytes of a measurement, or None."""
        with self._reader() as cur:
            try:
                rows = cur.execute(
                    "SELECT raw FROM measurements WHERE uid = ?::UUID", [uid]
                ).fetchall()
            except duckdb.ConversionException:
                return None
        return self._unzstd(bytes(rows[0][0])) if rows else None

    def summaries(
        self, filters: Filters, after: Cursor | None, limit: int
    ) -> list[MeasurementSummary]:
        """Return up to `limit` matching measurements, newest first, strictly after `after`."""
        clause, params = where(filters, after)
        with self._reader() as cur:
            rows = cur.execute(
                f"SELECT {_SUMMARY_COLUMNS} FROM measurements WHERE {clause} "
                "ORDER BY start_time DESC, uid DESC LIMIT ?",
                [*params, limit],
            ).fetchall()
        return [self._summary(row) for row in rows]

    @staticmethod
    def _summary(row: tuple[Any, ...]) -> MeasurementSummary:
        (
            uid,
            start_time,
            received_at,
            cc,
            asn,
            network_name,
            input_,
            domain,
            category,
            software_name,
            software_version,
            format_version,
            verdict,
            methods,
            confidence,
            blocking,
            accessible,
            confirmed,
            rules_version,
            probe_verdict,
            probe_methods,
            probe_confidence,
            control_failed,
            geo_mismatch,
        ) = row
        return MeasurementSummary(
            uid=uid,
            start_time=_utc(start_time),
            received_at=_utc(received_at),
            probe_cc=cc,
            probe_asn=f"AS{asn}",
            probe_network_name=network_name,
            input=input_,
            domain=domain,
            category_code=category,
            software_name=software_name,
            software_version=software_version,
            format_version=format_version,
            verdict=verdict,
            methods=list(methods or []),
            confidence=confidence,
            blocking=blocking,
            accessible=accessible,
            fingerprint_confirmed=confirmed,
            rules_version=rules_version,
            probe_verdict=probe_verdict,
            probe_methods=list(probe_methods),
            probe_confidence=probe_confidence,
            control_failed=control_failed,
            geo_mismatch=geo_mismatch,
        )

    def aggregate(self, query: AggregationQuery) -> list[AggregationRow]:
        """Return the counts of every non-empty cell, ordered by x then y.

        Two grouped scans (verdicts, then methods of the rows that have any) and, when asked,
        a third for distinct probes; the cells are assembled here. With `max_per_probe`, a probe
        with n > cap measurements in a cell has each of them weighted cap / n.
        """
        axes = [query.axis_x] + ([query.axis_y] if query.axis_y is not None else [])
        by_method = Axis.METHOD in axes
        clause, params = where(query.filters)
        unnest = ", unnest(methods) AS method" if by_method else ""
        inner = (
            "SELECT day, probe_cc, probe_asn, domain, category_code, verdict, methods, "
            f"fingerprint_confirmed, probe_id{unnest} FROM measurements WHERE {clause}"
        )
        x = AXIS_SQL[query.axis_x]
        y = AXIS_SQL[query.axis_y] if query.axis_y is not None else "NULL"
        base = (
            f"SELECT {x} AS x, {y} AS y, verdict, methods, fingerprint_confirmed, probe_id "
            f"FROM ({inner})"
        )
        weight, confirmed = "count(*)", "count(*) FILTER (WHERE fingerprint_confirmed)"
        if query.max_per_probe is None:
            prefix = f"WITH rows AS ({base})"
        else:
            weight = "sum(w)"
            confirmed = "coalesce(sum(w) FILTER (WHERE fingerprint_confirmed), 0)"
            prefix = (
                f"WITH base AS ({base}), weights AS (SELECT x, y, probe_id, "
                "least(1.0, ?::DOUBLE / count(*)) AS w FROM base WHERE probe_id IS NOT NULL "
                "GROUP BY ALL), rows AS (SELECT b.*, coalesce(weights.w, 1.0) AS w FROM base b "
                "LEFT JOIN weights ON b.x IS NOT DISTINCT FROM weights.x "
                "AND b.y IS NOT DISTINCT FROM weights.y AND b.probe_id = weights.probe_id)"
            )
            params = [*params, query.max_per_probe]
        totals_sql = f"{prefix} SELECT x, y, verdict, {weight}, {confirmed} FROM rows GROUP BY ALL"
        # Only blocked verdicts carry methods (probe.analysis.analyse): scan just those rows.
        methods_sql = (
            f"{prefix} SELECT x, y, m, {weight} FROM (SELECT *, unnest(methods) AS m "
            "FROM rows WHERE verdict = 'blocked') GROUP BY ALL"
        )
        probes_sql = f"SELECT x, y, count(DISTINCT probe_id) FROM ({base}) GROUP BY ALL"
        with self._reader() as cur:
            totals = cur.execute(totals_sql, params).fetchall()
            per_method = [] if by_method else cur.execute(methods_sql, params).fetchall()
            probes = (
                cur.execute(
                    probes_sql, params[: len(params) - (query.max_per_probe is not None)]
                ).fetchall()
                if query.with_probes
                else []
            )
        cells: dict[tuple[object, object], dict[str, float]] = {}
        for gx, gy, verdict, weight, confirmed in totals:
            cell = cells.setdefault((gx, gy), {})
            key = PENDING if verdict is None else str(verdict)
            cell[key] = cell.get(key, 0.0) + float(weight)
            cell["#confirmed"] = cell.get("#confirmed", 0.0) + float(confirmed)
        methods: dict[tuple[object, object], dict[str, int]] = {}
        for gx, gy, method, weight in per_method:
            methods.setdefault((gx, gy), {})[str(method)] = round(float(weight))
        distinct = {(gx, gy): int(n) for gx, gy, n in probes}
        out: list[AggregationRow] = []
        for (gx, gy), cell in sorted(cells.items(), key=lambda item: _order(item[0])):
            total = sum(v for k, v in cell.items() if not k.startswith("#"))
            found = methods.get((gx, gy), {})
            if by_method:
                method_value = gx if query.axis_x is Axis.METHOD else gy
                found = {str(method_value): round(total)}
            out.append(
                AggregationRow(
                    x=axis_text(query.axis_x, gx),
                    y=None if query.axis_y is None else axis_text(query.axis_y, gy),
                    measurements=round(total),
                    ok=round(cell.get("ok", 0.0)),
                    blocked=round(cell.get("blocked", 0.0)),
                    down=round(cell.get("down", 0.0)),
                    inconclusive=round(cell.get("inconclusive", 0.0)),
                    pending=round(cell.get(PENDING, 0.0)),
                    confirmed=round(cell.get("#confirmed", 0.0)),
                    probes=distinct.get((gx, gy)) if query.with_probes else None,
                    methods=dict(sorted(found.items())),
                )
            )
        return out

    def pending_analysis(self, limit: int) -> list[tuple[str, bytes]]:
        """Return (uid, zstd-compressed accepted bytes) of up to `limit` rows to analyse."""
        with self._reader() as cur:
            rows = cur.execute(
                "SELECT uid::VARCHAR, raw FROM measurements WHERE needs_analysis "
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
        params: list[object] = [cc, asn, naive_utc(since), cc]
        category_clause = ""
        if categories:
            category_clause = f"WHERE c.category_code IN ({', '.join('?' for _ in categories)}) "
            params.extend(categories)
        params.append(limit)
        # A country's list overrides the global one for the same URL (its category wins).
        sql = (
            "WITH recent AS (SELECT input, count(*) AS n FROM measurements "
            "WHERE probe_cc = ? AND probe_asn = ? AND received_at >= ? GROUP BY input), "
            "candidates AS (SELECT url, category_code, cc FROM test_list_urls "
            "WHERE cc = '' OR cc = ? "
            "QUALIFY row_number() OVER (PARTITION BY url ORDER BY cc DESC) = 1) "
            "SELECT c.url, c.category_code, c.cc, coalesce(r.n, 0) AS n FROM candidates c "
            f"LEFT JOIN recent r ON r.input = c.url {category_clause}"
            "ORDER BY n, random() LIMIT ?"
        )
        with self._reader() as cur:
            rows = cur.execute(sql, params).fetchall()
        return [
            CheckInUrl(
                url=url, category_code=category, list=list_cc or "global", recent_measurements=n
            )
            for url, category, list_cc, n in rows
        ]

    def counts(self) -> StorageCounts:
        """Return the sizes health and metrics report."""
        with self._reader() as cur:
            (row,) = cur.execute(
                "SELECT count(*), count(*) FILTER (WHERE needs_analysis) FROM measurements"
            ).fetchall()
            (lists,) = cur.execute("SELECT count(*) FROM test_list_urls").fetchall()
        return StorageCounts(
            measurements=int(row[0]), pending_analysis=int(row[1]), test_list_urls=int(lists[0])
        )

    # -- export -------------------------------------------------------------------------------

    def export(self, filters: Filters, fmt: ExportFormat, out: Path, *, partitioned: bool) -> int:
        """Write the matching measurements to `out`; return how many rows were written.

        parquet: summary columns plus `measurement` (the accepted JSON); partitioned by day and
        probe_cc (hive style) into the directory `out`, else one file. csv: summary columns,
        one file. jsonl: the accepted measurements, one per line, one file.
        """
        clause, params = where(filters)
        if fmt is ExportFormat.CSV:
            with self._reader() as cur:
                (count,) = cur.execute(
                    f"SELECT count(*) FROM measurements WHERE {clause}", params
                ).fetchall()
                cur.execute(
                    f"COPY (SELECT {_CSV_COLUMNS} FROM measurements WHERE {clause} "
                    f"ORDER BY start_time, uid) TO '{_quoted(out)}' (FORMAT csv, HEADER)",
                    params,
                ).fetchall()
            return int(count[0])
        columns = "raw" if fmt is ExportFormat.JSONL else f"{EXPORT_COLUMNS}, raw"
        sql = f"SELECT {columns} FROM measurements WHERE {clause} ORDER BY start_time, uid"
        written = 0
        with self._reader() as cur, self._reader() as sink:
            reader = cur.sql(sql, params=params).to_arrow_reader(EXPORT_BATCH_ROWS)
            if fmt is ExportFormat.JSONL:
                with out.open("wb") as stream:
                    for batch in reader:
                        for blob in batch.column(0).to_pylist():
                            stream.write(self._unzstd(blob).rstrip(b"\r\n") + b"\n")
                        written += batch.num_rows
                return written
            writer: pq.ParquetWriter | None = None
            try:
                for batch in reader:
                    table = self._with_measurement(pa.Table.from_batches([batch]))
                    written += table.num_rows
                    if partitioned:
                        with self._registered(sink, "export_chunk", table):
                            sink.execute(
                                f"COPY export_chunk TO '{_quoted(out)}' (FORMAT parquet, "
                                "COMPRESSION zstd, PARTITION_BY (day, probe_cc), APPEND)"
                            ).fetchall()
                    else:
                        if writer is None:
                            writer = pq.ParquetWriter(str(out), table.schema, compression="zstd")
                        writer.write_table(table)
            finally:
                if writer is not None:
                    writer.close()
            if not partitioned and writer is None:
                empty = self._with_measurement(reader.schema.empty_table())
                pq.write_table(empty, str(out), compression="zstd")
        return written

    def _with_measurement(self, table: pa.Table) -> pa.Table:
        raw = table.column("raw").to_pylist()
        texts = pa.array([self._unzstd(b).decode("utf-8") for b in raw], pa.string())
        return table.drop_columns(["raw"]).append_column("measurement", texts)

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
            with self._transaction() as con:
                for statement in rollups.REBUILD:
                    con.execute(statement)
        finally:
            self._rollups_changed()

    def report_domains(
        self, query: reports.ReportQuery, settings: ModelSettings
    ) -> reports.ReportTable:
        """Return each domain's per-network weighted counts for a report window."""
        with self._reader() as con:
            return reports.domain_rows(con, query, settings)

    def report_networks(self, query: reports.ReportQuery) -> list[reports.CountryNetwork]:
        """Return every network of a report window with its measurement count."""
        with self._reader() as con:
            return reports.networks(con, query)

    def report_baselines(
        self, query: reports.ReportQuery, settings: ModelSettings
    ) -> dict[str, float]:
        """Return each domain's noise baseline from the other countries."""
        with self._reader() as con:
            return reports.baselines(con, query, settings)

    def report_daily_shares(
        self, query: reports.ReportQuery, domains: Sequence[str] | None = None
    ) -> dict[str, list[tuple[date, int, int]]]:
        """Return (day, blocked, ok) per domain (only `domains`, when given) for the window."""
        with self._reader() as con:
            return reports.daily_shares(con, query, domains)

    def report_daily_networks(
        self, query: reports.ReportQuery, settings: ModelSettings
    ) -> dict[date, list[NetworkCounts]]:
        """Return one domain's weighted counts per day and network."""
        with self._reader() as con:
            return reports.daily_networks(con, query, settings)

    def report_countries(self, since: date, until: date) -> list[reports.CountrySummary]:
        """Return every country with measurements in the window."""
        with self._reader() as con:
            return reports.countries(con, since, until)

    def report_samples(
        self, query: reports.ReportQuery, limit: int
    ) -> tuple[list[reports.Sample], Counter[str]]:
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


def _order(key: tuple[object, object]) -> tuple[tuple[bool, str], tuple[bool, str]]:
    """Sort key of a cell: by x then y, natively typed values compared as text after None."""
    x, y = key
    return (x is None, "" if x is None else _sortable(x)), (
        y is None,
        "" if y is None else _sortable(y),
    )


def _sortable(value: object) -> str:
    if isinstance(value, int):
        return f"{value:020d}"
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _quoted(path: Path) -> str:
    return str(path).replace("'", "''")
