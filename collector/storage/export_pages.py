"""HTTP exports without a file: keyset pages of the matching rows as Arrow tables, and the
encoder that turns each page into the next bytes of a Parquet, CSV or NDJSON stream.

Nothing is written to disk and nothing is sorted as a whole: each page finds its last
(start_time, uid) with a top-N over the key columns alone, then reads just the rows up to it,
so memory holds one page and DuckDB spills nothing.
"""

from __future__ import annotations

from collections.abc import Callable

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from collector.storage.base import Cursor, ExportFormat, ExportPage, Filters
from collector.storage.exports import EXPORT_COLUMNS
from collector.storage.sql import naive_utc, where
from probe.ooni import ooni_json_line

PAGE_ROWS = 1_000
"""Rows per page: about 5 MiB of typical measurements in memory per export at a time
(bench/export_flood.py: 12 exports at once grew the RSS by 364 MiB at 1,000, 641 at 2,000)."""

_LISTS = frozenset({"methods", "probe_methods"})
_CSV_SPECIAL = frozenset(',"\r\n')
_SUMMARY = [column.strip().split(" AS ") for column in EXPORT_COLUMNS.split(",")]
CSV_HEADER = [parts[-1] for parts in _SUMMARY]
"""The CSV export's header: the summary columns, in order."""
_TEXT_COLUMNS = ", ".join(
    f"array_to_string({parts[0]}, ' ') AS {parts[-1]}"
    if parts[-1] in _LISTS
    else f"CAST({parts[0]} AS VARCHAR) AS {parts[-1]}"
    for parts in _SUMMARY
)


def export_page(
    cur: duckdb.DuckDBPyConnection,
    filters: Filters,
    fmt: ExportFormat,
    after: Cursor | None,
    *,
    limit: int,
    unzstd: Callable[[bytes], bytes],
) -> ExportPage:
    """Return the next `limit` matching rows in (start_time, uid) order, strictly after `after`.

    parquet: the summary columns plus `measurement` (the accepted JSON); jsonl: `measurement`
    only; csv: the summary columns as text (lists joined with spaces).
    """
    clause, params = where(filters)
    if after is not None:
        clause += " AND (start_time > ? OR (start_time = ? AND uid > ?::UUID))"
        moment = naive_utc(after.start_time)
        params += [moment, moment, after.uid]
    # The page's last key first, from the key columns alone: the top-N then sorts no bodies.
    bound = cur.execute(
        f"SELECT start_time, uid::VARCHAR FROM measurements WHERE {clause} "
        "ORDER BY start_time, uid LIMIT 1 OFFSET ?",
        [*params, limit - 1],
    ).fetchall()
    last = None
    if bound:
        last = Cursor(start_time=bound[0][0], uid=bound[0][1])
        clause += " AND (start_time < ? OR (start_time = ? AND uid <= ?::UUID))"
        params += [bound[0][0], bound[0][0], bound[0][1]]
    columns = {
        ExportFormat.CSV: _TEXT_COLUMNS,
        ExportFormat.JSONL: "raw",
        ExportFormat.OONI: "raw",
        ExportFormat.PARQUET: f"{EXPORT_COLUMNS}, raw",
    }[fmt]
    table: pa.Table = cur.sql(
        f"SELECT {columns} FROM measurements WHERE {clause} ORDER BY start_time, uid",
        params=params,
    ).to_arrow_table()
    if fmt is not ExportFormat.CSV:
        raw = table.column("raw").to_pylist()
        texts = pa.array([unzstd(b).decode("utf-8") if b else None for b in raw], pa.string())
        table = table.drop_columns(["raw"]).append_column("measurement", texts)
    return ExportPage(table=table, after=last)


class _Drain:
    """A write-only file that hands back what was written since the last `take`."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._position = 0
        self.closed = False

    def write(self, data: bytes) -> int:
        self._parts.append(bytes(data))
        self._position += len(data)
        return len(data)

    def tell(self) -> int:
        return self._position

    def flush(self) -> None:
        return None

    def close(self) -> None:
        self.closed = True

    def take(self) -> bytes:
        data = b"".join(self._parts)
        self._parts.clear()
        return data


class ExportEncoder:
    """Turns export pages, in order, into the bytes of one file; `finish` ends the file."""

    def __init__(self, fmt: ExportFormat) -> None:
        self.fmt = fmt
        self._drain = _Drain()
        self._parquet: pq.ParquetWriter | None = None
        self._has_header = False

    def encode(self, table: pa.Table) -> bytes:
        """Return the bytes that follow for this page (possibly none)."""
        if self.fmt is ExportFormat.JSONL:
            lines = table.column("measurement").to_pylist()
            return b"".join(
                text.rstrip("\r\n").encode("utf-8") + b"\n" for text in lines if text is not None
            )
        if self.fmt is ExportFormat.OONI:
            lines = table.column("measurement").to_pylist()
            return b"".join(
                ooni_json_line(text.encode("utf-8")) + b"\n" for text in lines if text is not None
            )
        if self.fmt is ExportFormat.CSV:
            return self._csv(table)
        if self._parquet is None:
            self._parquet = pq.ParquetWriter(self._drain, table.schema, compression="zstd")
        if table.num_rows:
            self._parquet.write_table(table)
        return self._drain.take()

    def finish(self) -> bytes:
        """Return the last bytes of the file (Parquet's footer; a CSV header if no row came)."""
        if self.fmt is ExportFormat.CSV and not self._has_header:
            return self._csv(None)
        if self._parquet is None:
            return b""
        self._parquet.close()
        self._parquet = None
        return self._drain.take()

    def _csv(self, table: pa.Table | None) -> bytes:
        lines: list[str] = []
        if not self._has_header:
            lines.append(",".join(CSV_HEADER) + "\n")
            self._has_header = True
        if table is not None:
            columns = [table.column(i).to_pylist() for i in range(table.num_columns)]
            lines.extend(
                ",".join(map(_csv_field, row)) + "\n" for row in zip(*columns, strict=True)
            )
        return "".join(lines).encode("utf-8")


def _csv_field(value: str | None) -> str:
    """Return one CSV field as DuckDB's COPY writes it: null empty, "" for an empty string."""
    if value is None:
        return ""
    if value == "" or any(c in value for c in _CSV_SPECIAL):
        return '"' + value.replace('"', '""') + '"'
    return value
