"""The researcher API over HTTP: bad parameters name themselves, pages chain, aggregations come
as JSON or CSV, exports stream as one file."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import duckdb
import httpx
import msgspec
import pytest
import trio

from collector.api.params import decode_cursor, encode_cursor, parse_filters
from collector.core.errors import InvalidField
from collector.storage import Cursor
from tests.collector.running import NOW, RunningCollector, measurement, ndjson, start_collector


@pytest.fixture
async def filled(nursery: trio.Nursery, tmp_path: Path) -> RunningCollector:
    running = await start_collector(nursery, tmp_path)
    batch = [measurement(url=f"http://s{i}.test/", cc="IR" if i % 2 else "RU") for i in range(7)]
    async with httpx.AsyncClient(base_url=running.api) as client:
        r = await client.post(
            "/measurements", content=ndjson(batch), headers={"content-type": "application/x-ndjson"}
        )
        assert r.status_code == 200
    await running.analysed()
    return running


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/measurements", {"limit": "0"}, "limit"),
        ("/measurements", {"limit": "1001"}, "limit"),
        ("/measurements", {"limit": "ten"}, "limit"),
        ("/measurements", {"cursor": "garbage!"}, "cursor"),
        ("/measurements", {"country": "Iran"}, "country"),
        ("/measurements", {"asn": "ASx"}, "asn"),
        ("/measurements", {"verdict": "censored"}, "verdict"),
        ("/measurements", {"method": "dns.magic"}, "method"),
        ("/measurements", {"since": "yesterday"}, "since"),
        ("/measurements", {"since": "2026-01-02", "until": "2026-01-01"}, "until"),
        ("/measurements", {"confirmed": "maybe"}, "confirmed"),
        ("/measurements", {"contry": "IR"}, "contry"),
        ("/aggregation", {}, "axis_x"),
        ("/aggregation", {"axis_x": "planet"}, "axis_x"),
        ("/aggregation", {"axis_x": "day", "axis_y": "day"}, "axis_y"),
        ("/aggregation", {"axis_x": "day", "format": "xml"}, "format"),
        ("/aggregation", {"axis_x": "day", "max_per_probe": "0"}, "max_per_probe"),
        ("/export", {"since": "2026-01-01", "format": "csv"}, "until"),
        ("/export", {"since": "2026-01-01", "until": "2026-01-02", "format": "xls"}, "format"),
        ("/export", {"since": "2026-01-01", "until": "2026-06-01", "format": "csv"}, "until"),
        ("/check-in", {"limit": "5000"}, "limit"),
    ],
)
async def test_bad_parameters_are_422_naming_the_parameter(
    filled: RunningCollector, path: str, params: dict[str, str], field: str
) -> None:
    async with httpx.AsyncClient(base_url=filled.api) as client:
        r = await client.get(path, params=params)
    assert r.status_code == 422, r.text
    assert r.json()["error"] == "invalid_field" and r.json()["field"] == field


async def test_pages_chain_through_next_url_and_unknown_ids_are_404(
    filled: RunningCollector,
) -> None:
    seen: list[str] = []
    async with httpx.AsyncClient(base_url=filled.api) as client:
        url: str | None = f"{filled.api}/measurements?limit=3&country=IR,RU"
        for _ in range(5):
            if url is None:
                break
            page = (await client.get(url)).json()
            seen.extend(r["uid"] for r in page["results"])
            url = page["next_url"]
        assert len(seen) == 7 == len(set(seen))
        assert (
            await client.get("/measurements/0190a5a4-3c1e-7abc-8def-0123456789ab")
        ).status_code == 404
        missing = await client.get("/measurements/nothing")
        assert missing.status_code == 404 and missing.json()["error"] == "not_found"
        assert (await client.put("/measurements")).status_code == 405


async def test_aggregation_as_csv_and_exports_over_http(filled: RunningCollector) -> None:
    day = NOW.date().isoformat()
    async with httpx.AsyncClient(base_url=filled.api) as client:
        r = await client.get(
            "/aggregation", params={"axis_x": "country"}, headers={"Accept": "text/csv"}
        )
        table = list(csv.DictReader(io.StringIO(r.text)))
        assert r.headers["content-type"].startswith("text/csv")
        assert [(row["country"], row["measurements"], row["ok"]) for row in table] == [
            ("IR", "3", "3"),
            ("RU", "4", "4"),
        ]
        window = {"since": day, "until": day}
        jsonl = await client.get("/export", params={**window, "format": "jsonl"})
        lines = jsonl.content.splitlines()
        assert len(lines) == 7 and all(msgspec.json.decode(line)["uid"] for line in lines)
        assert "attachment" in jsonl.headers["content-disposition"]
        parquet = await client.get(
            "/export", params={**window, "format": "parquet", "country": "IR"}
        )
        assert parquet.content[:4] == b"PAR1"
        path = trio.Path(filled.config.data_dir) / "got.parquet"
        await path.write_bytes(parquet.content)
        with duckdb.connect() as db:
            assert db.execute(f"SELECT count(*), min(probe_cc) FROM '{path}'").fetchall() == [
                (3, "IR")
            ]
        csv_export = await client.get("/export", params={**window, "format": "csv"})
        assert len(list(csv.DictReader(io.StringIO(csv_export.text)))) == 7
    entries = await trio.Path(filled.config.data_dir).iterdir()
    assert [p for p in entries if p.name.startswith("export-")] == []


def test_cursors_round_trip_and_filters_parse_bare_dates_as_whole_days() -> None:
    cursor = Cursor(start_time=NOW, uid="0190a5a4-3c1e-7abc-8def-0123456789ab")
    assert decode_cursor(encode_cursor(cursor)) == cursor
    filters = parse_filters({"since": "2026-01-01", "until": "2026-01-01", "asn": "AS1,2"})
    assert filters.until is not None and filters.since is not None
    assert (filters.until - filters.since).days == 1
    assert filters.asn == (1, 2)
    with pytest.raises(InvalidField):
        decode_cursor(encode_cursor(cursor)[:-3] + "xyz")
