"""Open the storage backend a database URL names: the one place that knows the backends.

`duckdb:///path/to/collector.duckdb` is the embedded DuckDB file (`duckdb.DuckDBStorage`);
`postgresql://user@host:port/db` a PostgreSQL database several collector instances share
(`postgres.store.PostgresStorage`). Nothing else in the collector names a backend.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

from collector.core.errors import ConfigInvalid
from collector.storage.base import Storage

DUCKDB_SCHEME = "duckdb://"
POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def database_url(path: Path) -> str:
    """Return the URL of the DuckDB file at `path` (`duckdb:///...`, absolute)."""
    return DUCKDB_SCHEME + str(path.absolute())


def open_backends(
    url: str, read_url: str | None = None, *, memory_mb: int | None = None, threads: int = 0
) -> Storage:
    """Return the store `url` names, its researcher reads served by `read_url`'s store when
    given (`replica_reads.ReplicaReads`); the caller closes it.

    Raises:
        ConfigInvalid, DataDirLocked, StorageUnavailable: as `open_backend`.
    """
    primary = open_backend(url, memory_mb=memory_mb, threads=threads)
    if read_url is None:
        return primary
    from collector.storage.replica_reads import ReplicaReads

    try:
        replica = open_backend(read_url, memory_mb=memory_mb, threads=threads)
    except BaseException:
        primary.close()
        raise
    return ReplicaReads(primary, replica)


def open_backend(url: str, *, memory_mb: int | None = None, threads: int = 0) -> Storage:
    """Return the open store `url` names; the caller closes it.

    `memory_mb` and `threads` bound the database's own memory and threads (0: its default).

    Raises:
        ConfigInvalid: the URL names no backend the collector has.
        DataDirLocked: another process owns the database.
        StorageUnavailable: the database cannot be opened or migrated.
    """
    if url.startswith(DUCKDB_SCHEME):
        from collector.storage.duckdb import DuckDBStorage

        return DuckDBStorage(
            Path(url.removeprefix(DUCKDB_SCHEME)), memory_mb=memory_mb, threads=threads
        )
    if url.startswith(POSTGRES_SCHEMES):
        try:
            from collector.storage.postgres.store import PostgresStorage
        except ImportError as exc:
            raise ConfigInvalid(
                f"the PostgreSQL backend needs psycopg: pip install 'crenel[postgres]' ({exc})"
            ) from exc

        return PostgresStorage(url)
    scheme = url.partition(":")[0]
    raise ConfigInvalid(f"no storage backend for {scheme!r} URLs (known: duckdb, postgresql)")


def copy_to_postgresql(
    data_dir: Path, target: str, *, on_day: Callable[[date, str, int], None] | None = None
) -> tuple[int, int, int]:
    """Copy the stopped DuckDB store of `data_dir` into the PostgreSQL database `target`, day by
    day, resumable and verified (`postgres.transfer.copy_store`); return (days copied, days
    already equal and skipped, rows verified). `on_day(day, "copied" | "skipped", rows)`
    reports each day.

    Raises:
        ConfigInvalid: `target` is no PostgreSQL URL, or psycopg is missing.
        DataDirLocked: a running collector holds the source.
        StorageUnavailable: either side cannot be used, or a day differs after its copy.
    """
    if not target.startswith(POSTGRES_SCHEMES):
        raise ConfigInvalid(
            f"--to must be a postgresql:// URL, got {target.split(':', maxsplit=1)[0]!r}"
        )
    try:
        from collector.storage.postgres.transfer import copy_store
    except ImportError as exc:
        raise ConfigInvalid(
            f"the PostgreSQL backend needs psycopg: pip install 'crenel[postgres]' ({exc})"
        ) from exc
    report = copy_store(
        data_dir,
        target,
        on_day=None if on_day is None else lambda day, how, check: on_day(day, how, check.rows),
    )
    return len(report.copied), len(report.skipped), report.rows
