"""Rollups: counts per (day, country, AS, region, domain, uploader network, probe, whether the
claimed network contradicts the source, origin), kept current as analyses are saved.

Pure: builds the deltas a batch of analyses makes (the old verdict's counts leave, the new
one's arrive) and holds the SQL; `duckdb.DuckDBStorage` runs it inside the transaction that
saves the analyses, so rollups and measurements never disagree. Reports read only rollups.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from collector.storage import network_day_rollups, pooled_rollups, window_rollups

COUNTS = (
    "blocked",
    "blocked_no_control",
    "ok",
    "down",
    "inconclusive",
    "confirmed",
    "packet_confirmed",
)
"""The counters of `rollup_probe_day`, in column order."""

MIGRATION_STATEMENTS: tuple[str, ...] = (
    "ALTER TABLE measurements ADD COLUMN packet_confirmed BOOLEAN",
    """
    CREATE TABLE rollup_probe_day (
        day DATE NOT NULL,
        probe_cc VARCHAR NOT NULL,
        probe_asn UINTEGER NOT NULL,
        region VARCHAR NOT NULL,
        domain VARCHAR NOT NULL,
        probe_key VARCHAR NOT NULL,
        category_code VARCHAR,
        network_name VARCHAR,
        blocked BIGINT NOT NULL,
        blocked_no_control BIGINT NOT NULL,
        ok BIGINT NOT NULL,
        down BIGINT NOT NULL,
        inconclusive BIGINT NOT NULL,
        confirmed BIGINT NOT NULL,
        packet_confirmed BIGINT NOT NULL,
        PRIMARY KEY (day, probe_cc, probe_asn, region, domain, probe_key)
    )
    """,
    """
    CREATE TABLE rollup_methods (
        day DATE NOT NULL,
        probe_cc VARCHAR NOT NULL,
        probe_asn UINTEGER NOT NULL,
        region VARCHAR NOT NULL,
        domain VARCHAR NOT NULL,
        method VARCHAR NOT NULL,
        count BIGINT NOT NULL,
        PRIMARY KEY (day, probe_cc, probe_asn, region, domain, method)
    )
    """,
    """
    CREATE TABLE rollup_domain_day (
        day DATE NOT NULL,
        probe_cc VARCHAR NOT NULL,
        domain VARCHAR NOT NULL,
        blocked BIGINT NOT NULL,
        ok BIGINT NOT NULL,
        PRIMARY KEY (day, probe_cc, domain)
    )
    """,
)
"""Migration 2: the rollup tables (filled from existing analyses by `REBUILD`)."""

_VERDICT_COUNTS = """
    count(*) FILTER (WHERE verdict = 'blocked' AND NOT control_failed) AS blocked,
    count(*) FILTER (WHERE verdict = 'blocked' AND control_failed) AS blocked_no_control,
    count(*) FILTER (WHERE verdict = 'ok') AS ok,
    count(*) FILTER (WHERE verdict = 'down') AS down,
    count(*) FILTER (WHERE verdict = 'inconclusive') AS inconclusive,
    count(*) FILTER (WHERE coalesce(fingerprint_confirmed, false)) AS confirmed,
    count(*) FILTER (WHERE coalesce(packet_confirmed, false)) AS packet_confirmed
"""

_FILL_METHODS = """
    INSERT INTO rollup_methods
    SELECT day, probe_cc, probe_asn, region_key, domain, method, count(*)
    FROM (SELECT day, probe_cc, probe_asn, coalesce(region, '') AS region_key, domain,
                 unnest(methods) AS method
          FROM measurements WHERE verdict = 'blocked')
    GROUP BY day, probe_cc, probe_asn, region_key, domain, method
    ORDER BY day, probe_cc
