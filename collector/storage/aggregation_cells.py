"""The cells of an aggregation, assembled from a backend's grouped rows: counts per verdict,
methods and distinct probes per (x, y), in the API's order and text.

Backend-neutral and pure: DuckDB's `search.aggregate` and PostgreSQL's `postgres.queries` run
their own SQL and hand the rows here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from collector.storage.base import AggregationQuery, AggregationRow, Axis
from collector.storage.sql import PENDING, axis_text


def assemble_cells(
    query: AggregationQuery,
    totals: Sequence[Sequence[Any]],
    per_method: Sequence[Sequence[Any]],
    probes: Sequence[Sequence[Any]],
) -> list[AggregationRow]:
    """Return the aggregation's rows, ordered by x then y, from (x, y, verdict, weight,
    confirmed weight) totals, (x, y, method, weight) rows and (x, y, distinct probes) rows."""
    by_method = Axis.METHOD in (query.axis_x, query.axis_y)
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
