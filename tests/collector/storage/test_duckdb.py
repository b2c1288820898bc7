"""Both stores (DuckDB and PostgreSQL): idempotent inserts, filters, keyset pagination, aggregation, check-in order,
re-analysis flags and exports."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import msgspec
import pytest
import zstandard

from collector.ingest.rows import SourceNetwork, analysis_row, measurement_row
from collector.storage import (
    AggregationQuery,
    Axis,
    Cursor,
    ExportFormat,
    Filters,
    MeasurementRow,
    Storage,
    TestListUrl,
)
from collector.storage.duckdb import DuckDBStorage
from probe.analysis import ReferenceData, analyse
from probe.model import Analysis, Measurement, Method, Verdict
from tests.collector.running import measurement
from tests.collector.stores import BACKENDS, empty_store

DAY = datetime(2026, 11, 20, 12, tzinfo=UTC)
_zstd = zstandard.ZstdCompressor()


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Storage]:
    """Each test runs on an empty DuckDB file and on an empty PostgreSQL database."""
    db = empty_store(request, tmp_path)
    try:
        yield db
    finally:
        db.close()


def row_of(m: Measurement, source: SourceNetwork | None = None) -> MeasurementRow:
    return measurement_row(
        m, _zstd.compress(msgspec.json.encode(m)), received_at=DAY, source=source
    )


def analysed(store: Storage, verdicts: dict[str, tuple[Verdict, list[Method]]]) -> None:
    rows = []
    for uid, (verdict, methods) in verdicts.items():
        analysis = Analysis(
            verdict=verdict,
            methods=methods,
            confidence=0.9,
            rules_version="1",
            reference_digest="d",
        )
        rows.append(analysis_row(uid, analysis, analysed_at=DAY))
    store.save_analyses(rows)


def test_insert_returns_only_new_uids_and_keeps_the_bytes(store: Storage) -> None:
    a, b = measurement(), measurement()
    assert store.insert([row_of(a), row_of(b)]) == {a.uid, b.uid}
    assert store.insert([row_of(a)]) == set()
    assert store.raw(a.uid) == msgspec.json.encode(a)
    assert store.raw("0190a5a4-3c1e-7abc-8def-0123456789ab") is None
    assert store.raw("not a uid") is None
    assert store.counts().measurements == 2
    assert store.counts().pending_analysis == 2


def populate(store: Storage) -> dict[str, Measurement]:
    made: dict[str, Measurement] = {}
    plan = [
        ("IR", "AS197207", "http://a.test/", "NEWS", 0, Verdict.BLOCKED, [Method.DNS_NXDOMAIN]),
        ("IR", "AS197207", "http://b.test/", "HUMR", 1, Verdict.OK, []),
        ("IR", "AS58224", "http://a.test/", "NEWS", 2, Verdict.BLOCKED, [Method.TCP_RESET]),
        ("RU", "AS12389", "http://a.test/", "NEWS", 3, Verdict.DOWN, []),
        ("RU", "AS12389", "http://c.test/", None, 9, Verdict.BLOCKED, [Method.HTTP_BLOCKPAGE]),
    ]
    verdicts = {}
    for cc, asn, url, category, days, verdict, methods in plan:
        m = measurement(
            url=url,
            cc=cc,
            asn=asn,
            category=category,
            start=DAY - timedelta(days=days),
            probe_id=f"p-{cc}",
        )
        made[m.uid] = m
        verdicts[m.uid] = (verdict, list(methods))
    store.insert([row_of(m) for m in made.values()])
    last = list(made)[-1]
    verdicts.pop(last)  # one stays pending
    analysed(store, verdicts)
    return made


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (Filters(), 5),
        (Filters(country=("IR",)), 3),
        (Filters(asn=(197207,)), 2),
        (Filters(domain=("a.test",)), 3),
        (Filters(input="http://b.test/"), 1),
        (Filters(category=("NEWS",)), 3),
        (Filters(verdict=("blocked",)), 2),
        (Filters(verdict=("pending",)), 1),
        (Filters(verdict=("ok", "pending")), 2),
        (Filters(method=("tcp.reset", "dns.nxdomain")), 2),
        (Filters(since=DAY - timedelta(days=1, hours=1)), 2),
        (Filters(until=DAY - timedelta(days=2, hours=1)), 2),
        (Filters(software_name="crenel-probe"), 5),
        (Filters(software_name="crenel-probe", software_version="9.9"), 0),
        (Filters(country=("RU",), verdict=("down",)), 1),
    ],
    ids=[
        "all",
        "country",
        "asn",
        "domain",
        "input",
        "category",
        "verdict",
        "pending",
        "two-verdicts",
        "any-method",
        "since",
        "until",
        "software",
        "software-version",
        "combined",
    ],
)
def test_filters_select_the_right_measurements(
    store: Storage, filters: Filters, expected: int
) -> None:
    populate(store)
    assert len(store.summaries(filters, None, 100)) == expected


def test_keyset_pages_cover_everything_once_newest_first(store: Storage) -> None:
    start = DAY - timedelta(hours=1)
    made = [measurement(start=start - timedelta(minutes=i // 3)) for i in range(25)]
    store.insert([row_of(m) for m in made])
    seen: list[str] = []
    cursor: Cursor | None = None
    for _ in range(20):
        page = store.summaries(Filters(), cursor, 7)
        if not page:
            break
        seen.extend(r.uid for r in page)
        cursor = Cursor(start_time=page[-1].start_time, uid=page[-1].uid)
    assert sorted(seen) == sorted(m.uid for m in made) and len(seen) == len(set(seen))
    expected = sorted(made, key=lambda m: (m.start_time, m.uid), reverse=True)
    assert seen == [m.uid for m in expected]


def test_aggregation_counts_verdicts_methods_and_probes(store: Storage) -> None:
    populate(store)
    by_country = store.aggregate(AggregationQuery(axis_x=Axis.COUNTRY, with_probes=True))
    assert [(r.x, r.measurements, r.ok, r.blocked, r.down, r.pending) for r in by_country] == [
        ("IR", 3, 1, 2, 0, 0),
        ("RU", 2, 0, 0, 1, 1),
    ]
    assert by_country[0].methods == {"dns.nxdomain": 1, "tcp.reset": 1}
    assert by_country[0].probes == 1
    two = store.aggregate(AggregationQuery(axis_x=Axis.COUNTRY, axis_y=Axis.ASN))
    assert [(r.x, r.y, r.measurements) for r in two] == [
        ("IR", "AS58224", 1),
        ("IR", "AS197207", 2),
        ("RU", "AS12389", 2),
    ]
    methods = store.aggregate(AggregationQuery(axis_x=Axis.METHOD))
    assert [(r.x, r.measurements, r.blocked) for r in methods] == [
        ("dns.nxdomain", 1, 1),
        ("tcp.reset", 1, 1),
    ]
    days = store.aggregate(AggregationQuery(axis_x=Axis.DAY, filters=Filters(domain=("a.test",))))
    assert [r.x for r in days] == ["2026-11-17", "2026-11-18", "2026-11-20"]
    weeks = store.aggregate(AggregationQuery(axis_x=Axis.WEEK, axis_y=Axis.VERDICT))
    assert {(r.x, r.y) for r in weeks} >= {("2026-11-16", "blocked"), ("2026-11-09", "pending")}
    categories = store.aggregate(AggregationQuery(axis_x=Axis.CATEGORY))
    assert [(r.x, r.measurements) for r in categories] == [("", 1), ("HUMR", 1), ("NEWS", 3)]


def test_one_flooding_probe_can_be_capped_per_cell(store: Storage) -> None:
    flood = [measurement(probe_id="p-flood", cc="IR") for _ in range(30)]
    honest = [measurement(probe_id=f"p-{i}", cc="IR") for i in range(3)]
    store.insert([row_of(m) for m in flood + honest])
    plain = store.aggregate(AggregationQuery(axis_x=Axis.COUNTRY, with_probes=True))
    capped = store.aggregate(
        AggregationQuery(axis_x=Axis.COUNTRY, max_per_probe=2, with_probes=True)
    )
    assert (plain[0].measurements, plain[0].probes) == (33, 4)
    assert (capped[0].measurements, capped[0].probes) == (5, 4)


def test_check_in_puts_least_measured_urls_of_the_network_first(store: Storage) -> None:
    lists = [
        TestListUrl(url="http://a.test/", category_code="NEWS"),
        TestListUrl(url="http://b.test/", category_code="NEWS"),
        TestListUrl(url="http://c.test/", category_code="HUMR"),
        TestListUrl(url="http://ir-only.test/", category_code="NEWS", cc="IR"),
        TestListUrl(url="http://a.test/", category_code="POLR", cc="IR"),
        TestListUrl(url="http://ru-only.test/", category_code="NEWS", cc="RU"),
    ]
    assert store.replace_test_lists(lists, "test") == 6
    rows = [row_of(measurement(url="http://a.test/")) for _ in range(3)]
    rows += [row_of(measurement(url="http://b.test/"))]
    rows += [row_of(measurement(url="http://c.test/", asn="AS1")) for _ in range(5)]
    store.insert(rows)
    since = DAY - timedelta(days=7)
    urls = store.check_in_urls(cc="IR", asn=197207, categories=(), limit=10, since=since)
    assert [u.url for u in urls][-2:] == ["http://b.test/", "http://a.test/"]
    assert {u.url for u in urls[:2]} == {"http://c.test/", "http://ir-only.test/"}
    assert {u.url: u.list for u in urls}["http://a.test/"] == "IR"
    assert {u.url: u.recent_measurements for u in urls}["http://a.test/"] == 3
    news = store.check_in_urls(cc="IR", asn=197207, categories=("NEWS",), limit=10, since=since)
    assert {u.url for u in news} == {"http://b.test/", "http://ir-only.test/"}
    assert len(store.check_in_urls(cc="ZZ", asn=0, categories=(), limit=2, since=since)) == 2
    later = store.check_in_urls(
        cc="IR", asn=197207, categories=(), limit=10, since=datetime.now(UTC) + timedelta(days=1)
    )
    assert all(u.recent_measurements == 0 for u in later)


def test_reanalysis_flags_rows_of_other_rules_or_references(store: Storage) -> None:
    made = populate(store)
    assert store.counts().pending_analysis == 1
    assert store.request_reanalysis(rules_version="1", reference_digest="d", everything=False) == 0
    assert store.request_reanalysis(rules_version="2", reference_digest="d", everything=False) == 4
    assert store.counts().pending_analysis == 5
    pending = dict(store.pending_analysis(10))
    assert set(pending) == set(made)
    uid = next(iter(made))
    assert zstandard.ZstdDecompressor().decompress(pending[uid]) == msgspec.json.encode(made[uid])
    store.save_analyses(
        [analysis_row(u, analyse(made[u], ReferenceData()), analysed_at=DAY) for u in pending]
    )
    assert store.counts().pending_analysis == 0
    assert store.request_reanalysis(rules_version="x", reference_digest="y", everything=True) == 5


def test_analyses_that_change_or_keep_methods_are_stored_and_counted(store: Storage) -> None:
    """Saving keeps an unchanged method list as it is and rewrites a changed one (DuckDB writes
    the two kinds with different statements); summaries and rollup counts follow every save."""
    kept, changed = measurement(cc="IR"), measurement(cc="IR")
    store.insert([row_of(kept), row_of(changed)])
    steps: list[tuple[list[Method], list[Method]]] = [
        ([], [Method.DNS_NXDOMAIN, Method.TCP_RESET]),
        ([], []),
        ([], [Method.TCP_RESET]),
    ]
    for kept_methods, changed_methods in steps:
        analysed(
            store,
            {
                kept.uid: (Verdict.OK, kept_methods),
                changed.uid: (
                    Verdict.BLOCKED if changed_methods else Verdict.OK,
                    changed_methods,
                ),
            },
        )
        summaries = {s.uid: s for s in store.summaries(Filters(), None, 10)}
        assert summaries[kept.uid].methods == []
        assert summaries[changed.uid].methods == [str(m) for m in changed_methods]
        by_method = store.aggregate(AggregationQuery(axis_x=Axis.METHOD))
        assert {r.x: r.blocked for r in by_method} == {str(m): 1 for m in changed_methods}
        (country,) = store.aggregate(AggregationQuery(axis_x=Axis.COUNTRY))
        assert (country.ok, country.blocked, country.pending) == (
            2 - bool(changed_methods),
            int(bool(changed_methods)),
            0,
        )
    assert store.counts().pending_analysis == 0


def test_a_row_stored_with_null_methods_is_analysed_like_a_new_one(tmp_path: Path) -> None:
    """Rows stored before new rows' methods started as an empty list hold NULL there."""
    store = DuckDBStorage(tmp_path / "c.duckdb")
    try:
        old, new = measurement(), measurement()
        store.insert([row_of(old), row_of(new)])
        with store._transaction() as con:
            con.execute("UPDATE measurements SET methods = NULL WHERE uid = ?", [old.uid])
        analysed(store, {old.uid: (Verdict.OK, []), new.uid: (Verdict.OK, [])})
        with store._reader() as cur:
            stored = dict(cur.execute("SELECT uid::VARCHAR, methods FROM measurements").fetchall())
        assert stored == {old.uid: [], new.uid: []}
        (country,) = store.aggregate(AggregationQuery(axis_x=Axis.COUNTRY))
        assert (country.ok, country.pending) == (2, 0)
    finally:
        store.close()


