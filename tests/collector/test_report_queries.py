"""The report SQL against hand-made rollup rows: it must agree with the pure model."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from pathlib import Path

import psycopg
import pytest

from collector.regional.model import ModelSettings
from collector.storage import ReportQuery, Storage
from collector.storage.duckdb import DuckDBStorage
from collector.storage.network_day_rollups import FILL as FILL_NETWORK_DAY
from collector.storage.pooled_rollups import FILL as FILL_POOLED
from collector.storage.postgres import derived_rollups, network_day
from collector.storage.postgres.store import PostgresStorage
from collector.storage.window_rollups import REFRESH as REFRESH_WINDOW
from tests.collector.regional_oracle import (
    ProbeCounts,
    noise_baseline,
    uploader_weights,
    weigh_probes,
)
from tests.collector.stores import BACKENDS, empty_store

S = ModelSettings()
DAY = date(2026, 11, 1)
QUERY = ReportQuery(cc="CN", since=DAY, until=DAY)


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Storage]:
    """The report SQL of each backend: an empty DuckDB file, an empty PostgreSQL database."""
    storage = empty_store(request, tmp_path)
    try:
        yield storage
    finally:
        storage.close()


def _probe_day(
    store: Storage,
    *,
    asn: int,
    probe: str,
    blocked: int = 0,
    no_control: int = 0,
    ok: int = 0,
    region: str = "",
    domain: str = "d.example",
    uploader: str = "",
    contradicted: bool = False,
) -> None:
    sql = (
        "INSERT INTO rollup_probe_day VALUES (?, 'CN', ?, ?, ?, ?, ?, ?, 'NEWS', 'Net', ?, ?, ?, "
        "0, 0, 0, 0, 'crenel')"
    )
    values = [DAY, asn, region, domain, uploader, probe, contradicted, blocked, no_control, ok]
    _insert(store, sql, values)


def _pool(store: DuckDBStorage) -> None:
    """Derive the pooled, window and per-day network rollups from the hand-made per-probe rows,
    as a rebuild does."""
    store._con.execute("DELETE FROM rollup_uploader_day")
    store._con.execute(FILL_POOLED)
    for statement in REFRESH_WINDOW:
        store._con.execute(statement)
    store._con.execute("DELETE FROM rollup_network_day")
    store._con.execute(FILL_NETWORK_DAY)


def _insert(store: Storage, sql: str, values: list[object]) -> None:
    """Run one INSERT of hand-made rollup rows on the store's database."""
    if isinstance(store, PostgresStorage):
        with psycopg.connect(store.url, autocommit=True) as con:
            con.execute(sql.replace("?", "%s"), values)
            con.execute("DELETE FROM rollup_uploader_day")
            for statement in (derived_rollups.FILL_POOLED, *derived_rollups.REFRESH):
                con.execute(statement)
            con.execute("DELETE FROM rollup_network_day")  # derived, as a rebuild does
            con.execute(network_day.FILL)
    else:
        assert isinstance(store, DuckDBStorage)
        store._con.execute(sql, values)
        _pool(store)


def test_weighted_counts_in_sql_equal_the_model(store: Storage) -> None:
    probes = [
        ProbeCounts("a", blocked=40, ok=2),  # a flooding probe: its weight is capped at 5
        ProbeCounts("b", blocked=1, blocked_no_control=2, ok=1),
        ProbeCounts("c", ok=3),
    ]
    for p in probes:
        _probe_day(store, asn=1, probe=p.probe_id, blocked=p.blocked,
                   no_control=p.blocked_no_control, ok=p.ok)  # fmt: skip
    table = store.report_domains(QUERY, S)
    [network] = table.network_counts("d.example")
    expected = weigh_probes(1, probes, S)
    assert network.blocked_w == pytest.approx(expected.blocked_w)
    assert network.ok_w == pytest.approx(expected.ok_w)
    assert (network.informative, network.informative_probes, network.probes) == (
        expected.informative,
        expected.informative_probes,
        expected.probes,
    )
    assert table.sparse == {}


