"""Move a DuckDB deployment into PostgreSQL, day by day, resumable and verified.

For each day of the source, the rows' count and a checksum (SHA-256 over every row's uid,
start time, network, input, verdict, rules and accepted bytes, in uid order) are computed on
both sides. A day whose target already matches is skipped: that is what makes an interrupted
copy resumable. Any other day is copied (`INSERT ... ON CONFLICT DO NOTHING`, so a half-copied
day is completed, never doubled) and checked again; a day that still differs stops the copy.
The rollups are rebuilt from the copied analyses at the end, and the test lists copied.
The source collector must be stopped (DuckDB lets one process open the file); the target
should not be receiving uploads yet, or its extra rows make their days differ.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import psycopg

from collector.core.errors import DataDirLocked, StorageUnavailable
from collector.storage.base import TestListUrl
from collector.storage.postgres.partitions import Partitions
from collector.storage.postgres.store import PostgresStorage

COLUMNS = (
    "uid", "received_at", "start_time", "day", "probe_cc", "probe_asn", "probe_network_name",
    "probe_id", "region", "input", "domain", "category_code", "software_name",
    "software_version", "format_version", "probe_verdict", "probe_methods", "probe_confidence",
    "verdict", "methods", "confidence", "blocking", "accessible", "fingerprint_confirmed",
    "rules_version", "reference_digest", "analysed_at", "analysis", "needs_analysis",
    "control_failed", "source_cc", "source_asn", "geo_mismatch", "raw", "packet_confirmed",
    "uploader_network", "origin",
)  # fmt: skip
"""Every column of `measurements`, in the PostgreSQL table's order."""

_CHECKED = (
    "uid::TEXT, start_time, probe_cc, probe_asn, input, verdict, rules_version, needs_analysis, raw"
)
BATCH_ROWS = 5_000


class CopyMismatch(StorageUnavailable):
    """A day of the target still differs from the source after copying it."""


@dataclass(frozen=True)
class DayCheck:
    """One day's row count and checksum on one side."""

    rows: int
    checksum: str


@dataclass
class CopyReport:
    """What a copy did: days skipped (already equal), days copied, rows per day verified."""

    skipped: list[date] = field(default_factory=list)
    copied: list[date] = field(default_factory=list)
    verified: dict[date, DayCheck] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        """Return the rows verified in all days."""
        return sum(c.rows for c in self.verified.values())


def _digest(rows: Iterator[tuple[Any, ...]]) -> DayCheck:
    total = hashlib.sha256()
    count = 0
    for uid, start, cc, asn, input_, verdict, rules, pending, raw in rows:
        body = hashlib.sha256(bytes(raw)).hexdigest()
        line = f"{uid}|{start.isoformat()}|{cc}|{int(asn)}|{input_}|{verdict}|{rules}|{pending}"
        total.update(f"{line}|{body}\n".encode())
        count += 1
    return DayCheck(rows=count, checksum=total.hexdigest())


def _duck_rows(con: duckdb.DuckDBPyConnection, sql: str, day: date) -> Iterator[tuple[Any, ...]]:
    result = con.execute(sql.replace("%s", "?"), [day])
    while batch := result.fetchmany(BATCH_ROWS):
        yield from batch


def _pg_rows(con: psycopg.Connection[Any], sql: str, day: date) -> Iterator[tuple[Any, ...]]:
    with con.transaction(), con.cursor(name="crenel_copy_check") as cur:
        cur.execute(sql, [day])
        while batch := cur.fetchmany(BATCH_ROWS):
            yield from batch


_CHECK_SQL = f"SELECT {_CHECKED} FROM measurements WHERE day = %s ORDER BY uid"


def copy_store(
    data_dir: Path, target: str, *, on_day: Callable[[date, str, DayCheck], None] | None = None
) -> CopyReport:
    """Copy the stopped DuckDB store of `data_dir` into the PostgreSQL database `target`; return
    what was skipped, copied and verified. `on_day(day, "skipped" | "copied", check)` reports
    progress.

    Raises:
        DataDirLocked: a running collector holds the source.
        StorageUnavailable: the source or target cannot be used; CopyMismatch: a day differs
            after copying.
    """
    path = data_dir / "collector.duckdb"
    if not path.is_file():
        raise StorageUnavailable(f"no collector database in {data_dir}")
    try:
        source = duckdb.connect(str(path), read_only=True)
    except duckdb.Error as exc:
        # Another process's lock, or this process holding the file read-write already.
        if "lock" in str(exc).lower() or isinstance(exc, duckdb.ConnectionException):
            raise DataDirLocked(f"{data_dir} is in use by a running crenel-collector") from exc
        raise StorageUnavailable(f"cannot open {path}: {exc}") from exc
    report = CopyReport()
    store = PostgresStorage(target, create_ahead=False)
    try:
        days = [
            r[0]
            for r in source.execute("SELECT DISTINCT day FROM measurements ORDER BY day").fetchall()
        ]
        with psycopg.connect(target, autocommit=True) as con:
            con.execute("CREATE TEMP TABLE copy_batch (LIKE measurements)")
            partitions = Partitions()
            for day in days:
                wanted = _digest(_duck_rows(source, _CHECK_SQL, day))
                if _digest(_pg_rows(con, _CHECK_SQL, day)) == wanted:
                    report.skipped.append(day)
                    how = "skipped"
                else:
                    _copy_day(source, con, partitions, day)
                    found = _digest(_pg_rows(con, _CHECK_SQL, day))
                    if found != wanted:
                        raise CopyMismatch(
                            f"{day}: the target has {found.rows} rows (checksum "
                            f"{found.checksum[:12]}), the source {wanted.rows} "
                            f"({wanted.checksum[:12]}); does it receive uploads already?"
                        )
                    report.copied.append(day)
                    how = "copied"
                report.verified[day] = wanted
                if on_day is not None:
                    on_day(day, how, wanted)
        lists = source.execute(
            "SELECT url, category_code, cc, date_added, source FROM test_list_urls"
        ).fetchall()
        if lists:
            store.replace_test_lists(
                [TestListUrl(url=u, category_code=c, cc=cc, date_added=d, source=s)
                 for u, c, cc, d, s in lists],
                f"copy of {path}",
            )  # fmt: skip
        store.rebuild_rollups()
    except (duckdb.Error, psycopg.Error) as exc:
        raise StorageUnavailable(f"the copy stopped: {exc}") from exc
    finally:
        store.close()
        source.close()
    return report


def _copy_day(
    source: duckdb.DuckDBPyConnection,
    con: psycopg.Connection[Any],
    partitions: Partitions,
    day: date,
) -> None:
    """Copy one day's rows (those the target lacks) in one transaction."""
    partitions.ensure(con, [day])
    names = ", ".join(COLUMNS)
    selected = names.replace("uid,", "uid::VARCHAR,", 1)
    with con.transaction(), con.cursor() as cur:
        with cur.copy(f"COPY copy_batch ({names}) FROM STDIN") as copy:
            for row in _duck_rows(
                source, f"SELECT {selected} FROM measurements WHERE day = %s", day
            ):
                copy.write_row(row)
        cur.execute(
            f"INSERT INTO measurements ({names}) SELECT {names} FROM copy_batch "
            "ON CONFLICT DO NOTHING"
        )
        cur.execute("TRUNCATE copy_batch")
