"""The pooled and rolling-window rollups, on both backends: reports read through them equal
reports of the same measurements rebuilt from the raw rows, after re-analysis moves counts,
after the window moves to a newer day and after raw retention; and both backends keep the same
rows and answer the same reports."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import msgspec
import psycopg
import pytest

from collector.regional.model import ModelSettings
from collector.reports.build import DEFAULT_WINDOW_DAYS, countries, country_report, domain_detail
from collector.storage import ReportQuery, Storage
from collector.storage.base import AnalysisRow
from collector.storage.duckdb import DuckDBStorage
from collector.storage.migrations import MIGRATIONS, migrate
from collector.storage.postgres import schema
from collector.storage.postgres.partitions import Partitions
from collector.storage.postgres.store import PostgresStorage
from collector.storage.reports import daily_rows_sql
from collector.storage.window_rollups import WINDOW_DAYS
from tests.collector.storage.test_postgres import network_window_rows
from tests.collector.stores import BACKENDS, empty_store

FIRST = date(2026, 11, 1)
NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)
COUNTRIES = ("CN", "IR", "RU", "TR")
DOMAINS = tuple(f"site{i}.example" for i in range(12))
VERDICTS = ("blocked", "ok", "down", "inconclusive")
SETTINGS = (ModelSettings(), ModelSettings(count_contradicted=True, probe_weight_cap=2.0))
DERIVED = (
    "rollup_uploader_day",
    "rollup_probe_window",
    "rollup_uploader_window",
    "rollup_window_span",
    "rollup_network_day",
)

_INSERT = """
INSERT INTO measurements (uid, received_at, start_time, day, probe_cc, probe_asn,
    probe_network_name, probe_id, region, input, domain, category_code, software_name,
    software_version, format_version, probe_verdict, probe_methods, probe_confidence,
    needs_analysis, control_failed, geo_mismatch, uploader_network, origin, raw)
VALUES (?::UUID, ?, ?, ?, ?, ?, 'Net', ?, ?, ?, ?, ?, 'crenel-probe', '0.1.0', '1.2', 'ok', {empty},
        0.9, true, ?, ?, ?, ?, 'body'::{blob})
"""


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Storage]:
    storage = empty_store(request, tmp_path)
    try:
        yield storage
    finally:
        storage.close()


def _sql(store: Storage, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    """Run one statement on the store's own database; return its rows (none for a write)."""
    if isinstance(store, PostgresStorage):
        with psycopg.connect(store.url, autocommit=True) as con:
            cur = con.execute(sql.replace("?", "%s"), params)
            return cur.fetchall() if cur.description else []
    assert isinstance(store, DuckDBStorage)
    cur = store._con.execute(sql, params)
    return cur.fetchall() if cur.description else []


def _uid(n: int) -> str:
    return f"01900000-0000-7000-8000-{n:012x}"


def _insert(store: Storage, rng: random.Random, first: int, count: int, day: date) -> None:
    """Store `count` unanalysed measurements of `day` (uids from `first`)."""
    postgres = isinstance(store, PostgresStorage)
    if postgres:
        with psycopg.connect(store.url, autocommit=True) as con:
            Partitions().ensure(con, [day])
    sql = _INSERT.format(
        empty="'{}'::TEXT[]" if postgres else "[]", blob="BYTEA" if postgres else "BLOB"
    )
    for n in range(first, first + count):
        at = datetime.combine(day, datetime.min.time()) + timedelta(minutes=rng.randrange(1440))
        domain = rng.choice(DOMAINS)
        _sql(
            store,
            sql,
            [
                _uid(n),
                at,
                at,
                day,
                rng.choice(COUNTRIES),
                64500 + rng.randrange(4),
                f"p{rng.randrange(9)}",
                rng.choice((None, "North", "South")),
                f"https://{domain}/",
                domain,
                "NEWS" if DOMAINS.index(domain) % 2 else "HUMR",  # one category per domain
                rng.random() < 0.1,
                rng.random() < 0.1,
                rng.choice(("", "", "", "up1", "up2")) or None,
                rng.choice(("crenel", "crenel", "ooni")),
            ],
        )


def _analyse(store: Storage, rng: random.Random, uids: list[str]) -> None:
    """Save an analysis of each measurement, its verdict drawn at random (blocked most often
    for the first three domains)."""
    domains = dict(_sql(store, "SELECT uid::VARCHAR, domain FROM measurements"))
    rows = []
    for uid in uids:
        censored = domains[uid] in DOMAINS[:3]
        verdict = "blocked" if censored and rng.random() < 0.8 else rng.choice(VERDICTS)
        blocked = verdict == "blocked"
        rows.append(
            AnalysisRow(
                uid=uid,
                verdict=verdict,
                methods=[rng.choice(("dns.nxdomain", "tls.reset"))] if blocked else [],
                confidence=0.9,
                blocking=None,
                accessible=None,
                fingerprint_confirmed=blocked and rng.random() < 0.3,
                rules_version="1",
                reference_digest="d",
                analysed_at=NOW.replace(tzinfo=None),
                analysis_json='{"fingerprints": []}',
                packet_confirmed=blocked and rng.random() < 0.2,
            )
        )
    store.save_analyses(rows)


