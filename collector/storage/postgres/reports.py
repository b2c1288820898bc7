"""The report reads of the rollups in PostgreSQL's dialect: per-(domain, network) weighted
counts, networks, baselines, daily series, countries and samples, as `report_records`.

The same arithmetic as the DuckDB backend's `storage.reports` (each probe capped at
`probe_weight_cap` informative measurements, each uploader network at `uploader_weight_cap`,
measurements without a working control weighed `no_control_weight`), written for PostgreSQL 15:
every subquery named, no `GROUP BY ALL`, `percentile_cont` for the median, sums cast back from
NUMERIC; the weighted counts summed as NUMERIC and rounded to 9 decimals, as `storage.reports`
sums them exactly (`EXACT`): no report depends on the order rows are added in. Reads only the
rollups, except for a domain's few sample rows: the default window's per-probe and
per-uploader sums (`derived_rollups`) when they sum the query's window, the pooled rollup for
cells that pool a whole country.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
import psycopg

from collector.regional.columns import WEIGHT_DIGITS
from collector.regional.model import ModelSettings, NetworkCounts, SparseNetworks
from collector.storage.postgres import derived_rollups
from collector.storage.report_records import (
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
    weighs_as_network_rollups,
)

Con = psycopg.Connection[tuple[Any, ...]]


def _filters(
    query: ReportQuery,
    params: list[object],
    *,
    category: bool = True,
    region: bool = True,
    days: bool = True,
) -> str:
    parts = ["probe_cc = %s"]
    params.append(query.cc)
    if days:
        parts += ["day >= %s", "day <= %s"]
        params += [query.since, query.until]
    optional: list[tuple[str, object]] = [("probe_asn", query.asn)]
    if region:
        optional.append(("region", query.region))
    if category:
        optional.append(("category_code", query.category))
    optional += [("domain", query.domain), ("origin", query.origin)]
    for column, value in optional:
        if value is not None:
            parts.append(f"{column} = %s")
            params.append(value)
    return " AND ".join(parts)


_PER_PROBE = """
    SELECT {group}, uploader, probe_key,
           sum(blocked)::INT AS b, sum(blocked_no_control)::INT AS bn, sum(ok)::INT AS o,
           sum(down)::INT AS d, sum(inconclusive)::INT AS i, sum(confirmed)::INT AS c,
           sum(packet_confirmed)::INT AS pc
    FROM rollup_probe_day WHERE {where} AND (%s OR NOT contradicted)
    GROUP BY {group}, uploader, probe_key
"""

PER_PROBE_IN_WINDOW = """
    SELECT {columns}, uploader, probe_key, blocked AS b, blocked_no_control AS bn,
           ok AS o, down AS d, inconclusive AS i, confirmed AS c, packet_confirmed AS pc
    FROM rollup_probe_window WHERE {where} AND NOT contradicted
"""
"""`_PER_PROBE` over the rolling window, read as summed (`derived_rollups`)."""

_PER_PROBE_IN_WINDOW_CONTRADICTED = """
    SELECT domain, probe_asn, uploader, probe_key,
           sum(blocked)::INT AS b, sum(blocked_no_control)::INT AS bn, sum(ok)::INT AS o,
           sum(down)::INT AS d, sum(inconclusive)::INT AS i, sum(confirmed)::INT AS c,
           sum(packet_confirmed)::INT AS pc
    FROM rollup_probe_window WHERE {where}
    GROUP BY domain, probe_asn, uploader, probe_key
