"""Researcher reads of the raw measurement summaries: keyset search and the aggregation API.

Runs on a DuckDB cursor handed in by `duckdb.DuckDBStorage`; filters become SQL through
`collector.storage.sql` (values always as parameters).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import duckdb

from collector.storage.base import (
    AggregationQuery,
    AggregationRow,
    Axis,
    Cursor,
    Filters,
    MeasurementSummary,
)
from collector.storage.sql import AXIS_SQL, PENDING, axis_text, where

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
    return [_summary(row) for row in rows]


def _summary(row: tuple[Any, ...]) -> MeasurementSummary:
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
    cells: dict[tuple[object, object], dict[str, float]] = {}
    for gx, gy, verdict, weight, confirmed in totals:
        cell = cells.setdefault((gx, gy), {})
        key = PENDING if verdict is None else str(verdict)
        cell[key] = cell.get(key, 0.0) + float(weight)
        cell["#confirmed"] = cell.get("#confirmed", 0.0) + float(confirmed)
    methods: dict[tuple[object, object], dict[str, int]] = {}
    for gx, gy, method, weight in per_method:
        methods.setdefault((gx, gy), {})[str(method)] = round(float(weight))
    distinct = {(gx, gy): int(n) for gx, gy, n in probes}
    out: list[AggregationRow] = []
    for (gx, gy), cell in sorted(cells.items(), key=lambda item: _order(item[0])):
        total = sum(v for k, v in cell.items() if not k.startswith("#"))
        found = methods.get((gx, gy), {})
        if by_method:
            method_value = gx if query.axis_x is Axis.METHOD else gy
            found = {str(method_value): round(total)}
        out.append(
            AggregationRow(
                x=axis_text(query.axis_x, gx),
                y=None if query.axis_y is None else axis_text(query.axis_y, gy),
                measurements=round(total),
                ok=round(cell.get("ok", 0.0)),
                blocked=round(cell.get("blocked", 0.0)),
                down=round(cell.get("down", 0.0)),
                inconclusive=round(cell.get("inconclusive", 0.0)),
                pending=round(cell.get(PENDING, 0.0)),
                confirmed=round(cell.get("#confirmed", 0.0)),
                probes=distinct.get((gx, gy)) if query.with_probes else None,
                methods=dict(sorted(found.items())),
            )
        )
    return out


def _order(key: tuple[object, object]) -> tuple[tuple[bool, str], tuple[bool, str]]:
    """Sort key of a cell: by x then y, natively typed values compared as text after None."""
    x, y = key
    return (x is None, "" if x is None else _sortable(x)), (
        y is None,
        "" if y is None else _sortable(y),
    )


def _sortable(value: object) -> str:
    if isinstance(value, int):
        return f"{value:020d}"
    return value.isoformat() if hasattr(value, "isoformat") else str(value)
