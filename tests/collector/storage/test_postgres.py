"""The PostgreSQL store's own promises, on a real server: several instances share one
database (a uid stored once, rollups moved once), measurements land in month partitions made
on demand, migrations are versioned and taken under a lock, and re-analysis moves the rollups
exactly as on DuckDB."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from collector.core.errors import StorageUnavailable
from collector.ingest.rows import analysis_row
from collector.storage import Storage
from collector.storage.duckdb import DuckDBStorage
from collector.storage.migrations import Migration, MigrationError
from collector.storage.postgres import batches, day_labels, network_window, schema
from collector.storage.postgres.partitions import months_ahead, partition_name
from collector.storage.postgres.store import ANALYSES_COMMIT, PostgresStorage
from probe.model import Analysis, Measurement, Method, Verdict
from tests.collector.running import measurement
from tests.collector.storage.test_duckdb import DAY, row_of
from tests.postgres_cluster import PostgresCluster

ROLLUPS = ("rollup_probe_day", "rollup_methods", "rollup_domain_day")


@pytest.fixture
def url(postgres_cluster: PostgresCluster) -> str:
    return postgres_cluster.create_database()


@pytest.fixture
def pair(url: str) -> Iterator[tuple[PostgresStorage, PostgresStorage]]:
    """Two stores on one database, as two collector instances have."""
    first = PostgresStorage(url)
    second = PostgresStorage(url)
    try:
        yield first, second
    finally:
        first.close()
        second.close()


ROLLUP_QUERIES = {
    "rollup_probe_day": "SELECT day, probe_cc, probe_asn, region, domain, uploader, probe_key, "
    "contradicted, blocked, blocked_no_control, ok, down, inconclusive, confirmed, "
    "packet_confirmed, origin FROM rollup_probe_day WHERE blocked + blocked_no_control + ok "
    "+ down + inconclusive + confirmed + packet_confirmed <> 0",
    "rollup_methods": "SELECT day, probe_cc, probe_asn, region, domain, method, count, origin "
    "FROM rollup_methods WHERE count <> 0",
    "rollup_domain_day": "SELECT day, probe_cc, domain, blocked, ok, origin "
    "FROM rollup_domain_day WHERE blocked <> 0 OR ok <> 0",
    "rollup_uploader_day": "SELECT * FROM rollup_uploader_day "
    "WHERE blocked <> 0 OR blocked_no_control <> 0 OR ok <> 0",
    "rollup_probe_window": "SELECT * FROM rollup_probe_window WHERE blocked + blocked_no_control "
    "+ ok + down + inconclusive + confirmed + packet_confirmed <> 0",
    "rollup_uploader_window": "SELECT * FROM rollup_uploader_window "
    "WHERE blocked <> 0 OR blocked_no_control <> 0 OR ok <> 0",
    "rollup_window_span": "SELECT * FROM rollup_window_span",
    "rollup_network_day": "SELECT day, probe_cc, domain, probe_asn, bw, ow, informative, ip, "
    "probes, blocked, ok, down, inconclusive, confirmed, packet_confirmed "
    "FROM rollup_network_day",
}
"""Every non-empty rollup row, without labels, the same columns on both backends."""


def _rollups(run: Callable[[str], list[tuple[Any, ...]]]) -> dict[str, list[tuple[Any, ...]]]:
    return {table: sorted(run(sql), key=str) for table, sql in ROLLUP_QUERIES.items()}


def rollups_of(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Return a PostgreSQL database's rollup rows, in a fixed order."""
    with psycopg.connect(url) as con:
        return _rollups(lambda sql: con.execute(sql).fetchall())


def duckdb_rollups(store: DuckDBStorage) -> dict[str, list[tuple[Any, ...]]]:
    """Return the same rollup rows of a DuckDB store."""
    return _rollups(lambda sql: store._con.execute(sql).fetchall())


def network_window_rows(url: str) -> list[tuple[Any, ...]]:
    """Return the rows of PostgreSQL's own rollups (`network_window`'s, `day_labels`') after
    asserting they equal their sums from scratch now."""
    rows: list[tuple[Any, ...]] = []
    with psycopg.connect(url) as con:
        for table, columns, from_scratch in (
            ("rollup_network_window", network_window.COLUMNS, network_window.SELECT_ALL),
            ("rollup_pooled_window", "probe_cc, domain, bw, ow", network_window.SELECT_POOLED_ALL),
            ("rollup_category_day", "*", day_labels.SELECT_CATEGORIES),
            ("rollup_network_name_day", "*", day_labels.SELECT_NAMES),
        ):
            kept = sorted(con.execute(f"SELECT {columns} FROM {table}").fetchall(), key=str)
            assert kept == sorted(con.execute(from_scratch).fetchall(), key=str)
            rows += [(table, *row) for row in kept]
    return rows


def verdicts(
    store: Storage, plan: dict[str, tuple[Verdict, list[Method]]], rules: str = "1"
) -> None:
    store.save_analyses(
        [
            analysis_row(
                uid,
                Analysis(
                    verdict=verdict,
                    methods=methods,
                    confidence=0.9,
                    rules_version=rules,
                    reference_digest="d",
                ),
                analysed_at=DAY,
            )
            for uid, (verdict, methods) in plan.items()
        ]
    )


