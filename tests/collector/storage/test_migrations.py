"""Schema migrations: numbered, applied once each in a transaction, never downgraded."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from collector.core.errors import StorageUnavailable
from collector.storage import MIGRATIONS, SCHEMA_VERSION, Migration, migrate
from collector.storage.duckdb import DuckDBStorage
from collector.storage.migrations import MigrationError, applied_versions
from collector.storage.rollups import REBUILD


def test_migration_numbers_are_consecutive_from_one() -> None:
    assert [m.version for m in MIGRATIONS] == list(range(1, len(MIGRATIONS) + 1))
    assert MIGRATIONS[-1].version == SCHEMA_VERSION
    assert all(m.name and m.statements for m in MIGRATIONS)


def test_a_new_database_gets_every_migration_once(tmp_path: Path) -> None:
    path = tmp_path / "c.duckdb"
    DuckDBStorage(path).close()
    with duckdb.connect(str(path)) as con:
        assert applied_versions(con) == [m.version for m in MIGRATIONS]
        assert migrate(con) == []
        tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    assert {"measurements", "test_list_urls", "schema_migrations"} <= tables


def test_a_later_migration_applies_on_top_and_a_failing_one_leaves_nothing(
    tmp_path: Path,
) -> None:
    with duckdb.connect(str(tmp_path / "c.duckdb")) as con:
        migrate(con)
        added = Migration(
            SCHEMA_VERSION + 1,
            "add a column",
            ("ALTER TABLE measurements ADD COLUMN note VARCHAR",),
        )
        broken = Migration(
            SCHEMA_VERSION + 2,
            "broken",
            ("CREATE TABLE half_done (x INTEGER)", "ALTER TABLE no_such_table ADD COLUMN y INT"),
        )
        assert migrate(con, (*MIGRATIONS, added)) == [added.version]
        with pytest.raises(duckdb.Error):
            migrate(con, (*MIGRATIONS, added, broken))
        assert applied_versions(con)[-1] == added.version
        tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        assert "half_done" not in tables


def test_a_database_from_a_newer_collector_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "c.duckdb"
    DuckDBStorage(path).close()
    with duckdb.connect(str(path)) as con:
        con.execute("INSERT INTO schema_migrations VALUES (99, 'future', now()::TIMESTAMP)")
        with pytest.raises(MigrationError, match="newer"):
            migrate(con)
    with pytest.raises(StorageUnavailable, match="schema version 99"):
        DuckDBStorage(path)


def test_migration_3_keys_rollups_by_uploader_and_keeps_the_counts(tmp_path: Path) -> None:
    with duckdb.connect(str(tmp_path / "c.duckdb")) as con:
        migrate(con, MIGRATIONS[:2])
        con.execute(
            "INSERT INTO rollup_probe_day VALUES ('2026-11-01', 'CN', 1, '', 'd', 'p', NULL, "
            "NULL, 2, 0, 3, 0, 0, 0, 0)"
        )
        assert migrate(con, MIGRATIONS[:3]) == [3]
        columns = [r[0] for r in con.execute("DESCRIBE rollup_probe_day").fetchall()]
        assert columns[5:8] == ["uploader", "probe_key", "contradicted"]
        assert "uploader_network" in [r[0] for r in con.execute("DESCRIBE measurements").fetchall()]
        # Rebuilt from the (here empty) analysed measurements, as `rebuild_rollups` would.
        assert con.execute("SELECT count(*) FROM rollup_probe_day").fetchone() == (0,)


_V3_ROW = (
    "INSERT INTO measurements (uid, received_at, start_time, day, probe_cc, probe_asn, "
    "probe_network_name, probe_id, input, domain, software_name, software_version, "
    "format_version, probe_verdict, probe_methods, probe_confidence, verdict, methods, "
    "needs_analysis, control_failed, raw) VALUES (?::UUID, TIMESTAMP '2026-11-01 10:00:00', "
    "TIMESTAMP '2026-11-01 09:00:00', DATE '2026-11-01', 'IR', 64496, 'Net', ?, "
    "'https://d.example/', 'd.example', ?, '1', '1.2', 'blocked', ['dns.forged'], 0.9, "
    "'blocked', ['dns.forged'], false, false, ''::BLOB)"
)


def test_migration_4_gives_a_version_3_store_an_origin_and_keys_rollups_by_it(
    tmp_path: Path,
) -> None:
    with duckdb.connect(str(tmp_path / "c.duckdb")) as con:
        migrate(con, MIGRATIONS[:3])
        con.execute(_V3_ROW, ["0190a5a4-3c1e-7abc-8def-000000000001", "p1", "crenel-probe"])
        con.execute(
            _V3_ROW, ["0190a5a4-3c1e-7abc-8def-000000000002", "ooni-report:r1", "ooniprobe-cli"]
        )
        con.execute(
            _V3_ROW, ["0190a5a4-3c1e-7abc-8def-000000000003", "ooni-report:r1", "ooniprobe-cli"]
        )
        assert migrate(con, MIGRATIONS[:4]) == [4]
        origins = con.execute(
            "SELECT origin, count(*) FROM measurements GROUP BY origin ORDER BY origin"
        ).fetchall()
        assert origins == [("crenel", 1), ("ooni", 2)]
        tables = ("rollup_probe_day", "rollup_methods", "rollup_domain_day")
        per_origin = {
            t: con.execute(
                f"SELECT origin, sum({'count' if t == 'rollup_methods' else 'blocked'}) "
                f"FROM {t} GROUP BY origin ORDER BY origin"
            ).fetchall()
            for t in tables
        }
        assert all(rows == [("crenel", 1), ("ooni", 2)] for rows in per_origin.values()), per_origin
        migrated = {t: sorted(con.execute(f"SELECT * FROM {t}").fetchall()) for t in tables}
        assert migrate(con) == [5, 6]
        for statement in REBUILD:
            con.execute(statement)
        assert {t: sorted(con.execute(f"SELECT * FROM {t}").fetchall()) for t in tables} == (
            migrated
        )
