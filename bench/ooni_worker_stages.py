"""Where an OONI import worker spends its CPU: µs per measurement of each stage, one process.

Loops over the 56 lines of OONI's Web Connectivity corpus (../shared/data/ooni-corpus, read in
place) the way a worker of `crenel-collector import-ooni` prepares them, and times each stage
of `collector.ooni_import.prepared` on its own with the process's CPU clock: JSON decode,
OONI → Crenel records (the reader, with the probe-address scrub), JSON encode, zstd, the
summary and analysis rows, and the collector's analysis. The last line is the total. Run with
the cyclic garbage collector off, as the workers do.

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
from collector.ingest.prepare import ZSTD_LEVEL
from collector.ingest.rows import analysis_row, measurement_row
from collector.ooni_import.convert import ImportSummary, convert
from collector.ooni_import.documents import RawLine, decode_line
from probe.analysis import analyse

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
    """Print µs per measurement of each worker stage, the total on the last line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds (<1 min)")
    parser.add_argument("--rounds", type=int, default=0, help="rounds over the corpus")
    args = parser.parse_args()
    rounds = args.rounds or (5 if args.quick else 20)
    reference = ReferenceSource().load()
    compressor = zstandard.ZstdCompressor(level=ZSTD_LEVEL)
    lines = [RawLine(Path("corpus.jsonl"), n, text) for n, text in enumerate(corpus_lines(), 1)]
    summary = ImportSummary()
    gc.disable()
    stages: list[tuple[str, float]] = []
    decode, documents = cpu_us(decode_line, lines, rounds)
    stages.append(("JSON decode (msgspec, generic)", decode))
    reader, converted = cpu_us(lambda doc: convert(doc, summary), documents, rounds)
    converted = [c for c in converted if c is not None]
    stages.append(("OONI -> Crenel records (convert: reader, scrub, JSON encode)", reader))
    encode, _ = cpu_us(lambda c: msgspec.json.encode(c.measurement), converted, rounds)
    stages.append(("  of which JSON encode (msgspec)", encode))
    zstd, compressed = cpu_us(compressor.compress, [c.data for c in converted], rounds)
    stages.append((f"zstd level {ZSTD_LEVEL}", zstd))
    pairs = list(zip(converted, compressed, strict=True))
    rows, _ = cpu_us(
        lambda p: measurement_row(p[0].measurement, p[1], received_at=NOW, source=None),
        pairs,
        rounds,
    )
    analysed, analyses = cpu_us(lambda c: analyse(c.measurement, reference), converted, rounds)
    rows_a, _ = cpu_us(
        lambda pair: analysis_row(pair[0].measurement.uid, pair[1], analysed_at=NOW),
        list(zip(converted, analyses, strict=True)),
        rounds,
    )
    stages.append(("summary row + analysis row", rows + rows_a))
    stages.append(("collector analysis (probe.analysis.analyse)", analysed))
    gc.enable()
    raw = sum(len(line.text) for line in lines) / len(lines)
    stored = sum(map(len, compressed)) / len(compressed)
    print(f"{len(lines)} corpus lines, {raw / 1000:.1f} kB a line, {rounds} rounds (best)")
    print(f"stored zstd bytes a measurement: {stored / 1000:.1f} kB")
    for name, us in stages:
        print(f"{name:64} {us:7.1f} µs")
    total = decode + reader + zstd + rows + rows_a + analysed
    print(f"worker CPU per measurement: {total:.1f} µs")


if __name__ == "__main__":
    main()
