"""PostgreSQL's per-day label rollups: each (day, country, domain)'s category and each (day,
country, network)'s name and measurement count, as a report reads them from the per-probe
rollup (the smallest label of the group's rows, every row counted).

A built report lists each domain's category and each network's name and count over its window.
From `rollup_probe_day` that is two aggregations of the country's per-probe day rows (158,662
for the largest country's week at 10 million measurements, reached through the day index among
the 1.16 M rows of every country's week); from these tables, of about 14,000 and 1,000 rows (all
days of the window, any window). A per-probe row's label is the last one stored for its key, so
a group's smallest label can grow as well as shrink: the groups a batch touches are recomputed
whole from `rollup_probe_day` after it took the batch, never adjusted, under a transaction-
scoped advisory lock per group bucket (`group_locks`) taken in sorted order (two instances
touching one group: the later recomputes from both batches' committed rows). Reports read them
for a whole country, or one domain (categories) or network (names) of it, of any window;
narrower queries read the per-probe rows."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

import psycopg

from collector.storage.postgres import group_locks

TABLES: tuple[str, ...] = (
    """
    CREATE TABLE rollup_category_day (
        day DATE NOT NULL,
        probe_cc TEXT NOT NULL,
        domain TEXT NOT NULL,
        category_code TEXT NOT NULL,
        PRIMARY KEY (probe_cc, day, domain)
    )
    """,
    """
    CREATE TABLE rollup_network_name_day (
        day DATE NOT NULL,
        probe_cc TEXT NOT NULL,
        probe_asn BIGINT NOT NULL,
        network_name TEXT,
        measurements BIGINT NOT NULL,
        PRIMARY KEY (probe_cc, day, probe_asn)
    )
    """,
)
"""Each (day, country, domain) with a category and its smallest; each (day, country, network)
with its smallest name (NULL when none has one) and its measurements of every verdict."""

INDEX = "CREATE INDEX rollup_probe_day_by_domain ON rollup_probe_day (probe_cc, day, domain)"
"""How a (day, country, domain) group's per-probe rows are found: through the primary key
(country, day, network, region, domain, ...) a group scans every row of its country's day,
22,000 for the largest country at 10 million measurements (1.8 ms a group, 170 ms for a batch
touching 100 domains, here and in `network_day`'s recompute); through this index, its rows
(12 ms for both, measured on that store under load)."""

_CATEGORIES = """
    SELECT day, probe_cc, domain, min(category_code) FROM rollup_probe_day
    WHERE {where} AND category_code IS NOT NULL GROUP BY day, probe_cc, domain
"""

_NAMES = """
    SELECT day, probe_cc, probe_asn, min(network_name),
           sum(blocked + blocked_no_control + ok + down + inconclusive)::BIGINT
    FROM rollup_probe_day WHERE {where} GROUP BY day, probe_cc, probe_asn
"""

SELECT_CATEGORIES = _CATEGORIES.format(where="true")
"""Every row `rollup_category_day` should hold, computed now from `rollup_probe_day`."""

SELECT_NAMES = _NAMES.format(where="true")
"""Every row `rollup_network_name_day` should hold, computed now from `rollup_probe_day`."""

REFILL: tuple[str, ...] = (
    "DELETE FROM rollup_category_day",
    "DELETE FROM rollup_network_name_day",
    f"INSERT INTO rollup_category_day {SELECT_CATEGORIES}",
    f"INSERT INTO rollup_network_name_day {SELECT_NAMES}",
)
"""Fill both tables afresh from `rollup_probe_day` (migration 4, rebuilds)."""

_DOMAINS = "(day, probe_cc, domain) IN (SELECT * FROM unnest(%s::DATE[], %s::TEXT[], %s::TEXT[]))"
_NETWORKS = (
    "(day, probe_cc, probe_asn) IN (SELECT * FROM unnest(%s::DATE[], %s::TEXT[], %s::BIGINT[]))"
)

_LOCK_SPACES = (0x636174, 0x61736E)  # "cat", "asn": the advisory locks' first keys


def _recompute(
    cur: psycopg.Cursor[Any],
    *,
    space: int,
    groups: list[tuple[date, str, object]],
    table: str,
    where: str,
    select: str,
) -> None:
    if not groups:
        return
    group_locks.lock_groups(
        cur, space, [f"{cc} {day.isoformat()} {key}" for day, cc, key in groups]
    )
    columns = [[g[0] for g in groups], [g[1] for g in groups], [g[2] for g in groups]]
    cur.execute(f"DELETE FROM {table} WHERE {where}", columns)
    cur.execute(f"INSERT INTO {table} {select.format(where=where)}", columns)


def refresh(
    cur: psycopg.Cursor[Any],
    domains: Iterable[tuple[date, str, str]],
    networks: Iterable[tuple[date, str, int]],
) -> None:
    """Recompute the categories of every (day, country, domain) of `domains` and the names and
    counts of every (day, country, network) of `networks` (inside the caller's transaction,
    after `rollup_probe_day` took the batch)."""
    by_domain = sorted(set(domains), key=lambda g: (g[1], g[0], g[2]))
    by_network = sorted(set(networks), key=lambda g: (g[1], g[0], g[2]))
    _recompute(
        cur,
        space=_LOCK_SPACES[0],
        groups=list(by_domain),
        table="rollup_category_day",
        where=_DOMAINS,
        select=_CATEGORIES,
    )
    _recompute(
        cur,
        space=_LOCK_SPACES[1],
        groups=list(by_network),
        table="rollup_network_name_day",
        where=_NETWORKS,
        select=_NAMES,
    )