"""
"""The same when contradicted claims count (`ModelSettings.count_contradicted`)."""


def _snapshot(con: Con) -> None:
    """Make the open transaction read one snapshot (the window's span and its sums as of the
    same moment); the first statement of the transaction."""
    con.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")


def _in_window(con: Con, query: ReportQuery) -> bool:
    """Return whether the rolling-window rollups sum exactly the query's window and the query
    filters only on what they keep (no region, category nor origin)."""
    return (
        query.region is None
        and query.category is None
        and query.origin is None
        and derived_rollups.span(con) == (query.since, query.until)
    )


def _reads_network_window(con: Con, query: ReportQuery, settings: ModelSettings) -> bool:
    """Return whether the query's window rows are those `network_window` keeps: its window, a
    whole country (or one domain of it) and the settings it was computed with."""
    return query.asn is None and weighs_as_network_rollups(settings) and _in_window(con, query)


def _per_probe(
    con: Con, query: ReportQuery, settings: ModelSettings, group: str
) -> tuple[str, list[object]]:
    """Return the SQL of a report's per-probe rows by `group` and its parameters: from the
    rolling-window rollup when it sums the query's window (`group` by domain and network only),
    else from `rollup_probe_day`."""
    params: list[object] = []
    if group == "domain, probe_asn" and _in_window(con, query):
        where = _filters(query, params, days=False)
        sql = (
            _PER_PROBE_IN_WINDOW_CONTRADICTED
            if settings.count_contradicted
            else PER_PROBE_IN_WINDOW
        )
        return sql.format(where=where, columns=group), params
    where = _filters(query, params)
    params.append(settings.count_contradicted)
    return _PER_PROBE.format(group=group, where=where), params


_WEIGHED = """
    SELECT p.*, least(1.0, %s::FLOAT8 / nullif(b + bn + o, 0)) * coalesce(u.uw, 1.0) AS w
    FROM per_probe p LEFT JOIN (
        SELECT {scope}, uploader,
               least(1.0, %s::FLOAT8
                          / nullif(sum(least(b + bn + o, %s::FLOAT8)::NUMERIC), 0)::FLOAT8) AS uw
        FROM per_probe WHERE uploader <> '' GROUP BY {scope}, uploader
    ) u USING ({scope}, uploader)
"""

PER_NETWORK = f"""
    SELECT {{group}}, bw, ow, informative, own + coalesce(u.uploaders, 0) AS ip, probes,
           blocked, ok, down, inconclusive, confirmed, packet_confirmed
    FROM (
        SELECT {{group}},
               round(coalesce(sum(((b + bn * %s::FLOAT8) * w)::NUMERIC), 0), {WEIGHT_DIGITS}) AS bw,
               round(coalesce(sum((o * w)::NUMERIC), 0), {WEIGHT_DIGITS}) AS ow,
               sum(b + bn + o)::BIGINT AS informative,
               count(*) FILTER (WHERE uploader = '' AND b + bn + o > 0) AS own,
               count(*) AS probes,
               sum(b + bn)::BIGINT AS blocked, sum(o)::BIGINT AS ok, sum(d)::BIGINT AS down,
               sum(i)::BIGINT AS inconclusive, sum(c)::BIGINT AS confirmed,
               sum(pc)::BIGINT AS packet_confirmed
        FROM ({_WEIGHED}) AS weighed GROUP BY {{group}}
    ) AS sums LEFT JOIN (
        SELECT {{group}}, count(*) AS uploaders
        FROM (SELECT DISTINCT {{group}}, uploader FROM per_probe
              WHERE uploader <> '' AND b + bn + o > 0) AS informative_uploaders
        GROUP BY {{group}}
    ) AS u USING ({{group}})
"""
"""Each network's weighted counts (`storage.reports._PER_NETWORK`); `ip` counts the
independent uploaders with informative measurements. The uploader networks are counted apart
from the sums: a `count(DISTINCT)` beside them makes PostgreSQL sort every probe row for one
sorted aggregation instead of hashing them (measured: 0.5 s of a 1.3 s daily query at 10 M)."""

_METHODS = """
methods AS (
    SELECT domain, probe_asn, string_agg(method || '=' || n, ';') AS methods
    FROM (SELECT domain, probe_asn, method, sum(count)::BIGINT AS n FROM rollup_methods
          WHERE {method_where} GROUP BY domain, probe_asn, method HAVING sum(count) > 0) AS m
    GROUP BY domain, probe_asn
),
marked AS (
    SELECT *, CASE WHEN informative >= %s AND ip >= %s THEN probe_asn END AS decided_asn
    FROM per_network LEFT JOIN methods USING (domain, probe_asn)
)"""

_NO_METHODS = """
marked AS (
    SELECT *, CASE WHEN informative >= %s AND ip >= %s THEN probe_asn END AS decided_asn,
           NULL::TEXT AS methods
    FROM per_network
)"""


def _domain_rows_sql(by: str, per_network: str = "") -> str:
    """Return `storage.reports`' per-(domain, network) query of a window (`by` = '') or of
    each of its days (`by` = 'day, ': no methods, no summed row of undecided networks), its
    networks' rows summed by `per_network` (default: from the per-probe rows `{per_probe}`)."""
    marked = _NO_METHODS if by else _METHODS
    per_network = per_network or (
        "per_probe AS MATERIALIZED ({per_probe}),\nper_network AS ("
        + PER_NETWORK.format(group=by + "domain, probe_asn", scope=by + "domain")
        + ")"
    )
    return f"""
WITH {per_network},
{marked}
SELECT {by}domain, decided_asn, sum(bw)::FLOAT8 AS bw, sum(ow)::FLOAT8 AS ow,
       sum(informative)::BIGINT, sum(ip)::BIGINT, sum(probes)::BIGINT, sum(blocked)::BIGINT,
       sum(ok)::BIGINT, sum(down)::BIGINT, sum(inconclusive)::BIGINT, sum(confirmed)::BIGINT,
       sum(packet_confirmed)::BIGINT, count(*) AS networks, string_agg(methods, ';')
FROM marked {"WHERE decided_asn IS NOT NULL" if by else ""}
GROUP BY {by}domain, decided_asn ORDER BY {by}domain, decided_asn
"""


