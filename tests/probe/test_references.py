"""The probe's reference data: the shipped set (pinned per version), a newer stored set taking
over, a broken or older stored set ignored, and local fingerprint files added on top."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from probe.analysis import build_fingerprint, make_versioned_set
from probe.references import (
    BUNDLED_VERSION,
    STORED_SET_NAME,
    active_set,
    bundled_set,
    load_reference,
    store_set,
)

SHIPPED_DIGESTS = {
    "2025.6.29.1": "098c69daba6f2ccdf4c9e9e98152ff7b243f88471d98012ab81cd381d20a5ae0",
}
"""A changed file in probe/fingerprints/ must come with a new BUNDLED_VERSION (and a line here),
or probes could not tell the old set from the new one."""

EXTRA = build_fingerprint(
    name="a_prod_newbox", source="collector", location="body", pattern_type="contains", pattern="NB"
)


def test_the_shipped_set_matches_the_digest_pinned_for_its_version() -> None:
    shipped = bundled_set()
    assert shipped.version == BUNDLED_VERSION
    assert SHIPPED_DIGESTS.get(BUNDLED_VERSION) == shipped.digest
    assert "Apache License 2.0" in shipped.notice


def test_without_a_stored_set_the_shipped_one_is_active(tmp_path: Path) -> None:
    assert active_set(tmp_path) is bundled_set()


def test_a_newer_stored_set_is_used_from_then_on(tmp_path: Path) -> None:
    fetched = make_versioned_set("2099.1.1", [*bundled_set().fingerprints, EXTRA])
    path = store_set(tmp_path / "data", fetched)
    assert path == tmp_path / "data" / STORED_SET_NAME
    assert not list((tmp_path / "data").glob("*.partial"))
    active = active_set(tmp_path / "data")
    assert (active.version, active.digest) == ("2099.1.1", fetched.digest)
    reference = load_reference((), (), 256.0, fingerprint_set=active)
    assert reference.fingerprint_set is active
    assert reference.fingerprints.match_response(200, [], "NB") != []


def test_an_older_stored_set_yields_to_the_shipped_one(tmp_path: Path) -> None:
    store_set(tmp_path, make_versioned_set("2000.1.1", [EXTRA]))
    assert active_set(tmp_path) is bundled_set()


def test_a_damaged_stored_set_is_logged_and_the_shipped_one_used(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / STORED_SET_NAME).write_bytes(b'{"format": "crenel-fingerprint-set/1", "vers')
    with caplog.at_level(logging.WARNING):
        assert active_set(tmp_path) is bundled_set()
    assert "ignoring the stored fingerprint set" in caplog.text


def test_local_files_are_matched_too_but_the_set_recorded_is_the_versioned_one(
    tmp_path: Path,
) -> None:
    extra = tmp_path / "mine.csv"
    extra.write_text(
        "name,scope,other_names,location_found,pattern_type,pattern,confidence_no_fp,"
        'expected_countries,source,exp_url,notes\nmine,isp,,body,contains,MINE,5,"",me,,\n'
    )
    reference = load_reference([extra], (), 256.0)
    assert reference.fingerprint_set is bundled_set()
    assert len(reference.fingerprints) == len(bundled_set().fingerprints) + 1
    assert reference.digest != load_reference((), (), 256.0).digest