"""
_FILL_DOMAIN_DAY = """
    INSERT INTO rollup_domain_day
    SELECT day, probe_cc, domain,
           count(*) FILTER (WHERE verdict = 'blocked' AND NOT control_failed),
           count(*) FILTER (WHERE verdict = 'ok')
    FROM measurements WHERE verdict IS NOT NULL
    GROUP BY day, probe_cc, domain
    ORDER BY day, probe_cc
"""
"""The methods and per-domain rollups, filled from the analysed measurements (migration 2 and
every rebuild)."""

REBUILD_V2: tuple[str, ...] = (
    "DELETE FROM rollup_probe_day",
    "DELETE FROM rollup_methods",
    "DELETE FROM rollup_domain_day",
    f"""
    INSERT INTO rollup_probe_day
    SELECT day, probe_cc, probe_asn, coalesce(region, '') AS region_key, domain,
           coalesce(probe_id, '') AS probe_key,
           any_value(category_code), any_value(probe_network_name),
           {_VERDICT_COUNTS}
    FROM measurements WHERE verdict IS NOT NULL
    GROUP BY day, probe_cc, probe_asn, region_key, domain, probe_key
    ORDER BY day, probe_cc
    """,
    _FILL_METHODS,
    _FILL_DOMAIN_DAY,
)
"""Migration 2's fill of the rollups, frozen as released (the schema of that version)."""

PROBE_DAY_TABLE_V3 = """
    CREATE TABLE rollup_probe_day (
        day DATE NOT NULL,
        probe_cc VARCHAR NOT NULL,
        probe_asn UINTEGER NOT NULL,
        region VARCHAR NOT NULL,
        domain VARCHAR NOT NULL,
        uploader VARCHAR NOT NULL,
        probe_key VARCHAR NOT NULL,
        contradicted BOOLEAN NOT NULL,
        category_code VARCHAR,
        network_name VARCHAR,
        blocked BIGINT NOT NULL,
        blocked_no_control BIGINT NOT NULL,
        ok BIGINT NOT NULL,
        down BIGINT NOT NULL,
        inconclusive BIGINT NOT NULL,
        confirmed BIGINT NOT NULL,
        packet_confirmed BIGINT NOT NULL,
        PRIMARY KEY (day, probe_cc, probe_asn, region, domain, uploader, probe_key, contradicted)
    )
"""
"""Migration 3's per-probe rollup: keyed also by uploader network ('' when trusted or unknown)
and by whether the measurement's claimed network contradicts its source (`geo_mismatch`)."""

_FILL_PROBE_DAY_V3 = f"""
    INSERT INTO rollup_probe_day
    SELECT day, probe_cc, probe_asn, coalesce(region, '') AS region_key, domain,
           coalesce(uploader_network, '') AS uploader, coalesce(probe_id, '') AS probe_key,
           coalesce(geo_mismatch, false) AS contradicted,
           any_value(category_code), any_value(probe_network_name),
           {_VERDICT_COUNTS}
    FROM measurements WHERE verdict IS NOT NULL
    GROUP BY day, probe_cc, probe_asn, region_key, domain, uploader, probe_key, contradicted
    ORDER BY day, probe_cc
"""

MIGRATION_3_STATEMENTS: tuple[str, ...] = (
    "ALTER TABLE measurements ADD COLUMN uploader_network VARCHAR",
    "DROP TABLE rollup_probe_day",
    PROBE_DAY_TABLE_V3,
    _FILL_PROBE_DAY_V3,
)
"""Migration 3: the uploader network column and the per-probe rollup keyed by it."""


ORIGIN = "coalesce(origin, 'crenel')"
"""A measurement's origin as the rollups key it: the importing platform, or `crenel`."""

