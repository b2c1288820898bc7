"""`crenel-collector copy`: a DuckDB deployment moves into PostgreSQL day by day; an interrupted
copy resumes where it stopped, every day is verified by count and checksum, and a target that
differs from the source after a copy stops it."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import psycopg
import pytest

from collector.cli import main as collector_main
from collector.storage import TestListUrl, copy_to_postgresql
from collector.storage.duckdb import DuckDBStorage
from collector.storage.postgres.store import PostgresStorage
from collector.storage.postgres.transfer import CopyMismatch
from tests.collector.running import measurement
from tests.collector.storage.test_duckdb import DAY, row_of
from tests.collector.storage.test_postgres import (
    duckdb_rollups,
    first_and_second,
    rollups_of,
    sample,
    verdicts,
)
from tests.postgres_cluster import PostgresCluster


class Interrupted(Exception):
    """Stands for a copy stopped half-way (Ctrl-C, a lost connection)."""


@pytest.fixture
def source(tmp_path: Path) -> Path:
    """A stopped collector's data directory: 60 measurements over 40 days, most analysed."""
    data_dir = tmp_path / "data"
    store = DuckDBStorage(data_dir / "collector.duckdb")
    try:
        made = sample(60)
        store.insert([row_of(m) for m in made])
        first, second = first_and_second(made)
        verdicts(store, first)
        verdicts(store, second, rules="2")
        store.replace_test_lists([TestListUrl(url="http://a.test/", category_code="NEWS")], "t")
    finally:
        store.close()
    return data_dir


def test_an_interrupted_copy_resumes_and_every_day_is_verified(
    source: Path, postgres_cluster: PostgresCluster
) -> None:
    target = postgres_cluster.create_database()
    seen: list[date] = []

    def stop_after_three(day: date, how: str, rows: int) -> None:
        seen.append(day)
        if len(seen) == 3:
            raise Interrupted

    with pytest.raises(Interrupted):
        copy_to_postgresql(source, target, on_day=stop_after_three)
    copied, skipped, rows = copy_to_postgresql(source, target)
    assert (skipped, rows) == (3, 60)
    assert copied > 0
    assert copy_to_postgresql(source, target) == (0, copied + skipped, 60)
    with psycopg.connect(target) as con:
        (count, distinct) = con.execute(
            "SELECT count(*), count(DISTINCT uid) FROM measurements"
        ).fetchone() or (0, 0)
        lists = con.execute("SELECT url FROM test_list_urls").fetchall()
    assert (count, distinct) == (60, 60)
    assert lists == [("http://a.test/",)]
    duck = DuckDBStorage(source / "collector.duckdb")
    try:
        assert rollups_of(target) == duckdb_rollups(duck)
    finally:
        duck.close()


def test_a_damaged_day_is_copied_again_and_an_extra_row_stops_the_copy(
    source: Path, postgres_cluster: PostgresCluster
) -> None:
    target = postgres_cluster.create_database()
    copy_to_postgresql(source, target)
    with psycopg.connect(target, autocommit=True) as con:
        con.execute(
            "DELETE FROM measurements WHERE uid = (SELECT uid FROM measurements ORDER BY uid LIMIT 1)"
        )
    copied, _, rows = copy_to_postgresql(source, target)
    assert (copied, rows) == (1, 60)
    extra = row_of(measurement(start=DAY))  # a day the source has too
    live = PostgresStorage(target)
    try:
        assert live.insert([extra]) == {extra.uid}
    finally:
        live.close()
    with pytest.raises(CopyMismatch, match="receive uploads"):
        copy_to_postgresql(source, target)


def test_the_copy_command_prints_totals_and_refuses_a_running_collector(
    source: Path, postgres_cluster: PostgresCluster, capsys: pytest.CaptureFixture[str]
) -> None:
    target = postgres_cluster.create_database()
    assert collector_main(["copy", "--from", str(source), "--to", target, "--json"]) == 0
    totals = json.loads(capsys.readouterr().out)
    assert totals["rows"] == 60 and totals["days_skipped"] == 0
    assert collector_main(["copy", "--from", str(source), "--to", "mysql://x/y"]) == 2
    assert "postgresql" in capsys.readouterr().err
    running = DuckDBStorage(source / "collector.duckdb")
    try:
        assert collector_main(["copy", "--from", str(source), "--to", target]) == 75
    finally:
        running.close()
    assert collector_main(["copy", "--from", str(source.parent / "none"), "--to", target]) == 74
