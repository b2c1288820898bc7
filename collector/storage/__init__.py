"""Store: where measurements live. The storage interface, the one backend factory, and the
embedded DuckDB backend.

Modules:
- `base`: the `Storage` protocol (everything the collector asks of a store) and the records
  that cross it (rows, filters, summaries); `report_records`: the records of its report reads.
- `backends`: `open_backend(url)`, the only code outside the backends that names them;
  `open_backends` adds a read replica (`replica_reads.ReplicaReads`).
- `postgres`: `PostgresStorage`, a PostgreSQL database several collector processes share
  (a package: its schema, partitions, COPY batches and SQL).
- `aggregation_cells`: the aggregation API's cells from either backend's grouped rows.
- `analysed_rows`: measurements stored with their analyses (imports): each uid once, and the
  rollup deltas of the new rows alone (both backends' `insert_analysed`).
- `duckdb`: `DuckDBStorage`, one DuckDB file owned by the collector process; with it, its SQL:
  `sql`, `search`, `exports`, `export_pages`, `arrow_batches`, `test_lists`, `rollups`,
  `rollup_writes`, `reports`.
- `exports`: export files (CLI); `export_pages`: HTTP exports page by page, with no file.
- `heap_trim`: keeps the C heap small (two arenas, large blocks mapped on their own) and hands
  its free pages back after a checkpoint (glibc `mallopt`, `malloc_trim`).
- `leftovers`: removes what an earlier process left in the data directory.
- `migrations`: numbered schema migrations recorded in `schema_migrations`.
- `sql`: pure SQL fragments (filters, axes).
- `threads`: runs storage calls in worker threads for trio code (one writer, several readers).
- `retention`: the task that empties analysed measurements' bodies after the retention period.

Must not: decide verdicts or build reports (it hands `collector.regional` and
`collector.reports` counts), nor import any stage above it. Outside this package, only the
names below are used, and never `DuckDBStorage` or `PostgresStorage` (a contract in
pyproject.toml holds it).
"""

from collector.storage.backends import (
    copy_to_postgresql,
    database_url,
    open_backend,
    open_backends,
)
from collector.storage.base import (
    AggregationQuery,
    AggregationRow,
    AnalysedRow,
    AnalysisRow,
    Axis,
    CheckInUrl,
    Cursor,
    ExportFormat,
    ExportPage,
    Filters,
    MeasurementRow,
    MeasurementSummary,
    ReportStore,
    Storage,
    StorageCounts,
    TestListUrl,
)
from collector.storage.export_pages import PAGE_ROWS as EXPORT_PAGE_ROWS
from collector.storage.export_pages import ExportEncoder
from collector.storage.exports import EXPORT_COLUMNS
from collector.storage.leftovers import remove_leftovers
from collector.storage.migrations import MIGRATIONS, SCHEMA_VERSION, Migration, migrate
from collector.storage.report_records import (
    CountryNetwork,
    CountrySummary,
    NetworkTable,
    ReportQuery,
    ReportTable,
    Sample,
)
from collector.storage.threads import ThreadedStorage

__all__ = [
    "EXPORT_COLUMNS",
    "EXPORT_PAGE_ROWS",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "AggregationQuery",
    "AggregationRow",
    "AnalysedRow",
    "AnalysisRow",
    "Axis",
    "CheckInUrl",
    "CountryNetwork",
    "CountrySummary",
    "Cursor",
    "ExportEncoder",
    "ExportFormat",
    "ExportPage",
    "Filters",
    "MeasurementRow",
    "MeasurementSummary",
    "Migration",
    "NetworkTable",
    "ReportQuery",
    "ReportStore",
    "ReportTable",
    "Sample",
    "Storage",
    "StorageCounts",
    "TestListUrl",
    "ThreadedStorage",
    "copy_to_postgresql",
    "database_url",
    "migrate",
    "open_backend",
    "open_backends",
    "remove_leftovers",
]