_FILL_PROBE_DAY = f"""
    INSERT INTO rollup_probe_day
    SELECT day, probe_cc, probe_asn, coalesce(region, '') AS region_key, domain,
           coalesce(uploader_network, '') AS uploader, coalesce(probe_id, '') AS probe_key,
           coalesce(geo_mismatch, false) AS contradicted,
           any_value(category_code), any_value(probe_network_name),
           {_VERDICT_COUNTS}, {ORIGIN} AS origin_key
    FROM measurements WHERE verdict IS NOT NULL
    GROUP BY day, probe_cc, probe_asn, region_key, domain, uploader, probe_key, contradicted,
             origin_key
    ORDER BY day, probe_cc
"""
_FILL_METHODS_V4 = f"""
    INSERT INTO rollup_methods
    SELECT day, probe_cc, probe_asn, region_key, domain, method, count(*), origin_key
    FROM (SELECT day, probe_cc, probe_asn, coalesce(region, '') AS region_key, domain,
                 unnest(methods) AS method, {ORIGIN} AS origin_key
          FROM measurements WHERE verdict = 'blocked')
    GROUP BY day, probe_cc, probe_asn, region_key, domain, method, origin_key
    ORDER BY day, probe_cc
"""
_FILL_DOMAIN_DAY_V4 = f"""
    INSERT INTO rollup_domain_day
    SELECT day, probe_cc, domain,
           count(*) FILTER (WHERE verdict = 'blocked' AND NOT control_failed),
           count(*) FILTER (WHERE verdict = 'ok'), {ORIGIN} AS origin_key
    FROM measurements WHERE verdict IS NOT NULL
    GROUP BY day, probe_cc, domain, origin_key
    ORDER BY day, probe_cc
"""

FILLS: tuple[str, ...] = (_FILL_PROBE_DAY, _FILL_METHODS_V4, _FILL_DOMAIN_DAY_V4)
"""Fill the three (empty) rollup tables from the analysed measurements (migration 4, rebuilds)."""

REBUILD: tuple[str, ...] = (
    "DELETE FROM rollup_probe_day",
    "DELETE FROM rollup_methods",
    "DELETE FROM rollup_domain_day",
    "DELETE FROM rollup_uploader_day",
    *FILLS,
    pooled_rollups.FILL,
    *window_rollups.REFRESH,
    "DELETE FROM rollup_network_day",
    network_day_rollups.FILL,
)
"""Recompute every rollup from the analysed measurements (repair, benchmarks); the pooled and
rolling-window rollups (migration 5) from the per-probe one.

Rows go in by day and country, as ingest appends them (mostly) by day: the min/max of each
row group then lets a report's window and country skip the rest of the table."""

OLD_STATE = """
SELECT m.uid::VARCHAR, m.day, m.probe_cc, m.probe_asn, m.domain, coalesce(m.probe_id, ''),
       coalesce(m.uploader_network, ''), coalesce(m.geo_mismatch, false),
       m.region, m.category_code, m.probe_network_name, m.control_failed,
       m.verdict, m.methods, coalesce(m.fingerprint_confirmed, false),
       coalesce(m.packet_confirmed, false), coalesce(m.origin, 'crenel')
FROM measurements m JOIN analysis_batch a ON m.uid = a.uid::UUID
"""
"""Each analysed row's key and its current (old) verdict, read before the analyses are saved."""

UPSERT_PROBE_DAY = """
INSERT INTO rollup_probe_day SELECT * FROM probe_day_delta
ON CONFLICT (day, probe_cc, probe_asn, region, domain, uploader, probe_key, contradicted, origin)
DO UPDATE SET
    category_code = coalesce(excluded.category_code, category_code),
    network_name = coalesce(excluded.network_name, network_name),
    blocked = blocked + excluded.blocked,
    blocked_no_control = blocked_no_control + excluded.blocked_no_control,
    ok = ok + excluded.ok,
    down = down + excluded.down,
    inconclusive = inconclusive + excluded.inconclusive,
    confirmed = confirmed + excluded.confirmed,
    packet_confirmed = packet_confirmed + excluded.packet_confirmed
"""

UPSERT_METHODS = """
INSERT INTO rollup_methods SELECT * FROM methods_delta
ON CONFLICT (day, probe_cc, probe_asn, region, domain, method, origin) DO UPDATE SET
    count = count + excluded.count
"""

