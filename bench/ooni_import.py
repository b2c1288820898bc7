"""How fast `crenel-collector import-ooni` turns OONI files into stored, analysed measurements.

Repeats the 56 measurements of OONI's Web Connectivity corpus (../shared/data/ooni-corpus,
GPL, read in place and never copied into the product) to N measurements, each with its own
`measurement_uid`, and streams them as JSON lines through a named pipe into the real command,
run as a subprocess on a fresh data directory: parsed, converted, analysed, stored and rolled
up, end to end. Nothing lands on disk but the store (1 M measurements would be 45 GB of JSON).
Prints the rate, the importer's peak RSS (the largest of its processes) and the CPU its
processes spent per measurement (which holds under load, unlike the rate); run with two sizes
to see that memory does not grow with the file.

Usage: python bench/ooni_import.py [--quick] [--count N ...] [--workers N]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "ooni-corpus"
_UID = "@@UID@@"


def corpus_lines() -> list[tuple[bytes, bytes]]:
    """Return each corpus document as one JSON line, split where its `measurement_uid` goes."""
    lines = []
    for path in sorted(CORPUS.glob("*/*/measurement.json")):
        doc = json.loads(path.read_text())
        doc["measurement_uid"] = _UID
        before, after = json.dumps(doc).encode().split(_UID.encode())
        lines.append((before, after + b"\n"))
    return lines


def write_lines(fifo: Path, count: int, done: list[int]) -> None:
    """Write `count` corpus lines, uniquely named, into the pipe; record the bytes written."""
    lines = corpus_lines()
    written = 0
    with fifo.open("wb", buffering=1 << 20) as out:
        for i in range(count):
            before, after = lines[i % len(lines)]
            uid = f"20231130000000.{i:07d}_IT_webconnectivity_bench".encode()
            out.write(before)
            out.write(uid)
            out.write(after)
            written += len(before) + len(uid) + len(after)
    done.append(written)


def children_cpu_s() -> float:
    """Return the CPU seconds (user and system) of the finished child processes so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_import(count: int, tmp: Path, workers: int) -> tuple[float, int, float, int, float]:
    """Return (seconds, measurements stored, peak RSS MiB so far, bytes read, CPU seconds of the
    importer and its workers) of one import."""
    fifo = tmp / f"can-{count}.jsonl"
    os.mkfifo(fifo)
    command = [
        sys.executable, "-m", "collector.cli", "import-ooni", str(fifo),
        "--data-dir", str(tmp / f"data-{count}"), "--analysis-workers", str(workers), "--json",
    ]  # fmt: skip
    written: list[int] = []
    writer = threading.Thread(target=write_lines, args=(fifo, count, written), daemon=True)
    cpu_before = children_cpu_s()
    started = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    writer.start()
    out, err = child.communicate(timeout=4 * 3600)
    elapsed = time.perf_counter() - started
    writer.join(timeout=10)
    fifo.unlink()
    if child.returncode != 0:
        raise SystemExit(f"import failed ({child.returncode}): {err.strip()[-500:]}")
    stored = int(json.loads(out.strip().splitlines()[-1])["stored"])
    peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    cpu_s = children_cpu_s() - cpu_before
    return elapsed, stored, peak_mib, written[0] if written else 0, cpu_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10,000 measurements")
    parser.add_argument("--count", type=int, action="append", help="measurements (repeat)")
    parser.add_argument("--workers", type=int, default=2, help="importer worker processes")
    args = parser.parse_args()
    if not CORPUS.is_dir():
        raise SystemExit(f"needs OONI's corpus at {CORPUS} (../shared/data)")
    counts = args.count or ([10_000] if args.quick else [100_000, 1_000_000])
    rate = 0.0
    with tempfile.TemporaryDirectory(prefix="crenel-ooni-bench-") as tmp:
        for count in counts:
            elapsed, stored, peak, size, cpu_s = run_import(count, Path(tmp), args.workers)
            rate = stored / elapsed
            print(
                f"{count:>9,} measurements ({size / 2**20:,.0f} MiB of JSON lines): stored "
                f"{stored:,} in {elapsed:.1f} s, {rate:,.0f}/s, peak RSS so far {peak:,.0f} MiB, "
                f"CPU {cpu_s / max(stored, 1) * 1e6:,.0f} µs a measurement (importer and workers)",
                flush=True,
            )
    print(f"ooni import: {rate:,.0f} measurements/s")


if __name__ == "__main__":
    main()
