"""A report is a function of the stored data alone: the order DuckDB reads or adds the rows in
never changes it (issue 9: reports identical whichever instance answers).

The weighted counts are sums of fractional weights that the model rounds to whole counts; summed
as DOUBLEs their last bits, and so a count of exactly 5.5, depended on the rows' order. The
dataset here is such a tie: an uploader network's three probes weigh 5/12 each (12 capped
measurements, uploader cap 5), so its blocked measurements weigh 6 x 5/12 = 2.5, and two trusted
probes add 3: 5.5 blocked, whatever the order.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime
from pathlib import Path

import msgspec
import psycopg
import pytest

from collector.regional.model import ModelSettings
from collector.reports.build import changes, country_report, domain_detail
from collector.storage import ReportQuery, Storage
from collector.storage.duckdb import DuckDBStorage
from collector.storage.postgres.store import PostgresStorage
from tests.collector.regional_oracle import ProbeCounts, estimate_over_days

S = ModelSettings()
DAY = date(2026, 11, 1)
QUERY = ReportQuery(cc="CN", since=DAY, until=DAY)
DOMAIN = "tie.example"
PROBES = (
    ProbeCounts("s1", "shared", blocked=1, ok=3),
    ProbeCounts("s2", "shared", blocked=2, ok=2),
    ProbeCounts("s3", "shared", blocked=3, ok=1),
    ProbeCounts("t1", blocked=1),
    ProbeCounts("t2", blocked=2),
)


@pytest.fixture(params=["duckdb, 1 thread", "duckdb, 4 threads", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Storage]:
    """An empty store: DuckDB with one thread or several, or a PostgreSQL database."""
    if request.param == "postgresql":
        opened: Storage = PostgresStorage(
            request.getfixturevalue("postgres_cluster").create_database()
        )
    else:
        threads = 1 if request.param == "duckdb, 1 thread" else 4
        opened = DuckDBStorage(tmp_path / "collector.duckdb", threads=threads)
    try:
        yield opened
    finally:
        opened.close()


def _load(store: Storage, probes: Sequence[ProbeCounts]) -> None:
    """Replace the per-probe rollup with `probes`' rows, inserted in their order."""
    delete = "DELETE FROM rollup_probe_day"
    insert = (
        "INSERT INTO rollup_probe_day VALUES (?, 'CN', 64500, '', ?, ?, ?, false, "
        "'NEWS', 'Net', ?, 0, ?, ?, 0, 0, 0, 'crenel')"
    )
    rows = [[DAY, DOMAIN, p.uploader, p.probe_id, p.blocked, p.ok, p.down] for p in probes]
    if isinstance(store, PostgresStorage):
        with psycopg.connect(store.url, autocommit=True) as con:
            con.execute(delete)
            for row in rows:
                con.execute(insert.replace("?", "%s"), row)
    else:
        assert isinstance(store, DuckDBStorage)
        store._con.execute(delete)
        for row in rows:
            store._con.execute(insert, row)


def _reports(store: Storage) -> bytes:
    now = datetime(2026, 11, 2, tzinfo=UTC)
    one = ReportQuery(cc="CN", since=DAY, until=DAY, domain=DOMAIN)
    return b"\n".join(
        msgspec.json.encode(r)
        for r in (
            country_report(store, QUERY, S, now),
            domain_detail(store, one, S),
            changes(store, QUERY, S),
            store.report_daily_networks(one, S),
        )
    )


def test_the_same_rows_in_any_order_give_the_same_reports(store: Storage) -> None:
    seen: dict[bytes, list[tuple[str, ...]]] = {}
    for order in itertools.islice(itertools.permutations(PROBES), 0, None, 7):  # 18 orders
        _load(store, order)
        seen.setdefault(_reports(store), []).append(tuple(p.probe_id for p in order))
    assert len(seen) == 1, [orders[0] for orders in seen.values()]
    # And they are the model's: 5.5 blocked rounds half to even, to 6.
    report = msgspec.json.decode(next(iter(seen)).split(b"\n")[0])
    [line] = report["domains"]
    expected, _ = estimate_over_days({DAY.isoformat(): {64500: PROBES}}, S)
    assert (line["verdict"], line["confidence"]) == (expected.verdict.value, expected.confidence)
