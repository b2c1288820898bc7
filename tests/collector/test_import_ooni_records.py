"""An import worker stores, for each line of OONI's corpus, the records the reader pins."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from collector.ooni_import.documents import RawLine
from collector.ooni_import.prepared import prepare_chunk
from tests.probe.ooni.test_reader_corpus import RECORD_PINS, corpus_documents, record_digest


def test_an_import_worker_stores_the_pinned_records_from_raw_lines(shared_data: Path) -> None:
    documents = corpus_documents(shared_data)
    lines = [
        RawLine(Path("corpus.jsonl"), n, json.dumps(json.loads(text)).encode())
        for n, text in enumerate(documents.values(), 1)
    ]
    chunk = prepare_chunk(lines, reference=None, now=datetime(2026, 1, 1, tzinfo=UTC))
    assert chunk.summary.converted == 56 and not chunk.summary.skipped
    pinned = json.loads(RECORD_PINS.read_text())
    stored = [record_digest(p.data) for p in chunk.measurements]
    assert stored == [pinned[scenario] for scenario in documents]
