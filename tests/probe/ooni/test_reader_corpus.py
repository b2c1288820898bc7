"""The reader's records of OONI's Web Connectivity corpus (../shared/data) are pinned.

`ooni_corpus_records.json` holds, per scenario, the SHA-256 of the converted measurement's JSON
(every record the reader writes: DNS, TCP, TLS, HTTP with bodies, control, OONI's verdict,
origin), for the document as published (no `measurement_uid`: the uid comes from its content)
and with a `measurement_uid` added (as in OONI's cans). A faster reader that changes any byte
of any record fails here. After a deliberate change of the reader, rewrite the pins with
`CRENEL_PIN_OONI=1 pytest tests/probe/ooni/test_reader_corpus.py` and review why each changed.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import msgspec

from probe.ooni import measurement_from_ooni

RECORD_PINS = Path(__file__).with_name("ooni_corpus_records.json")
UPDATE = os.environ.get("CRENEL_PIN_OONI") == "1"


def corpus_documents(shared: Path) -> dict[str, list[dict[str, Any]]]:
    """Return each corpus document by scenario, in scenario order: as published, then named."""
    corpus = shared / "ooni-corpus"
    documents = {}
    for path in sorted(corpus.glob("*/*/measurement.json")):
        scenario = str(path.parent.relative_to(corpus))
        doc = json.loads(path.read_text())
        documents[scenario] = [doc, {**doc, "measurement_uid": f"20231130.{scenario}"}]
    return documents


def record_digest(data: bytes) -> str:
    """Return the pinned form of a converted measurement's JSON."""
    return hashlib.sha256(data).hexdigest()


def test_the_converted_records_of_the_corpus_are_pinned(shared_data: Path) -> None:
    documents = corpus_documents(shared_data)
    assert len(documents) == 56
    records = {
        scenario: [record_digest(msgspec.json.encode(measurement_from_ooni(d))) for d in docs]
        for scenario, docs in documents.items()
    }
    if UPDATE:
        RECORD_PINS.write_text(json.dumps(records, indent=1, sort_keys=True) + "\n")
    pinned = json.loads(RECORD_PINS.read_text())
    changed = sorted(k for k, v in records.items() if pinned.get(k) != v)
    assert not changed, f"the reader's records changed for {changed}"
