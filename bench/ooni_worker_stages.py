"""Where an OONI import worker spends its CPU: µs per measurement of each stage, one process.

Loops over the 56 lines of OONI's Web Connectivity corpus (../shared/data/ooni-corpus, read in
place) the way a worker of `crenel-collector import-ooni` prepares them (each line with its own
`measurement_uid`, as `bench/ooni_import.py` writes them), and times each stage on its own
with the process's CPU clock: reading the line (JSON decode), OONI → Crenel records (the
reader), JSON encode, zstd, the summary and analysis rows, and the collector's analysis. The
last line is the worker's whole job (`prepare_chunk`) over the same lines. The cyclic garbage
collector is off, as in the workers. Older code runs with PYTHONPATH=DIR from another
directory than the worktree.

Usage: python bench/ooni_worker_stages.py [--quick] [--rounds N]
"""

from __future__ import annotations

import argparse
import gc
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
import zstandard

from collector.analyse.analyser import ReferenceSource
from collector.ingest.rows import analysis_row, measurement_row
from collector.ooni_import.documents import RawLine
from collector.ooni_import.prepared import prepare_chunk
from probe.analysis import analyse
from probe.ooni import measurement_from_ooni

try:  # the level of imports (older code compressed them at the level of uploads)
    from collector.ooni_import.prepared import OONI_ZSTD_LEVEL as ZSTD_LEVEL
except ImportError:
    from collector.ingest.prepare import ZSTD_LEVEL

read_line: Callable[[bytes], Any]
try:  # the typed reading of a line (older code, run through PYTHONPATH, decodes generically)
    from probe.ooni import read_ooni_line as read_line
except ImportError:
    read_line = msgspec.json.decode

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "ooni-corpus"
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def corpus_lines() -> list[bytes]:
    """Return each corpus document as one JSON line with its own `measurement_uid`, as
    `bench/ooni_import.py` writes them (OONI's cans name every measurement)."""
    lines = []
    for n, path in enumerate(sorted(CORPUS.glob("*/*/measurement.json"))):
        doc = json.loads(path.read_text())
        doc["measurement_uid"] = f"20231130000000.{n:07d}_IT_webconnectivity_bench"
        lines.append(json.dumps(doc).encode())
    return lines


def cpu_us(stage: Callable[[Any], Any], inputs: list[Any], rounds: int) -> tuple[float, list[Any]]:
    """Return the best-of-rounds CPU µs per input of `stage`, and its outputs."""
    best = float("inf")
    outputs: list[Any] = []
    for _ in range(rounds):
        started = time.process_time()
        outputs = [stage(item) for item in inputs]
        best = min(best, time.process_time() - started)
    return best / len(inputs) * 1e6, outputs


def main() -> None:
    """Print µs per measurement of each worker stage, the worker's whole job on the last line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds (<1 min)")
    parser.add_argument("--rounds", type=int, default=0, help="rounds over the corpus")
    args = parser.parse_args()
    rounds = args.rounds or (5 if args.quick else 20)
    reference = ReferenceSource().load()
    compressor = zstandard.ZstdCompressor(level=ZSTD_LEVEL)
    texts = corpus_lines()
    gc.disable()
    stages: list[tuple[str, float]] = []
    decode, documents = cpu_us(read_line, texts, rounds)
    stages.append((f"JSON decode ({read_line.__module__}.{read_line.__name__})", decode))
    reader, measurements = cpu_us(measurement_from_ooni, documents, rounds)
    stages.append(("OONI -> Crenel records (measurement_from_ooni)", reader))
    encode, data = cpu_us(msgspec.json.encode, measurements, rounds)
    stages.append(("JSON encode (msgspec)", encode))
    zstd, compressed = cpu_us(compressor.compress, data, rounds)
    stages.append((f"zstd level {ZSTD_LEVEL}", zstd))
    pairs = list(zip(measurements, compressed, strict=True))
    rows, _ = cpu_us(
        lambda p: measurement_row(p[0], p[1], received_at=NOW, source=None), pairs, rounds
    )
    analysed, analyses = cpu_us(lambda m: analyse(m, reference), measurements, rounds)
    rows_a, _ = cpu_us(
        lambda p: analysis_row(p[0].uid, p[1], analysed_at=NOW),
        list(zip(measurements, analyses, strict=True)),
        rounds,
    )
    stages.append(("summary row + analysis row", rows + rows_a))
    stages.append(("collector analysis (probe.analysis.analyse)", analysed))
    lines = [RawLine(Path("corpus.jsonl"), n, text) for n, text in enumerate(texts, 1)]
    whole, _ = cpu_us(
        lambda chunk: prepare_chunk(chunk, reference=reference, now=NOW), [lines], rounds
    )
    gc.enable()
    raw = sum(map(len, texts)) / len(texts)
    stored = sum(map(len, compressed)) / len(compressed)
    print(f"{len(texts)} corpus lines, {raw / 1000:.1f} kB a line, {rounds} rounds (best)")
    print(f"stored zstd bytes a measurement: {stored / 1000:.1f} kB")
    for name, us in stages:
        print(f"{name:56} {us:7.1f} µs")
    print(f"{'sum of the stages':56} {sum(us for _, us in stages):7.1f} µs")
    print(f"worker CPU per measurement (prepare_chunk): {whole / len(lines):.1f} µs")


if __name__ == "__main__":
    main()
