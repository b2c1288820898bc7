"""A batch's rollup deltas (`storage.rollups.compute_deltas`) as PostgreSQL upserts.

Runs inside the transaction that saves the analyses. Each table's deltas go in as one
`INSERT ... SELECT FROM unnest(arrays)` sorted by key, so two collector instances saving at once
lock rollup rows in the same order and never deadlock; the measurements themselves are locked
first (`FOR UPDATE`, by uid) when their old state is read.
"""

from __future__ import annotations

import psycopg

from collector.storage import rollups
from collector.storage.postgres import day_labels, derived_rollups, network_day, network_window

_PROBE_DAY = """
INSERT INTO rollup_probe_day AS r (day, probe_cc, probe_asn, region, domain, uploader, probe_key,
    contradicted, category_code, network_name, blocked, blocked_no_control, ok, down,
    inconclusive, confirmed, packet_confirmed, origin)
SELECT * FROM unnest(%s::DATE[], %s::TEXT[], %s::BIGINT[], %s::TEXT[], %s::TEXT[], %s::TEXT[],
    %s::TEXT[], %s::BOOLEAN[], %s::TEXT[], %s::TEXT[], %s::INTEGER[], %s::INTEGER[],
    %s::INTEGER[], %s::INTEGER[], %s::INTEGER[], %s::INTEGER[], %s::INTEGER[], %s::TEXT[])
ON CONFLICT (probe_cc, day, probe_asn, region, domain, uploader, probe_key, contradicted, origin)
DO UPDATE SET
    category_code = coalesce(excluded.category_code, r.category_code),
    network_name = coalesce(excluded.network_name, r.network_name),
    blocked = r.blocked + excluded.blocked,
    blocked_no_control = r.blocked_no_control + excluded.blocked_no_control,
    ok = r.ok + excluded.ok,
    down = r.down + excluded.down,
    inconclusive = r.inconclusive + excluded.inconclusive,
    confirmed = r.confirmed + excluded.confirmed,
    packet_confirmed = r.packet_confirmed + excluded.packet_confirmed
"""

_METHODS = """
INSERT INTO rollup_methods AS r (day, probe_cc, probe_asn, region, domain, method, count, origin)
SELECT * FROM unnest(%s::DATE[], %s::TEXT[], %s::BIGINT[], %s::TEXT[], %s::TEXT[], %s::TEXT[],
    %s::INTEGER[], %s::TEXT[])
ON CONFLICT (probe_cc, day, probe_asn, region, domain, method, origin) DO UPDATE SET
    count = r.count + excluded.count
"""

_DOMAIN_DAY = """
INSERT INTO rollup_domain_day AS r (day, probe_cc, domain, blocked, ok, origin)
SELECT * FROM unnest(%s::DATE[], %s::TEXT[], %s::TEXT[], %s::INTEGER[], %s::INTEGER[], %s::TEXT[])
ON CONFLICT (probe_cc, day, domain, origin) DO UPDATE SET
    blocked = r.blocked + excluded.blocked, ok = r.ok + excluded.ok
"""