def test_uploader_networks_are_capped_across_probes_and_networks_as_in_the_model(
    store: Storage,
) -> None:
    networks = {
        1: [
            ProbeCounts("a", uploader="u1", ok=4),
            ProbeCounts("b", uploader="u2", ok=3),
            ProbeCounts("s1", uploader="evil", blocked=3),
            ProbeCounts("s2", uploader="evil", blocked=4, blocked_no_control=2),
            ProbeCounts("t", ok=2),  # a trusted source's probe: a unit of its own
        ],
        2: [
            ProbeCounts("c", uploader="u3", blocked=1, ok=4),
            ProbeCounts("d", uploader="u1", ok=2),
            ProbeCounts("s3", uploader="evil", blocked=9),
        ],
    }
    for asn, probes in networks.items():
        for p in probes:
            _probe_day(store, asn=asn, probe=p.probe_id, uploader=p.uploader, blocked=p.blocked,
                       no_control=p.blocked_no_control, ok=p.ok)  # fmt: skip
    units = uploader_weights(networks, S)
    assert units["u:evil"] == pytest.approx(5 / 13)  # 3 + 5 + 5 after the probe caps
    table = store.report_domains(QUERY, S)
    for got in table.network_counts("d.example"):
        expected = weigh_probes(got.asn, networks[got.asn], S, units=units)
        assert got.blocked_w == pytest.approx(expected.blocked_w)
        assert got.ok_w == pytest.approx(expected.ok_w)
        assert got.informative_probes == expected.informative_probes
    assert {n.asn: n.informative_probes for n in table.network_counts("d.example")} == {1: 4, 2: 3}


def test_contradicted_measurements_count_only_when_the_settings_say_so(
    store: Storage,
) -> None:
    _probe_day(store, asn=1, probe="a", uploader="u1", ok=5)
    _probe_day(store, asn=1, probe="b", uploader="u2", ok=5)
    _probe_day(store, asn=1, probe="c", uploader="u3", blocked=5, contradicted=True)
    [network] = store.report_domains(QUERY, S).network_counts("d.example")
    assert (network.blocked_w, network.informative_probes) == (0, 2)
    with_them = ModelSettings(count_contradicted=True)
    [network] = store.report_domains(QUERY, with_them).network_counts("d.example")
    assert (network.blocked_w, network.informative_probes) == (5, 3)


def test_networks_too_small_to_decide_are_summed_not_listed(store: Storage) -> None:
    _probe_day(store, asn=1, probe="a", blocked=3)
    _probe_day(store, asn=1, probe="b", blocked=3)
    _probe_day(store, asn=2, probe="c", ok=5)  # one probe: too few
    _probe_day(store, asn=3, probe="d", ok=1)
    _probe_day(store, asn=3, probe="e", ok=1)  # two measurements: too few
    table = store.report_domains(QUERY, S)
    assert [n.asn for n in table.network_counts("d.example")] == [1]
    sparse = table.sparse["d.example"]
    assert (sparse.networks, sparse.measurements, sparse.probes) == (2, 7, 3)
    one_domain = ReportQuery(cc="CN", since=DAY, until=DAY, domain="d.example")
    detail = store.report_domains(one_domain, S)
    assert sorted(n.asn for n in detail.network_counts("d.example")) == [1, 2, 3]
    assert detail.sparse == {}


def test_region_narrows_the_report(store: Storage) -> None:
    _probe_day(store, asn=1, probe="a", blocked=3, region="Tehran")
    _probe_day(store, asn=1, probe="b", blocked=3, region="Tehran")
    _probe_day(store, asn=1, probe="c", ok=3, region="Isfahan")
    _probe_day(store, asn=1, probe="d", ok=3, region="Isfahan")
    tehran = ReportQuery(cc="CN", since=DAY, until=DAY, region="Tehran")
    [network] = store.report_domains(tehran, S).network_counts("d.example")
    assert network.blocked == 6 and network.ok == 0
    assert store.report_daily_shares(tehran, S) == {"d.example": [(DAY, 6, 0)]}
    assert store.report_daily_shares(QUERY, S) == {"d.example": [(DAY, 6, 6)]}


