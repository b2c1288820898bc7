"""Where measurements live: the storage interface and its embedded DuckDB backend.

Modules:
- `base`: the `Storage` protocol and the records that cross it (rows, filters, summaries).
- `duckdb`: `DuckDBStorage`, one DuckDB file owned by the collector process.
- `exports`: export files (CLI); `export_pages`: HTTP exports page by page, with no file.
- `heap_trim`: hands the C heap's free pages back after a checkpoint (glibc `malloc_trim`).
- `leftovers`: removes what an earlier process left in the data directory.
- `migrations`: numbered schema migrations recorded in `schema_migrations`.
- `sql`: pure SQL fragments (filters, axes).
- `threads`: runs storage calls in worker threads for trio code (one writer, several readers).
"""

from collector.storage.base import (
    AggregationQuery,
    AggregationRow,
    AnalysisRow,
    Axis,
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
from collector.storage.duckdb import DuckDBStorage
from collector.storage.export_pages import PAGE_ROWS as EXPORT_PAGE_ROWS
from collector.storage.export_pages import ExportEncoder
from collector.storage.exports import EXPORT_COLUMNS
from collector.storage.leftovers import remove_leftovers
from collector.storage.migrations import MIGRATIONS, SCHEMA_VERSION, Migration, migrate
from collector.storage.threads import ThreadedStorage

__all__ = [
    "EXPORT_COLUMNS",
    "EXPORT_PAGE_ROWS",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "AggregationQuery",
    "AggregationRow",
    "AnalysisRow",
    "Axis",
    "CheckInUrl",
    "Cursor",
    "DuckDBStorage",
    "ExportEncoder",
    "ExportFormat",
    "ExportPage",
    "Filters",
    "MeasurementRow",
    "MeasurementSummary",
    "Migration",
    "Storage",
    "StorageCounts",
    "TestListUrl",
    "ThreadedStorage",
    "migrate",
    "remove_leftovers",
]
