"""The DuckDB report queries: rollups in, per-(domain, network) weighted counts and daily shares
out, as `report_records`.

Reads only the rollup tables (never the raw measurements), except for the few sample rows a
domain page links to. Runs on a DuckDB cursor handed in by `duckdb.DuckDBStorage`.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

import duckdb
import numpy as np

from collector.regional.columns import WEIGHT_DIGITS, Ints
from collector.regional.model import ModelSettings, NetworkCounts, SparseNetworks
from collector.storage import window_rollups
from collector.storage.report_records import (
    NETWORK_DAY_SETTINGS,
    CountryNetwork,
    CountrySummary,
    NetworkTable,
    ReportQuery,
    ReportTable,
    Sample,
    fingerprint_names,
    network_counts,
    parse_methods,
    reads_network_day,
)


def _filters(
    query: ReportQuery,
    params: list[object],
    *,
    category: bool = True,
    region: bool = True,
    days: bool = True,
) -> str:
    parts = ["probe_cc = ?"]
    params.append(query.cc)
    if days:
        parts += ["day >= ?", "day <= ?"]
        params += [query.since, query.until]
    if query.asn is not None:
        parts.append("probe_asn = ?")
        params.append(query.asn)
    if region and query.region is not None:
        parts.append("region = ?")
        params.append(query.region)
    if category and query.category is not None:
        parts.append("category_code = ?")
        params.append(query.category)
    if query.domain is not None:
        parts.append("domain = ?")
        params.append(query.domain)
    if query.origin is not None:
        parts.append("origin = ?")
        params.append(query.origin)
    return " AND ".join(parts)


_PER_PROBE = """
    SELECT {group}, uploader, probe_key,
           sum(blocked) AS b, sum(blocked_no_control) AS bn, sum(ok) AS o, sum(down) AS d,
           sum(inconclusive) AS i, sum(confirmed) AS c, sum(packet_confirmed) AS pc
    FROM rollup_probe_day WHERE {where} AND (? OR NOT contradicted)
    GROUP BY {group}, uploader, probe_key
"""
"""One row per (uploader network, probe) and group. Measurements whose claimed network
contradicts their source are left out unless the settings count them
(`ModelSettings.count_contradicted`, the first parameter after the filters)."""

_WEIGHED = """
    SELECT p.*, least(1.0, ? / nullif(b + bn + o, 0)) * coalesce(u.uw, 1.0) AS w
    FROM per_probe p LEFT JOIN (
        SELECT {scope}, uploader,
               least(1.0, ? / nullif(sum(least(b + bn + o, ?)::DECIMAL(38, 18)), 0)::DOUBLE) AS uw
        FROM per_probe WHERE uploader <> '' GROUP BY {scope}, uploader
    ) u USING ({scope}, uploader)
"""
"""Each probe's weight per informative measurement: its own cap (`probe_weight_cap` over its
informative measurements) times its uploader network's (`uploader_weight_cap` over the capped
weight of all its probes in all the networks it claims in `scope`). A probe uploaded from a
trusted or unknown source (uploader '') is its own unit (`regional.ProbeCounts.unit`): only its
probe cap applies. Parameters: the probe cap, the uploader cap, the probe cap."""

EXACT = "DECIMAL(38, 18)"
"""The type weighted counts are summed in: a sum of DECIMALs is exact, so it does not depend on
the order DuckDB's threads add the rows in (a DOUBLE sum does, in its last bits, and the
model rounds weighted counts to whole ones: a count of 6.5 then came out 6 or 7 by the order
of the rows, and the same stored data gave different reports)."""

DIGITS = WEIGHT_DIGITS
"""Weighted sums are rounded to this many decimals: below float noise's reach, so a count that
is a whole half (6.5) stays one and the model's rounding half to even decides it
(`columns.posterior_above`), not the last bits of each probe's weight."""

