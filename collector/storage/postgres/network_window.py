"""PostgreSQL's per-network window rollup: each (country, domain, network) of the rolling
window (`derived_rollups`) with the weighted and plain sums a report's window query computes
from the window's per-probe rows, for the default model settings.

A country report's window table weighs every probe row of `rollup_probe_window` (158,000 for
the largest country at 10 million measurements) and aggregates them twice; this table holds
the first aggregation's result (81,760 rows there), so the report only marks the networks it
can decide and sums the rest. The weighted sums are NUMERIC rounded as the query rounds them,
so the report sums them exactly as before. Beside it, `rollup_pooled_window` holds what the
noise baselines read of the window: each other country's pooled cell of a domain (38,000 rows
summed from `rollup_uploader_window` at 10 M), so a baseline is one median per domain.

Kept exact in the transaction that saves a batch's analyses, after `rollup_probe_window` took
the batch: every (country, domain) whose window rows the batch moved is computed afresh (an
uploader network's weight spans every network of a domain, so a group is recomputed whole, never
adjusted), the whole table when the batch moved the window. Two instances touching the same
group serialise on a transaction-scoped advisory lock per group bucket (`group_locks`), taken in
sorted order after their window upserts: the later one recomputes from both batches' committed
rows (the pooled cells are keyed by the same groups and recomputed with them). Reports read it
only for the window it sums, a whole country (or one domain of it) and its settings
(`reads_network_window`); anything else runs the query over the per-probe rows."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import psycopg

from collector.storage.postgres import group_locks, reports
from collector.storage.report_records import NETWORK_DAY_SETTINGS

TABLE = """
CREATE TABLE rollup_network_window (
    probe_cc TEXT NOT NULL,
    domain TEXT NOT NULL,
    probe_asn BIGINT NOT NULL,
    bw NUMERIC NOT NULL,
    ow NUMERIC NOT NULL,
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

INDEX = "CREATE INDEX rollup_network_window_by_group ON rollup_network_window (probe_cc, domain)"

POOLED_TABLE = """
CREATE TABLE rollup_pooled_window (
    probe_cc TEXT NOT NULL,
    domain TEXT NOT NULL,
    bw DOUBLE PRECISION NOT NULL,
    ow DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (probe_cc, domain)
)
"""
"""Each (country, domain) cell of the window the noise baselines pool: its weighted blocked and
ok counts, each uploader network capped, for the cells with a trusted source or enough
uploader networks (`reports.POOLED` over `rollup_uploader_window`)."""

_LOCK_SPACE = 0x6E6577  # "new": the advisory locks' first key

COLUMNS = (
    "probe_cc, domain, probe_asn, bw, ow, informative, ip, probes, blocked, ok, down, "
    "inconclusive, confirmed, packet_confirmed"
)


def _literal(value: object) -> str:
    """Return `value` as a SQL literal of the type it has as a parameter."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, int):
        return str(value)
    raise TypeError(f"no literal for {value!r}")


def _with_literals(template: str, values: list[object], where: str) -> str:
    """Return `template` with its parameters replaced by `values` as literals, then its
    `{where}` by `where` (which may hold parameters)."""
    pieces = template.split("%s")
    assert len(pieces) == len(values) + 1, "one value per parameter"
    sql = pieces[0] + "".join(
        _literal(v) + rest for v, rest in zip(values, pieces[1:], strict=True)
    )
    return sql.replace("{where}", where)


def _rows(where: str) -> str:
    """Return the SELECT of the window query's per-network rows of every country over the
    `rollup_probe_window` rows `where` selects, the default settings as literals."""
    settings = NETWORK_DAY_SETTINGS
    assert not settings.count_contradicted, "the per-probe rows below leave contradicted out"
    per_probe = reports.PER_PROBE_IN_WINDOW.format(
        where="{where}", columns="probe_cc, domain, probe_asn"
    )
    template = f"WITH per_probe AS MATERIALIZED ({per_probe}) " + reports.PER_NETWORK.format(
        group="probe_cc, domain, probe_asn", scope="probe_cc, domain"
    )
    values: list[object] = [
        settings.no_control_weight,
        settings.probe_weight_cap,
        settings.uploader_weight_cap,
        settings.probe_weight_cap,
    ]
    return _with_literals(template, values, where)


def _pooled_rows(where: str) -> str:
    """Return the SELECT of the baselines' pooled cells of every country over the
    `rollup_uploader_window` rows `where` selects, the default settings as literals."""
    settings = NETWORK_DAY_SETTINGS
    template = reports.POOLED.format(
        group="probe_cc, domain", where="{where}", table="rollup_uploader_window"
    )
    values: list[object] = [
        settings.uploader_weight_cap,
        settings.count_contradicted,
        settings.min_probes,
    ]
    return _with_literals(template, values, where)


SELECT_ALL = f"SELECT {COLUMNS} FROM ({_rows('true')}) AS n"
"""Every row `rollup_network_window` should hold, computed now from `rollup_probe_window`."""

SELECT_POOLED_ALL = f"SELECT probe_cc, domain, bw, ow FROM ({_pooled_rows('true')}) AS p"
"""Every row `rollup_pooled_window` should hold, computed now from `rollup_uploader_window`."""

FILL: tuple[str, ...] = (
    f"INSERT INTO rollup_network_window ({COLUMNS}) {SELECT_ALL} ORDER BY probe_cc, domain",
    f"INSERT INTO rollup_pooled_window {SELECT_POOLED_ALL}",
)
"""Fill the (empty) tables from the window's rollups (migration 4, rebuilds, window moves),
the per-network rows in the order reports read them (a country's rows on adjacent pages)."""

REFILL: tuple[str, ...] = (
    "DELETE FROM rollup_network_window",
    "DELETE FROM rollup_pooled_window",
    *FILL,
)
"""Sum the whole window afresh (after `rollup_probe_window` and `rollup_uploader_window`
were)."""

_GROUPS = "(probe_cc, domain) IN (SELECT * FROM unnest(%s::TEXT[], %s::TEXT[]))"

_RECOMPUTE: tuple[str, ...] = (
    f"DELETE FROM rollup_network_window WHERE {_GROUPS}",
    f"INSERT INTO rollup_network_window ({COLUMNS}) SELECT {COLUMNS} FROM ({_rows(_GROUPS)}) AS n",
    f"DELETE FROM rollup_pooled_window WHERE {_GROUPS}",
    "INSERT INTO rollup_pooled_window SELECT probe_cc, domain, bw, ow "
    f"FROM ({_pooled_rows(_GROUPS)}) AS p",
)


def refresh(cur: psycopg.Cursor[Any], groups: Iterable[tuple[str, str]]) -> None:
    """Recompute the rows of every (country, domain) of `groups` in both tables (inside the
    caller's transaction, after the window's rollups took the batch)."""
    ordered = sorted(set(groups))
    if not ordered:
        return
    group_locks.lock_groups(cur, _LOCK_SPACE, [f"{cc} {domain}" for cc, domain in ordered])
    columns = [[g[0] for g in ordered], [g[1] for g in ordered]]
    for statement in _RECOMPUTE:
        cur.execute(statement, columns)
