"""Check-in and geolookup: the source address is looked up (never stored), probes' own claims win
unless unknown, the control URL is announced, and disagreeing uploads are flagged."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import trio

from collector.storage import TestListUrl
from tests.collector.geodb import write_geodb
from tests.collector.running import RunningCollector, measurement, start_collector

LISTS = [
    TestListUrl(url="http://global-a.test/", category_code="NEWS"),
    TestListUrl(url="http://global-b.test/", category_code="HUMR"),
    TestListUrl(url="http://ir.test/", category_code="NEWS", cc="IR"),
    TestListUrl(url="http://ru.test/", category_code="NEWS", cc="RU"),
]


@pytest.fixture
async def located(nursery: trio.Nursery, tmp_path: Path) -> RunningCollector:
    geodb = write_geodb(tmp_path / "geo.mmdb", {"127.0.0.0/8": ("IR", 197207, "Test ISP")})
    running = await start_collector(nursery, tmp_path, geoip_paths=(geodb,))
    store = running.collector.storage
    await store.write(store.backend.replace_test_lists, LISTS, "test")
    return running


async def test_geolookup_answers_the_source_network_and_address(
    located: RunningCollector,
) -> None:
    async with httpx.AsyncClient(base_url=located.api) as client:
        r = await client.get("/geolookup")
    assert r.json() == {
        "cc": "IR",
        "asn": "AS197207",
        "network_name": "Test ISP",
        "address": "127.0.0.1",
    }


async def test_without_a_database_geolookup_knows_nothing_but_the_address(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    running = await start_collector(nursery, tmp_path)
    async with httpx.AsyncClient(base_url=running.api) as client:
        r = await client.get("/geolookup")
        health = (await client.get("/health")).json()
    assert r.json() == {"cc": "ZZ", "asn": "AS0", "network_name": "", "address": "127.0.0.1"}
    assert health["geoip"] is False


async def test_check_in_uses_geoip_when_the_probe_does_not_know_its_network(
    located: RunningCollector,
) -> None:
    async with httpx.AsyncClient(base_url=located.api) as client:
        reply = (await client.get("/check-in")).json()
        claimed = (await client.get("/check-in", params={"cc": "RU", "asn": "AS12389"})).json()
        news = (await client.get("/check-in", params={"categories": "news", "limit": 1})).json()
        bad = await client.get("/check-in", params={"cc": "Iran"})
    assert (reply["probe_cc"], reply["probe_asn"], reply["probe_network_name"]) == (
        "IR",
        "AS197207",
        "Test ISP",
    )
    assert {u["url"] for u in reply["urls"]} == {
        "http://global-a.test/",
        "http://global-b.test/",
        "http://ir.test/",
    }
    assert reply["control_url"] == f"{located.url}/api/v1/control"
    assert (claimed["probe_cc"], claimed["probe_asn"], claimed["probe_network_name"]) == (
        "RU",
        "AS12389",
        "",
    )
    assert "http://ru.test/" in {u["url"] for u in claimed["urls"]}
    assert len(news["urls"]) == 1 and news["urls"][0]["category_code"] == "NEWS"
    assert bad.status_code == 422 and bad.json()["field"] == "cc"


async def test_check_in_announces_a_configured_control(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    running = await start_collector(
        nursery, tmp_path, control_url="https://helper.example/api/v1/control"
    )
    async with httpx.AsyncClient(base_url=running.api) as client:
        reply = (await client.get("/check-in", params={"cc": "IR", "asn": "AS1"})).json()
    assert reply["control_url"] == "https://helper.example/api/v1/control"
    assert reply["urls"] == []


async def test_uploads_claiming_another_network_are_flagged_and_the_address_is_not_stored(
    located: RunningCollector,
) -> None:
    honest, liar, unsure = (
        measurement(cc="IR", asn="AS197207"),
        measurement(cc="DE", asn="AS3320"),
        measurement(cc="ZZ", asn="AS0"),
    )
    async with httpx.AsyncClient(base_url=located.api) as client:
        for m in (honest, liar, unsure):
            assert (await client.post("/measurements", content=_json(m))).status_code == 200
        flagged = (await client.get("/measurements", params={"geo_mismatch": "true"})).json()
        metrics = (await client.get("/metrics")).text
    assert [r["uid"] for r in flagged["results"]] == [liar.uid]
    assert "crenel_geo_mismatch_measurements_total 1.0" in metrics
    store = located.collector.storage.backend
    assert store.counts().measurements == 3
    with store._reader() as cursor:
        columns = cursor.execute("DESCRIBE measurements").fetchall()
        rows = cursor.execute("SELECT * EXCLUDE (raw, analysis) FROM measurements").fetchall()
    assert not any("addr" in c[0] or c[0].endswith("_ip") for c in columns)
    assert "127.0.0.1" not in repr(rows)
    assert {r[0] for r in columns} >= {"source_cc", "source_asn", "geo_mismatch"}


def _json(m: object) -> bytes:
    import msgspec

    return msgspec.json.encode(m)