def sample(count: int) -> list[Measurement]:
    return [
        measurement(
            url=f"http://site{i % 4}.test/",
            cc=("IR", "RU")[i % 2],
            asn=("AS197207", "AS12389", "AS58224")[i % 3],
            probe_id=f"p-{i % 5}",
            start=DAY - timedelta(days=i % 40),
        )
        for i in range(count)
    ]


def first_and_second(
    made: list[Measurement],
) -> tuple[dict[str, tuple[Verdict, list[Method]]], ...]:
    first = {
        m.uid: (Verdict.BLOCKED, [Method.DNS_NXDOMAIN]) if i % 3 else (Verdict.OK, [])
        for i, m in enumerate(made)
    }
    second = {
        m.uid: (Verdict.OK, [])
        if i % 2
        else (Verdict.BLOCKED, [Method.TCP_RESET, Method.DNS_NXDOMAIN])
        for i, m in enumerate(made)
        if i % 4 != 3
    }
    return first, second


def test_reanalysis_moves_the_rollups_exactly_as_on_duckdb(url: str, tmp_path: Path) -> None:
    made = sample(60)
    first, second = first_and_second(made)
    pg = PostgresStorage(url)
    duck = DuckDBStorage(tmp_path / "c.duckdb")
    try:
        for store in (pg, duck):
            store.insert([row_of(m) for m in made])
            verdicts(store, first)
            verdicts(store, second, rules="2")
        incremental = rollups_of(url)
        assert incremental["rollup_methods"]
        assert incremental == duckdb_rollups(duck)
        pg.rebuild_rollups()
        assert rollups_of(url) == incremental
    finally:
        pg.close()
        duck.close()


