"""What the fingerprint set shipped with Crenel costs the analysis of one page, and loading it.

Analyses the same plain-HTTP measurement (a 3 KiB page, compared with the control) with no
fingerprints and with the shipped set (Censored Planet's and Crenel's CDN signatures), median of
N runs each, and times reading and parsing the shipped set once.

Usage: python bench/analysis_fingerprints.py [--quick] [--runs 200]
Prints its headline on the last line: `analysis with the shipped set: N ms per page`.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.probe.analysis.build

from probe.analysis import ReferenceData, analyse
from probe.references import bundled_set, load_reference
from tests.probe.analysis.build import healthy


def _median_s(reference: ReferenceData, runs: int) -> float:
    measurement = healthy().with_control().build()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        analyse(measurement, reference)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    """Print the figures; the headline last."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="20 runs instead of 200")
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    runs = 20 if args.quick else args.runs
    started = time.perf_counter()
    shipped = bundled_set()
    load_s = time.perf_counter() - started
    print(
        f"shipped set {shipped.version}: {len(shipped.fingerprints)} fingerprints, "
        f"{len(shipped.data)} bytes, read and parsed in {load_s * 1000:.0f} ms"
    )
    bare = _median_s(ReferenceData(), runs)
    full = _median_s(load_reference((), (), 256.0), runs)
    print(f"analysis without fingerprints: {bare * 1000:.2f} ms per page (median of {runs})")
    print(f"analysis with the shipped set: {full * 1000:.2f} ms per page")


if __name__ == "__main__":
    main()
