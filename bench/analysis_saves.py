"""What saving the collector's analyses costs the store, per analysed row.

Builds the realistic measurements of `collector_ingest.py`, stores them through the backend's
`insert` (commits of 140, as the collector's group commit makes them), analyses them with the
shipped fingerprints, then times `save_analyses` in saves of `--save-rows` (the analyser's
gathered batch): CPU of this process (DuckDB's threads included) and wall time per row. A
second pass re-analyses every row (what a rules update does) and times that too.

Usage: python bench/analysis_saves.py [--quick] [--rows 12000] [--save-rows 1000]
Prints its headline on the last line: `save_analyses: N µs of CPU a row (M wall) ...`.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from collector_ingest import build_batches
from ingest_engine import engine_rows

from collector.analyse.analyser import ReferenceSource, analyse_stored
from collector.config import utc_now
from collector.storage import AnalysisRow, Storage, database_url, open_backend

COMMIT_ROWS = 140


def timed_saves(store: Storage, analyses: list[AnalysisRow], save_rows: int) -> tuple[float, float]:
    """Return (CPU, wall) seconds per row of saving `analyses`, `save_rows` per save."""
    cpu, wall = time.process_time(), time.perf_counter()
    for first in range(0, len(analyses), save_rows):
        store.save_analyses(analyses[first : first + save_rows])
    return (
        (time.process_time() - cpu) / len(analyses),
        (time.perf_counter() - wall) / len(analyses),
    )


def main() -> None:
    """Print the figures; the headline last."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="4,000 rows")
    parser.add_argument("--rows", type=int, default=12_000)
    parser.add_argument("--save-rows", type=int, default=1_000)
    args = parser.parse_args()
    count = 4_000 if args.quick else args.rows
    bodies, _ = build_batches(count, 10)
    rows = engine_rows(bodies)[:count]
    analyses = analyse_stored(
        [(r.uid, r.raw_zstd) for r in rows], ReferenceSource().load(), utc_now()
    )
    with tempfile.TemporaryDirectory(prefix="crenel-saves-") as tmp:
        store = open_backend(database_url(Path(tmp) / "collector.duckdb"), memory_mb=128)
        try:
            for first in range(0, len(rows), COMMIT_ROWS):
                store.insert(rows[first : first + COMMIT_ROWS])
            cpu, wall = timed_saves(store, analyses, args.save_rows)
            again_cpu, again_wall = timed_saves(store, analyses, args.save_rows)
        finally:
            store.close()
    print(f"{len(rows)} rows stored {COMMIT_ROWS} a commit, analyses saved {args.save_rows} a save")
    again = f"{again_cpu * 1e6:.0f} µs of CPU a row ({again_wall * 1e6:.0f} wall)"
    print(f"re-analysis of the same rows: {again}")
    print(
        f"save_analyses: {cpu * 1e6:.0f} µs of CPU a row ({wall * 1e6:.0f} wall) "
        f"at {args.save_rows} a save over {len(rows)} rows"
    )


if __name__ == "__main__":
    main()
