"""Researcher reads in PostgreSQL's dialect: keyset search, the aggregation API and check-in.

Filters are `storage.sql.where`'s, with its placeholders and its one DuckDB list function
rewritten (`pg_where`); the aggregation's cells are assembled by `storage.aggregation_cells`,
as on DuckDB, so both backends answer the same rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import psycopg

from collector.storage import search
from collector.storage.aggregation_cells import assemble_cells
from collector.storage.base import (
    AggregationQuery,
    AggregationRow,
    Axis,
    CheckInUrl,
    Cursor,
    Filters,
    MeasurementSummary,
)
from collector.storage.sql import AXIS_SQL, naive_utc, where

Con = psycopg.Connection[tuple[Any, ...]]

_LIST_HAS_ANY = "list_has_any(methods, ?::VARCHAR[])"


def to_pg(clause: str) -> str:
    """Return a `storage.sql` clause in PostgreSQL's dialect (`%s` placeholders, `&&`)."""
    return clause.replace(_LIST_HAS_ANY, "methods && ?::TEXT[]").replace("?", "%s")


def pg_where(filters: Filters, cursor: Cursor | None = None) -> tuple[str, list[object]]:
    """Return `storage.sql.where`'s clause and parameters for PostgreSQL."""
    clause, params = where(filters, cursor)
    return to_pg(clause), params


def summaries(
    con: Con, filters: Filters, after: Cursor | None, limit: int
) -> list[MeasurementSummary]:
    """Return up to `limit` matching measurements, newest first, strictly after `after`."""
    clause, params = pg_where(filters, after)
    rows = con.execute(
        f"SELECT {search.SUMMARY_COLUMNS} FROM measurements WHERE {clause} "
        "ORDER BY start_time DESC, uid DESC LIMIT %s",
        [*params, limit],
    ).fetchall()
    return [search.summary_of(row) for row in rows]


def aggregate(con: Con, query: AggregationQuery) -> list[AggregationRow]:
    """Return the counts of every non-empty cell, ordered by x then y (`search.aggregate`'s
    meaning: verdicts, methods and, when asked, distinct probes; `max_per_probe` weighs a
    probe with n > cap measurements in a cell cap / n each)."""
    by_method = Axis.METHOD in (query.axis_x, query.axis_y)
    clause, params = pg_where(query.filters)
    unnest = ", unnest(methods) AS method" if by_method else ""
    inner = (
        "SELECT day, probe_cc, probe_asn, domain, category_code, verdict, methods, "
        f"fingerprint_confirmed, probe_id{unnest} FROM measurements WHERE {clause}"
    )
    x = AXIS_SQL[query.axis_x]
    y = AXIS_SQL[query.axis_y] if query.axis_y is not None else "NULL::TEXT"
    base = (
        f"SELECT {x} AS x, {y} AS y, verdict, methods, fingerprint_confirmed, probe_id "
        f"FROM ({inner}) AS i"
    )
    weight, confirmed = "count(*)", "count(*) FILTER (WHERE fingerprint_confirmed)"
    if query.max_per_probe is None:
        prefix = f"WITH rows AS ({base})"
    else:
        weight = "sum(w)"
        confirmed = "coalesce(sum(w) FILTER (WHERE fingerprint_confirmed), 0)"
        prefix = (
            f"WITH base AS ({base}), weights AS (SELECT x, y, probe_id, "
            "least(1.0, %s::FLOAT8 / count(*)) AS w FROM base WHERE probe_id IS NOT NULL "
            "GROUP BY x, y, probe_id), rows AS (SELECT b.*, coalesce(weights.w, 1.0) AS w "
            "FROM base b LEFT JOIN weights ON b.x IS NOT DISTINCT FROM weights.x "
            "AND b.y IS NOT DISTINCT FROM weights.y AND b.probe_id = weights.probe_id)"
        )
        params = [*params, query.max_per_probe]
    totals = con.execute(
        f"{prefix} SELECT x, y, verdict, {weight}, {confirmed} FROM rows GROUP BY x, y, verdict",
        params,
    ).fetchall()
    per_method: Sequence[Any] = []
    if not by_method:
        per_method = con.execute(
            f"{prefix} SELECT x, y, m, {weight} FROM (SELECT *, unnest(methods) AS m "
            "FROM rows WHERE verdict = 'blocked') AS r GROUP BY x, y, m",
            params,
        ).fetchall()
    probes: Sequence[Any] = []
    if query.with_probes:
        probes = con.execute(
            f"SELECT x, y, count(DISTINCT probe_id) FROM ({base}) AS b GROUP BY x, y",
            params[: len(params) - (query.max_per_probe is not None)],
        ).fetchall()
    return assemble_cells(query, totals, per_method, probes)


def check_in_urls(
    con: Con,
    *,
    cc: str,
    asn: int,
    categories: Sequence[str],
    limit: int,
    since: datetime,
) -> list[CheckInUrl]:
    """Return the URLs for this network: global plus its country, least measured first (ties
    at random); a country's list overrides the global one for the same URL."""
    params: list[object] = [cc, asn, naive_utc(since), cc]
    category_clause = ""
    if categories:
        category_clause = "WHERE c.category_code = ANY(%s) "
        params.append(list(categories))
    params.append(limit)
    rows = con.execute(
        "WITH recent AS (SELECT input, count(*) AS n FROM measurements "
        "WHERE probe_cc = %s AND probe_asn = %s AND received_at >= %s GROUP BY input), "
        "candidates AS (SELECT DISTINCT ON (url) url, category_code, cc FROM test_list_urls "
        "WHERE cc = '' OR cc = %s ORDER BY url, cc DESC) "
        "SELECT c.url, c.category_code, c.cc, coalesce(r.n, 0) AS n FROM candidates c "
        f"LEFT JOIN recent r ON r.input = c.url {category_clause}"
        "ORDER BY n, random() LIMIT %s",
        params,
    ).fetchall()
    return [
        CheckInUrl(
            url=url, category_code=category, list=list_cc or "global", recent_measurements=int(n)
        )
        for url, category, list_cc, n in rows
    ]
