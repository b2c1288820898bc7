"""`Storage.insert_analysed`, on both backends: rows stored with their analyses leave the same
rows, summaries and rollups (every rollup table, derived ones included) as `insert` followed by
`save_analyses` of the new rows' analyses, also when part of a batch is already stored (a
re-import), whose rows are skipped and counted nowhere."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from collector.storage import AnalysedRow, AnalysisRow, Filters, MeasurementRow, Storage
from collector.storage.duckdb import DuckDBStorage
from collector.storage.postgres.store import PostgresStorage
from tests.collector.stores import BACKENDS, empty_store

FIRST = date(2026, 11, 1)
NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)
COUNTRIES = ("IR", "RU")
DOMAINS = tuple(f"site{i}.example" for i in range(4))
VERDICTS = ("blocked", "blocked", "ok", "down", "inconclusive")
METHODS = ("dns.nxdomain", "tcp.reset", "http.blockpage")


@pytest.fixture(params=BACKENDS)
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Storage, Storage]]:
    """Two empty stores of one backend: one written with `insert_analysed`, one with `insert`
    and `save_analyses`."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = empty_store(request, tmp_path / "a")
    try:
        second = empty_store(request, tmp_path / "b")
        try:
            yield first, second
        finally:
            second.close()
    finally:
        first.close()


def _uid(n: int) -> str:
    return f"01900000-0000-7000-8000-{n:012x}"


def _row(rng: random.Random, n: int, day: date) -> MeasurementRow:
    at = datetime.combine(day, datetime.min.time(), UTC) + timedelta(minutes=rng.randrange(1440))
    domain = rng.choice(DOMAINS)
    asn = 64500 + rng.randrange(3)
    return MeasurementRow(
        uid=_uid(n),
        received_at=NOW,
        start_time=at,
        probe_cc=rng.choice(COUNTRIES),
        probe_asn=asn,
        probe_network_name=f"Net {asn}",  # one label per network and per domain: the
        probe_id=rng.choice((None, "p1", "p2", "p3")),  # rollups keep one per key
        region=rng.choice((None, "North")),
        input=f"https://{domain}/",
        domain=domain,
        category_code="NEWS" if DOMAINS.index(domain) % 2 else None,
        software_name="ooniprobe-cli",
        software_version="3.20.0",
        format_version="1.2",
        probe_verdict=rng.choice(("ok", "blocked")),
        probe_methods=[],
        probe_confidence=0.5,
        control_failed=rng.random() < 0.15,
        source_cc=None,
        source_asn=None,
        geo_mismatch=rng.choice((None, False, True)),
        raw_zstd=bytes(rng.randrange(256) for _ in range(16)),
        uploader_network=rng.choice((None, None, "up1")),
        origin=rng.choice(("ooni", "ooni", "crenel")),
    )


def _analysis(rng: random.Random, uid: str) -> AnalysisRow:
    verdict = rng.choice(VERDICTS)
    blocked = verdict == "blocked"
    methods = rng.sample(METHODS, rng.randrange(3)) if blocked else []
    return AnalysisRow(
        uid=uid,
        verdict=verdict,
        methods=methods,
        confidence=round(rng.random(), 3),
        blocking="dns" if blocked else None,
        accessible=not blocked if verdict in ("ok", "blocked") else None,
        fingerprint_confirmed=blocked and rng.random() < 0.4,
        rules_version="7",
        reference_digest="digest",
        analysed_at=NOW,
        analysis_json=f'{{"verdict": "{verdict}"}}',
        packet_confirmed=blocked and rng.random() < 0.3,
    )


NEWER_FROM = 500
"""Rows numbered from here on spread over two more days than those before."""


def _day(n: int) -> date:
    return FIRST + timedelta(days=n % (10 if n >= NEWER_FROM else 8))


