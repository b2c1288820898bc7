"""Where measurements live: the storage interface and its embedded DuckDB backend.

Modules:
- `base`: the `Storage` protocol and the records that cross it (rows, filters, summaries).
- `duckdb`: `DuckDBStorage`, one DuckDB file owned by the collector process.
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
    Filters,
    MeasurementRow,
    MeasurementSummary,
    Storage,
    StorageCounts,
    TestListUrl,
)
from collector.storage.duckdb import DuckDBStorage
from collector.storage.exports import EXPORT_COLUMNS
from collector.storage.migrations import MIGRATIONS, SCHEMA_VERSION, Migration, migrate
from collector.storage.threads import ThreadedStorage

__all__ = [
    "EXPORT_COLUMNS",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "AggregationQuery",
    "AggregationRow",
    "AnalysisRow",
    "Axis",
    "CheckInUrl",
    "Cursor",
    "DuckDBStorage",
    "ExportFormat",
    "Filters",
    "MeasurementRow",
    "MeasurementSummary",
    "Migration",
    "Storage",
    "StorageCounts",
    "TestListUrl",
    "ThreadedStorage",
    "migrate",
]
