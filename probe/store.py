"""The probe's local store: every measurement it made, and which are still to be uploaded (SQLite).

Writes are durable (WAL, synchronous=FULL) because the store is also the upload outbox. The
store is synchronous; async callers run it in a worker thread through `AsyncStore`.
"""

from __future__ import annotations

import sqlite3
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self

import msgspec
import trio

from probe.errors import StoreError
from probe.model import Measurement

SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS measurements (
    uid TEXT PRIMARY KEY,
    start_time TEXT NOT NULL,
    input TEXT NOT NULL,
    category_code TEXT,
    verdict TEXT NOT NULL,
    methods TEXT NOT NULL,
    confidence REAL NOT NULL,
    body BLOB NOT NULL,
    uploaded_at TEXT,
    upload_attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT
);
CREATE INDEX IF NOT EXISTS measurements_pending ON measurements (uploaded_at, uid);
"""


def _row(measurement: Measurement) -> tuple[str, str, str, str | None, str, str, float, bytes]:
    """Return the `measurements` row of a measurement (its JSON compressed)."""
    analysis = measurement.analysis
    return (
        measurement.uid,
        measurement.start_time.isoformat(),
        measurement.input,
        measurement.category_code,
        analysis.verdict.value,
        ",".join(m.value for m in analysis.methods),
        analysis.confidence,
        zlib.compress(msgspec.json.encode(measurement), 6),
    )


@dataclass(frozen=True)
class StoredSummary:
    """One line of the store's listing."""

    uid: str
    start_time: str
    input: str
    verdict: str
    methods: list[str]
    confidence: float
    uploaded_at: str | None


class Store:
    """A connection to the store file; a context manager that closes it."""

    def __init__(self, path: Path) -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
            self._db.execute(
                "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)",
                (str(SCHEMA_VERSION),),
            )
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open the measurement store {path}: {exc}") from exc
        self.path = path

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection."""
        self._db.close()

    def add(self, measurement: Measurement) -> None:
        """Store one measurement (idempotent on its uid).

        Raises:
            StoreError: the database cannot be written.
        """
        self.add_many([measurement])

    def add_many(self, measurements: Sequence[Measurement]) -> None:
        """Store measurements in one transaction, so one fsync (idempotent on each uid).

        Raises:
            StoreError: the database cannot be written (then none of them is stored).
        """
        rows = [_row(measurement) for measurement in measurements]
        try:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany(
                    "INSERT OR IGNORE INTO measurements (uid, start_time, input, category_code, "
                    "verdict, methods, confidence, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    rows,
                )
            except sqlite3.Error:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            raise StoreError(f"cannot write the measurement store: {exc}") from exc

    def summaries(self, *, limit: int = 50) -> list[StoredSummary]:
        """Return the newest measurements first."""
        rows = self._db.execute(
            "SELECT uid, start_time, input, verdict, methods, confidence, uploaded_at "
            "FROM measurements ORDER BY uid DESC LIMIT ?",
            (limit,),
        ).fetchall()
        return [
            StoredSummary(
                uid, start, inp, verdict, [m for m in methods.split(",") if m], confidence, uploaded
            )
            for uid, start, inp, verdict, methods, confidence, uploaded in rows
        ]

    def find(self, uid_prefix: str) -> list[str]:
        """Return the uids that start with `uid_prefix` (at most 5)."""
        escaped = uid_prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        rows = self._db.execute(
            "SELECT uid FROM measurements WHERE uid LIKE ? ESCAPE '\\' ORDER BY uid LIMIT 5",
            (escaped + "%",),
        ).fetchall()
        return [r[0] for r in rows]

    def raw(self, uid: str) -> bytes | None:
        """Return the stored JSON of a measurement, or None."""
        row = self._db.execute("SELECT body FROM measurements WHERE uid = ?", (uid,)).fetchone()
        return None if row is None else zlib.decompress(row[0])

    def pending(self, *, limit: int = 100) -> Iterator[tuple[str, bytes]]:
        """Yield (uid, JSON) of measurements not yet uploaded, oldest first."""
        rows = self._db.execute(
            "SELECT uid, body FROM measurements WHERE uploaded_at IS NULL ORDER BY uid LIMIT ?",
            (limit,),
        ).fetchall()
        for uid, body in rows:
            yield uid, zlib.decompress(body)

    def count(self, *, pending_only: bool = False) -> int:
        """Return how many measurements are stored (or still pending upload)."""
        where = " WHERE uploaded_at IS NULL" if pending_only else ""
        (n,) = self._db.execute(f"SELECT COUNT(*) FROM measurements{where}").fetchone()
        return int(n)

    def mark_uploaded(self, uids: list[str], when: str) -> None:
        """Record that these measurements reached the collector."""
        self._db.executemany(
            "UPDATE measurements SET uploaded_at = ?, last_error = NULL WHERE uid = ?",
            [(when, uid) for uid in uids],
        )

    def mark_failed(self, uids: list[str], error: str) -> None:
        """Record a failed upload attempt."""
        self._db.executemany(
            "UPDATE measurements SET upload_attempts = upload_attempts + 1, last_error = ? "
            "WHERE uid = ?",
            [(error, uid) for uid in uids],
        )


@dataclass
class _Pending:
    """A measurement waiting for its commit, and how that went."""

    measurement: Measurement
    is_done: bool = False
    error: StoreError | None = None


class AsyncStore:
    """Writes a `Store`'s measurements from trio code, in a worker thread, one commit at a time.

    Group commit: whoever holds the commit turn writes every measurement waiting at that moment
    in one transaction (one fsync, one thread hop), so a fast batch of URLs is not limited to
    one measurement per fsync. `add` returns only once its measurement is committed.
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self._limiter = trio.CapacityLimiter(1)
        self._waiting: list[_Pending] = []

    async def add(self, measurement: Measurement) -> None:
        """Store one measurement without blocking the event loop; return once it is committed.

        Raises:
            StoreError: the database cannot be written.
        """
        pending = _Pending(measurement)
        self._waiting.append(pending)
        async with self._limiter:
            if not pending.is_done:
                group = list(self._waiting)
                error: StoreError | None = None
                try:
                    # Not abandoned on cancel: once started, the commit finishes and is recorded.
                    await trio.to_thread.run_sync(
                        self.store.add_many, [p.measurement for p in group]
                    )
                except StoreError as exc:
                    error = exc
                # Only now leave the queue: cancelled before the thread started, the group
                # stays queued for the next turn.
                del self._waiting[: len(group)]
                for item in group:
                    item.is_done, item.error = True, error
        if pending.error is not None:
            raise pending.error