def _country_day(
    store: Storage, cc: str, probe: str, *, blocked: int, ok: int, uploader: str = ""
) -> None:
    _insert(
        store,
        "INSERT INTO rollup_probe_day VALUES (?, ?, 1, '', 'd.example', ?, ?, false, NULL, NULL, "
        "?, 0, ?, 0, 0, 0, 0, 'crenel')",
        [DAY, cc, uploader, probe, blocked, ok],
    )


def test_baseline_in_sql_is_the_models_median(store: Storage) -> None:
    shares = {"IR": (1, 3), "RU": (2, 2), "TR": (3, 1), "DE": (0, 4)}
    for cc, (blocked, ok) in shares.items():
        _country_day(store, cc, "a", blocked=blocked, ok=ok)
        _country_day(store, cc, "b", blocked=blocked, ok=ok)
    _country_day(store, "US", "a", blocked=1, ok=0)  # too few measurements
    _country_day(store, "FR", "a", blocked=5, ok=0, uploader="evil")  # one uploader network
    expected = noise_baseline([b / (b + o) for b, o in shares.values()], S)
    assert store.report_baselines(QUERY, S) == {"d.example": pytest.approx(expected)}
    # All countries' baselines at once (the overview's) are each country's own.
    every = [replace(QUERY, cc=cc) for cc in ("CN", *shares, "US", "FR")]
    assert store.report_baselines_of(every, S) == [store.report_baselines(q, S) for q in every]
    assert store.report_baselines_of(every, S)[1] == {"d.example": pytest.approx(0.5)}  # RU TR DE
    _insert(store, "DELETE FROM rollup_probe_day WHERE probe_cc NOT IN ('IR', 'RU')", [])
    assert store.report_baselines(QUERY, S) == {}  # two countries are too few for a baseline


def test_one_uploader_cannot_make_baseline_countries(store: Storage) -> None:
    for cc in ("IR", "RU", "TR", "DE", "FR"):
        for i in range(20):  # many ids, one uploader network: one voice per country
            _country_day(store, cc, f"sybil-{i}", blocked=50, ok=0, uploader="evil")
    assert store.report_baselines(QUERY, S) == {}


def test_each_days_tables_in_one_query_equal_one_day_reports(store: Storage) -> None:
    second = date(2026, 11, 2)
    for day, blocked in ((DAY, 0), (second, 4)):
        for probe, uploader in (("a", "u1"), ("b", "u2"), ("c", "")):
            _insert(
                store,
                "INSERT INTO rollup_probe_day VALUES (?, 'CN', 1, '', 'd.example', ?, ?, false, "
                "'NEWS', 'Net', ?, 1, 2, 0, 0, 0, 0, 'crenel')",
                [day, uploader, probe, blocked],
            )
    _probe_day(store, asn=2, probe="lone", ok=9)  # one probe: summed as sparse on DAY
    window = ReportQuery(cc="CN", since=DAY, until=second)
    daily = store.report_daily_domains(window, S)
    assert sorted(daily) == [DAY, second]
    for day, table in daily.items():
        alone = store.report_domains(ReportQuery(cc="CN", since=day, until=day), S)
        assert table.domains == alone.domains and table.sparse == {}
        without_methods = [replace(n, methods={}) for n in alone.network_counts("d.example")]
        assert table.network_counts("d.example") == without_methods
    assert store.report_domains(ReportQuery(cc="CN", since=DAY, until=DAY), S).sparse
    one = store.report_daily_domains(replace(window, domain="d.example"), S)
    assert [n.asn for n in one[DAY].network_counts("d.example")] == [1, 2]  # every network
