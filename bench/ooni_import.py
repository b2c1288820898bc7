"""How fast `crenel-collector import-ooni` turns OONI files into stored, analysed measurements.

Repeats the 56 measurements of OONI's Web Connectivity corpus (../shared/data/ooni-corpus,
GPL, read in place and never copied into the product) to N measurements, each with its own
`measurement_uid`, and streams them as JSON lines through a named pipe into the real command,
run as a subprocess on a fresh data directory: parsed, converted, analysed, stored and rolled
up, end to end. Nothing lands on disk but the store (1 M measurements would be 45 GB of JSON).
Prints the rate, the CPU each measurement cost the importing process itself and its worker
processes (the importing process's own CPU is sampled from /proc while it runs), and the
importer's peak RSS (the largest of its processes); run with two sizes to see that memory does
not grow with the file.

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


class OwnCpu:
    """Samples a running process's own CPU seconds (not its children's) until it exits."""

    def __init__(self, pid: int) -> None:
        self._stat = Path(f"/proc/{pid}/stat")
        self.seconds = 0.0
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        tick = os.sysconf("SC_CLK_TCK")
        while True:
            try:
                fields = self._stat.read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                return
            if fields[0] == "Z":  # exited: its last sample stands
                return
            self.seconds = (int(fields[11]) + int(fields[12])) / tick  # utime + stime
            time.sleep(0.05)

    def join(self) -> None:
        """Wait for the sampler to end (the process has exited); return nothing."""
        self._thread.join(timeout=10)


def run_import(count: int, tmp: Path, workers: int) -> tuple[float, int, float, int, float, float]:
    """Return (seconds, measurements stored, peak RSS MiB so far, bytes read, CPU seconds of the
    importing process, CPU seconds of its workers) of one import."""
    fifo = tmp / f"can-{count}.jsonl"
    os.mkfifo(fifo)
    command = [
        sys.executable, "-m", "collector.cli", "import-ooni", str(fifo),
        "--data-dir", str(tmp / f"data-{count}"), "--analysis-workers", str(workers), "--json",
    ]  # fmt: skip
    written: list[int] = []
    writer = threading.Thread(target=write_lines, args=(fifo, count, written), daemon=True)
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    own = OwnCpu(child.pid)
    writer.start()
    out, err = child.communicate(timeout=4 * 3600)
    elapsed = time.perf_counter() - started
    own.join()
    writer.join(timeout=10)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    total_cpu = (children.ru_utime - children_before.ru_utime) + (
        children.ru_stime - children_before.ru_stime
    )
    fifo.unlink()
    if child.returncode != 0:
        raise SystemExit(f"import failed ({child.returncode}): {err.strip()[-500:]}")
    stored = int(json.loads(out.strip().splitlines()[-1])["stored"])
    peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    size = written[0] if written else 0
    return elapsed, stored, peak_mib, size, own.seconds, max(0.0, total_cpu - own.seconds)


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
            elapsed, stored, peak, size, own, others = run_import(count, Path(tmp), args.workers)
            rate = stored / elapsed
            per = 1e6 / max(1, stored)
            print(
                f"{count:>9,} measurements ({size / 2**20:,.0f} MiB of JSON lines): stored "
                f"{stored:,} in {elapsed:.1f} s, {rate:,.0f}/s, peak RSS so far {peak:,.0f} MiB; "
                f"CPU a measurement: importing process {own * per:,.0f} µs, workers "
                f"{others * per:,.0f} µs (load {os.getloadavg()[0]:.1f})",
                flush=True,
            )
    print(f"ooni import: {rate:,.0f} measurements/s")


if __name__ == "__main__":
    main()
