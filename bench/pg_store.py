"""PostgreSQL for the benches: `--store pg-temp` starts a throw-away cluster (the tests' own,
`tests.postgres_cluster`) and removes it afterwards; any other `postgresql://` URL is used as is
(each run makes a new database on that server when it can, else uses the one named).

`copy_rollups` moves a DuckDB store's rollups (and one domain's measurement rows, for a domain
page's samples) into PostgreSQL with COPY, so the report bench times the PostgreSQL backend on
exactly the data the DuckDB one reads.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import duckdb
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.postgres_cluster

from collector.storage.postgres import day_labels, network_window
from collector.storage.postgres.partitions import Partitions
from tests.postgres_cluster import PostgresCluster, kept_cluster, remove_cluster, running_cluster

TEMP = "pg-temp"
ROLLUPS = (
    "rollup_probe_day",
    "rollup_methods",
    "rollup_domain_day",
    "rollup_uploader_day",
    "rollup_probe_window",
    "rollup_uploader_window",
    "rollup_window_span",
    "rollup_network_day",
)


@contextlib.contextmanager
def postgres_database(store: str, keep: bool = False) -> Iterator[str]:
    """Yield the URL of an empty database: on a throw-away cluster for `pg-temp` (stopped and
    removed on exit), else a new database on the server `store` names. With `keep`, a
    `pg-temp` cluster is left running (`kept_cluster` says how to stop it) and a URL's
    database is used as is and never dropped, so its rollups serve the next run."""
    if keep and store == TEMP:
        cluster = _kept_cluster()
        yield cluster.create_database("bench")
        return
    if keep:
        yield store
        return
    if store == TEMP:
        with running_cluster(prefix="crenel-bench-pg-") as cluster:
            yield cluster.create_database("bench")
        return
    name = f"bench_{uuid.uuid4().hex[:10]}"
    try:
        with psycopg.connect(store, autocommit=True) as con:
            con.execute(f'CREATE DATABASE "{name}"')
    except psycopg.Error:
        yield store  # no right to create databases: use the one given
        return
    base = store.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(store, autocommit=True) as con:
            con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _kept_cluster() -> PostgresCluster:
    """Start a cluster that outlives this run; print where it is and how to remove it."""
    cluster = kept_cluster(prefix="crenel-bench-pg-kept-")
    print(
        f"postgresql: cluster {cluster.root} left running (reuse its database with --keep "
        f"--store URL; remove it with python bench/pg_store.py --remove {cluster.root})"
    )
    return cluster


def is_loaded(target: str) -> bool:
    """Return whether the database at `target` already holds the bench's rollups."""
    with psycopg.connect(target) as con:
        found = con.execute("SELECT to_regclass('rollup_probe_day') IS NOT NULL").fetchone()
        if not found or not found[0]:
            return False
        row = con.execute("SELECT EXISTS (SELECT 1 FROM rollup_probe_day)").fetchone()
        return bool(row and row[0])


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    return [str(r[0]) for r in con.execute(f"DESCRIBE {table}").fetchall()]


def copy_rows(
    source: duckdb.DuckDBPyConnection, target: str, table: str, where: str = "TRUE"
) -> int:
    """COPY the rows of `table` matching `where` from DuckDB into PostgreSQL; return how many.

    Flat tables go through a CSV file DuckDB writes (no Python per row); tables with list
    columns row by row."""
    names = _columns(source, table)
    lists = any("[]" in str(r[1]) for r in source.execute(f"DESCRIBE {table}").fetchall())
    selected = ", ".join("uid::VARCHAR" if n == "uid" else n for n in names)
    (count,) = source.execute(f"SELECT count(*) FROM {table} WHERE {where}").fetchone() or (0,)
    with psycopg.connect(target) as con, con.cursor() as cur:
        if lists:
            result = source.execute(f"SELECT {selected} FROM {table} WHERE {where}")
            with cur.copy(f"COPY {table} ({', '.join(names)}) FROM STDIN") as copy:
                while batch := result.fetchmany(50_000):
                    for row in batch:
                        copy.write_row(row)
        else:
            with tempfile.TemporaryDirectory() as tmp:
                csv = Path(tmp) / f"{table}.csv"
                source.execute(
                    f"COPY (SELECT {selected} FROM {table} WHERE {where}) TO '{csv}' "
                    "(FORMAT csv, HEADER false)"
                )
                with (
                    cur.copy(f"COPY {table} ({', '.join(names)}) FROM STDIN (FORMAT csv)") as copy,
                    csv.open("rb") as stream,
                ):
                    while chunk := stream.read(1 << 20):
                        copy.write(chunk)
        cur.execute(f"ANALYZE {table}")
    return int(count)


def copy_rollups(source: duckdb.DuckDBPyConnection, target: str, domain: str) -> int:
    """Copy every rollup row and `domain`'s measurements, then sum the rollups only PostgreSQL
    keeps from the copied ones; return the rollup rows copied."""
    copied = sum(copy_rows(source, target, table) for table in ROLLUPS)
    days = [r[0] for r in source.execute("SELECT DISTINCT day FROM measurements").fetchall()]
    with psycopg.connect(target, autocommit=True) as con:
        Partitions().ensure(con, days)
    copy_rows(source, target, "measurements", f"domain = '{domain}'")
    with psycopg.connect(target, autocommit=True) as con:  # PostgreSQL's own rollups
        for statement in (
            *network_window.REFILL,
            *day_labels.REFILL,
            "ANALYZE rollup_network_window, rollup_pooled_window, rollup_category_day, "
            "rollup_network_name_day",
        ):
            con.execute(statement)
    return copied


def main() -> int:
    """`--remove DIR`: stop and remove a cluster a `--keep` run left running; return 0."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--remove", type=Path, required=True, metavar="DIR")
    args = parser.parse_args()
    if not args.remove.name.startswith("crenel-bench-pg-kept-"):
        parser.error("not a cluster a --keep run left (crenel-bench-pg-kept-*)")
    remove_cluster(args.remove)
    return 0


if __name__ == "__main__":
    sys.exit(main())
