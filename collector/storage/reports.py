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

from collector.regional.columns import Ints
from collector.regional.model import ModelSettings, NetworkCounts, SparseNetworks
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
)


def _filters(
    query: ReportQuery, params: list[object], *, category: bool = True, region: bool = True
) -> str:
    parts = ["probe_cc = ?", "day >= ?", "day <= ?"]
    params += [query.cc, query.since, query.until]
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
               least(1.0, ? / nullif(sum(least(b + bn + o, ?)), 0)) AS uw
        FROM per_probe WHERE uploader <> '' GROUP BY {scope}, uploader
    ) u USING ({scope}, uploader)
"""
"""Each probe's weight per informative measurement: its own cap (`probe_weight_cap` over its
informative measurements) times its uploader network's (`uploader_weight_cap` over the capped
weight of all its probes in all the networks it claims in `scope`). A probe uploaded from a
trusted or unknown source (uploader '') is its own unit (`regional.ProbeCounts.unit`): only its
probe cap applies. Parameters: the probe cap, the uploader cap, the probe cap."""

_INFORMATIVE_UNITS = """
    (count(*) FILTER (WHERE uploader = '' AND b + bn + o > 0)
     + count(DISTINCT uploader) FILTER (WHERE uploader <> '' AND b + bn + o > 0))
"""
"""Independent uploaders with informative measurements: uploader networks, and probes of
trusted or unknown sources (one row each per network)."""

_PER_NETWORK = f"""
    SELECT {{group}},
           coalesce(sum((b + bn * ?) * w), 0) AS bw,
           coalesce(sum(o * w), 0) AS ow,
           sum(b + bn + o)::BIGINT AS informative,
           {_INFORMATIVE_UNITS} AS ip, count(*) AS probes,
           sum(b + bn)::BIGINT AS blocked, sum(o)::BIGINT AS ok, sum(d)::BIGINT AS down,
           sum(i)::BIGINT AS inconclusive, sum(c)::BIGINT AS confirmed,
           sum(pc)::BIGINT AS packet_confirmed
    FROM ({_WEIGHED}) GROUP BY {{group}}
"""
"""Each network's weighted counts from `_PER_PROBE` (weights `_WEIGHED`); `ip` counts uploader
networks, so `min_probes` is a minimum of independent uploaders, not of self-chosen probe ids.
Parameters: the no-control weight, then `_WEIGHED`'s. Sums are cast back to BIGINT (DuckDB
widens them to 128 bits, which Python converts slowly)."""

_DOMAIN_ROWS = f"""
WITH per_probe AS MATERIALIZED (
    {_PER_PROBE.format(group="domain, probe_asn", where="{where}")}
),
per_network AS ({_PER_NETWORK.format(group="domain, probe_asn", scope="domain")}),
methods AS (
    SELECT domain, probe_asn, string_agg(method || '=' || n, ';') AS methods
    FROM (SELECT domain, probe_asn, method, sum(count)::BIGINT AS n FROM rollup_methods
          WHERE {{method_where}} GROUP BY ALL HAVING sum(count) > 0)
    GROUP BY ALL
),
marked AS (
    SELECT *, CASE WHEN informative >= ? AND ip >= ? THEN probe_asn END AS decided_asn
    FROM per_network LEFT JOIN methods USING (domain, probe_asn)
)
SELECT domain, decided_asn, sum(bw) AS bw, sum(ow) AS ow,
       sum(informative)::BIGINT AS informative, sum(ip)::BIGINT AS ip,
       sum(probes)::BIGINT AS probes, sum(blocked)::BIGINT AS blocked, sum(ok)::BIGINT AS ok,
       sum(down)::BIGINT AS down, sum(inconclusive)::BIGINT AS inconclusive,
       sum(confirmed)::BIGINT AS confirmed, sum(packet_confirmed)::BIGINT AS packet_confirmed,
       count(*) AS networks, string_agg(methods, ';') AS methods
