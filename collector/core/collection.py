"""Python's cyclic garbage collector, tuned for a server that allocates a lot and keeps little.

Every upload decodes measurements into thousands of small objects, so with the default
thresholds the collector ran a young-generation pass every 700 allocations and, every so often,
a full pass over everything the server holds (the web stack, DuckDB's and Arrow's wrappers,
the report cache). `settle_after_start` moves what start-up built into the permanent
generation (never scanned again) and lets the young generation grow larger before a pass.
Cycles are still collected: only less often, and never through the start-up objects.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 50_000
"""Allocations (net of frees) between passes over the youngest generation (Python's default:
700)."""


def settle_after_start() -> None:
    """Freeze the objects start-up built and raise the young generation's threshold; return
    nothing."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