_DOMAIN_ROWS = _domain_rows_sql("")
_DAILY_DOMAIN_ROWS = _domain_rows_sql("day, ")
_NETWORK_WINDOW_ROWS = _domain_rows_sql(
    "",
    "per_network AS (SELECT domain, probe_asn, bw, ow, informative, ip, probes, blocked, ok, "
    "down, inconclusive, confirmed, packet_confirmed FROM rollup_network_window "
    "WHERE {where})",
)
"""`_DOMAIN_ROWS` over the per-network rows `network_window` keeps (`{where}`: the country,
and the domain of a one-domain query)."""


def daily_rows_template(by: str) -> str:
    """Return the daily query grouped by `by` ('day, probe_cc, ' for every country), its
    `{where}` and parameters (as `_fetch_rows` passes them, from `rollup_probe_day`) still to
    fill."""
    per_probe = _PER_PROBE.format(group=by + "domain, probe_asn", where="{where}")
    return _domain_rows_sql(by).replace("{per_probe}", per_probe).replace("{method_where}", "")


_NETWORK_DAY_ROWS = """
SELECT day, domain, probe_asn, bw, ow, informative, ip, probes, blocked, ok, down,
       inconclusive, confirmed, packet_confirmed, 1::BIGINT, NULL::TEXT
FROM rollup_network_day WHERE probe_cc = %s AND day >= %s AND day <= %s
ORDER BY day, domain, probe_asn
"""
"""`_DAILY_DOMAIN_ROWS`' rows of a whole country, as `network_day` keeps them."""


def _weights(settings: ModelSettings) -> list[object]:
    cap = settings.probe_weight_cap
    return [settings.no_control_weight, cap, settings.uploader_weight_cap, cap]


_methods = parse_methods


_CATEGORIES_BY_DAY = """
SELECT domain, min(category_code) FROM rollup_category_day
WHERE probe_cc = %s AND day >= %s AND day <= %s"""
"""Each domain's category over a window of a whole country, from `day_labels`."""


def _fetch_rows(
    con: Con, sql: str, query: ReportQuery, settings: ModelSettings, *, daily: bool = False
) -> tuple[list[tuple[Any, ...]], dict[str, str]]:
    params: list[object] = []
    where = _filters(query, params)
    method_params: list[object] = []
    method_where = "" if daily else _filters(query, method_params, category=False)
    thresholds = (
        [0, 0] if query.domain is not None else [settings.min_measurements, settings.min_probes]
    )
    group = "day, domain, probe_asn" if daily else "domain, probe_asn"
    with con.transaction():
        _snapshot(con)
        if not daily and _reads_network_window(con, query, settings):
            window_params: list[object] = []
            window_where = _filters(query, window_params, days=False)
            rows = con.execute(
                _NETWORK_WINDOW_ROWS.format(where=window_where, method_where=method_where),
                [*window_params, *method_params, *thresholds],
            ).fetchall()
        else:
            per_probe, per_probe_params = _per_probe(con, query, settings, group)
            rows = con.execute(
                sql.format(per_probe=per_probe, method_where=method_where),
                [*per_probe_params, *_weights(settings), *method_params, *thresholds],
            ).fetchall()
    if (
        query.asn is None
        and query.region is None
        and query.category is None
        and (query.origin is None)
    ):
        sql, params = _CATEGORIES_BY_DAY, [query.cc, query.since, query.until]
        if query.domain is not None:
            sql += " AND domain = %s"
            params.append(query.domain)
        sql += " GROUP BY domain"
    else:
        sql = (
            "SELECT domain, min(category_code) FROM rollup_probe_day "
            f"WHERE {where} AND category_code IS NOT NULL GROUP BY domain"
        )
    categories: dict[str, str] = dict(con.execute(sql, params).fetchall())
    return rows, categories