FROM marked GROUP BY domain, decided_asn
"""
"""Per domain: each network with enough data to decide, and one summed row (AS NULL) for those
without; `networks` counts a row's networks, `methods` lists `method=count` pairs (';'-joined,
a method repeated once per network in the summed row)."""

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


def domain_rows(
    con: duckdb.DuckDBPyConnection, query: ReportQuery, settings: ModelSettings
) -> ReportTable:
    """Return every domain of the report with its decidable networks' weighted counts and the
    sum of the rest; a one-domain query lists every network. Network names are left to
    `networks`."""
    params: list[object] = []
    where = _filters(query, params)
    method_params: list[object] = []
    method_where = _filters(query, method_params, category=False)
    thresholds = (
        [0, 0] if query.domain is not None else [settings.min_measurements, settings.min_probes]
    )
    rows = con.execute(
        _DOMAIN_ROWS.format(where=where, method_where=method_where),
        [*params, settings.count_contradicted, *_weights(settings), *method_params, *thresholds],
    ).fetchnumpy()
    categories: dict[str, str] = dict(
        con.execute(_CATEGORIES.format(where=where), params).fetchall()
    )
    domains, group = np.unique(rows["domain"].astype(str), return_inverse=True)
    names = domains.tolist()
    asn_column = rows["decided_asn"]
    listed = ~np.ma.getmaskarray(asn_column)
    methods = rows["methods"]
    sparse: dict[str, SparseNetworks] = {}
    for i in np.flatnonzero(~listed).tolist():
        domain = names[group[i]]
        sparse[domain] = SparseNetworks(
            networks=int(rows["networks"][i]),
            measurements=int(
                rows["blocked"][i] + rows["ok"][i] + rows["down"][i] + rows["inconclusive"][i]
            ),
            probes=int(rows["probes"][i]),
            confirmed=int(rows["confirmed"][i]),
            packet_confirmed=int(rows["packet_confirmed"][i]),
            methods=_methods(methods[i]),
        )

    def column(name: str) -> Ints:
        return np.asarray(rows[name][listed], dtype=np.int64)

    return ReportTable(
        domains=names,
        categories=categories,
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
            methods=[_methods(m) for m in methods[listed].tolist()],
        ),
        sparse=sparse,
    )


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
        FROM rollup_probe_day WHERE {where} AND (? OR NOT contradicted)
        GROUP BY {group}, uploader
    )
"""
"""Pooled counts per uploader network and group, for the cells that pool a whole country (the
baseline's other countries, the daily series): each uploader network's weight capped at
`uploader_weight_cap`; measurements of trusted or unknown sources (uploader '') count plainly,
as every measurement did before uploader networks. Parameters: the uploader cap, after the
filters' and `count_contradicted`."""

_POOLED = """
    SELECT {group}, sum(b * w) AS bw, sum(o * w) AS ow
    FROM ({per_uploader}) GROUP BY {group}
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
    params: list[object] = [query.cc, query.since, query.until]
    where = "probe_cc <> ? AND day >= ? AND day <= ?"
    if query.domain is not None:
        where += " AND domain = ?"
        params.append(query.domain)
    if query.origin is not None:
        where += " AND origin = ?"
        params.append(query.origin)
    group = "domain, probe_cc"
    pooled = _PER_UPLOADER.format(group=group, where=where)
    rows: list[Any] = con.execute(
        _BASELINES.format(group=group, per_uploader=pooled),
        [
            settings.uploader_weight_cap,
            *params,
            settings.count_contradicted,
            settings.min_probes,
            settings.min_measurements,
            settings.baseline_countries,
        ],
    ).fetchall()
    return {domain: float(share) for domain, share in rows}


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
    pooled = _PER_UPLOADER.format(group=group, where=where)
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
    sql = f"WITH per_probe AS MATERIALIZED ({per_probe}) " + _PER_NETWORK.format(
        group="day, probe_asn", scope="day"
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
