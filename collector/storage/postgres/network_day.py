"""PostgreSQL's per-day network rollup (`storage.network_day_rollups`' meaning): the rows a
report's daily verdicts read, per day, country, domain and decided network, for the default
model settings, kept in the transaction that saves a batch's analyses.

A batch's (day, country, domain) groups are recomputed whole from `rollup_probe_day` after it
took the batch. Two instances touching the same group serialise on a transaction-scoped advisory
lock per group bucket (`group_locks`), taken in sorted order after their per-probe upserts: the
later one deletes the earlier one's committed rows and recomputes from its committed per-probe
rows."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

import psycopg

from collector.storage.postgres import group_locks, reports
from collector.storage.report_records import NETWORK_DAY_SETTINGS

TABLE = """
CREATE TABLE rollup_network_day (
    day DATE NOT NULL,
    probe_cc TEXT NOT NULL,
    domain TEXT NOT NULL,
    probe_asn BIGINT NOT NULL,
    bw DOUBLE PRECISION NOT NULL,
    ow DOUBLE PRECISION NOT NULL,
    informative BIGINT NOT NULL,
    ip BIGINT NOT NULL,
    probes BIGINT NOT NULL,
    blocked BIGINT NOT NULL,
    ok BIGINT NOT NULL,
    down BIGINT NOT NULL,
    inconclusive BIGINT NOT NULL,
    confirmed BIGINT NOT NULL,
    packet_confirmed BIGINT NOT NULL
)
"""

INDEX = "CREATE INDEX rollup_network_day_by_group ON rollup_network_day (probe_cc, day, domain)"

_LOCK_SPACE = 0x6E6574  # "net": the advisory locks' first key


def _literal(value: object) -> str:
    """Return `value` as a SQL literal of the type it has as a parameter."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, int):
        return str(value)
    raise TypeError(f"no literal for {value!r}")


def _rows(where: str) -> str:
    """Return the INSERT of the daily query's rows of every country over the `rollup_probe_day`
    rows `where` selects, the default settings as literals (`where` may hold parameters)."""
    settings = NETWORK_DAY_SETTINGS
    values = [
        settings.count_contradicted,
        settings.no_control_weight,
        settings.probe_weight_cap,
        settings.uploader_weight_cap,
        settings.probe_weight_cap,
        settings.min_measurements,
        settings.min_probes,
    ]
    template = reports.daily_rows_template("day, probe_cc, ")
    pieces = template.split("%s")
    assert len(pieces) == len(values) + 1, "one value per parameter"
    sql = pieces[0] + "".join(
        _literal(v) + rest for v, rest in zip(values, pieces[1:], strict=True)
    )
    return (
        "INSERT INTO rollup_network_day (day, probe_cc, domain, probe_asn, bw, ow, informative, "
        "ip, probes, blocked, ok, down, inconclusive, confirmed, packet_confirmed) "
        "SELECT day, probe_cc, domain, decided_asn, bw, ow, informative, ip, probes, blocked, ok, "
        f"down, inconclusive, confirmed, packet_confirmed FROM ({sql.format(where=where)}) "
        "AS d(day, probe_cc, domain, decided_asn, bw, ow, informative, ip, probes, blocked, ok, "
        "down, inconclusive, confirmed, packet_confirmed, networks, methods)"
    )


FILL = _rows("true")
"""Fill the (empty) table from `rollup_probe_day` (migration 2, rebuilds)."""

_GROUPS = "(day, probe_cc, domain) IN (SELECT * FROM unnest(%s::DATE[], %s::TEXT[], %s::TEXT[]))"

_DELETE = f"DELETE FROM rollup_network_day WHERE {_GROUPS}"

_INSERT = _rows(_GROUPS)


def refresh(
    cur: psycopg.Cursor[tuple[object, ...]], groups: Iterable[tuple[date, str, str]]
) -> None:
    """Recompute the rows of every (day, country, domain) of `groups` (inside the caller's
    transaction, after `rollup_probe_day` took the batch)."""
    ordered = sorted(set(groups), key=lambda g: (g[1], g[0], g[2]))
    if not ordered:
        return
    keys = [f"{cc} {day.isoformat()} {domain}" for day, cc, domain in ordered]
    group_locks.lock_groups(cur, _LOCK_SPACE, keys)
    columns = [[g[0] for g in ordered], [g[1] for g in ordered], [g[2] for g in ordered]]
    cur.execute(_DELETE, columns)
    cur.execute(_INSERT, columns)