_PER_NETWORK = f"""
    SELECT {{group}}, bw, ow, informative, own + coalesce(u.uploaders, 0) AS ip, probes,
           blocked, ok, down, inconclusive, confirmed, packet_confirmed
    FROM (
        SELECT {{group}},
               round(coalesce(sum(((b + bn * ?) * w)::{EXACT}), 0), {DIGITS}) AS bw,
               round(coalesce(sum((o * w)::{EXACT}), 0), {DIGITS}) AS ow,
               sum(b + bn + o)::BIGINT AS informative,
               count(*) FILTER (WHERE uploader = '' AND b + bn + o > 0) AS own,
               count(*) AS probes,
               sum(b + bn)::BIGINT AS blocked, sum(o)::BIGINT AS ok, sum(d)::BIGINT AS down,
               sum(i)::BIGINT AS inconclusive, sum(c)::BIGINT AS confirmed,
               sum(pc)::BIGINT AS packet_confirmed
        FROM ({_WEIGHED}) GROUP BY {{group}}
    ) LEFT JOIN (
        SELECT {{group}}, count(*) AS uploaders
        FROM (SELECT DISTINCT {{group}}, uploader FROM per_probe
              WHERE uploader <> '' AND b + bn + o > 0)
        GROUP BY {{group}}
    ) u USING ({{group}})
"""
"""Each network's weighted counts from `_PER_PROBE` (weights `_WEIGHED`); `ip` counts the
independent uploaders with informative measurements: uploader networks, and probes of trusted
or unknown sources (uploader ''), so `min_probes` is a minimum of independent uploaders, not
of self-chosen probe ids. The uploader networks are counted apart from the sums (a
`count(DISTINCT)` beside them costs DuckDB a second aggregation of every probe row, 50–75 % of
this query). Parameters: the no-control weight, then `_WEIGHED`'s. Sums are cast back to
BIGINT (DuckDB widens them to 128 bits, which Python converts slowly)."""

_PER_PROBE_IN_WINDOW = """
    SELECT domain, probe_asn, uploader, probe_key, blocked AS b, blocked_no_control AS bn,
           ok AS o, down AS d, inconclusive AS i, confirmed AS c, packet_confirmed AS pc
    FROM rollup_probe_window WHERE {where} AND NOT contradicted
"""
"""`_PER_PROBE` over the rolling window, read as summed (`window_rollups`): one row per probe
and group once contradicted claims are left out."""

_PER_PROBE_IN_WINDOW_CONTRADICTED = """
    SELECT domain, probe_asn, uploader, probe_key,
           sum(blocked) AS b, sum(blocked_no_control) AS bn, sum(ok) AS o, sum(down) AS d,
           sum(inconclusive) AS i, sum(confirmed) AS c, sum(packet_confirmed) AS pc
    FROM rollup_probe_window WHERE {where}
    GROUP BY domain, probe_asn, uploader, probe_key
"""
"""The same when contradicted claims count (`ModelSettings.count_contradicted`)."""


def _per_probe(
    con: duckdb.DuckDBPyConnection, query: ReportQuery, settings: ModelSettings
) -> tuple[str, list[object]]:
    """Return the SQL of a report's per-probe rows by domain and network, and its parameters:
    from the rolling-window rollup when it sums the query's window and the query filters only
    on what it keeps, else from `rollup_probe_day`."""
    params: list[object] = []
    if (
        query.region is None
        and query.category is None
        and query.origin is None
        and window_rollups.span(con) == (query.since, query.until)
    ):
        where = _filters(query, params, days=False)  # the window's days; no region nor category
        sql = (
            _PER_PROBE_IN_WINDOW_CONTRADICTED
            if settings.count_contradicted
            else _PER_PROBE_IN_WINDOW
        )
        return sql.format(where=where), params
    where = _filters(query, params)
    params.append(settings.count_contradicted)
    return _PER_PROBE.format(group="domain, probe_asn", where=where), params


_METHODS = """
methods AS (
    SELECT domain, probe_asn, string_agg(method || '=' || n, ';') AS methods
    FROM (SELECT domain, probe_asn, method, sum(count)::BIGINT AS n FROM rollup_methods
          WHERE {method_where} GROUP BY ALL HAVING sum(count) > 0)
    GROUP BY ALL
),
marked AS (
    SELECT *, CASE WHEN informative >= ? AND ip >= ? THEN probe_asn END AS decided_asn
    FROM per_network LEFT JOIN methods USING (domain, probe_asn)
)"""

_NO_METHODS = """
marked AS (
    SELECT *, CASE WHEN informative >= ? AND ip >= ? THEN probe_asn END AS decided_asn,
           NULL::VARCHAR AS methods
    FROM per_network
)"""


