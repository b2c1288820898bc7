"""Numbered, append-only schema migrations for the DuckDB store, recorded in `schema_migrations`.

A migration is never edited once released: a change is a new migration with the next number.
A database written by a newer collector (a version this code does not know) is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import duckdb

from collector.storage import network_day_rollups, pooled_rollups, window_rollups
from collector.storage.rollups import (
    FILLS,
    MIGRATION_3_STATEMENTS,
    MIGRATION_STATEMENTS,
    REBUILD_V2,
)

MIGRATION_4_STATEMENTS: tuple[str, ...] = (
    "ALTER TABLE measurements ADD COLUMN origin VARCHAR",
    # Before format 1.2's `origin` reached the store, imported OONI measurements were told apart
    # only by the probe id the importer gives them (`ooni-report:<report_id>`).
    "UPDATE measurements SET origin = CASE WHEN probe_id LIKE 'ooni-report:%' THEN 'ooni' "
    "ELSE 'crenel' END",
    "DROP TABLE rollup_probe_day",
    "DROP TABLE rollup_methods",
    "DROP TABLE rollup_domain_day",
    """
    CREATE TABLE rollup_probe_day (
        day DATE NOT NULL,
        probe_cc VARCHAR NOT NULL,
        probe_asn UINTEGER NOT NULL,
        region VARCHAR NOT NULL,
        domain VARCHAR NOT NULL,
        uploader VARCHAR NOT NULL,
        probe_key VARCHAR NOT NULL,
        contradicted BOOLEAN NOT NULL,
        category_code VARCHAR,
        network_name VARCHAR,
        blocked BIGINT NOT NULL,
        blocked_no_control BIGINT NOT NULL,
        ok BIGINT NOT NULL,
        down BIGINT NOT NULL,
        inconclusive BIGINT NOT NULL,
        confirmed BIGINT NOT NULL,
        packet_confirmed BIGINT NOT NULL,
        origin VARCHAR NOT NULL,
        PRIMARY KEY (day, probe_cc, probe_asn, region, domain, uploader, probe_key, contradicted,
                     origin)
    )
    """,
    """
    CREATE TABLE rollup_methods (
        day DATE NOT NULL,
        probe_cc VARCHAR NOT NULL,
        probe_asn UINTEGER NOT NULL,
        region VARCHAR NOT NULL,
        domain VARCHAR NOT NULL,
        method VARCHAR NOT NULL,
        count BIGINT NOT NULL,
        origin VARCHAR NOT NULL,
        PRIMARY KEY (day, probe_cc, probe_asn, region, domain, method, origin)
    )
    """,
    """
    CREATE TABLE rollup_domain_day (
        day DATE NOT NULL,
        probe_cc VARCHAR NOT NULL,
        domain VARCHAR NOT NULL,
        blocked BIGINT NOT NULL,
        ok BIGINT NOT NULL,
        origin VARCHAR NOT NULL,
        PRIMARY KEY (day, probe_cc, domain, origin)
    )
    """,
    *FILLS,
)
"""Migration 4: where each measurement comes from (`crenel`, or the platform it was imported
from, such as `ooni`), and every rollup keyed by it too, so reports can be filtered by origin."""


MIGRATION_5_STATEMENTS: tuple[str, ...] = (
    pooled_rollups.TABLE,
    pooled_rollups.FILL,
    *window_rollups.TABLES,
    *window_rollups.REFRESH,
)
"""Migration 5: the rollups that spare reports an aggregation, derived from the per-probe
rollup: counts pooled per uploader network (`pooled_rollups`), and each probe's sums over the
default window (`window_rollups`)."""

MIGRATION_6_STATEMENTS: tuple[str, ...] = (network_day_rollups.TABLE, network_day_rollups.FILL)
"""Migration 6: the rows a report's daily verdicts read, per day, country, domain and network
(`network_day_rollups`), from the per-probe rollup."""


@dataclass(frozen=True)
class Migration:
    """One schema step: a version, a name and the statements that perform it."""

    version: int
    name: str
    statements: tuple[str, ...]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "measurements and test lists",
        (
            """
            CREATE TABLE measurements (
                uid UUID PRIMARY KEY,
                received_at TIMESTAMP NOT NULL,
                start_time TIMESTAMP NOT NULL,
                day DATE NOT NULL,
                probe_cc VARCHAR NOT NULL,
                probe_asn UINTEGER NOT NULL,
                probe_network_name VARCHAR NOT NULL,
                probe_id VARCHAR,
                region VARCHAR,
                input VARCHAR NOT NULL,
                domain VARCHAR NOT NULL,
                category_code VARCHAR,
                software_name VARCHAR NOT NULL,
                software_version VARCHAR NOT NULL,
                format_version VARCHAR NOT NULL,
                probe_verdict VARCHAR NOT NULL,
                probe_methods VARCHAR[] NOT NULL,
                probe_confidence DOUBLE NOT NULL,
                verdict VARCHAR,
                methods VARCHAR[],
                confidence DOUBLE,
                blocking VARCHAR,
                accessible BOOLEAN,
                fingerprint_confirmed BOOLEAN,
                rules_version VARCHAR,
                reference_digest VARCHAR,
                analysed_at TIMESTAMP,
                analysis VARCHAR,
                needs_analysis BOOLEAN NOT NULL,
                control_failed BOOLEAN NOT NULL,
                source_cc VARCHAR,
                source_asn UINTEGER,
                geo_mismatch BOOLEAN,
                raw BLOB NOT NULL
            )
            """,
            """
            CREATE TABLE test_list_urls (
                url VARCHAR NOT NULL,
                category_code VARCHAR,
                cc VARCHAR NOT NULL,
                date_added DATE,
                source VARCHAR,
                PRIMARY KEY (cc, url)
            )
            """,
            """
            CREATE TABLE test_list_imports (
                imported_at TIMESTAMP NOT NULL,
                origin VARCHAR NOT NULL,
                urls UINTEGER NOT NULL
            )
            """,
        ),
    ),
    Migration(2, "rollups for reports", (*MIGRATION_STATEMENTS, *REBUILD_V2)),
    Migration(3, "uploader networks in measurements and rollups", MIGRATION_3_STATEMENTS),
    Migration(4, "origin of measurements, in measurements and rollups", MIGRATION_4_STATEMENTS),
    Migration(5, "pooled and rolling-window rollups for reports", MIGRATION_5_STATEMENTS),
    Migration(6, "per-day network rollup for daily verdicts", MIGRATION_6_STATEMENTS),
)
"""Every migration, in order; the schema version is the last one's number."""

