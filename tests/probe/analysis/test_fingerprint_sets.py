"""Versioned fingerprint sets: canonical bytes, digest, version order, refusals, and the record
every analysis keeps of the set it used."""

from __future__ import annotations

import json

import pytest

from probe.analysis import (
    MAX_SET_BYTES,
    FingerprintError,
    FingerprintSet,
    ReferenceData,
    analyse,
    build_fingerprint,
    is_newer,
    make_versioned_set,
    read_versioned_set,
)
from probe.model import FingerprintSetRef

from .build import healthy

ITEMS = [
    build_fingerprint(
        name="x_challenge",
        source="test",
        location="body",
        pattern_type="contains",
        pattern="Checking your browser",
        scope="fp",
        is_false_positive=True,
    ),
    build_fingerprint(
        name="a_prod_box",
        source="test",
        location="response",
        pattern_type="regexp",
        pattern="Bo[x]",
    ),
]


def test_a_set_read_back_from_its_bytes_has_the_same_digest() -> None:
    made = make_versioned_set("2026.1.2", ITEMS, "notice")
    read = read_versioned_set(made.data, "here")
    assert (read.version, read.digest, read.notice, read.data) == (
        "2026.1.2",
        made.digest,
        "notice",
        made.data,
    )
    assert [f.name for f in read.fingerprints] == ["x_challenge", "a_prod_box"]


def test_the_digest_does_not_depend_on_how_the_file_was_written() -> None:
    made = make_versioned_set("7", ITEMS)
    pretty = json.dumps(json.loads(made.data), indent=4).encode()
    assert pretty != made.data
    assert read_versioned_set(pretty, "pretty").digest == made.digest


def test_any_change_of_pattern_version_or_order_changes_the_digest() -> None:
    base = make_versioned_set("1", ITEMS).digest
    changed = build_fingerprint(
        name="a_prod_box", source="test", location="response", pattern_type="regexp", pattern="Bo"
    )
    assert make_versioned_set("1", [ITEMS[0], changed]).digest != base
    assert make_versioned_set("2", ITEMS).digest != base
    assert make_versioned_set("1", ITEMS[::-1]).digest != base


@pytest.mark.parametrize(
    ("candidate", "current", "newer"),
    [
        ("2025.10.1", "2025.9.30", True),
        ("2025.6.29.2", "2025.6.29.1", True),
        ("2025.6.29", "2025.6.29.0", False),
        ("2025.6.29.1", "2025.6.29.1", False),
        ("2024.12.31", "2025.1.1", False),
    ],
    ids=["numeric-not-text", "revision", "missing-part-is-zero", "same", "older"],
)
def test_versions_compare_as_numbers(candidate: str, current: str, newer: bool) -> None:
    assert is_newer(candidate, current) is newer


@pytest.mark.parametrize(
    ("document", "complaint"),
    [
        (b"[1, 2]", "not a Crenel fingerprint set"),
        (b'{"format": "crenel-fingerprint-set/1", "version": "v2", "fingerprints": []}', "v2"),
        (
            b'{"format": "other/1", "version": "2", "fingerprints": []}',
            "not a Crenel fingerprint set",
        ),
        (
            b'{"format": "crenel-fingerprint-set/1", "version": "2", "fingerprints": [{"name": '
            b'"a", "source": "s", "location": "body", "pattern_type": "regexp", "pattern": "(("}]}',
            "bad regular expression",
        ),
        (
            b'{"format": "crenel-fingerprint-set/1", "version": "2", "fingerprints": [{"name": '
            b'"a", "source": "s", "location": "body", "pattern_type": "glob", "pattern": "x"}]}',
            "unknown pattern_type",
        ),
    ],
    ids=["not-an-object", "bad-version", "other-format", "bad-regex", "unknown-pattern-type"],
)
def test_a_malformed_set_is_refused_naming_its_source(document: bytes, complaint: str) -> None:
    with pytest.raises(FingerprintError) as caught:
        read_versioned_set(document, "the offered set")
    assert str(caught.value).startswith("the offered set")
    assert complaint in str(caught.value)


def test_a_set_over_the_size_limit_is_refused_before_parsing() -> None:
    with pytest.raises(FingerprintError, match="over the"):
        read_versioned_set(b" " * (MAX_SET_BYTES + 1), "big")


def test_every_analysis_records_the_set_it_used_and_none_without_one() -> None:
    versioned = make_versioned_set("2026.1.2", ITEMS)
    with_set = ReferenceData(fingerprints=FingerprintSet(ITEMS), fingerprint_set=versioned)
    measurement = healthy().with_control().build()
    assert analyse(measurement, with_set).fingerprint_set == FingerprintSetRef(
        version="2026.1.2", digest=versioned.digest
    )
    assert analyse(measurement, ReferenceData()).fingerprint_set is None