def _domain_rows_sql(by: str, *, methods: bool = True) -> str:
    """Return the per-(domain, network) query of a window (`by` = '', with each network's
    methods unless `methods` is False) or of each of its days (`by` = 'day, ': caps, thresholds
    and sums per day; neither methods nor the summed row of networks too small to decide, which
    daily verdicts do not use)."""
    marked = _METHODS if methods and not by else _NO_METHODS
    return f"""
WITH per_probe AS MATERIALIZED ({{per_probe}}),
per_network AS ({_PER_NETWORK.format(group=by + "domain, probe_asn", scope=by + "domain")}),
{marked}
SELECT {by}domain, decided_asn, sum(bw)::DOUBLE AS bw, sum(ow)::DOUBLE AS ow,
       sum(informative)::BIGINT AS informative, sum(ip)::BIGINT AS ip,
       sum(probes)::BIGINT AS probes, sum(blocked)::BIGINT AS blocked, sum(ok)::BIGINT AS ok,
       sum(down)::BIGINT AS down, sum(inconclusive)::BIGINT AS inconclusive,
       sum(confirmed)::BIGINT AS confirmed, sum(packet_confirmed)::BIGINT AS packet_confirmed,
       count(*) AS networks, string_agg(methods, ';') AS methods
FROM marked {"WHERE decided_asn IS NOT NULL" if by else ""} GROUP BY {by}domain, decided_asn
ORDER BY {by}domain, decided_asn NULLS LAST
"""


_DOMAIN_ROWS = _domain_rows_sql("")
"""Per domain: each network with enough data to decide, and one summed row (AS NULL) for those
without; `networks` counts a row's networks, `methods` lists `method=count` pairs (';'-joined,
a method repeated once per network in the summed row)."""

_VERDICT_ROWS = _domain_rows_sql("", methods=False)
"""`_DOMAIN_ROWS` without methods (`methods` NULL): what verdicts need."""

_DAILY_DOMAIN_ROWS = _domain_rows_sql("day, ")
"""`_DOMAIN_ROWS` for each day of the window at once, without methods or summed rows."""


def _literal(value: object) -> str:
    """Return `value` as a SQL literal of the type DuckDB gives it as a parameter."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"CAST({value!r} AS DOUBLE)"
    if isinstance(value, int):
        return str(value)
    raise TypeError(f"no literal for {value!r}")


def daily_rows_sql(by: str, where: str) -> str:
    """Return `_DAILY_DOMAIN_ROWS` grouped by `by` ('day, ' or 'day, probe_cc, ') over the
    `rollup_probe_day` rows `where` (no parameters) selects, with `NETWORK_DAY_SETTINGS` as
    literals: the query `network_day_rollups` keeps the result of."""
    settings = NETWORK_DAY_SETTINGS
    per_probe = _PER_PROBE.format(group=by + "domain, probe_asn", where=where)
    sql = _domain_rows_sql(by).format(per_probe=per_probe, method_where="")
    values = [
        settings.count_contradicted,
        *_weights(settings),
        settings.min_measurements,
        settings.min_probes,
    ]
    pieces = sql.split("?")
    assert len(pieces) == len(values) + 1, "one value per parameter"
    return pieces[0] + "".join(
        _literal(v) + rest for v, rest in zip(values, pieces[1:], strict=True)
    )


_NETWORK_DAY_ROWS = """
SELECT day, domain, probe_asn AS decided_asn, bw, ow, informative, ip, probes, blocked, ok,
       down, inconclusive, confirmed, packet_confirmed, 1::BIGINT AS networks
