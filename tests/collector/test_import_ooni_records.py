"""An import worker stores, for each line of OONI's corpus, the records the reader pins; a line
read straight into the reader's Structs converts as the decoded document does."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from collector.ooni_import import Document, ImportSummary, convert
from collector.ooni_import.convert import Converted, convert_line
from collector.ooni_import.documents import RawLine
from collector.ooni_import.prepared import prepare_chunk
from probe.ooni import OoniDocumentError, measurement_from_ooni, read_ooni_line
from tests.collector.ooni_docs import ooni_doc
from tests.probe.ooni.test_reader_corpus import RECORD_PINS, corpus_documents, record_digest


def test_an_import_worker_stores_the_pinned_records_from_raw_lines(shared_data: Path) -> None:
    documents = corpus_documents(shared_data)
    # Named lines are read into the reader's Structs, unnamed ones decoded as JSON first.
    lines = [
        RawLine(Path("corpus.jsonl"), n, json.dumps(doc).encode())
        for n, doc in enumerate((d for docs in documents.values() for d in docs), 1)
    ]
    chunk = prepare_chunk(lines, reference=None, now=datetime(2026, 1, 1, tzinfo=UTC))
    assert chunk.summary.converted == 112 and not chunk.summary.skipped
    pinned = json.loads(RECORD_PINS.read_text())
    stored = [record_digest(p.data) for p in chunk.measurements]
    assert stored == [digest for scenario in documents for digest in pinned[scenario]]


def _line_and_document(doc: dict[str, Any]) -> tuple[Converted | None, Converted | None]:
    text = json.dumps(doc).encode()
    by_line = convert_line(RawLine(Path("a.jsonl"), 7, text), ImportSummary())
    by_document = convert(Document(Path("a.jsonl"), 7, doc), ImportSummary())
    return by_line, by_document


def test_a_named_line_read_into_structs_is_the_decoded_document() -> None:
    named = ooni_doc(blocked=True, probe_ip="203.0.113.9")
    named["test_keys"]["requests"][0]["response"]["body"] = "your address is 203.0.113.9"
    assert read_ooni_line(json.dumps(named).encode()) is not None
    by_line, by_document = _line_and_document(named)
    assert by_line is not None and by_document is not None
    assert by_line.data == by_document.data
    assert b"203.0.113.9" not in by_line.data  # the probe's address is scrubbed on both paths
    # Other tests, unnamed measurements and API answers take the decoded path.
    for other in (
        {**named, "test_name": "ndt"},
        {**named, "data_format_version": ["0.2.0"]},
        {**named, "measurement_uid": None},
        {"raw_measurement": json.dumps(named)},
    ):
        assert read_ooni_line(json.dumps(other).encode()) is None


def test_a_field_of_another_type_is_an_unexpected_shape_on_both_paths() -> None:
    doc = ooni_doc()
    doc["test_keys"]["queries"][0]["answers"] = "192.0.2.10"
    summary = ImportSummary()
    text = json.dumps(doc).encode()
    assert convert_line(RawLine(Path("a.jsonl"), 7, text), summary) is None
    assert summary.skipped == {"unexpected_shape": 1}
    assert "$.test_keys.queries[0].answers" in summary.problems[0].detail
    with pytest.raises(OoniDocumentError) as caught:
        measurement_from_ooni(doc)
    assert caught.value.reason == "unexpected_shape"