def dense(count: int) -> list[Measurement]:
    """Return `count` measurements of one day, dense enough that networks are decided."""
    return [
        measurement(
            url=f"http://site{i % 2}.test/",
            cc=("IR", "RU")[i % 2],
            asn=("AS197207", "AS12389")[(i // 2) % 2],
            probe_id=f"p-{i % 5}",
            start=DAY,
        )
        for i in range(count)
    ]


def test_network_day_rollup_moves_with_reanalysis_as_on_duckdb(
    pair: tuple[PostgresStorage, PostgresStorage], url: str, tmp_path: Path
) -> None:
    made = dense(120)
    first, second = first_and_second(made)
    duck = DuckDBStorage(tmp_path / "c.duckdb")
    pg, other = pair
    try:
        for store in (pg, duck):
            store.insert([row_of(m) for m in made])
            verdicts(store, first)
        before = rollups_of(url)["rollup_network_day"]
        assert before and before == duckdb_rollups(duck)["rollup_network_day"]
        window_before = network_window_rows(url)
        verdicts(other, second, rules="2")  # the other instance re-analyses
        verdicts(duck, second, rules="2")
        after = rollups_of(url)
        assert after["rollup_network_day"] != before
        assert after == duckdb_rollups(duck)
        window_after = network_window_rows(url)
        assert window_after != window_before
        pg.rebuild_rollups()
        assert rollups_of(url) == after
        assert network_window_rows(url) == window_after
    finally:
        duck.close()


def test_two_instances_store_each_uid_once(pair: tuple[PostgresStorage, PostgresStorage]) -> None:
    made = sample(200)
    rows = [row_of(m) for m in made]
    new: list[set[str]] = [set(), set()]

    def upload(index: int) -> None:
        store = pair[index]
        for start in range(0, len(rows), 10):
            batch = rows[start : start + 10] if index == 0 else rows[start : start + 10][::-1]
            new[index] |= store.insert(batch)

    threads = [threading.Thread(target=upload, args=(i,)) for i in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not new[0] & new[1]
    assert new[0] | new[1] == {m.uid for m in made}
    assert pair[0].counts().measurements == len(made)
    assert pair[1].insert(rows[:5]) == set()


def _insert_in_open_transaction(cur: psycopg.Cursor[Any], row: Any) -> None:
    """Stage and insert one row as an instance does, leaving the transaction open."""
    batches.copy_measurements(cur, [row])
    cur.execute(batches.INSERT_NEW)
    cur.execute("TRUNCATE ingest_batch")


def test_overlapping_batches_in_opposite_orders_wait_instead_of_deadlocking(
    pair: tuple[PostgresStorage, PostgresStorage], url: str
) -> None:
    """One instance holds uid `low` uncommitted; another's batch lists `high` before `low`.
    Inserted in the batch's order, the second would lock `high` and wait for `low` while the
    first, inserting `high` next, waited for it: a deadlock one of them loses."""
    low, high = sorted((row_of(m) for m in sample(2)), key=lambda r: r.uid)
    pair[0].insert([row_of(m) for m in sample(1)])  # the partitions exist
    result: list[set[str]] = []
    with psycopg.connect(url, autocommit=True) as first:
        batches.create_staging(first)
        with first.transaction(), first.cursor() as cur:
            _insert_in_open_transaction(cur, low)
            second = threading.Thread(target=lambda: result.append(pair[1].insert([high, low])))
            second.start()
            waiting = 0
            for _ in range(200):  # bounded: 10 s
                waiting = cur.execute(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
                ).fetchall()[0][0]
                if waiting:
                    break
                time.sleep(0.05)
            assert waiting, "the second instance never waited for the first"
            _insert_in_open_transaction(cur, high)
        second.join(timeout=30)
    assert result == [set()]
    assert pair[0].counts().measurements == 3


def test_two_instances_analysing_the_same_rows_move_rollups_once(
    pair: tuple[PostgresStorage, PostgresStorage], url: str
) -> None:
    made = sample(80)
    pair[0].insert([row_of(m) for m in made])
    first, _ = first_and_second(made)
    before = pair[1].rollup_version
    threads = [threading.Thread(target=verdicts, args=(pair[i], first)) for i in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    incremental = rollups_of(url)
    window = network_window_rows(url)
    pair[0].rebuild_rollups()
    assert rollups_of(url) == incremental
    assert network_window_rows(url) == window
    assert pair[1].rollup_version != before  # the other instance sees the change


def test_two_instances_moving_the_window_at_once_keep_its_sums_exact(
    pair: tuple[PostgresStorage, PostgresStorage], url: str
) -> None:
    """Both instances analyse batches of mixed days, newest days last, so the window moves
    while the other instance is adding to it: its sums must still be those of a rebuild."""
    made = sorted(sample(240), key=lambda m: (m.start_time, m.uid), reverse=True)
    pair[0].insert([row_of(m) for m in made])
    first, second = first_and_second(made)
    plans = [first, second]
    oldest_first = [m.uid for m in reversed(made)]

    def analyse(index: int) -> None:
        plan = plans[index]
        mine = [uid for uid in oldest_first[index::2] if uid in plan]
        for start in range(0, len(mine), 8):
            verdicts(pair[index], {uid: plan[uid] for uid in mine[start : start + 8]})

    threads = [threading.Thread(target=analyse, args=(i,)) for i in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    incremental = rollups_of(url)
    assert incremental["rollup_probe_window"] and incremental["rollup_window_span"] == [
        (DAY.date() - timedelta(days=6), DAY.date())
    ]
    window = network_window_rows(url)
    assert window
    pair[0].rebuild_rollups()
    assert rollups_of(url) == incremental
    assert network_window_rows(url) == window


def test_measurements_land_in_month_partitions_made_on_demand(url: str) -> None:
    store = PostgresStorage(url)
    old = measurement(start=DAY.replace(year=2019, month=3))
    try:
        recent = measurement()
        assert store.insert([row_of(old), row_of(recent)]) == {old.uid, recent.uid}
        with psycopg.connect(url) as con:
            parts = {
                r[0]
                for r in con.execute(
                    "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                    "WHERE i.inhparent = 'measurements'::regclass"
                ).fetchall()
            }
            where = con.execute(
                "SELECT tableoid::regclass::TEXT FROM measurements WHERE uid = %s", [old.uid]
            ).fetchone()
        assert partition_name(date(2019, 3, 1)) in parts
        assert where == (partition_name(date(2019, 3, 1)),)
        assert store.raw(old.uid) is not None
    finally:
        store.close()


def test_coming_months_have_partitions_before_any_row() -> None:
    assert months_ahead(date(2026, 11, 20)) == [
        date(2026, 11, 1),
        date(2026, 12, 1),
        date(2027, 1, 1),
    ]
    assert partition_name(date(2027, 1, 1)) == "measurements_y2027m01"


def test_migrations_are_recorded_once_and_a_newer_schema_is_refused(url: str) -> None:
    PostgresStorage(url).close()
    with psycopg.connect(url, autocommit=True) as con:
        versions = [r[0] for r in con.execute("SELECT version FROM schema_migrations").fetchall()]
        assert versions == [m.version for m in schema.MIGRATIONS]
        assert schema.migrate(con) == []
        added = Migration(
            schema.SCHEMA_VERSION + 1, "note", ("ALTER TABLE test_list_urls ADD COLUMN note TEXT",)
        )
        assert schema.migrate(con, (*schema.MIGRATIONS, added)) == [added.version]
        with pytest.raises(MigrationError, match="newer"):
            schema.migrate(con)
    with pytest.raises(StorageUnavailable, match="upgrade crenel-collector"):
        PostgresStorage(url)


def test_analyses_commit_without_waiting_for_the_flush_and_inserts_still_wait(url: str) -> None:
    """Saving analyses sets `synchronous_commit` for its own transaction only: the connection
    goes back to the pool flushing every commit, as an acknowledged insert needs."""
    store = PostgresStorage(url, connections=2)
    made = sample(6)
    try:
        assert ANALYSES_COMMIT == "off"
        store.insert([row_of(m) for m in made])
        verdicts(store, {m.uid: (Verdict.OK, []) for m in made})
        for _ in range(4):  # every pooled connection, whichever saved the analyses
            with store._pool.connection() as con:
                assert con.execute("SHOW synchronous_commit").fetchone() == ("on",)
        assert store.counts().pending_analysis == 0
    finally:
        store.close()
