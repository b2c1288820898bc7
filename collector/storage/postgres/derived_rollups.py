"""The pooled and rolling-window rollups in PostgreSQL: the same tables and arithmetic as the
DuckDB store's `storage.pooled_rollups` and `storage.window_rollups` (migration 5 there,
migration 2 here), derived from `rollup_probe_day` and moved by the same deltas in the same
transaction.

Several collector instances save analyses at once, so moving the window is guarded by one
advisory lock (`WINDOW_LOCK`): a batch adds its deltas to the window tables under the lock in
shared mode, and the batch that moves the window sums it afresh under it in exclusive mode. A
transaction takes the lock only after its per-probe deltas are written and keeps it to its
commit, so a refresh sums every committed per-probe row, and a batch still uncommitted when the
window moved adds its deltas afterwards, within the new window: the window's sums stay exactly
those of `rollup_probe_day` over its days.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import psycopg

from collector.storage.window_rollups import MOVE_SPAN

WINDOW_LOCK = 0x63726E77
"""The advisory lock key of the window tables ("crnw")."""

TABLES: tuple[str, ...] = (
    """
    CREATE TABLE rollup_uploader_day (
        day DATE NOT NULL,
        probe_cc TEXT NOT NULL,
        domain TEXT NOT NULL,
        uploader TEXT NOT NULL,
        contradicted BOOLEAN NOT NULL,
        origin TEXT NOT NULL,
        blocked INTEGER NOT NULL,
        blocked_no_control INTEGER NOT NULL,
        ok INTEGER NOT NULL,
        PRIMARY KEY (probe_cc, day, domain, uploader, contradicted, origin)
    )
    """,
    "CREATE INDEX rollup_uploader_day_by_day ON rollup_uploader_day (day)",
    "CREATE TABLE rollup_window_span (since DATE NOT NULL, until DATE NOT NULL)",
    """
    CREATE TABLE rollup_probe_window (
        probe_cc TEXT NOT NULL,
        domain TEXT NOT NULL,
        probe_asn BIGINT NOT NULL,
        uploader TEXT NOT NULL,
        probe_key TEXT NOT NULL,
        contradicted BOOLEAN NOT NULL,
        blocked INTEGER NOT NULL,
        blocked_no_control INTEGER NOT NULL,
        ok INTEGER NOT NULL,
        down INTEGER NOT NULL,
        inconclusive INTEGER NOT NULL,
        confirmed INTEGER NOT NULL,
        packet_confirmed INTEGER NOT NULL,
        PRIMARY KEY (probe_cc, domain, probe_asn, uploader, probe_key, contradicted)
    )
    """,
    """
    CREATE TABLE rollup_uploader_window (
        probe_cc TEXT NOT NULL,
        domain TEXT NOT NULL,
        uploader TEXT NOT NULL,
        contradicted BOOLEAN NOT NULL,
        blocked INTEGER NOT NULL,
        blocked_no_control INTEGER NOT NULL,
        ok INTEGER NOT NULL,
        PRIMARY KEY (probe_cc, domain, uploader, contradicted)
    )
    """,
)
"""The pooled rollup (per uploader network and day), the window's span (one row, none while no
analysis is stored), its per-probe sums and its sums per uploader network."""

_POOLED_SUMS = "sum(blocked)::INT, sum(blocked_no_control)::INT, sum(ok)::INT"
_SUMS = f"""{_POOLED_SUMS}, sum(down)::INT, sum(inconclusive)::INT, sum(confirmed)::INT,
    sum(packet_confirmed)::INT"""
_PROBE_KEY = "probe_cc, domain, probe_asn, uploader, probe_key, contradicted"
_UPLOADER_KEY = "probe_cc, domain, uploader, contradicted"

FILL_POOLED = f"""
    INSERT INTO rollup_uploader_day
    SELECT day, probe_cc, domain, uploader, contradicted, origin, {_POOLED_SUMS}
    FROM rollup_probe_day
    GROUP BY probe_cc, day, domain, uploader, contradicted, origin
"""
"""Fill the (empty) pooled rollup from `rollup_probe_day`."""

REFRESH: tuple[str, ...] = (
    *MOVE_SPAN,
    f"""
    INSERT INTO rollup_probe_window
    SELECT {_PROBE_KEY}, {_SUMS}
    FROM rollup_probe_day, rollup_window_span
    WHERE day >= since AND day <= until
    GROUP BY {_PROBE_KEY}
    """,
    f"""
    INSERT INTO rollup_uploader_window
    SELECT {_UPLOADER_KEY}, {_POOLED_SUMS}
    FROM rollup_uploader_day, rollup_window_span
    WHERE day >= since AND day <= until
    GROUP BY {_UPLOADER_KEY}
    """,
    "ANALYZE rollup_probe_window, rollup_uploader_window, rollup_window_span",
)
"""Move the window to end on the newest day of `rollup_probe_day` and sum it afresh, after the
pooled rollup is current (migration 2, rebuilds, analyses of a newer day)."""

MIGRATION_STATEMENTS: tuple[str, ...] = (*TABLES, FILL_POOLED, *REFRESH)
"""Migration 2: the tables, filled from an existing store's per-probe rollup."""