FROM rollup_network_day WHERE probe_cc = ? AND day >= ? AND day <= ?
ORDER BY day, domain, probe_asn
"""
"""`_DAILY_DOMAIN_ROWS`'s rows of a whole country, as `network_day_rollups` keeps them (no
`methods` column: the daily rows have none)."""


_CATEGORIES = """
SELECT domain, any_value(category_code) FROM rollup_probe_day
WHERE {where} AND category_code IS NOT NULL GROUP BY domain
"""


def _caps(settings: ModelSettings) -> list[object]:
    cap = settings.probe_weight_cap
    return [cap, settings.uploader_weight_cap, cap]


def _weights(settings: ModelSettings) -> list[object]:
    return [settings.no_control_weight, *_caps(settings)]


_methods = parse_methods


def _fetch_rows(
    con: duckdb.DuckDBPyConnection,
    sql: str,
    query: ReportQuery,
    settings: ModelSettings,
    *,
    daily: bool = False,
    details: bool = True,
) -> tuple[dict[str, Any], dict[str, str]]:
    """Return the columns of `sql` for the query, and each domain's category unless `details`
    is False (then none)."""
    params: list[object] = []
    where = _filters(query, params)
    method_params: list[object] = []
    method_where = "" if daily or not details else _filters(query, method_params, category=False)
    thresholds = (
        [0, 0] if query.domain is not None else [settings.min_measurements, settings.min_probes]
    )
    # One snapshot: the window's span and its sums are read as of the same moment.
    con.execute("BEGIN TRANSACTION")
    try:
        if daily:  # the rolling window keeps no days: per day from the day rollup
            per_probe = _PER_PROBE.format(group="day, domain, probe_asn", where=where)
            per_probe_params = [*params, settings.count_contradicted]
        else:
            per_probe, per_probe_params = _per_probe(con, query, settings)
        rows = con.execute(
            sql.format(per_probe=per_probe, method_where=method_where),
            [*per_probe_params, *_weights(settings), *method_params, *thresholds],
        ).fetchnumpy()
    finally:
        con.execute("ROLLBACK")
    if not details:
        return rows, {}
    categories: dict[str, str] = dict(
        con.execute(_CATEGORIES.format(where=where), params).fetchall()
    )
    return rows, categories


def _table(rows: dict[str, Any], categories: dict[str, str]) -> ReportTable:
    """Return the `ReportTable` of `_DOMAIN_ROWS`'s columns (without a `methods` column, every
    network's methods are empty)."""
    domains, group = np.unique(rows["domain"].astype(str), return_inverse=True)
    names = domains.tolist()
    asn_column = rows["decided_asn"]
    listed = ~np.ma.getmaskarray(asn_column)
    summed = np.flatnonzero(~listed)
    methods = rows.get("methods")
    summed_methods = [None] * len(summed) if methods is None else methods[summed].tolist()
    values = [
        np.ma.getdata(rows[name])[summed].astype(np.int64).tolist()
        for name in ("networks", "blocked", "ok", "down", "inconclusive", "probes", "confirmed",
                     "packet_confirmed")
    ]  # fmt: skip
    sparse: dict[str, SparseNetworks] = {}
    for g, text, networks, blocked, ok, down, inconclusive, probes, confirmed, packet in zip(
        group[summed].tolist(), summed_methods, *values, strict=True
    ):
        sparse[names[g]] = SparseNetworks(
            networks=networks,
            measurements=blocked + ok + down + inconclusive,
            probes=probes,
            confirmed=confirmed,
            packet_confirmed=packet,
            methods=_methods(text),
        )

    def column(name: str) -> Ints:
        return np.asarray(rows[name][listed], dtype=np.int64)

    return ReportTable(
        domains=names,
        categories={d: categories[d] for d in names if d in categories},
        networks=NetworkTable(
            group=group[listed].astype(np.int64),
            asn=np.ma.getdata(asn_column)[listed].astype(np.int64),
            blocked_w=np.asarray(rows["bw"][listed], dtype=np.float64),
            ok_w=np.asarray(rows["ow"][listed], dtype=np.float64),
            informative=column("informative"),
            informative_probes=column("ip"),
            probes=column("probes"),
            blocked=column("blocked"),
            ok=column("ok"),
            down=column("down"),
            inconclusive=column("inconclusive"),
            confirmed=column("confirmed"),
            packet_confirmed=column("packet_confirmed"),
            methods=[{} for _ in range(int(listed.sum()))]
            if methods is None
            else [_methods(m) if m else {} for m in methods[listed].tolist()],
        ),
        sparse=sparse,
    )


def domain_rows(
    con: duckdb.DuckDBPyConnection,
    query: ReportQuery,
    settings: ModelSettings,
    *,
    details: bool = True,
) -> ReportTable:
    """Return every domain of the report with its decidable networks' weighted counts and the
    sum of the rest; a one-domain query lists every network. Network names are left to
    `networks`; methods and categories to `details` (empty without)."""
    sql = _DOMAIN_ROWS if details else _VERDICT_ROWS
    return _table(*_fetch_rows(con, sql, query, settings, details=details))