UPSERT_DOMAIN_DAY = """
INSERT INTO rollup_domain_day SELECT * FROM domain_day_delta
ON CONFLICT (day, probe_cc, domain, origin) DO UPDATE SET
    blocked = blocked + excluded.blocked, ok = ok + excluded.ok
"""


@dataclass(frozen=True)
class RowState:
    """One measurement's rollup key and what it contributes (verdict None: nothing)."""

    day: date
    cc: str
    asn: int
    domain: str
    probe_key: str
    uploader: str
    contradicted: bool
    region: str | None
    category_code: str | None
    network_name: str | None
    control_failed: bool
    verdict: str | None
    methods: Sequence[str]
    confirmed: bool
    packet_confirmed: bool
    origin: str = "crenel"


ProbeDayKey = tuple[date, str, int, str, str, str, str, bool, str]
"""(day, country, AS, region or '', domain, uploader or '', probe key, contradicted, origin)."""

MethodKey = tuple[date, str, int, str, str, str, str]
"""(day, country, AS, region or '', domain, method, origin)."""

DomainDayKey = tuple[date, str, str, str]
"""(day, country, domain, origin)."""


@dataclass
class Deltas:
    """What a batch changes in each rollup table, one entry per key."""

    probe_day: dict[ProbeDayKey, list[int]]
    labels: dict[ProbeDayKey, tuple[str | None, str | None]]
    methods: dict[MethodKey, int]
    domain_day: dict[DomainDayKey, list[int]]

    def is_empty(self) -> bool:
        """Return whether the batch changes nothing."""
        return not (self.probe_day or self.methods or self.domain_day)


def _counts(state: RowState) -> list[int]:
    verdict = state.verdict
    return [
        int(verdict == "blocked" and not state.control_failed),
        int(verdict == "blocked" and state.control_failed),
        int(verdict == "ok"),
        int(verdict == "down"),
        int(verdict == "inconclusive"),
        int(verdict is not None and state.confirmed),
        int(verdict is not None and state.packet_confirmed),
    ]


def compute_deltas(changes: Iterable[tuple[RowState, RowState]]) -> Deltas:
    """Return the rollup deltas of (old state, new state) pairs for the same measurements."""
    probe_day: defaultdict[ProbeDayKey, list[int]] = defaultdict(lambda: [0] * len(COUNTS))
    labels: dict[ProbeDayKey, tuple[str | None, str | None]] = {}
    methods: defaultdict[MethodKey, int] = defaultdict(int)
    domain_day: defaultdict[DomainDayKey, list[int]] = defaultdict(lambda: [0, 0])
    for old, new in changes:
        for state, sign in ((old, -1), (new, 1)):
            if state.verdict is None:
                continue
            region = state.region or ""
            key = (
                state.day,
                state.cc,
                state.asn,
                region,
                state.domain,
                state.uploader,
                state.probe_key,
                state.contradicted,
                state.origin,
            )
            row = probe_day[key]
            for i, value in enumerate(_counts(state)):
                row[i] += sign * value
            labels[key] = (state.category_code, state.network_name)
            if state.verdict == "blocked":
                for method in state.methods:
                    key_m = (
                        state.day,
                        state.cc,
                        state.asn,
                        region,
                        state.domain,
                        method,
                        state.origin,
                    )
                    methods[key_m] += sign
            domain = domain_day[(state.day, state.cc, state.domain, state.origin)]
            domain[0] += sign * int(state.verdict == "blocked" and not state.control_failed)
            domain[1] += sign * int(state.verdict == "ok")
    return Deltas(
        probe_day={k: v for k, v in probe_day.items() if any(v)},
        labels=labels,
        methods={k: v for k, v in methods.items() if v},
        domain_day={k: v for k, v in domain_day.items() if any(v)},
    )