def test_geo_mismatch_is_recorded_without_the_address(store: Storage) -> None:
    claimed = measurement(cc="IR", asn="AS197207")
    unknown = measurement(cc="ZZ", asn="AS0")
    store.insert(
        [
            row_of(claimed, SourceNetwork(cc="DE", asn=3320, network_name="DTAG")),
            row_of(unknown, SourceNetwork(cc="DE", asn=3320)),
        ]
    )
    rows = {r.uid: r for r in store.summaries(Filters(), None, 10)}
    assert rows[claimed.uid].geo_mismatch is True
    assert rows[unknown.uid].geo_mismatch is False
    assert len(store.summaries(Filters(geo_mismatch=True), None, 10)) == 1


def test_exports_hold_the_same_rows_in_every_format(store: Storage, tmp_path: Path) -> None:
    made = populate(store)
    window = Filters(since=DAY - timedelta(days=30), until=DAY + timedelta(days=1))
    parts = tmp_path / "parquet"
    parts.mkdir()
    assert store.export(window, ExportFormat.PARQUET, parts, partitioned=True) == 5
    assert {p.parent.name for p in parts.glob("*/*/*.parquet")} == {"probe_cc=IR", "probe_cc=RU"}
    single = tmp_path / "one.parquet"
    assert store.export(window, ExportFormat.PARQUET, single, partitioned=False) == 5
    jsonl = tmp_path / "all.jsonl"
    assert store.export(window, ExportFormat.JSONL, jsonl, partitioned=False) == 5
    csv_file = tmp_path / "all.csv"
    assert store.export(window, ExportFormat.CSV, csv_file, partitioned=False) == 5
    with duckdb.connect() as db:
        hive = db.execute(
            f"SELECT uid, probe_cc, verdict, measurement FROM read_parquet('{parts}/**/*.parquet', "
            "hive_partitioning = true) ORDER BY uid"
        ).fetchall()
        flat = db.execute(
            f"SELECT uid, probe_cc, verdict, measurement FROM '{single}' ORDER BY uid"
        ).fetchall()
        csv_rows = db.execute(
            f"SELECT uid, probe_cc, verdict, methods FROM read_csv('{csv_file}') ORDER BY uid"
        ).fetchall()
    assert hive == flat
    assert [r[0] for r in hive] == sorted(made)
    assert {r[0]: r[3].encode() for r in hive} == {
        u: msgspec.json.encode(m) for u, m in made.items()
    }
    assert [(r[0], r[1], r[2]) for r in csv_rows] == [(r[0], r[1], r[2]) for r in hive]
    lines = jsonl.read_bytes().splitlines()
    assert sorted(json.loads(line)["uid"] for line in lines) == sorted(made)
    empty = tmp_path / "empty.parquet"
    nothing = Filters(since=DAY + timedelta(days=5), until=DAY + timedelta(days=6))
    assert store.export(nothing, ExportFormat.PARQUET, empty, partitioned=False) == 0
    with duckdb.connect() as db:
        assert db.execute(f"SELECT count(*) FROM '{empty}'").fetchall() == [(0,)]


