"""SQL fragments for the DuckDB store: filters as a WHERE clause, axes as expressions.

Pure: returns text and parameters, runs nothing. Values always travel as parameters, never in
the SQL text; only names from closed sets (axes, columns) are spliced in.
"""

from __future__ import annotations

from datetime import UTC, datetime

from collector.storage.base import Axis, Cursor, Filters

PENDING = "pending"
HAS_RAW = "octet_length(raw) > 0"
"""Rows whose accepted bytes are still stored (the raw retention empties them)."""


def naive_utc(moment: datetime) -> datetime:
    """Return `moment` as a naive UTC datetime (how TIMESTAMP columns hold time)."""
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)


def _in(column: str, values: tuple[object, ...], params: list[object]) -> str:
    params.extend(values)
    return f"{column} IN ({', '.join('?' for _ in values)})"


def where(filters: Filters, cursor: Cursor | None = None) -> tuple[str, list[object]]:
    """Return a WHERE clause ("TRUE" when unfiltered) and its parameters, in order."""
    parts: list[str] = []
    params: list[object] = []
    if filters.country:
        parts.append(_in("probe_cc", filters.country, params))
    if filters.asn:
        parts.append(_in("probe_asn", filters.asn, params))
    if filters.domain:
        parts.append(_in("domain", filters.domain, params))
    if filters.input is not None:
        parts.append("input = ?")
        params.append(filters.input)
    if filters.category:
        parts.append(_in("category_code", filters.category, params))
    if filters.verdict:
        named = tuple(v for v in filters.verdict if v != PENDING)
        alternatives = [_in("verdict", named, params)] if named else []
        if PENDING in filters.verdict:
            alternatives.append("verdict IS NULL")
        parts.append("(" + " OR ".join(alternatives) + ")")
    if filters.method:
        parts.append("list_has_any(methods, ?::VARCHAR[])")
        params.append(list(filters.method))
    if filters.since is not None:
        parts.append("start_time >= ?")
        params.append(naive_utc(filters.since))
    if filters.until is not None:
        parts.append("start_time < ?")
        params.append(naive_utc(filters.until))
    if filters.software_name is not None:
        parts.append("software_name = ?")
        params.append(filters.software_name)
    if filters.software_version is not None:
        parts.append("software_version = ?")
        params.append(filters.software_version)
    if filters.confirmed is not None:
        parts.append("coalesce(fingerprint_confirmed, false) = ?")
        params.append(filters.confirmed)
    if filters.geo_mismatch is not None:
        parts.append("coalesce(geo_mismatch, false) = ?")
        params.append(filters.geo_mismatch)
    if filters.origin is not None:
        parts.append("coalesce(origin, 'crenel') = ?")
        params.append(filters.origin)
    if cursor is not None:
        parts.append("(start_time < ? OR (start_time = ? AND uid < ?::UUID))")
        moment = naive_utc(cursor.start_time)
        params.extend([moment, moment, cursor.uid])
    return (" AND ".join(parts) or "TRUE"), params


AXIS_SQL: dict[Axis, str] = {
    Axis.DAY: "day",
    Axis.WEEK: "CAST(date_trunc('week', day) AS DATE)",
    Axis.COUNTRY: "probe_cc",
    Axis.ASN: "probe_asn",
    Axis.DOMAIN: "domain",
    Axis.CATEGORY: "coalesce(category_code, '')",
    Axis.METHOD: "method",
    Axis.VERDICT: f"coalesce(verdict, '{PENDING}')",
}
"""The expression each axis groups by (`method` is a column of the unnested base)."""


def axis_text(axis: Axis, value: object) -> str:
    """Return a grouped value as the API shows it (AS-prefixed ASNs, ISO dates)."""
    if axis is Axis.ASN:
        return f"AS{value}"
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    return "" if value is None else str(value)
