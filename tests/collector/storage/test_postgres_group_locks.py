"""A batch's group locks stay within PostgreSQL's shared lock table however many groups it
touches (a lock per group ran out of shared memory at large analysis saves)."""

from __future__ import annotations

import psycopg
import pytest

from collector.storage.postgres.group_locks import BUCKETS, lock_groups
from tests.postgres_cluster import PostgresCluster

SPACE = 0x746573  # "tes"


@pytest.fixture
def url(postgres_cluster: PostgresCluster) -> str:
    return postgres_cluster.create_database()


def _advisory_locks_held(cur: psycopg.Cursor[tuple[object, ...]]) -> int:
    cur.execute(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
    )
    row = cur.fetchone()
    assert row is not None
    return int(str(row[0]))


def test_more_groups_than_the_lock_table_holds_take_a_bounded_number_of_locks(url: str) -> None:
    with psycopg.connect(url) as con, con.cursor() as cur:
        cur.execute("SHOW max_locks_per_transaction")
        per_transaction = int(str((cur.fetchone() or [0])[0]))
        cur.execute("SHOW max_connections")
        table_size = per_transaction * int(str((cur.fetchone() or [0])[0]))
        keys = [f"ZZ 2026-11-{1 + i % 28:02d} domain-{i}.example" for i in range(3 * table_size)]
        lock_groups(cur, SPACE, keys)
        held = _advisory_locks_held(cur)
        assert 0 < held <= BUCKETS
        lock_groups(cur, SPACE, keys[:10])  # taken again in the same transaction: no new lock
        assert _advisory_locks_held(cur) == held
    with psycopg.connect(url) as con, con.cursor() as cur:
        assert _advisory_locks_held(cur) == 0  # released with the transaction


def test_a_group_locked_by_one_transaction_makes_another_wait(url: str) -> None:
    with psycopg.connect(url) as first, first.cursor() as cur:
        lock_groups(cur, SPACE, ["ZZ 2026-11-01 a.example"])
        with psycopg.connect(url, autocommit=True) as second, second.cursor() as other:
            other.execute("SET lock_timeout = '200ms'")
            with pytest.raises(psycopg.errors.LockNotAvailable):
                other.execute("BEGIN")
                lock_groups(other, SPACE, ["ZZ 2026-11-01 a.example", "ZZ 2026-11-02 b.example"])