def _table(rows: Sequence[tuple[Any, ...]], categories: dict[str, str]) -> ReportTable:
    """Return the `ReportTable` of `_DOMAIN_ROWS`' rows."""
    names = sorted({str(r[0]) for r in rows})
    index = {name: i for i, name in enumerate(names)}
    listed = [r for r in rows if r[1] is not None]
    sparse: dict[str, SparseNetworks] = {}
    for r in rows:
        if r[1] is None:
            _, _, _, _, _, _, probes, blocked, ok, down, inconclusive, confirmed, packet, n, m = r
            sparse[str(r[0])] = SparseNetworks(
                networks=int(n),
                measurements=int(blocked + ok + down + inconclusive),
                probes=int(probes),
                confirmed=int(confirmed),
                packet_confirmed=int(packet),
                methods=_methods(m),
            )

    def column(i: int, dtype: type = np.int64) -> Any:
        return np.array([r[i] for r in listed], dtype=dtype)

    return ReportTable(
        domains=names,
        categories={str(k): str(v) for k, v in categories.items() if k in index},
        networks=NetworkTable(
            group=np.array([index[str(r[0])] for r in listed], dtype=np.int64),
            asn=column(1),
            blocked_w=column(2, np.float64),
            ok_w=column(3, np.float64),
            informative=column(4),
            informative_probes=column(5),
            probes=column(6),
            blocked=column(7),
            ok=column(8),
            down=column(9),
            inconclusive=column(10),
            confirmed=column(11),
            packet_confirmed=column(12),
            methods=[_methods(r[14]) for r in listed],
        ),
        sparse=sparse,
    )


def domain_rows(con: Con, query: ReportQuery, settings: ModelSettings) -> ReportTable:
    """Return every domain of the report with its decidable networks' weighted counts and the
    sum of the rest; a one-domain query lists every network."""
    return _table(*_fetch_rows(con, _DOMAIN_ROWS, query, settings))


def daily_domain_rows(
    con: Con, query: ReportQuery, settings: ModelSettings
) -> dict[date, ReportTable]:
    """Return `domain_rows` of each day of the window with data, in one query, without methods
    and without the networks too small to decide that day (`storage.reports.daily_domain_rows`)."""
    if reads_network_day(query, settings):
        rows: Sequence[tuple[Any, ...]] = con.execute(
            _NETWORK_DAY_ROWS, [query.cc, query.since, query.until]
        ).fetchall()
        categories: dict[str, str] = {}
    else:
        rows, categories = _fetch_rows(con, _DAILY_DOMAIN_ROWS, query, settings, daily=True)
    by_day: defaultdict[date, list[tuple[Any, ...]]] = defaultdict(list)
    for row in rows:
        by_day[row[0]].append(row[1:])
    return {day: _table(day_rows, categories) for day, day_rows in sorted(by_day.items())}


def networks(con: Con, query: ReportQuery) -> list[CountryNetwork]:
    """Return every network of the report's window with its measurement count."""
    params: list[object] = []
    where = _filters(query, params)
    whole = query.region is None and query.category is None and query.domain is None
    if whole and query.origin is None:  # the country, its days and network: `day_labels`
        table, counted = "rollup_network_name_day", "measurements"
    else:
        table, counted = (
            "rollup_probe_day",
            "blocked + blocked_no_control + ok + down + inconclusive",
        )
    rows = con.execute(
        f"SELECT probe_asn, min(network_name), sum({counted})::BIGINT "
        f"FROM {table} WHERE {where} GROUP BY probe_asn ORDER BY probe_asn",
        params,
    ).fetchall()
    return [CountryNetwork(asn=int(a), name=n, measurements=int(m)) for a, n, m in rows]


