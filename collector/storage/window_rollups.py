"""The rolling-window rollup: each (country, domain, network, uploader network, probe, whether
the claimed network contradicts the source) summed over the default report window, the
`WINDOW_DAYS` days up to the newest day with analyses.

A country report weighs every probe by its counts over the whole window, so the report query
first sums each probe's days: one aggregation over as many groups as rows (in a week nearly
every probe measures a domain on one day only). For the window most reports ask for, this
table holds those sums already, one row per probe and domain, kept exact by the same deltas as
`rollup_probe_day` (`rollup_writes.apply_deltas`, in the same transaction): a row exists
exactly when the per-probe rollup has one of its key in the window. When analyses of a newer
day arrive the window moves and is summed afresh from `rollup_probe_day` (once a day; about
2 s at 10 million stored measurements). Reports of other windows, or filtered by region,
category or origin, read `rollup_probe_day` as before.
"""

from __future__ import annotations

from datetime import date

import duckdb

WINDOW_DAYS = 7
"""The window's length in days: the reports' default window (`reports.build.default_window`)."""

TABLES: tuple[str, ...] = (
    """
    CREATE TABLE rollup_window_span (since DATE NOT NULL, until DATE NOT NULL)
    """,
    """
    CREATE TABLE rollup_probe_window (
        probe_cc VARCHAR NOT NULL,
        domain VARCHAR NOT NULL,
        probe_asn UINTEGER NOT NULL,
        uploader VARCHAR NOT NULL,
        probe_key VARCHAR NOT NULL,
        contradicted BOOLEAN NOT NULL,
        blocked BIGINT NOT NULL,
        blocked_no_control BIGINT NOT NULL,
        ok BIGINT NOT NULL,
        down BIGINT NOT NULL,
        inconclusive BIGINT NOT NULL,
        confirmed BIGINT NOT NULL,
        packet_confirmed BIGINT NOT NULL,
        PRIMARY KEY (probe_cc, domain, probe_asn, uploader, probe_key, contradicted)
    )
    """,
    """
    CREATE TABLE rollup_uploader_window (
        probe_cc VARCHAR NOT NULL,
        domain VARCHAR NOT NULL,
        uploader VARCHAR NOT NULL,
        contradicted BOOLEAN NOT NULL,
        blocked BIGINT NOT NULL,
        blocked_no_control BIGINT NOT NULL,
        ok BIGINT NOT NULL,
        PRIMARY KEY (probe_cc, domain, uploader, contradicted)
    )
    """,
)
"""The window's span (one row, none while no analysis is stored), its per-probe sums, and its
sums per uploader network (the pooled rollup's over the window, for the noise baselines)."""

_SUMS = """
    sum(blocked)::BIGINT, sum(blocked_no_control)::BIGINT, sum(ok)::BIGINT, sum(down)::BIGINT,
    sum(inconclusive)::BIGINT, sum(confirmed)::BIGINT, sum(packet_confirmed)::BIGINT
"""

MOVE_SPAN: tuple[str, ...] = (
    "DELETE FROM rollup_probe_window",
    "DELETE FROM rollup_uploader_window",
    "DELETE FROM rollup_window_span",
    f"""
    INSERT INTO rollup_window_span
    SELECT max(day) - {WINDOW_DAYS - 1}, max(day) FROM rollup_probe_day
    HAVING max(day) IS NOT NULL
    """,
)
"""Empty the window's sums and set its span to end on the newest day (the same SQL on both
backends; each then sums the window in its own dialect)."""

REFRESH: tuple[str, ...] = (
    *MOVE_SPAN,
    f"""
    INSERT INTO rollup_probe_window
    SELECT probe_cc, domain, probe_asn, uploader, probe_key, contradicted, {_SUMS}
    FROM rollup_probe_day, rollup_window_span
    WHERE day >= since AND day <= until
    GROUP BY probe_cc, domain, probe_asn, uploader, probe_key, contradicted
    ORDER BY probe_cc, domain
    """,
    """
    INSERT INTO rollup_uploader_window
    SELECT probe_cc, domain, uploader, contradicted,
           sum(blocked)::BIGINT, sum(blocked_no_control)::BIGINT, sum(ok)::BIGINT
    FROM rollup_uploader_day, rollup_window_span
    WHERE day >= since AND day <= until
    GROUP BY probe_cc, domain, uploader, contradicted
    ORDER BY probe_cc, domain
    """,
)
"""Move the window to end on the newest day of `rollup_probe_day` and sum it afresh (migration
5, rebuilds, and when analyses of a newer day arrive), after the pooled rollup is current."""

UPSERT = f"""
INSERT INTO rollup_probe_window
SELECT probe_cc, domain, probe_asn, uploader, probe_key, contradicted, {_SUMS}
FROM probe_day_delta, rollup_window_span
WHERE day >= since AND day <= until
GROUP BY probe_cc, domain, probe_asn, uploader, probe_key, contradicted
ON CONFLICT (probe_cc, domain, probe_asn, uploader, probe_key, contradicted) DO UPDATE SET
    blocked = blocked + excluded.blocked,
    blocked_no_control = blocked_no_control + excluded.blocked_no_control,
    ok = ok + excluded.ok,
    down = down + excluded.down,
    inconclusive = inconclusive + excluded.inconclusive,
    confirmed = confirmed + excluded.confirmed,
    packet_confirmed = packet_confirmed + excluded.packet_confirmed
"""
"""Add the window's days of a batch's per-probe deltas (the registered `probe_day_delta`)."""

UPSERT_UPLOADERS = """
INSERT INTO rollup_uploader_window
SELECT probe_cc, domain, uploader, contradicted,
       sum(blocked)::BIGINT, sum(blocked_no_control)::BIGINT, sum(ok)::BIGINT
FROM probe_day_delta, rollup_window_span
WHERE day >= since AND day <= until
GROUP BY probe_cc, domain, uploader, contradicted
ON CONFLICT (probe_cc, domain, uploader, contradicted) DO UPDATE SET
    blocked = blocked + excluded.blocked,
    blocked_no_control = blocked_no_control + excluded.blocked_no_control,
    ok = ok + excluded.ok
"""
"""The same for the window's sums per uploader network."""


def span(con: duckdb.DuckDBPyConnection) -> tuple[date, date] | None:
    """Return the window the table sums (first and last day), or None while it sums nothing."""
    row = con.execute("SELECT since, until FROM rollup_window_span").fetchone()
    return None if row is None else (row[0], row[1])


def moves(con: duckdb.DuckDBPyConnection, newest: date) -> bool:
    """Return whether a batch whose newest day is `newest` moves the window (then `REFRESH`
    re-sums it once the batch is in the per-probe and pooled rollups; else `UPSERT` and
    `UPSERT_UPLOADERS` add the batch)."""
    current = span(con)
    return current is None or newest > current[1]
