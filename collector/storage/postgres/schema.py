"""Numbered, append-only schema migrations of the PostgreSQL store, recorded in
`schema_migrations`.

Version 1 is the DuckDB schema's version 4 in PostgreSQL's types, with `measurements`
partitioned by month of `day`: the primary key is (uid, day), and `day` is the measurement's own
start day, so a re-upload of the same measurement meets its first copy in the same partition and
is ignored, whichever collector instance receives it. Version 2 is the DuckDB schema's version 5:
the pooled and rolling-window rollups (`derived_rollups`). Version 3 adds the per-day network
rollup (`network_day`), version 4 the window's per-network and pooled rollups
(`network_window`) and the per-day labels (`day_labels`), kept on PostgreSQL only. Several
instances may start at once: the migrations run under a transaction-scoped advisory lock.
"""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg

from collector.storage.migrations import Migration, MigrationError
from collector.storage.postgres import day_labels, derived_rollups, network_day, network_window

MIGRATION_LOCK = 0x63726E6C
"""The advisory lock key migrations and partition creation take ("crnl")."""

_MEASUREMENTS = """
CREATE TABLE measurements (
    uid UUID NOT NULL,
    received_at TIMESTAMP NOT NULL,
    start_time TIMESTAMP NOT NULL,
    day DATE NOT NULL,
    probe_cc TEXT NOT NULL,
    probe_asn BIGINT NOT NULL,
    probe_network_name TEXT NOT NULL,
    probe_id TEXT,
    region TEXT,
    input TEXT NOT NULL,
    domain TEXT NOT NULL,
    category_code TEXT,
    software_name TEXT NOT NULL,
    software_version TEXT NOT NULL,
    format_version TEXT NOT NULL,
    probe_verdict TEXT NOT NULL,
    probe_methods TEXT[] NOT NULL,
    probe_confidence DOUBLE PRECISION NOT NULL,
    verdict TEXT,
    methods TEXT[],
    confidence DOUBLE PRECISION,
    blocking TEXT,
    accessible BOOLEAN,
    fingerprint_confirmed BOOLEAN,
    rules_version TEXT,
    reference_digest TEXT,
    analysed_at TIMESTAMP,
    analysis TEXT,
    needs_analysis BOOLEAN NOT NULL,
    control_failed BOOLEAN NOT NULL,
    source_cc TEXT,
    source_asn BIGINT,
    geo_mismatch BOOLEAN,
    raw BYTEA NOT NULL,
    packet_confirmed BOOLEAN,
    uploader_network TEXT,
    origin TEXT,
    PRIMARY KEY (uid, day)
) PARTITION BY RANGE (day)
"""

_ROLLUPS = (
    """
    CREATE TABLE rollup_probe_day (
        day DATE NOT NULL,
        probe_cc TEXT NOT NULL,
        probe_asn BIGINT NOT NULL,
        region TEXT NOT NULL,
        domain TEXT NOT NULL,
        uploader TEXT NOT NULL,
        probe_key TEXT NOT NULL,
        contradicted BOOLEAN NOT NULL,
        category_code TEXT,
        network_name TEXT,
        blocked INTEGER NOT NULL,
        blocked_no_control INTEGER NOT NULL,
        ok INTEGER NOT NULL,
        down INTEGER NOT NULL,
        inconclusive INTEGER NOT NULL,
        confirmed INTEGER NOT NULL,
        packet_confirmed INTEGER NOT NULL,
        origin TEXT NOT NULL,
        PRIMARY KEY (probe_cc, day, probe_asn, region, domain, uploader, probe_key,
                     contradicted, origin)
    )
    """,
    """
    CREATE TABLE rollup_methods (
        day DATE NOT NULL,
        probe_cc TEXT NOT NULL,
        probe_asn BIGINT NOT NULL,
        region TEXT NOT NULL,
        domain TEXT NOT NULL,
        method TEXT NOT NULL,
        count INTEGER NOT NULL,
        origin TEXT NOT NULL,
        PRIMARY KEY (probe_cc, day, probe_asn, region, domain, method, origin)
    )
    """,
    """
    CREATE TABLE rollup_domain_day (
        day DATE NOT NULL,
        probe_cc TEXT NOT NULL,
        domain TEXT NOT NULL,
        blocked INTEGER NOT NULL,
        ok INTEGER NOT NULL,
        origin TEXT NOT NULL,
        PRIMARY KEY (probe_cc, day, domain, origin)
    )
    """,
    "CREATE INDEX rollup_probe_day_by_day ON rollup_probe_day (day)",
)

MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "partitioned measurements, test lists and rollups",
        (
            _MEASUREMENTS,
            "CREATE INDEX measurements_by_time ON measurements (start_time, uid)",
            "CREATE INDEX measurements_pending ON measurements (uid) WHERE needs_analysis",
            "CREATE INDEX measurements_by_domain ON measurements (probe_cc, domain, start_time)",
            "CREATE INDEX measurements_by_network ON measurements (probe_cc, probe_asn, "
            "received_at)",
            """
            CREATE TABLE test_list_urls (
                url TEXT NOT NULL,
                category_code TEXT,
                cc TEXT NOT NULL,
                date_added DATE,
                source TEXT,
                PRIMARY KEY (cc, url)
            )
            """,
            """
            CREATE TABLE test_list_imports (
                imported_at TIMESTAMP NOT NULL,
                origin TEXT NOT NULL,
                urls BIGINT NOT NULL
            )
            """,
            *_ROLLUPS,
            "CREATE SEQUENCE rollup_changes",
        ),
    ),
    Migration(
        2,
        "pooled and rolling-window rollups for reports",
        derived_rollups.MIGRATION_STATEMENTS,
    ),
    Migration(
        3,
        "per-day network rollup for daily verdicts",
        (network_day.TABLE, network_day.INDEX, network_day.FILL),
    ),
    Migration(
        4,
        "per-network and pooled window rollups, per-day labels",
        (
            network_window.TABLE,
            network_window.INDEX,
            network_window.POOLED_TABLE,
            *network_window.FILL,
            *day_labels.TABLES,
            day_labels.INDEX,
            *day_labels.REFILL,
            "ANALYZE rollup_network_window, rollup_pooled_window, rollup_category_day, "
            "rollup_network_name_day",
        ),
    ),
)
"""Every PostgreSQL migration, in order; the schema version is the last one's number."""

SCHEMA_VERSION = MIGRATIONS[-1].version


def migrate(
    con: psycopg.Connection[tuple[object, ...]],
    migrations: tuple[Migration, ...] = MIGRATIONS,
) -> list[int]:
    """Apply the missing migrations, each in its own transaction; return the versions applied.

    Raises:
        MigrationError: the database has a version this code does not know (written by a newer
            collector).
    """
    applied: list[int] = []
    known = [m.version for m in migrations]
    for migration in migrations:
        with con.transaction():
            con.execute("SELECT pg_advisory_xact_lock(%s)", [MIGRATION_LOCK])
            con.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
                "name TEXT NOT NULL, applied_at TIMESTAMP NOT NULL)"
            )
            done = [
                int(str(r[0]))
                for r in con.execute("SELECT version FROM schema_migrations").fetchall()
            ]
            unknown = [v for v in done if v not in known]
            if unknown:
                raise MigrationError(
                    f"the database has schema version {max(unknown)}, newer than this "
                    f"collector's {known[-1]}; upgrade crenel-collector"
                )
            if migration.version in done:
                continue
            for statement in migration.statements:
                con.execute(statement)
            con.execute(
                "INSERT INTO schema_migrations VALUES (%s, %s, %s)",
                [migration.version, migration.name, datetime.now(UTC).replace(tzinfo=None)],
            )
        applied.append(migration.version)
    return applied
