"""HTTP exports page by page: the streamed bytes hold exactly the rows of the file export, in
(start_time, uid) order, across page boundaries and ties on start_time."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import duckdb
import msgspec
import pytest

from collector.storage import Cursor, ExportEncoder, ExportFormat, Filters, Storage
from probe.model import Measurement
from tests.collector.running import measurement
from tests.collector.storage.test_duckdb import DAY, populate, row_of, store

__all__ = ["store"]

WINDOW = Filters(since=DAY - timedelta(days=30), until=DAY + timedelta(days=1))


def streamed(db: Storage, filters: Filters, fmt: ExportFormat, page_rows: int) -> bytes:
    """Return an export as the HTTP handler builds it: page after page, then the end."""
    encoder = ExportEncoder(fmt)
    out = bytearray()
    after: Cursor | None = None
    for _ in range(1000):
        page = db.export_page(filters, fmt, after, page_rows)
        out += encoder.encode(page.table)
        after = page.after
        if after is None:
            break
    return bytes(out + encoder.finish())


def with_ties(db: Storage) -> dict[str, Measurement]:
    """Store the five rows of `populate` plus four that share one start time."""
    made = populate(db)
    same = [measurement(url=f"http://tie{i}.test/", start=DAY) for i in range(4)]
    tied = [msgspec.structs.replace(m, start_time=DAY) for m in same]
    db.insert([row_of(m) for m in tied])
    made.update({m.uid: m for m in tied})
    return made


@pytest.mark.parametrize("page_rows", [1, 2, 4, 1000])
def test_streamed_jsonl_csv_and_ooni_equal_the_file_export_byte_for_byte(
    store: Storage, tmp_path: Path, page_rows: int
) -> None:
    made = with_ties(store)
    jsonl = tmp_path / "all.jsonl"
    assert store.export(WINDOW, ExportFormat.JSONL, jsonl, partitioned=False) == len(made)
    assert streamed(store, WINDOW, ExportFormat.JSONL, page_rows) == jsonl.read_bytes()
    csv_file = tmp_path / "all.csv"
    store.export(WINDOW, ExportFormat.CSV, csv_file, partitioned=False)
    assert streamed(store, WINDOW, ExportFormat.CSV, page_rows) == csv_file.read_bytes()
    ooni = tmp_path / "all.ooni.jsonl"
    assert store.export(WINDOW, ExportFormat.OONI, ooni, partitioned=False) == len(made)
    assert streamed(store, WINDOW, ExportFormat.OONI, page_rows) == ooni.read_bytes()


@pytest.mark.parametrize("page_rows", [1, 3, 1000])
def test_streamed_parquet_holds_every_row_once_in_order(
    store: Storage, tmp_path: Path, page_rows: int
) -> None:
    made = with_ties(store)
    single = tmp_path / "one.parquet"
    store.export(WINDOW, ExportFormat.PARQUET, single, partitioned=False)
    got = tmp_path / "streamed.parquet"
    got.write_bytes(streamed(store, WINDOW, ExportFormat.PARQUET, page_rows))
    with duckdb.connect() as db:
        expected = db.execute(f"SELECT * FROM '{single}'").fetchall()
        rows = db.execute(f"SELECT * FROM '{got}'").fetchall()
        names = [d[0] for d in db.execute(f"SELECT * FROM '{got}' LIMIT 0").description]
    assert rows == expected
    assert len(rows) == len(made) == len({r[0] for r in rows})
    measured = {r[0]: r[names.index("measurement")].encode() for r in rows}
    assert measured == {u: msgspec.json.encode(m) for u, m in made.items()}
    order = [(r[names.index("start_time")], r[0]) for r in rows]
    assert order == sorted(order)


@pytest.mark.parametrize("fmt", list(ExportFormat))
def test_an_empty_export_is_still_a_valid_file(
    store: Storage, tmp_path: Path, fmt: ExportFormat
) -> None:
    populate(store)
    nothing = Filters(since=DAY + timedelta(days=5), until=DAY + timedelta(days=6))
    data = streamed(store, nothing, fmt, 10)
    if fmt in (ExportFormat.JSONL, ExportFormat.OONI):
        assert data == b""
        return
    path = tmp_path / f"empty.{fmt.value}"
    path.write_bytes(data)
    expected = tmp_path / f"file.{fmt.value}"
    store.export(nothing, fmt, expected, partitioned=False)
    if fmt is ExportFormat.CSV:
        assert data == expected.read_bytes()
    with duckdb.connect() as db:
        assert db.execute(f"SELECT count(*) FROM '{path}'").fetchall() == [(0,)]
