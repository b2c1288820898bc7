"""The local store and outbox."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import msgspec
import pytest
import trio

from probe.errors import StoreError
from probe.model import Measurement
from probe.store import AsyncStore, Store
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


class CountingStore(Store):
    """A real store that counts its commits and can be told to fail them."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.commits: list[int] = []
        self.is_failing = False

    def add_many(self, measurements: Sequence[Measurement]) -> None:
        self.commits.append(len(measurements))
        if self.is_failing:
            raise StoreError("disk full")
        super().add_many(measurements)


def numbered(count: int) -> list[Measurement]:
    m = healthy().build()
    return [msgspec.structs.replace(m, uid=f"{m.uid[:-4]}{i:04x}") for i in range(count)]


async def test_measurements_added_at_once_share_commits_and_are_all_stored(
    tmp_path: Path,
) -> None:
    measurements = numbered(40)
    with CountingStore(tmp_path / "s.sqlite3") as store:
        saver = AsyncStore(store)
        async with trio.open_nursery() as nursery:
            for m in measurements:
                nursery.start_soon(saver.add, m)
        assert store.count() == 40 and sum(store.commits) == 40
        # The first commit runs alone; everything that queued behind it shares the next ones.
        assert len(store.commits) < 40
        assert {uid for uid, _ in store.pending(limit=100)} == {m.uid for m in measurements}


async def test_a_failed_commit_fails_every_add_in_it_and_the_next_one_stores(
    tmp_path: Path,
) -> None:
    first, *others = numbered(5)
    failures: list[str] = []
    with CountingStore(tmp_path / "s.sqlite3") as store:
        saver = AsyncStore(store)
        store.is_failing = True

        async def add(m: Measurement) -> None:
            try:
                await saver.add(m)
            except StoreError as exc:
                failures.append(exc.message)

        async with trio.open_nursery() as nursery:
            for m in others:
                nursery.start_soon(add, m)
        assert failures == ["disk full"] * 4 and store.count() == 0
        store.is_failing = False
        await saver.add(first)
        assert store.count() == 1 and store.commits[-1] == 1
