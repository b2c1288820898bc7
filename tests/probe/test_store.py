"""The local store and outbox."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from probe.errors import StoreError
from probe.model import Measurement
from probe.store import Store
from tests.probe.analysis.build import healthy


def test_measurements_are_stored_once_listed_and_found_by_prefix(tmp_path: Path) -> None:
    m = healthy().build()
    with Store(tmp_path / "s.sqlite3") as store:
        store.add(m)
        store.add(m)
        assert store.count() == 1 and store.count(pending_only=True) == 1
        assert store.find(m.uid[:8]) == [m.uid]
        raw = store.raw(m.uid)
        assert raw is not None and msgspec.json.decode(raw, type=Measurement) == m
        [row] = store.summaries()
        assert (row.verdict, row.uploaded_at) == ("inconclusive", None)
        assert [uid for uid, _ in store.pending()] == [m.uid]
        store.mark_uploaded([m.uid], "2026-11-26T00:00:00Z")
        assert store.count(pending_only=True) == 0
    with Store(tmp_path / "s.sqlite3") as reopened:
        assert reopened.count() == 1


def test_a_prefix_with_like_wildcards_matches_literally(tmp_path: Path) -> None:
    with Store(tmp_path / "s.sqlite3") as store:
        store.add(healthy().build())
        assert store.find("%") == [] and store.find("_") == []


def test_unusable_store_path_is_a_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(StoreError, match="cannot open"):
        Store(blocker / "sub" / "s.sqlite3")
