"""How fast `crenel-collector import-ooni` turns OONI files into stored, analysed measurements.

Repeats the 56 measurements of OONI's Web Connectivity corpus (../shared/data/ooni-corpus,
GPL, read in place and never copied into the product) to N measurements, each with its own
`measurement_uid`, in one gzip'd JSONL can, then runs the real command on a fresh data directory
as a subprocess: parsed, converted, analysed (one analysis worker), stored and rolled up, end
to end. Prints the rate and the importer's peak RSS; run with two sizes to see that memory does
not grow with the file.

Usage: python bench/ooni_import.py [--quick] [--count N ...]
"""

from __future__ import annotations

import argparse
import gzip
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "ooni-corpus"


def write_can(path: Path, count: int) -> int:
    """Write `count` corpus measurements, uniquely named, to a gzip'd JSONL can; return bytes."""
    docs = [json.loads(p.read_text()) for p in sorted(CORPUS.glob("*/*/measurement.json"))]
    with gzip.open(path, "wt", compresslevel=1) as out:
        for i in range(count):
            doc = docs[i % len(docs)]
            doc["measurement_uid"] = f"20231130000000.{i:06d}_IT_webconnectivity_bench"
            out.write(json.dumps(doc) + "\n")
    return path.stat().st_size


def run_import(can: Path, data_dir: Path) -> tuple[float, int, float]:
    """Return (seconds, measurements stored, peak RSS MiB) of one import into a new data dir."""
    command = [
        sys.executable, "-m", "collector.cli", "import-ooni", str(can),
        "--data-dir", str(data_dir), "--analysis-workers", "1", "--json",
    ]  # fmt: skip
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, timeout=3600, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"import failed ({done.returncode}): {done.stderr.strip()[-500:]}")
    stored = int(json.loads(done.stdout.strip().splitlines()[-1])["stored"])
    peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return elapsed, stored, peak_mib


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2,000 measurements")
    parser.add_argument("--count", type=int, action="append", help="measurements (repeat)")
    args = parser.parse_args()
    if not CORPUS.is_dir():
        raise SystemExit(f"needs OONI's corpus at {CORPUS} (../shared/data)")
    counts = args.count or ([2_000] if args.quick else [10_000, 100_000])
    rate = 0.0
    with tempfile.TemporaryDirectory(prefix="crenel-ooni-bench-") as tmp:
        for count in counts:
            can = Path(tmp) / f"can-{count}.jsonl.gz"
            size = write_can(can, count)
            elapsed, stored, peak = run_import(can, Path(tmp) / f"data-{count}")
            rate = stored / elapsed
            print(
                f"{count:>9,} measurements ({size / 2**20:,.0f} MiB gzip'd): stored {stored:,} "
                f"in {elapsed:.1f} s, {rate:,.0f}/s, peak RSS so far {peak:,.0f} MiB"
            )
            can.unlink()
    print(f"ooni import: {rate:,.0f} measurements/s")


if __name__ == "__main__":
    main()
