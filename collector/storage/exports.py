"""Exports of the raw measurements: Parquet (one file or hive-partitioned by day and country),
JSON Lines of the accepted measurements, and CSV of the summary columns.

Runs on DuckDB cursors handed in by `duckdb.DuckDBStorage`, streaming Arrow batches.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from collector.storage.arrow_batches import registered
from collector.storage.base import ExportFormat, Filters
from collector.storage.sql import where
from probe.ooni import ooni_json_line

EXPORT_BATCH_ROWS = 20_000

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


def export(
    cur: duckdb.DuckDBPyConnection,
    filters: Filters,
    fmt: ExportFormat,
    out: Path,
    *,
    sink: duckdb.DuckDBPyConnection,
    unzstd: Callable[[bytes], bytes],
    partitioned: bool,
) -> int:
    """Write the matching measurements to `out`; return how many rows were written.

    `cur` reads, `sink` (another cursor) writes partitioned Parquet, `unzstd` decompresses the
    stored bytes.

    parquet: summary columns plus `measurement` (the accepted JSON); partitioned by day and
    probe_cc (hive style) into the directory `out`, else one file. csv: summary columns,
    one file. jsonl: the accepted measurements, one per line, one file.
    """
    clause, params = where(filters)
    if fmt is ExportFormat.CSV:
        (count,) = cur.execute(
            f"SELECT count(*) FROM measurements WHERE {clause}", params
        ).fetchall()
        cur.execute(
            f"COPY (SELECT {_CSV_COLUMNS} FROM measurements WHERE {clause} "
            f"ORDER BY start_time, uid) TO '{_quoted(out)}' (FORMAT csv, HEADER)",
            params,
        ).fetchall()
        return int(count[0])
    lines_only = fmt in (ExportFormat.JSONL, ExportFormat.OONI)
    columns = "raw" if lines_only else f"{EXPORT_COLUMNS}, raw"
    sql = f"SELECT {columns} FROM measurements WHERE {clause} ORDER BY start_time, uid"
    written = 0
    reader = cur.sql(sql, params=params).to_arrow_reader(EXPORT_BATCH_ROWS)
    if lines_only:
        with out.open("wb") as stream:
            for batch in reader:
                for blob in batch.column(0).to_pylist():
                    if blob:  # else removed by the raw retention
                        line = unzstd(blob).rstrip(b"\r\n")
                        if fmt is ExportFormat.OONI:
                            line = ooni_json_line(line)
                        stream.write(line + b"\n")
                written += batch.num_rows
        return written
    writer: pq.ParquetWriter | None = None
    try:
        for batch in reader:
            table = _with_measurement(pa.Table.from_batches([batch]), unzstd)
            written += table.num_rows
            if partitioned:
                with registered(sink, "export_chunk", table):
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
        empty = _with_measurement(reader.schema.empty_table(), unzstd)
        pq.write_table(empty, str(out), compression="zstd")
    return written


def _with_measurement(table: pa.Table, unzstd: Callable[[bytes], bytes]) -> pa.Table:
    raw = table.column("raw").to_pylist()
    texts = pa.array([unzstd(b).decode("utf-8") if b else None for b in raw], pa.string())
    return table.drop_columns(["raw"]).append_column("measurement", texts)


def _quoted(path: Path) -> str:
    return str(path).replace("'", "''")