def test_a_second_process_cannot_open_a_directory_in_use(tmp_path: Path) -> None:
    store = DuckDBStorage(tmp_path / "c.duckdb")
    code = (
        "import sys; from pathlib import Path\n"
        "from collector.storage.duckdb import DuckDBStorage\n"
        "from collector.core.errors import DataDirLocked\n"
        "try:\n    DuckDBStorage(Path(sys.argv[1]))\n"
        "except DataDirLocked:\n    sys.exit(75)\n"
    )
    try:
        result = subprocess.run(
            [sys.executable, "-c", code, str(store.path)],
            capture_output=True,
            timeout=60,
            check=False,
        )
    finally:
        store.close()
    assert result.returncode == 75, result.stderr


def test_memory_and_threads_bound_duckdb(tmp_path: Path) -> None:
    store = DuckDBStorage(tmp_path / "bounded.duckdb", memory_mb=100, threads=1)
    try:
        with store._reader() as cur:  # type: ignore[attr-defined]
            memory, threads = cur.execute(
                "SELECT current_setting('memory_limit'), current_setting('threads')"
            ).fetchone()
        assert memory in ("100.0 MiB", "104.8 MB", "100.0MiB"), memory
        assert int(threads) == 1
    finally:
        store.close()


def test_the_collector_bounds_duckdb_by_default() -> None:
    from collector.config import Limits, load_collector_config

    assert Limits().db_memory_mb == 128
    config = load_collector_config({"db_memory_mb": "256", "db_threads": "2"}, {})
    assert (config.limits.db_memory_mb, config.limits.db_threads) == (256, 2)


def test_duckdb_never_draws_a_progress_bar_on_stdout(tmp_path: Path) -> None:
    store = DuckDBStorage(tmp_path / "quiet.duckdb")
    try:
        with store._reader() as cur:  # type: ignore[attr-defined]
            (value,) = cur.execute("SELECT current_setting('enable_progress_bar')").fetchone()
        assert value is False
    finally:
        store.close()
