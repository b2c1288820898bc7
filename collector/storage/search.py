"""Researcher reads of the raw measurement summaries: keyset search and the aggregation API.

Runs on a DuckDB cursor handed in by `duckdb.DuckDBStorage`; filters become SQL through
`collector.storage.sql` (values always as parameters).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import duckdb

from collector.storage.aggregation_cells import assemble_cells
from collector.storage.base import (
    AggregationQuery,
    AggregationRow,
    Axis,
    Cursor,
    Filters,
    MeasurementSummary,
)
from collector.storage.sql import AXIS_SQL, where

SUMMARY_COLUMNS = (
    "uid::VARCHAR, start_time, received_at, probe_cc, probe_asn, probe_network_name, input, "
    "domain, category_code, software_name, software_version, format_version, verdict, methods, "
    "confidence, blocking, accessible, fingerprint_confirmed, rules_version, probe_verdict, "
    "probe_methods, probe_confidence, control_failed, geo_mismatch"
)


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def summaries(
    cur: duckdb.DuckDBPyConnection, filters: Filters, after: Cursor | None, limit: int
) -> list[MeasurementSummary]:
    """Return up to `limit` matching measurements, newest first, strictly after `after`."""
    clause, params = where(filters, after)
    rows = cur.execute(
        f"SELECT {SUMMARY_COLUMNS} FROM measurements WHERE {clause} "
        "ORDER BY start_time DESC, uid DESC LIMIT ?",
        [*params, limit],
    ).fetchall()
    return [summary_of(row) for row in rows]


def summary_of(row: tuple[Any, ...]) -> MeasurementSummary:
    """Return one row of `SUMMARY_COLUMNS` as the query API lists it."""
    (
        uid,
        start_time,
        received_at,
        cc,
        asn,
        network_name,
        input_,
        domain,
        category,
        software_name,
        software_version,
        format_version,
        verdict,
        methods,
        confidence,
        blocking,
        accessible,
        confirmed,
        rules_version,
        probe_verdict,
        probe_methods,
        probe_confidence,
        control_failed,
        geo_mismatch,
    ) = row
    return MeasurementSummary(
        uid=uid,
        start_time=_utc(start_time),
        received_at=_utc(received_at),
        probe_cc=cc,
        probe_asn=f"AS{asn}",
        probe_network_name=network_name,
        input=input_,
        domain=domain,
        category_code=category,
        software_name=software_name,
        software_version=software_version,
        format_version=format_version,
        verdict=verdict,
        methods=list(methods or []),
        confidence=confidence,
        blocking=blocking,
        accessible=accessible,
        fingerprint_confirmed=confirmed,
        rules_version=rules_version,
        probe_verdict=probe_verdict,
        probe_methods=list(probe_methods),
        probe_confidence=probe_confidence,
        control_failed=control_failed,
        geo_mismatch=geo_mismatch,
    )


def aggregate(cur: duckdb.DuckDBPyConnection, query: AggregationQuery) -> list[AggregationRow]:
    """Return the counts of every non-empty cell, ordered by x then y.

    Two grouped scans (verdicts, then methods of the rows that have any) and, when asked,
    a third for distinct probes; the cells are assembled here. With `max_per_probe`, a probe
    with n > cap measurements in a cell has each of them weighted cap / n.
    """
    axes = [query.axis_x] + ([query.axis_y] if query.axis_y is not None else [])
    by_method = Axis.METHOD in axes
    clause, params = where(query.filters)
    unnest = ", unnest(methods) AS method" if by_method else ""
    inner = (
        "SELECT day, probe_cc, probe_asn, domain, category_code, verdict, methods, "
        f"fingerprint_confirmed, probe_id{unnest} FROM measurements WHERE {clause}"
    )
    x = AXIS_SQL[query.axis_x]
    y = AXIS_SQL[query.axis_y] if query.axis_y is not None else "NULL"
    base = (
        f"SELECT {x} AS x, {y} AS y, verdict, methods, fingerprint_confirmed, probe_id "
        f"FROM ({inner})"
    )
    weight, confirmed = "count(*)", "count(*) FILTER (WHERE fingerprint_confirmed)"
    if query.max_per_probe is None:
        prefix = f"WITH rows AS ({base})"
    else:
        weight = "sum(w)"
        confirmed = "coalesce(sum(w) FILTER (WHERE fingerprint_confirmed), 0)"
        prefix = (
            f"WITH base AS ({base}), weights AS (SELECT x, y, probe_id, "
            "least(1.0, ?::DOUBLE / count(*)) AS w FROM base WHERE probe_id IS NOT NULL "
            "GROUP BY ALL), rows AS (SELECT b.*, coalesce(weights.w, 1.0) AS w FROM base b "
            "LEFT JOIN weights ON b.x IS NOT DISTINCT FROM weights.x "
            "AND b.y IS NOT DISTINCT FROM weights.y AND b.probe_id = weights.probe_id)"
        )
        params = [*params, query.max_per_probe]
    totals_sql = f"{prefix} SELECT x, y, verdict, {weight}, {confirmed} FROM rows GROUP BY ALL"
    # Only blocked verdicts carry methods (probe.analysis.analyse): scan just those rows.
    methods_sql = (
        f"{prefix} SELECT x, y, m, {weight} FROM (SELECT *, unnest(methods) AS m "
        "FROM rows WHERE verdict = 'blocked') GROUP BY ALL"
    )
    probes_sql = f"SELECT x, y, count(DISTINCT probe_id) FROM ({base}) GROUP BY ALL"
    totals = cur.execute(totals_sql, params).fetchall()
    per_method = [] if by_method else cur.execute(methods_sql, params).fetchall()
    probes = (
        cur.execute(
            probes_sql, params[: len(params) - (query.max_per_probe is not None)]
        ).fetchall()
        if query.with_probes
        else []
    )
    return assemble_cells(query, totals, per_method, probes)