def _batch(rng: random.Random, numbers: list[int]) -> list[AnalysedRow]:
    """Return an analysed row for each number (same number, same row: a re-import), each
    analysis drawn afresh (a re-import analysed with other rules must still change nothing)."""
    rows = []
    for n in numbers:
        row = _row(random.Random(n), n, _day(n))
        rows.append(AnalysedRow(row=row, analysis=_analysis(rng, row.uid)))
    return rows


def _insert_then_save(store: Storage, batch: list[AnalysedRow]) -> set[str]:
    """Store `batch` the way imports did before `insert_analysed`; return the new uids."""
    new = store.insert([item.row for item in batch])
    firsts = {item.row.uid: item.analysis for item in reversed(batch)}
    store.save_analyses([firsts[uid] for uid in sorted(new)])
    return new


def _sql(store: Storage, sql: str) -> list[tuple[Any, ...]]:
    if isinstance(store, PostgresStorage):
        with psycopg.connect(store.url, autocommit=True) as con:
            return con.execute(sql).fetchall()
    assert isinstance(store, DuckDBStorage)
    return store._con.execute(sql).fetchall()


def _rounded(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Return the rows sorted, floats rounded (sums of weights may differ in the last bit with
    the order they are added in)."""
    return sorted(
        (tuple(round(v, 9) if isinstance(v, float) else v for v in row) for row in rows), key=str
    )


def _contents(store: Storage) -> dict[str, Any]:
    """Return every stored row, the searches' summaries, the counts and every rollup table."""
    tables = [
        str(r[0])
        for r in _sql(
            store,
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_name LIKE 'rollup%' AND table_type = 'BASE TABLE' ORDER BY 1",
        )
    ]
    assert {"rollup_probe_day", "rollup_network_day", "rollup_window_span"} <= set(tables)
    out: dict[str, Any] = {t: _rounded(_sql(store, f"SELECT * FROM {t}")) for t in tables}
    out["measurements"] = _rounded(_sql(store, "SELECT * FROM measurements"))
    out["summaries"] = store.summaries(Filters(), None, 10_000)
    out["counts"] = store.counts()
    return out


def test_analysed_rows_are_stored_and_rolled_up_as_insert_then_save_analyses(
    stores: tuple[Storage, Storage],
) -> None:
    analysed, reference = stores
    rng = random.Random(11)
    # Rows stored before, not analysed yet (an import stopped between its two transactions).
    pending = [item.row for item in _batch(rng, list(range(400, 420)))]
    for store in stores:
        assert store.insert(pending) == {r.uid for r in pending}

    first = _batch(rng, list(range(400)))
    first.append(_batch(rng, [5])[0])  # a uid twice: its first row and analysis count
    version = analysed.rollup_version
    assert analysed.insert_analysed(first) == _insert_then_save(reference, first)
    assert analysed.rollup_version != version
    contents = _contents(analysed)
    assert contents == _contents(reference)
    assert contents["counts"].measurements == 420 and contents["counts"].pending_analysis == 20
    assert len(contents["rollup_methods"]) > 10 and contents["rollup_network_day"]

    # Part stored before (analysed, and pending), part new, with newer days: the window moves.
    mixed = _batch(rng, [*range(350, 400), *range(405, 415), *range(NEWER_FROM, 700)])
    new = analysed.insert_analysed(mixed)
    assert new == _insert_then_save(reference, mixed)
    assert new == {_uid(n) for n in range(NEWER_FROM, 700)}
    contents = _contents(analysed)
    assert contents == _contents(reference)
    assert contents["counts"].pending_analysis == 20
    last = FIRST + timedelta(days=9)
    assert contents["rollup_window_span"] == [(last - timedelta(days=6), last)]

    # The same file imported again stores nothing and moves no rollup.
    assert analysed.insert_analysed(_batch(rng, [*range(420), *range(NEWER_FROM, 700)])) == set()
    assert _contents(analysed) == contents


def test_no_rows_store_nothing(stores: tuple[Storage, Storage]) -> None:
    store = stores[0]
    assert store.insert_analysed([]) == set()
    assert store.counts().measurements == 0
