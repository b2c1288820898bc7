"""The store setting: `--store URL` (or CRENEL_COLLECTOR_STORE) picks the database, `--read-store`
sends researchers' reads to a replica, and `crenel-collector migrate` brings a database to the
current schema and stops."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import httpx
import psycopg
import pytest
import trio

from collector.cli import main as collector_main
from collector.config import load_collector_config
from collector.core.errors import ConfigInvalid
from collector.storage import SCHEMA_VERSION, Filters, open_backends
from collector.storage.migrations import Migration
from collector.storage.postgres import schema
from collector.storage.replica_reads import ReplicaReads
from tests.collector.running import measurement, start_collector
from tests.collector.storage.test_duckdb import row_of
from tests.postgres_cluster import PostgresCluster


def test_the_store_comes_from_the_flag_then_the_environment() -> None:
    env = {"CRENEL_COLLECTOR_STORE": "postgresql://env@127.0.0.1/crenel"}
    assert load_collector_config({}, env).store == "postgresql://env@127.0.0.1/crenel"
    flags = {"store": "postgresql://flag@127.0.0.1/crenel", "read_store": "postgres://r/c"}
    config = load_collector_config(flags, env)
    assert (config.store, config.read_store) == (
        "postgresql://flag@127.0.0.1/crenel",
        "postgres://r/c",
    )
    assert load_collector_config({}, {}).store is None
    with pytest.raises(ConfigInvalid, match="--store"):
        load_collector_config({"store": "mysql://x/y"}, {})


def test_migrate_brings_a_new_postgresql_database_to_the_schema(
    postgres_cluster: PostgresCluster, capsys: pytest.CaptureFixture[str]
) -> None:
    url = postgres_cluster.create_database()
    assert collector_main(["migrate", "--store", url, "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"store": url, "migrated": True}
    with psycopg.connect(url) as con:
        rows = con.execute("SELECT version FROM schema_migrations").fetchall()
    assert [r[0] for r in rows] == [m.version for m in schema.MIGRATIONS]
    assert collector_main(["migrate", "--store", url]) == 0  # nothing left to do


def test_migrate_says_in_one_line_when_the_server_is_unreachable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        url = f"postgresql://crenel:secret@127.0.0.1:{s.getsockname()[1]}/crenel"
        assert collector_main(["migrate", "--store", url]) == 74
    err = capsys.readouterr().err
    assert err.startswith("crenel-collector: error:") and err.count("\n") <= 3
    assert collector_main(["migrate", "--data-dir", str(tmp_path / "d")]) == 0
    assert (tmp_path / "d" / "collector.duckdb").is_file()


def test_researchers_reads_go_to_the_read_store(postgres_cluster: PostgresCluster) -> None:
    primary_url = postgres_cluster.create_database()
    replica_url = postgres_cluster.create_database()
    store = open_backends(primary_url, replica_url)
    try:
        assert isinstance(store, ReplicaReads)
        m = measurement()
        assert store.insert([row_of(m)]) == {m.uid}
        assert store.counts().measurements == 1  # health reads the primary
        assert [uid for uid, _ in store.pending_analysis(10)] == [m.uid]
        assert store.summaries(Filters(), None, 10) == []  # this "replica" never got it
        assert store.raw(m.uid) is None
    finally:
        store.close()


@pytest.mark.parametrize("backend", ["duckdb", "postgresql"])
async def test_health_reports_the_stores_own_applied_schema_version(
    nursery: trio.Nursery, tmp_path: Path, request: pytest.FixtureRequest, backend: str
) -> None:
    url = None
    if backend == "postgresql":
        url = request.getfixturevalue("postgres_cluster").create_database()
    running = await start_collector(nursery, tmp_path, store=url)
    async with httpx.AsyncClient(base_url=running.api) as client:
        health = (await client.get("/health")).json()
        if url is None:
            assert health["schema_version"] == SCHEMA_VERSION
            return
        assert health["schema_version"] == schema.SCHEMA_VERSION
        # A migration applied by another instance (a newer collector) shows at once.
        added = Migration(schema.SCHEMA_VERSION + 1, "note", ("SELECT 1",))
        with psycopg.connect(url, autocommit=True) as con:
            assert schema.migrate(con, (*schema.MIGRATIONS, added)) == [added.version]
        assert (await client.get("/health")).json()["schema_version"] == added.version