def _rounded(value: Any) -> Any:
    """Return `value` with every float rounded to 9 digits (sums of weights may differ in the
    last bit with the order DuckDB adds them in)."""
    if isinstance(value, float):
        return round(value, 9)
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_rounded(v) for v in value)
    return value


def _reports(store: Storage, until: date) -> dict[str, Any]:
    """Return every report a country page and the overview show, for the default window ending
    on `until`, under each of `SETTINGS`, as plain values."""
    since = until - timedelta(days=DEFAULT_WINDOW_DAYS - 1)
    out: dict[str, Any] = {}
    for i, settings in enumerate(SETTINGS):
        out[f"overview {i}"] = overview = countries(store, since, until, settings, NOW)
        # The overview's verdict counts are those of the countries' full reports.
        assert overview == countries(store, since, until, settings, NOW, report_of=country_report)
        for cc in COUNTRIES:
            query = ReportQuery(cc=cc, since=since, until=until)
            out[f"{cc} {i}"] = country_report(store, query, settings, NOW)
            out[f"{cc} AS64501 {i}"] = country_report(
                store, ReportQuery(cc=cc, since=since, until=until, asn=64501), settings, NOW
            )
            for domain in DOMAINS[2:4]:
                one = ReportQuery(cc=cc, since=since, until=until, domain=domain)
                out[f"{cc} {domain} {i}"] = domain_detail(store, one, settings)
    return _rounded(msgspec.to_builtins(out))


def _span(store: Storage) -> tuple[date, date] | None:
    rows = _sql(store, "SELECT since, until FROM rollup_window_span")
    return None if not rows else (rows[0][0], rows[0][1])


def _derived(store: Storage) -> dict[str, list[tuple[object, ...]]]:
    """Return every row of the derived rollups (the same columns on both backends)."""
    return {t: sorted(_rounded(_sql(store, f"SELECT * FROM {t}")), key=str) for t in DERIVED}


def _daily_rows_computed(store: DuckDBStorage) -> list[tuple[object, ...]]:
    """Return the daily report query's rows of every country as `rollup_network_day` should
    hold them, computed from `rollup_probe_day` now."""
    query = daily_rows_sql("day, probe_cc, ", "true")
    return sorted(
        _rounded(
            store._con.execute(
                "SELECT day, probe_cc, domain, decided_asn, bw, ow, informative, ip, probes, "
                "blocked, ok, down, inconclusive, confirmed, packet_confirmed "
                f"FROM ({query})"
            ).fetchall()
        ),
        key=str,
    )


def _check_against_rebuild(store: Storage, until: date) -> None:
    """Assert that the reports through the derived rollups equal those read without them, and
    those after every rollup is rebuilt from the raw rows."""
    assert _span(store) == (until - timedelta(days=WINDOW_DAYS - 1), until)
    fast = _reports(store, until)
    incremental = _derived(store)
    assert fast["CN 0"]["domains"] and fast["overview 0"]["countries"]
    if isinstance(store, DuckDBStorage):  # PostgreSQL's: test_postgres, against DuckDB's
        assert incremental["rollup_network_day"] == _daily_rows_computed(store)
    else:  # PostgreSQL's own window rollups, against their sums from scratch
        network_window_rows(store.url)
    store.rebuild_rollups()
    assert _derived(store) == incremental
    assert _reports(store, until) == fast
    _sql(store, "DELETE FROM rollup_window_span")  # every report from rollup_probe_day
    assert _reports(store, until) == fast
    store.rebuild_rollups()


def test_network_day_rollup_moves_exactly_with_re_analysis(tmp_path: Path) -> None:
    """On DuckDB, against the daily query itself (PostgreSQL's rows: test_postgres)."""
    store = DuckDBStorage(tmp_path / "collector.duckdb")
    try:
        rng = random.Random(3)
        _insert(store, rng, 0, 600, FIRST)  # dense enough that many networks are decided
        uids = [_uid(n) for n in range(600)]
        _analyse(store, rng, uids)
        first = _derived(store)["rollup_network_day"]
        assert len(first) > 20
        assert first == _daily_rows_computed(store)
        _analyse(store, rng, rng.sample(uids, 300))
        moved = _derived(store)["rollup_network_day"]
        assert moved != first
        assert moved == _daily_rows_computed(store)
        store.rebuild_rollups()
        assert _derived(store)["rollup_network_day"] == moved
    finally:
        store.close()


def test_window_is_the_reports_default() -> None:
    assert WINDOW_DAYS == DEFAULT_WINDOW_DAYS


