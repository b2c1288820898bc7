"""Month partitions of `measurements`: named `measurements_yYYYYmMM`, created ahead of time when
the store opens and on demand before a batch that reaches a month with none.

Creation runs in its own short transaction under the migrations' advisory lock, so two collector
instances that meet a new month at once create its partition once. There is no default
partition: a row whose month has no partition is an error, never a silent catch-all (which
would stop the month's partition from ever being created).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from datetime import date

import psycopg
from psycopg import sql

from collector.storage.postgres.schema import MIGRATION_LOCK

AHEAD_MONTHS = 2
"""Months after the current one whose partitions exist before any row needs them."""


def month_start(day: date) -> date:
    """Return the first day of `day`'s month."""
    return day.replace(day=1)


def next_month(start: date) -> date:
    """Return the first day of the month after `start`'s."""
    return date(start.year + start.month // 12, start.month % 12 + 1, 1)


def partition_name(start: date) -> str:
    """Return the name of the partition holding `start`'s month."""
    return f"measurements_y{start.year:04d}m{start.month:02d}"


def months_ahead(today: date, count: int = AHEAD_MONTHS) -> list[date]:
    """Return the first days of `today`'s month and the `count` months after it."""
    months = [month_start(today)]
    for _ in range(count):
        months.append(next_month(months[-1]))
    return months


class Partitions:
    """The months that have a partition, as far as this process knows; creates the others."""

    def __init__(self) -> None:
        self._known: set[date] = set()
        self._lock = threading.Lock()

    def ensure(self, con: psycopg.Connection[tuple[object, ...]], days: Iterable[date]) -> int:
        """Create the partitions the months of `days` lack (in their own transaction); return
        how many this call created."""
        months = {month_start(d) for d in days}
        with self._lock:
            missing = sorted(months - self._known)
        if not missing:
            return 0
        created = 0
        with con.transaction():
            con.execute("SELECT pg_advisory_xact_lock(%s)", [MIGRATION_LOCK])
            for start in missing:
                exists = con.execute(
                    "SELECT to_regclass(%s) IS NOT NULL", [partition_name(start)]
                ).fetchone()
                if exists and exists[0]:
                    continue
                con.execute(
                    sql.SQL(
                        "CREATE TABLE {} PARTITION OF measurements FOR VALUES FROM ({}) TO ({})"
                    ).format(
                        sql.Identifier(partition_name(start)),
                        sql.Literal(start),
                        sql.Literal(next_month(start)),
                    )
                )
                created += 1
        with self._lock:
            self._known.update(missing)
        return created

    def forget(self) -> None:
        """Forget what exists (after a transaction that may have created partitions failed)."""
        with self._lock:
            self._known.clear()