DELTA = """
CREATE TEMPORARY TABLE IF NOT EXISTS probe_day_delta (
    day DATE, probe_cc TEXT, probe_asn BIGINT, domain TEXT, uploader TEXT, probe_key TEXT,
    contradicted BOOLEAN, origin TEXT, blocked INTEGER, blocked_no_control INTEGER,
    ok INTEGER, down INTEGER, inconclusive INTEGER, confirmed INTEGER, packet_confirmed INTEGER
) ON COMMIT DELETE ROWS
"""
"""A session's staging table of one batch's per-probe deltas (emptied at each commit)."""

_FILL_DELTA = """
INSERT INTO probe_day_delta
SELECT * FROM unnest(%s::DATE[], %s::TEXT[], %s::BIGINT[], %s::TEXT[], %s::TEXT[], %s::TEXT[],
    %s::BOOLEAN[], %s::TEXT[], %s::INTEGER[], %s::INTEGER[], %s::INTEGER[], %s::INTEGER[],
    %s::INTEGER[], %s::INTEGER[], %s::INTEGER[])
"""


_COUNTS = (
    "blocked", "blocked_no_control", "ok", "down", "inconclusive", "confirmed", "packet_confirmed",
)  # fmt: skip
_POOLED_COUNTS = _COUNTS[:3]


def _added(columns: tuple[str, ...]) -> str:
    """Return an upsert's SET list adding the new row's counts to the stored ones."""
    return ", ".join(f"{c} = r.{c} + excluded.{c}" for c in columns)


_UPSERT_POOLED = f"""
INSERT INTO rollup_uploader_day AS r
SELECT day, probe_cc, domain, uploader, contradicted, origin, {_POOLED_SUMS}
FROM probe_day_delta
GROUP BY probe_cc, day, domain, uploader, contradicted, origin
ORDER BY probe_cc, day, domain, uploader, contradicted, origin
ON CONFLICT (probe_cc, day, domain, uploader, contradicted, origin) DO UPDATE SET
    {_added(_POOLED_COUNTS)}
"""

_UPSERT_WINDOW = f"""
INSERT INTO rollup_probe_window AS r
SELECT {_PROBE_KEY}, {_SUMS}
FROM probe_day_delta, rollup_window_span
WHERE day >= since AND day <= until
GROUP BY {_PROBE_KEY} ORDER BY {_PROBE_KEY}
ON CONFLICT ({_PROBE_KEY}) DO UPDATE SET
    {_added(_COUNTS)}
"""

_UPSERT_UPLOADER_WINDOW = f"""
INSERT INTO rollup_uploader_window AS r
SELECT {_UPLOADER_KEY}, {_POOLED_SUMS}
FROM probe_day_delta, rollup_window_span
WHERE day >= since AND day <= until
GROUP BY {_UPLOADER_KEY} ORDER BY {_UPLOADER_KEY}
ON CONFLICT ({_UPLOADER_KEY}) DO UPDATE SET
    {_added(_POOLED_COUNTS)}
"""


def span(con: psycopg.Connection[Any] | psycopg.Cursor[Any]) -> tuple[date, date] | None:
    """Return the window the tables sum (first and last day), or None while they sum nothing."""
    row = con.execute("SELECT since, until FROM rollup_window_span").fetchone()
    return None if row is None else (row[0], row[1])


def apply_deltas(cur: psycopg.Cursor[Any], rows: list[tuple[object, ...]], newest: date) -> bool:
    """Add a batch's per-probe deltas (rows of `rollup_probe_day`'s columns in its insert order:
    day, cc, asn, region, domain, uploader, probe key, contradicted, category, network, the
    seven counts, origin; `newest` their latest day) to the pooled and window rollups, moving
    the window when the batch holds a newer day. Runs inside the caller's transaction, after
    every other rollup is written: from the window lock to the commit it waits for no row
    another batch may hold while it waits for that lock. Return whether the window moved (then
    it was summed afresh)."""
    if not rows:
        return False
    columns = [[r[i] for r in rows] for i in (0, 1, 2, 4, 5, 6, 7, 17, *range(10, 17))]
    cur.execute(_FILL_DELTA, columns)
    cur.execute(_UPSERT_POOLED)
    current = span(cur)
    if current is None or newest > current[1]:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", [WINDOW_LOCK])
        current = span(cur)  # another instance may have moved it meanwhile
        if current is None or newest > current[1]:
            for statement in REFRESH[:-1]:
                cur.execute(statement)
            return True
    else:
        cur.execute("SELECT pg_advisory_xact_lock_shared(%s)", [WINDOW_LOCK])
    cur.execute(_UPSERT_WINDOW)
    cur.execute(_UPSERT_UPLOADER_WINDOW)
    return False


def refresh(cur: psycopg.Cursor[Any]) -> None:
    """Sum the window afresh under the window lock (rebuilds)."""
    cur.execute("SELECT pg_advisory_xact_lock(%s)", [WINDOW_LOCK])
    for statement in REFRESH[:-1]:
        cur.execute(statement)