def daily_domain_rows(
    con: duckdb.DuckDBPyConnection, query: ReportQuery, settings: ModelSettings
) -> dict[date, ReportTable]:
    """Return `domain_rows` of each day of the window, in one query, without methods,
    categories and without the networks too small to decide that day (a country query's
    summed row): each probe's and uploader network's weight capped per day. A one-domain query
    lists every network, as `domain_rows` does. A whole country's rows under the default
    settings come from `rollup_network_day`."""
    if reads_network_day(query, settings):
        rows: dict[str, Any] = con.execute(
            _NETWORK_DAY_ROWS, [query.cc, query.since, query.until]
        ).fetchnumpy()
        categories: dict[str, str] = {}
    else:
        rows, categories = _fetch_rows(
            con, _DAILY_DOMAIN_ROWS, query, settings, daily=True, details=False
        )
    days = np.asarray(rows["day"]).astype("datetime64[D]")
    if not len(days):
        return {}
    order = np.argsort(days, kind="stable")
    ordered = {name: column[order] for name, column in rows.items()}
    firsts, starts = np.unique(days[order], return_index=True)
    ends = [*starts[1:].tolist(), len(order)]
    return {
        day.item(): _table({name: c[start:end] for name, c in ordered.items()}, categories)
        for day, start, end in zip(firsts, starts.tolist(), ends, strict=True)
    }


def networks(con: duckdb.DuckDBPyConnection, query: ReportQuery) -> list[CountryNetwork]:
    """Return every network of the report's window with its measurement count."""
    params: list[object] = []
    where = _filters(query, params)
    rows: list[Any] = con.execute(
        "SELECT probe_asn, any_value(network_name) FILTER (WHERE network_name IS NOT NULL), "
        "sum(blocked + blocked_no_control + ok + down + inconclusive)::BIGINT "
        f"FROM rollup_probe_day WHERE {where} GROUP BY probe_asn ORDER BY probe_asn",
        params,
    ).fetchall()
    return [CountryNetwork(asn=int(a), name=n, measurements=int(m)) for a, n, m in rows]


_PER_UPLOADER = """
    SELECT *, CASE WHEN uploader = '' THEN 1.0
                   ELSE least(1.0, ? / nullif(b + bn + o, 0)) END AS w
    FROM (
        SELECT {group}, uploader, sum(blocked) AS b, sum(blocked_no_control) AS bn, sum(ok) AS o
        FROM {table} WHERE {where} AND (? OR NOT contradicted)
        GROUP BY {group}, uploader
    )
"""
"""Pooled counts per uploader network and group, for the cells that pool a whole country (the
baseline's other countries, the daily series): each uploader network's weight capped at
`uploader_weight_cap`; measurements of trusted or unknown sources (uploader '') count plainly,
as every measurement did before uploader networks. Read from `{table}`: the pooled rollup
(`pooled_rollups`), or the per-probe one when the filters need its network or region.
Parameters: the uploader cap, after the filters' and `count_contradicted`."""

_POOLED_TABLE = "rollup_uploader_day"


def _pooled_table(query: ReportQuery) -> str:
    """Return the rollup that holds every column the query filters on: the pooled one unless
    it filters by network, region or category."""
    narrowed = query.asn is not None or query.region is not None or query.category is not None
    return "rollup_probe_day" if narrowed else _POOLED_TABLE


_POOLED = f"""
    SELECT {{group}}, round(sum((b * w)::{EXACT}), {DIGITS})::DOUBLE AS bw,
           round(sum((o * w)::{EXACT}), {DIGITS})::DOUBLE AS ow
    FROM ({{per_uploader}}) GROUP BY {{group}}
    HAVING bool_or(uploader = '' AND b + bn + o > 0)
        OR count(*) FILTER (WHERE uploader <> '' AND b + bn + o > 0) >= ?
"""
"""A pooled cell's weighted blocked (control fine) and ok counts, for cells with measurements
of trusted or unknown sources or from at least `min_probes` uploader networks (one uploader
alone never makes a cell)."""

_BASELINES = f"""
SELECT domain, median(bw / (bw + ow)) FROM ({_POOLED}) WHERE bw + ow >= ?
GROUP BY domain HAVING count(*) >= ?
"""
"""Each other country's weighted blocked share of a domain, where it has enough data, and their
median where enough countries have one."""


_BY_COUNTRY = "domain, probe_cc"