REBUILD: tuple[str, ...] = (
    "DELETE FROM rollup_probe_day",
    "DELETE FROM rollup_methods",
    "DELETE FROM rollup_domain_day",
    "DELETE FROM rollup_uploader_day",
    """
    INSERT INTO rollup_probe_day (day, probe_cc, probe_asn, region, domain, uploader, probe_key,
        contradicted, category_code, network_name, blocked, blocked_no_control, ok, down,
        inconclusive, confirmed, packet_confirmed, origin)
    SELECT day, probe_cc, probe_asn, coalesce(region, ''), domain,
           coalesce(uploader_network, ''), coalesce(probe_id, ''),
           coalesce(geo_mismatch, false), min(category_code), min(probe_network_name),
           count(*) FILTER (WHERE verdict = 'blocked' AND NOT control_failed),
           count(*) FILTER (WHERE verdict = 'blocked' AND control_failed),
           count(*) FILTER (WHERE verdict = 'ok'),
           count(*) FILTER (WHERE verdict = 'down'),
           count(*) FILTER (WHERE verdict = 'inconclusive'),
           count(*) FILTER (WHERE coalesce(fingerprint_confirmed, false)),
           count(*) FILTER (WHERE coalesce(packet_confirmed, false)),
           coalesce(origin, 'crenel')
    FROM measurements WHERE verdict IS NOT NULL
    GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 18
    """,
    """
    INSERT INTO rollup_methods (day, probe_cc, probe_asn, region, domain, method, count, origin)
    SELECT day, probe_cc, probe_asn, coalesce(region, ''), domain, method, count(*),
           coalesce(origin, 'crenel')
    FROM measurements, unnest(methods) AS method WHERE verdict = 'blocked'
    GROUP BY 1, 2, 3, 4, 5, 6, 8
    """,
    """
    INSERT INTO rollup_domain_day (day, probe_cc, domain, blocked, ok, origin)
    SELECT day, probe_cc, domain,
           count(*) FILTER (WHERE verdict = 'blocked' AND NOT control_failed),
           count(*) FILTER (WHERE verdict = 'ok'), coalesce(origin, 'crenel')
    FROM measurements WHERE verdict IS NOT NULL
    GROUP BY 1, 2, 3, 6
    """,
    derived_rollups.FILL_POOLED,
    "DELETE FROM rollup_network_day",
    network_day.FILL,
    *day_labels.REFILL,
)
"""Recompute every rollup from the analysed measurements (`storage.rollups.REBUILD`'s meaning;
an arbitrary label per key becomes the smallest, PostgreSQL 15 having no `any_value`), and the
pooled rollup from the per-probe one; the window follows (`derived_rollups.refresh`)."""


def _columns(rows: list[tuple[object, ...]], width: int) -> list[list[object]]:
    return [[row[i] for row in rows] for i in range(width)]


def apply_deltas(cur: psycopg.Cursor[tuple[object, ...]], deltas: rollups.Deltas) -> None:
    """Upsert a batch's rollup deltas, each table's keys in sorted order (inside the caller's
    transaction), the pooled and window rollups (`derived_rollups`) and the window's
    per-network rows (`network_window`) last."""
    rows: list[tuple[object, ...]] = []
    if deltas.probe_day:
        keys = sorted(deltas.probe_day, key=lambda k: (k[1], k[0], *k[2:]))
        for key in keys:
            category, network = deltas.labels.get(key, (None, None))
            day, cc, asn, region, domain, uploader, probe_key, contradicted, origin = key
            row = (day, cc, asn, region, domain, uploader, probe_key, contradicted, category)
            rows.append((*row, network, *deltas.probe_day[key], origin))
        cur.execute(_PROBE_DAY, _columns(rows, 18))
        network_day.refresh(cur, ((k[0], k[1], k[4]) for k in keys))
        day_labels.refresh(
            cur, ((k[0], k[1], k[4]) for k in keys), ((k[0], k[1], k[2]) for k in keys)
        )
    if deltas.methods:
        method_keys = sorted(deltas.methods, key=lambda k: (k[1], k[0], *k[2:]))
        cur.execute(
            _METHODS,
            _columns([(*k[:6], deltas.methods[k], k[6]) for k in method_keys], 8),
        )
    if deltas.domain_day:
        domain_keys = sorted(deltas.domain_day, key=lambda k: (k[1], k[0], *k[2:]))
        cur.execute(
            _DOMAIN_DAY,
            _columns([(*k[:3], *deltas.domain_day[k], k[3]) for k in domain_keys], 6),
        )
    if rows:
        if derived_rollups.apply_deltas(cur, rows, max(k[0] for k in deltas.probe_day)):
            for statement in network_window.REFILL:
                cur.execute(statement)
            return
        span = derived_rollups.span(cur)
        if span is not None:
            since, until = span
            network_window.refresh(
                cur, ((k[1], k[4]) for k in deltas.probe_day if since <= k[0] <= until)
            )
