"""`crenel-collector serve` with a sampler thread that writes the server's memory internals as
JSON lines: for `bench/soak.py --internals` only, never part of the product.

Every `CRENEL_SOAK_SAMPLE_S` seconds (10 by default) it appends to the file named by
`CRENEL_SOAK_INTERNALS`: minutes since start, the process's RSS (and its anonymous part, the
rest being mapped files such as the interpreter's libraries), DuckDB's memory by tag
(`duckdb_memory()`), the WAL's size, the report cache's byte count, glibc's heap (`mallinfo2`:
bytes held by malloc's arenas, bytes in use in them), the bytes held by Arrow's memory pool,
the Python objects allocated (`sys.getallocatedblocks`) and the process's threads.

With `CRENEL_SOAK_TRACEMALLOC=1` it also traces the Python heap (slower: figures for finding a
leak, not for latency) and adds the Python heap's size and the five source lines whose
allocations grew most since the first sample.

Usage: python bench/soak_server.py serve [serve's flags]
"""

from __future__ import annotations

import ctypes
import json
import os
import sys
import threading
import time
import tracemalloc
from pathlib import Path
from typing import Any

import psutil

from collector.reports import cache as report_cache
from collector.storage import duckdb as duckdb_store

STORES: list[duckdb_store.DuckDBStorage] = []
CACHES: list[report_cache.ReportCache] = []


def _remember() -> None:
    """Make every store and report cache the server opens known to the sampler."""
    open_store = duckdb_store.DuckDBStorage.__init__
    open_cache = report_cache.ReportCache.__init__

    def store_init(self: duckdb_store.DuckDBStorage, *args: Any, **kwargs: Any) -> None:
        open_store(self, *args, **kwargs)
        STORES.append(self)

    def cache_init(self: report_cache.ReportCache, *args: Any, **kwargs: Any) -> None:
        open_cache(self, *args, **kwargs)
        CACHES.append(self)

    duckdb_store.DuckDBStorage.__init__ = store_init  # type: ignore[method-assign]
    report_cache.ReportCache.__init__ = cache_init  # type: ignore[method-assign]


class _Mallinfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            *("arena", "ordblks", "smblks", "hblks", "hblkhd"),
            *("usmblks", "fsmblks", "uordblks", "fordblks", "keepcost"),
        )
    ]


def _heap() -> dict[str, float]:
    """Return glibc's heap in MB (empty elsewhere)."""
    try:
        mallinfo2 = ctypes.CDLL("libc.so.6").mallinfo2
    except (OSError, AttributeError):
        return {}
    mallinfo2.restype = _Mallinfo2
    info = mallinfo2()
    return {"heap_mb": (info.arena + info.hblkhd) / 1e6, "heap_in_use_mb": info.uordblks / 1e6}


def _status_mb(*fields: str) -> dict[str, float]:
    """Return fields of /proc/self/status given in kB, in MB (empty elsewhere)."""
    try:
        lines = Path("/proc/self/status").read_text(encoding="ascii").splitlines()
    except OSError:
        return {}
    found: dict[str, float] = {}
    for line in lines:
        name, _, value = line.partition(":")
        if name in fields:
            found[name] = int(value.split()[0]) / 1e3
    return found


def _arrow_mb() -> dict[str, float]:
    """Return the bytes Arrow's default memory pool has allocated, in MB, if Arrow is loaded."""
    arrow = sys.modules.get("pyarrow")
    if arrow is None:
        return {}
    pool = arrow.default_memory_pool()
    return {"arrow_mb": pool.bytes_allocated() / 1e6, "arrow_peak_mb": pool.max_memory() / 1e6}


def _python_heap(first: list[tracemalloc.Snapshot]) -> dict[str, Any]:
    """Return the traced Python heap and its largest growths since the first snapshot (empty
    unless tracing)."""
    if not tracemalloc.is_tracing():
        return {}
    snapshot = tracemalloc.take_snapshot().filter_traces(
        [tracemalloc.Filter(False, tracemalloc.__file__)]
    )
    if not first:
        first.append(snapshot)
    growth = snapshot.compare_to(first[0], "lineno")[:5]
    return {
        "traced_mb": tracemalloc.get_traced_memory()[0] / 1e6,
        "traced_growth": [f"{stat.size_diff / 1e6:+.1f} MB {stat.traceback[0]}" for stat in growth],
    }


def sample(began: float, first: list[tracemalloc.Snapshot]) -> dict[str, Any]:
    """Return one record of the server's memory internals."""
    status = _status_mb("RssAnon", "RssFile")
    record: dict[str, Any] = {
        "minute": round((time.monotonic() - began) / 60, 2),
        "rss_mb": psutil.Process().memory_info().rss / 1e6,
        "rss_anon_mb": status.get("RssAnon", 0.0),
        "rss_file_mb": status.get("RssFile", 0.0),
        "py_blocks": sys.getallocatedblocks(),
        "threads": threading.active_count(),
        **_heap(),
        **_arrow_mb(),
        **_python_heap(first),
    }
    if STORES:
        store = STORES[0]
        try:
            record["wal_mb"] = store._wal.stat().st_size / 1e6
        except FileNotFoundError:
            record["wal_mb"] = 0.0
        cursor = store._con.cursor()
        try:
            rows = cursor.execute(
                "SELECT tag, memory_usage_bytes FROM duckdb_memory() WHERE memory_usage_bytes > 0"
            ).fetchall()
        finally:
            cursor.close()
        record["duckdb_mb"] = {str(tag): round(used / 1e6, 1) for tag, used in rows}
    if CACHES:
        record["report_cache_mb"] = CACHES[0].stats().bytes / 1e6
    return record


def run_sampler(path: str, period_s: float) -> None:
    """Append a record to `path` every `period_s` seconds, for as long as the process lives."""
    began = time.monotonic()
    first: list[tracemalloc.Snapshot] = []
    with open(path, "a", encoding="utf-8") as out:
        while True:
            time.sleep(period_s)
            try:
                record = sample(began, first)
            except Exception as exc:  # a diagnostic must not stop the server
                record = {"error": repr(exc)}
            out.write(json.dumps(record) + "\n")
            out.flush()


if __name__ == "__main__":  # the analysis workers import this module too (spawn): no sampler
    _remember()
    period = float(os.environ.get("CRENEL_SOAK_SAMPLE_S", "10"))
    if os.environ.get("CRENEL_SOAK_TRACEMALLOC") == "1":
        tracemalloc.start()
    target = os.environ["CRENEL_SOAK_INTERNALS"]
    threading.Thread(target=run_sampler, args=(target, period), daemon=True).start()
    from collector.cli.program import console_script

    sys.argv[0] = "crenel-collector"
    console_script()