def _pooled_by_country(
    con: duckdb.DuckDBPyConnection, query: ReportQuery, *, other_than: str | None
) -> tuple[str, list[object]]:
    """Return the per-uploader pooled rows by domain and country of the query's window (every
    country but `other_than`, when given) and their parameters: from the window's rollup when
    it sums that window, else from the pooled day rollup (inside the caller's snapshot)."""
    params: list[object] = []
    parts = [] if other_than is None else ["probe_cc <> ?"]
    if other_than is not None:
        params.append(other_than)
    if query.origin is None and window_rollups.span(con) == (query.since, query.until):
        table = "rollup_uploader_window"
    else:
        table = _POOLED_TABLE
        parts.append("day >= ? AND day <= ?")
        params += [query.since, query.until]
    if query.domain is not None:
        parts.append("domain = ?")
        params.append(query.domain)
    if query.origin is not None:
        parts.append("origin = ?")
        params.append(query.origin)
    where = " AND ".join(parts) or "true"
    return _PER_UPLOADER.format(group=_BY_COUNTRY, where=where, table=table), params


def baselines(
    con: duckdb.DuckDBPyConnection, query: ReportQuery, settings: ModelSettings
) -> dict[str, float]:
    """Return, per domain (or the query's one domain), its noise baseline: the median of its
    blocked shares in the other countries with at least `min_measurements` blocked and ok
    measurements in the window, when at least `baseline_countries` have them
    (`collector.regional.model.noise_baseline`, in SQL).

    Each uploader network weighs at most `uploader_weight_cap` in a country, and a country
    whose data comes from fewer than `min_probes` uploader networks (and no trusted source) has
    no share: one uploader cannot make a country of its own."""
    # One snapshot: the window's span and its sums are read as of the same moment.
    con.execute("BEGIN TRANSACTION")
    try:
        pooled, params = _pooled_by_country(con, query, other_than=query.cc)
        rows: list[Any] = con.execute(
            _BASELINES.format(group=_BY_COUNTRY, per_uploader=pooled),
            [
                settings.uploader_weight_cap,
                *params,
                settings.count_contradicted,
                settings.min_probes,
                settings.min_measurements,
                settings.baseline_countries,
            ],
        ).fetchall()
    finally:
        con.execute("ROLLBACK")
    return {domain: float(share) for domain, share in rows}


_BASELINES_OF = f"""
SELECT target, domain, median(bw / (bw + ow))
FROM ({_POOLED}), (SELECT unnest(?::VARCHAR[]) AS target)
WHERE bw + ow >= ? AND probe_cc <> target
GROUP BY target, domain HAVING count(*) >= ?
"""
"""`_BASELINES` of several countries at once: every country's pooled share computed once, each
target's median over the others'."""


def baselines_of(
    con: duckdb.DuckDBPyConnection, queries: Sequence[ReportQuery], settings: ModelSettings
) -> list[dict[str, float]]:
    """Return `baselines` of each query: in one query when they differ only by country (the
    overview's), else one by one."""
    first = queries[0] if queries else None
    if first is None or any(
        (q.since, q.until, q.domain, q.origin)
        != (first.since, first.until, first.domain, first.origin)
        for q in queries
    ):
        return [baselines(con, query, settings) for query in queries]
    targets = [q.cc for q in queries]
    # One snapshot: the window's span and its sums are read as of the same moment.
    con.execute("BEGIN TRANSACTION")
    try:
        pooled, params = _pooled_by_country(con, first, other_than=None)
        rows: list[Any] = con.execute(
            _BASELINES_OF.format(group=_BY_COUNTRY, per_uploader=pooled),
            [
                settings.uploader_weight_cap,
                *params,
                settings.count_contradicted,
                settings.min_probes,
                targets,
                settings.min_measurements,
                settings.baseline_countries,
            ],
        ).fetchall()
    finally:
        con.execute("ROLLBACK")
    found: dict[str, dict[str, float]] = {cc: {} for cc in targets}
    for target, domain, share in rows:
        found[target][domain] = float(share)
    return [found[cc] for cc in targets]


_DAILY = f"""
SELECT domain, day, bw, ow FROM ({_POOLED}) ORDER BY day
"""
"""Each domain's pooled weighted blocked (control fine) and ok counts per day."""