POOLED = f"""
    SELECT {{group}}, round(sum((b * w)::NUMERIC), {WEIGHT_DIGITS})::FLOAT8 AS bw,
           round(sum((o * w)::NUMERIC), {WEIGHT_DIGITS})::FLOAT8 AS ow
    FROM (
        SELECT *, CASE WHEN uploader = '' THEN 1.0::FLOAT8
                       ELSE least(1.0, %s::FLOAT8 / nullif(b + bn + o, 0)) END AS w
        FROM (
            SELECT {{group}}, uploader, sum(blocked)::INT AS b,
                   sum(blocked_no_control)::INT AS bn, sum(ok)::INT AS o
            FROM {{table}} WHERE {{where}} AND (%s OR NOT contradicted)
            GROUP BY {{group}}, uploader
        ) AS per_uploader_counts
    ) AS per_uploader
    GROUP BY {{group}}
    HAVING bool_or(uploader = '' AND b + bn + o > 0)
        OR count(*) FILTER (WHERE uploader <> '' AND b + bn + o > 0) >= %s
"""
"""`storage.reports._POOLED` over `_PER_UPLOADER`: a pooled cell's weighted blocked and ok
counts, each uploader network capped, for cells with a trusted source or `min_probes` uploader
networks. Parameters: the uploader cap, the filters', `count_contradicted`, `min_probes`. Read
from `{table}`: the pooled rollup, the window's, or the per-probe one when the filters need its
network, region or category."""


def _pooled_table(query: ReportQuery) -> str:
    """Return the rollup that holds every column the query filters on: the pooled one unless
    it filters by network, region or category."""
    narrowed = query.asn is not None or query.region is not None or query.category is not None
    return "rollup_probe_day" if narrowed else "rollup_uploader_day"


_POOLED_WINDOW_BASELINES = """
SELECT domain, percentile_cont(0.5) WITHIN GROUP (ORDER BY bw / (bw + ow))
FROM rollup_pooled_window WHERE {where} AND bw + ow >= %s GROUP BY domain HAVING count(*) >= %s
"""
"""`baselines`' query over the pooled cells `network_window` keeps of the window."""


def _pooled_window_baselines(
    con: Con, query: ReportQuery, settings: ModelSettings
) -> dict[str, float]:
    where, params = "probe_cc <> %s", [query.cc]
    if query.domain is not None:
        where += " AND domain = %s"
        params.append(query.domain)
    rows = con.execute(
        _POOLED_WINDOW_BASELINES.format(where=where),
        [*params, settings.min_measurements, settings.baseline_countries],
    ).fetchall()
    return {str(domain): float(share) for domain, share in rows}


def baselines(con: Con, query: ReportQuery, settings: ModelSettings) -> dict[str, float]:
    """Return, per domain, the median of its blocked shares in the other countries with
    enough data, where enough countries have one (`storage.reports.baselines`)."""
    with con.transaction():
        _snapshot(con)
        params: list[object] = [query.cc]
        in_window = query.origin is None and derived_rollups.span(con) == (query.since, query.until)
        if in_window and weighs_as_network_rollups(settings):
            return _pooled_window_baselines(con, query, settings)
        if in_window:
            table, where = "rollup_uploader_window", "probe_cc <> %s"
        else:
            table, where = "rollup_uploader_day", "probe_cc <> %s AND day >= %s AND day <= %s"
            params += [query.since, query.until]
        if query.domain is not None:
            where += " AND domain = %s"
            params.append(query.domain)
        if query.origin is not None:
            where += " AND origin = %s"
            params.append(query.origin)
        pooled = POOLED.format(group="domain, probe_cc", where=where, table=table)
        rows = con.execute(
            "SELECT domain, percentile_cont(0.5) WITHIN GROUP (ORDER BY bw / (bw + ow)) "
            f"FROM ({pooled}) AS pooled WHERE bw + ow >= %s GROUP BY domain "
            "HAVING count(*) >= %s",
            [
                settings.uploader_weight_cap,
                *params,
                settings.count_contradicted,
                settings.min_probes,
                settings.min_measurements,
                settings.baseline_countries,
            ],
        ).fetchall()
    return {str(domain): float(share) for domain, share in rows}


