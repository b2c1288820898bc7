"""Exports of the PostgreSQL store, page by page: keyset pages of the matching rows as Arrow
tables (`export_page`), and whole files written from those pages (`export`) with the same
encoder the HTTP exports use (`storage.export_pages.ExportEncoder`).

The columns are the DuckDB exports' (`storage.exports.EXPORT_COLUMNS`), typed alike, so a
researcher's script reads either backend's files the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pyarrow as pa
import pyarrow.dataset as ds

from collector.storage.base import Cursor, ExportFormat, ExportPage, Filters
from collector.storage.export_pages import CSV_HEADER, PAGE_ROWS, ExportEncoder
from collector.storage.exports import EXPORT_COLUMNS
from collector.storage.postgres.queries import pg_where
from collector.storage.sql import naive_utc

Con = psycopg.Connection[tuple[Any, ...]]

_LISTS = frozenset({"methods", "probe_methods"})
_TYPES: dict[str, pa.DataType] = {
    "start_time": pa.timestamp("us"),
    "received_at": pa.timestamp("us"),
    "day": pa.date32(),
    "probe_asn": pa.uint32(),
    "confidence": pa.float64(),
    "probe_confidence": pa.float64(),
    "accessible": pa.bool_(),
    "fingerprint_confirmed": pa.bool_(),
    "control_failed": pa.bool_(),
    "geo_mismatch": pa.bool_(),
    "methods": pa.list_(pa.string()),
    "probe_methods": pa.list_(pa.string()),
}
SCHEMA = pa.schema([(name, _TYPES.get(name, pa.string())) for name in CSV_HEADER])
"""The summary columns' Arrow types (as DuckDB gives them)."""

_TEXT_COLUMNS = ", ".join(
    f"array_to_string({name}, ' ')" if name in _LISTS else f"CAST({name} AS TEXT)"
    for name in CSV_HEADER
).replace("CAST(uid AS TEXT)", "uid::TEXT")


def _key_bound(after: Cursor | None, params: list[object]) -> str:
    if after is None:
        return ""
    moment = naive_utc(after.start_time)
    params += [moment, moment, after.uid]
    return " AND (start_time > %s OR (start_time = %s AND uid > %s::UUID))"


def export_page(
    con: Con,
    filters: Filters,
    fmt: ExportFormat,
    after: Cursor | None,
    *,
    limit: int,
    unzstd: Callable[[bytes], bytes],
) -> ExportPage:
    """Return the next `limit` matching rows in (start_time, uid) order, strictly after `after`
    (`storage.export_pages.export_page`'s formats: csv as text columns, jsonl and ooni the
    accepted measurement alone, parquet both)."""
    clause, params = pg_where(filters)
    clause += _key_bound(after, params)
    columns = {
        ExportFormat.CSV: _TEXT_COLUMNS,
        ExportFormat.JSONL: "raw",
        ExportFormat.OONI: "raw",
        ExportFormat.PARQUET: f"{EXPORT_COLUMNS}, raw",
    }[fmt]
    keyed = con.execute(
        f"SELECT start_time AS key_time, uid::TEXT AS key_uid, {columns} FROM measurements "
        f"WHERE {clause} ORDER BY measurements.start_time, measurements.uid LIMIT %s",
        [*params, limit],
    ).fetchall()
    last = None
    if keyed and len(keyed) == limit:
        last = Cursor(start_time=keyed[-1][0], uid=str(keyed[-1][1]))
    rows = [r[2:] for r in keyed]
    if fmt is ExportFormat.CSV:
        table = pa.table(
            {name: pa.array([r[i] for r in rows], pa.string()) for i, name in enumerate(CSV_HEADER)}
        )
        return ExportPage(table=table, after=last)
    texts = pa.array(
        [unzstd(bytes(r[-1])).decode("utf-8") if r[-1] else None for r in rows], pa.string()
    )
    if fmt is not ExportFormat.PARQUET:
        return ExportPage(table=pa.table({"measurement": texts}), after=last)
    arrays = [pa.array([r[i] for r in rows], field.type) for i, field in enumerate(SCHEMA)]
    table = pa.Table.from_arrays(
        [*arrays, texts], schema=SCHEMA.append(pa.field("measurement", pa.string()))
    )
    return ExportPage(table=table, after=last)


def export(
    con: Con,
    filters: Filters,
    fmt: ExportFormat,
    out: Path,
    *,
    unzstd: Callable[[bytes], bytes],
    partitioned: bool,
) -> int:
    """Write the matching measurements to `out` (parquet partitioned by day and probe_cc into
    the directory `out`, else one file); return how many rows were written."""
    written = 0
    after: Cursor | None = None
    encoder = ExportEncoder(fmt)
    first = True
    with out.open("wb") if not partitioned else _NoFile() as stream:
        for _ in range(1 << 40):
            page = export_page(con, filters, fmt, after, limit=PAGE_ROWS * 10, unzstd=unzstd)
            written += page.table.num_rows
            if partitioned:
                if page.table.num_rows:
                    ds.write_dataset(
                        page.table,
                        out,
                        format="parquet",
                        partitioning=["day", "probe_cc"],
                        partitioning_flavor="hive",
                        basename_template=f"part-{written}-{{i}}.parquet",
                        existing_data_behavior="overwrite_or_ignore",
                    )
            elif page.table.num_rows or first:
                stream.write(encoder.encode(page.table))
            first = False
            if page.after is None:
                break
            after = page.after
        if not partitioned:
            stream.write(encoder.finish())
    return written


class _NoFile:
    """Stands in for the output file when a partitioned export writes a directory."""

    def __enter__(self) -> _NoFile:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def write(self, data: bytes) -> int:
        return len(data)