def daily_shares(
    con: duckdb.DuckDBPyConnection,
    query: ReportQuery,
    settings: ModelSettings,
    domains: Sequence[str] | None = None,
) -> dict[str, list[tuple[date, float, float]]]:
    """Return, per domain (only `domains`, when given), (day, blocked, ok) for every day of the
    window with data: pooled over the country (network, region, category), each uploader
    network capped at `uploader_weight_cap`, contradicted claims left out unless counted, days
    with fewer than `min_probes` uploader networks (and no trusted source) left out. Blocked
    counts only measurements whose control worked."""
    params: list[object] = []
    where = _filters(query, params)
    if domains is not None:
        where += " AND list_contains(?, domain)"
        params.append(list(domains))
    out: defaultdict[str, list[tuple[date, float, float]]] = defaultdict(list)
    group = "domain, day"
    pooled = _PER_UPLOADER.format(group=group, where=where, table=_pooled_table(query))
    rows: list[Any] = con.execute(
        _DAILY.format(group=group, per_uploader=pooled),
        [
            settings.uploader_weight_cap,
            *params,
            settings.count_contradicted,
            settings.min_probes,
        ],
    ).fetchall()
    for domain, day, blocked, ok in rows:
        out[domain].append((day, float(blocked), float(ok)))
    return dict(out)


def daily_networks(
    con: duckdb.DuckDBPyConnection, query: ReportQuery, settings: ModelSettings
) -> dict[date, list[NetworkCounts]]:
    """Return one domain's weighted counts per day and network (for its timeline)."""
    params: list[object] = []
    where = _filters(query, params)
    per_probe = _PER_PROBE.format(group="day, probe_asn", where=where)
    sql = (
        f"WITH per_probe AS MATERIALIZED ({per_probe}) "
        + _PER_NETWORK.format(group="day, probe_asn", scope="day")
        + " ORDER BY day, probe_asn"
    )
    out: defaultdict[date, list[NetworkCounts]] = defaultdict(list)
    rows: list[Any] = con.execute(
        sql, [*params, settings.count_contradicted, *_weights(settings)]
    ).fetchall()
    for day, *values in rows:
        out[day].append(network_counts(values, {}))
    return dict(sorted(out.items()))


def countries(
    con: duckdb.DuckDBPyConnection, since: date, until: date, origin: str | None = None
) -> list[CountrySummary]:
    """Return every country with measurements in the window (of one origin, when given)."""
    by_origin = "" if origin is None else " AND origin = ?"
    rows = con.execute(
        "SELECT probe_cc, count(DISTINCT domain), count(DISTINCT probe_asn), "
        "sum(blocked + blocked_no_control + ok + down + inconclusive)::BIGINT, max(day) "
        f"FROM rollup_probe_day WHERE day >= ? AND day <= ?{by_origin} "
        "GROUP BY probe_cc ORDER BY probe_cc",
        [since, until] + ([] if origin is None else [origin]),
    ).fetchall()
    return [
        CountrySummary(
            cc=str(cc), domains=int(d), networks=int(n), measurements=int(m), last_day=last
        )
        for cc, d, n, m, last in rows
    ]


def samples(
    con: duckdb.DuckDBPyConnection, query: ReportQuery, limit: int
) -> tuple[list[Sample], Counter[str]]:
    """Return sample measurements of one domain (blocked first, newest first) and how often
    each blockpage fingerprint matched among the window's confirmed measurements."""
    since = datetime.combine(query.since, datetime.min.time())
    until = datetime.combine(query.until + timedelta(days=1), datetime.min.time())
    params: list[object] = [query.cc, query.domain, since, until]
    extra = ""
    if query.asn is not None:
        extra += " AND probe_asn = ?"
        params.append(query.asn)
    if query.region is not None:
        extra += " AND region = ?"
        params.append(query.region)
    if query.origin is not None:
        extra += " AND coalesce(origin, 'crenel') = ?"
        params.append(query.origin)
    rows = con.execute(
        "SELECT uid::VARCHAR, start_time, probe_asn, verdict, methods FROM measurements "
        f"WHERE probe_cc = ? AND domain = ? AND start_time >= ? AND start_time < ?{extra} "
        "ORDER BY (verdict = 'blocked') DESC, start_time DESC, uid DESC LIMIT ?",
        [*params, limit],
    ).fetchall()
    found = [
        Sample(uid=str(u), start_time=t, asn=int(a), verdict=v, methods=list(m or []))
        for u, t, a, v, m in rows
    ]
    analyses = con.execute(
        "SELECT analysis FROM measurements WHERE probe_cc = ? AND domain = ? AND start_time >= ? "
        f"AND start_time < ?{extra} AND coalesce(fingerprint_confirmed, false) LIMIT 500",
        params,
    ).fetchall()
    return found, fingerprint_names(a for (a,) in analyses)