def daily_shares(
    con: Con,
    query: ReportQuery,
    settings: ModelSettings,
    domains: Sequence[str] | None = None,
) -> dict[str, list[tuple[date, float, float]]]:
    """Return, per domain (only `domains`, when given), pooled weighted (day, blocked, ok) for
    every day of the window with data (`storage.reports.daily_shares`)."""
    params: list[object] = []
    where = _filters(query, params)
    if domains is not None:
        where += " AND domain = ANY(%s)"
        params.append(list(domains))
    pooled = POOLED.format(group="domain, day", where=where, table=_pooled_table(query))
    rows = con.execute(
        f"SELECT domain, day, bw, ow FROM ({pooled}) AS pooled ORDER BY day, domain",
        [settings.uploader_weight_cap, *params, settings.count_contradicted, settings.min_probes],
    ).fetchall()
    out: defaultdict[str, list[tuple[date, float, float]]] = defaultdict(list)
    for domain, day, blocked, ok in rows:
        out[str(domain)].append((day, float(blocked), float(ok)))
    return dict(out)


def daily_networks(
    con: Con, query: ReportQuery, settings: ModelSettings
) -> dict[date, list[NetworkCounts]]:
    """Return one domain's weighted counts per day and network (for its timeline)."""
    params: list[object] = []
    where = _filters(query, params)
    per_probe = _PER_PROBE.format(group="day, probe_asn", where=where)
    sql = f"WITH per_probe AS MATERIALIZED ({per_probe}) " + PER_NETWORK.format(
        group="day, probe_asn", scope="day"
    )
    rows = con.execute(
        sql + " ORDER BY day, probe_asn",
        [*params, settings.count_contradicted, *_weights(settings)],
    ).fetchall()
    out: defaultdict[date, list[NetworkCounts]] = defaultdict(list)
    for day, *values in rows:
        out[day].append(network_counts(values, {}))
    return dict(sorted(out.items()))


def countries(
    con: Con, since: date, until: date, origin: str | None = None
) -> list[CountrySummary]:
    """Return every country with measurements in the window (of one origin, when given)."""
    by_origin = "" if origin is None else " AND origin = %s"
    rows = con.execute(
        "SELECT probe_cc, count(DISTINCT domain), count(DISTINCT probe_asn), "
        "sum(blocked + blocked_no_control + ok + down + inconclusive)::BIGINT, max(day) "
        f"FROM rollup_probe_day WHERE day >= %s AND day <= %s{by_origin} "
        "GROUP BY probe_cc ORDER BY probe_cc",
        [since, until] + ([] if origin is None else [origin]),
    ).fetchall()
    return [
        CountrySummary(
            cc=str(cc), domains=int(d), networks=int(n), measurements=int(m), last_day=last
        )
        for cc, d, n, m, last in rows
    ]


def samples(con: Con, query: ReportQuery, limit: int) -> tuple[list[Sample], Counter[str]]:
    """Return sample measurements of one domain (blocked first, newest first) and how often
    each blockpage fingerprint matched among the window's confirmed measurements."""
    since = datetime.combine(query.since, datetime.min.time())
    until = datetime.combine(query.until + timedelta(days=1), datetime.min.time())
    params: list[object] = [query.cc, query.domain, since, until, query.since, query.until]
    extra = ""
    if query.asn is not None:
        extra += " AND probe_asn = %s"
        params.append(query.asn)
    if query.region is not None:
        extra += " AND region = %s"
        params.append(query.region)
    if query.origin is not None:
        extra += " AND coalesce(origin, 'crenel') = %s"
        params.append(query.origin)
    window = (
        "probe_cc = %s AND domain = %s AND start_time >= %s AND start_time < %s "
        f"AND day >= %s AND day <= %s{extra}"
    )
    rows = con.execute(
        "SELECT uid::TEXT, start_time, probe_asn, verdict, methods FROM measurements "
        f"WHERE {window} "
        "ORDER BY (verdict = 'blocked') DESC NULLS LAST, start_time DESC, uid DESC LIMIT %s",
        [*params, limit],
    ).fetchall()
    found = [
        Sample(uid=str(u), start_time=t, asn=int(a), verdict=v, methods=list(m or []))
        for u, t, a, v, m in rows
    ]
    analyses = con.execute(
        f"SELECT analysis FROM measurements WHERE {window} "
        "AND coalesce(fingerprint_confirmed, false) LIMIT 500",
        params,
    ).fetchall()
    return found, fingerprint_names(a for (a,) in analyses)