SCHEMA_VERSION = MIGRATIONS[-1].version


class MigrationError(Exception):
    """The database's schema cannot be brought to this code's version."""


def applied_versions(con: duckdb.DuckDBPyConnection) -> list[int]:
    """Return the migration versions recorded in the database, ascending."""
    con.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        "version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, applied_at TIMESTAMP NOT NULL)"
    )
    rows = con.execute("SELECT version FROM schema_migrations ORDER BY version").fetchall()
    return [int(str(r[0])) for r in rows]


def migrate(
    con: duckdb.DuckDBPyConnection, migrations: tuple[Migration, ...] = MIGRATIONS
) -> list[int]:
    """Apply the missing migrations, each in its own transaction; return the versions applied.

    Raises:
        MigrationError: the database has a version this code does not know (written by a newer
            collector), or the known versions have a gap.
    """
    done = applied_versions(con)
    known = [m.version for m in migrations]
    unknown = [v for v in done if v not in known]
    if unknown:
        raise MigrationError(
            f"the database has schema version {max(unknown)}, newer than this collector's "
            f"{known[-1]}; upgrade crenel-collector"
        )
    applied: list[int] = []
    for migration in migrations:
        if migration.version in done:
            continue
        con.execute("BEGIN TRANSACTION")
        try:
            for statement in migration.statements:
                con.execute(statement)
            con.execute(
                "INSERT INTO schema_migrations VALUES (?, ?, ?)",
                [migration.version, migration.name, datetime.now(UTC).replace(tzinfo=None)],
            )
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
        applied.append(migration.version)
    return applied