def _fill(store: Storage, seed: int) -> date:
    """Store and analyse ten days of measurements in batches of mixed days (`seed` draws them);
    return the last day."""
    rng = random.Random(seed)
    uids: list[str] = []
    for offset in range(10):  # ten days: the window holds the last seven
        day = FIRST + timedelta(days=offset)
        _insert(store, rng, len(uids), 60, day)
        uids += [_uid(n) for n in range(len(uids), len(uids) + 60)]
    rng.shuffle(uids)
    for start in range(0, len(uids), 100):  # batches of mixed days, as the analyser saves them
        _analyse(store, rng, uids[start : start + 100])
    return FIRST + timedelta(days=9)


@pytest.mark.parametrize("seed", [1, 2])
def test_reports_through_derived_rollups_equal_a_rebuild_from_raw_rows(
    store: Storage, seed: int
) -> None:
    last = _fill(store, seed)
    _check_against_rebuild(store, last)
    rng = random.Random(seed + 100)
    uids = [str(r[0]) for r in _sql(store, "SELECT uid::VARCHAR FROM measurements ORDER BY 1")]

    # Re-analysis moves counts between verdicts inside and outside the window.
    _analyse(store, rng, rng.sample(uids, 250))
    _check_against_rebuild(store, last)

    # Analyses of a newer day move the window; late ones of an old day do not.
    newer = last + timedelta(days=1)
    _insert(store, rng, len(uids), 40, newer)
    fresh = [_uid(n) for n in range(len(uids), len(uids) + 40)]
    _insert(store, rng, len(uids) + 40, 20, FIRST)
    late = [_uid(n) for n in range(len(uids) + 40, len(uids) + 60)]
    _analyse(store, rng, late)
    assert _span(store) == (last - timedelta(days=WINDOW_DAYS - 1), last)
    _analyse(store, rng, fresh[:20] + rng.sample(uids, 30))
    _check_against_rebuild(store, newer)
    _analyse(store, rng, fresh[20:] + rng.sample(uids, 30))
    _check_against_rebuild(store, newer)

    # Raw retention empties bodies only: every report stays as it was.
    before = _reports(store, newer)
    assert store.strip_raw(datetime(2027, 1, 1), 10_000) > 0
    assert _reports(store, newer) == before
    _check_against_rebuild(store, newer)


def test_migrations_5_and_6_derive_the_rollups_of_an_existing_store(tmp_path: Path) -> None:
    path = tmp_path / "collector.duckdb"
    store = DuckDBStorage(path)
    rng = random.Random(7)
    try:
        for offset in range(9):
            _insert(store, rng, offset * 30, 30, FIRST + timedelta(days=offset))
        _analyse(store, rng, [_uid(n) for n in range(9 * 30)])
        last = FIRST + timedelta(days=8)
        expected = _reports(store, last)
        derived = _derived(store)
    finally:
        store.close()
    with duckdb.connect(str(path)) as con:
        for table in DERIVED:
            con.execute(f"DROP TABLE {table}")
        con.execute("DELETE FROM schema_migrations WHERE version >= 5")
        assert migrate(con, MIGRATIONS) == [5, 6]
    store = DuckDBStorage(path)
    try:
        assert _derived(store) == derived
        assert _reports(store, last) == expected
    finally:
        store.close()


POSTGRES_ONLY = (
    "rollup_network_window",
    "rollup_pooled_window",
    "rollup_category_day",
    "rollup_network_name_day",
)


def test_postgresql_migrations_2_to_4_derive_the_rollups_of_an_existing_store(
    postgres_cluster: Any,
) -> None:
    url = postgres_cluster.create_database()
    store = PostgresStorage(url)
    try:
        last = _fill(store, 7)
        expected = _reports(store, last)
        derived = _derived(store)
        window = network_window_rows(url)
        assert window
        with psycopg.connect(url, autocommit=True) as con:
            for table in (*DERIVED, *POSTGRES_ONLY):
                con.execute(f"DROP TABLE {table}")
            con.execute("DROP INDEX rollup_probe_day_by_domain")  # migration 4's
            con.execute("DELETE FROM schema_migrations WHERE version >= 2")
            assert schema.migrate(con) == [2, 3, 4]
        assert _derived(store) == derived
        assert network_window_rows(url) == window
        assert _reports(store, last) == expected
    finally:
        store.close()


def test_both_backends_keep_the_same_derived_rows_and_answer_the_same_reports(
    postgres_cluster: Any, tmp_path: Path
) -> None:
    duck = DuckDBStorage(tmp_path / "collector.duckdb")
    pg = PostgresStorage(postgres_cluster.create_database())
    try:
        last = _fill(duck, 3)
        assert _fill(pg, 3) == last
        assert _derived(pg) == _derived(duck)
        assert _reports(pg, last) == _reports(duck, last)
    finally:
        duck.close()
        pg.close()
