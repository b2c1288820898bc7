"""The storage engine alone, for `collector_ingest.py` to compare the collector against: the same
rows the collector stores (its own `prepare()` of the same upload bodies), inserted through the
backend's `insert` (one durable transaction per commit, fsynced like the collector's) in one
thread, with no HTTP, no queue and no analysis.

`engine_rows` turns upload bodies into the rows; `engine_rate` times their insertion into the
store a database URL names, `commit_rows` at a time.
"""

from __future__ import annotations

import gzip
import time
from datetime import UTC, datetime

from collector.config import Limits
from collector.ingest.lines import split_lines
from collector.ingest.prepare import prepare
from collector.storage import MeasurementRow, open_backend


def engine_rows(bodies: list[bytes]) -> list[MeasurementRow]:
    """Return the rows the collector would store for these gzip NDJSON upload bodies."""
    limits = Limits()
    now = datetime.now(UTC)
    rows: list[MeasurementRow] = []
    for body in bodies:
        lines = split_lines(gzip.decompress(body), "ndjson", limits)
        rows.extend(prepare(lines, now=now, source_address=None, source=None, limits=limits).rows)
    return rows


def engine_rate(url: str, rows: list[MeasurementRow], commit_rows: int, memory_mb: int) -> float:
    """Return the rows per second the store at `url` commits, `commit_rows` per transaction."""
    store = open_backend(url, memory_mb=memory_mb)
    try:
        step = max(1, commit_rows)
        started = time.perf_counter()
        for first in range(0, len(rows), step):
            store.insert(rows[first : first + step])
        elapsed = time.perf_counter() - started
    finally:
        store.close()
    return len(rows) / elapsed
