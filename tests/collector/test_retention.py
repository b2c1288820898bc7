"""The raw retention: bodies of analysed measurements older than the retention are removed,
summaries, analyses and rollups stay, and every report answers exactly as before."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import msgspec
import trio

from collector.storage.sql import HAS_RAW
from probe.model import Measurement
from tests.collector.report_data import reachable, sni_blocked
from tests.collector.running import RunningCollector, ndjson, start_collector

DAYS = 30
# Hours before now, so the collector accepts them (no future start times) at any hour.
TODAY = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
YESTERDAY = TODAY - timedelta(days=1)
NDJSON = {"Content-Type": "application/x-ndjson"}


def world() -> list[Measurement]:
    """CN: social blocked in both networks, news in one; IR: nothing blocked."""
    ms: list[Measurement] = []
    for asn, probes in ((64501, ("a", "b")), (64502, ("c", "d"))):
        for probe in probes:
            for at in (YESTERDAY, TODAY):
                ms.append(sni_blocked("social.example.test", cc="CN", asn=asn, probe=probe, at=at))
                news = sni_blocked if asn == 64501 else reachable
                ms.append(news("news.example.test", cc="CN", asn=asn, probe=probe, at=at))
    for probe in ("x", "y"):
        for at in (YESTERDAY, TODAY):
            ms.append(reachable("social.example.test", cc="IR", asn=64511, probe=probe, at=at))
    return ms


async def loaded(nursery: trio.Nursery, tmp_path: Path) -> RunningCollector:
    running = await start_collector(nursery, tmp_path, public_networks=("198.51.100.0/24",))
    async with httpx.AsyncClient() as client:
        r = await client.post(
            f"{running.api}/measurements", content=ndjson(world()), headers=NDJSON
        )
        assert r.status_code == 200, r.text
    await running.analysed()
    return running


async def get(running: RunningCollector, path: str) -> httpx.Response:
    async with httpx.AsyncClient() as client:
        return await client.get(f"{running.api}{path}")


PATHS = (
    "/reports",
    "/reports/CN",
    "/reports/CN?format=csv",
    "/reports/IR",
    "/reports/CN/domains/news.example.test",
    "/reports/CN/domains/social.example.test",
    f"/changes?cc=CN&since={(TODAY - timedelta(days=3)).date().isoformat()}",
    "/aggregation?axis_x=country&axis_y=verdict",
    "/measurements?limit=1000",
)


TIMING = ("generated_at", "query_ms")
"""Fields that say when or how fast an answer was made, not what it says."""


async def answers(running: RunningCollector) -> dict[str, object]:
    """Return every answer of PATHS (JSON without its timing fields, CSV as text)."""
    got: dict[str, object] = {}
    for path in PATHS:
        reply = await get(running, path)
        assert reply.status_code == 200, (path, reply.text)
        if reply.headers["content-type"].startswith("application/json"):
            body = msgspec.json.decode(reply.content)
            got[path] = {k: v for k, v in body.items() if k not in TIMING}
        else:
            got[path] = reply.text
    return got


def with_body(running: RunningCollector) -> int:
    store = running.collector.storage.backend
    with store._reader() as con:  # type: ignore[attr-defined]
        (row,) = con.execute(f"SELECT count(*) FROM measurements WHERE {HAS_RAW}").fetchall()
    return int(row[0])


async def test_reports_are_identical_after_the_bodies_are_removed(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    uploaded_after = datetime.now(UTC) - timedelta(seconds=1)
    running = await loaded(nursery, tmp_path)
    uploaded_before = datetime.now(UTC) + timedelta(seconds=1)
    collector = running.collector
    retention = collector.retention
    retention.days = DAYS
    stored = (await get(running, "/health")).json()["measurements"]
    before = await answers(running)
    page = before["/measurements?limit=1000"]
    assert isinstance(page, dict)
    some_uid = page["results"][0]["uid"]

    young = uploaded_after + timedelta(days=DAYS) - timedelta(minutes=1)
    assert await retention.run_once(young) == 0
    assert with_body(running) == stored
    assert await retention.run_once(uploaded_before + timedelta(days=DAYS)) == stored
    assert with_body(running) == 0

    store = collector.storage.backend
    await collector.storage.write(store.rebuild_rollups)  # reports rebuilt from what is left
    assert await answers(running) == before

    gone = await get(running, f"/measurements/{some_uid}")
    assert gone.status_code == 404 and "retention" in gone.json()["detail"]
    assert await collector.analyser.request(everything=True) == 0  # no body to analyse again
    window = {"since": YESTERDAY.date().isoformat(), "until": TODAY.date().isoformat()}
    async with httpx.AsyncClient(base_url=running.api) as client:
        jsonl = await client.get("/export", params={**window, "format": "jsonl"})
        assert jsonl.status_code == 200 and jsonl.content == b""
        late = [reachable("late.example.test", cc="IR", asn=64511, probe="z", at=TODAY)]
        r = await client.post("/measurements", content=ndjson(late), headers=NDJSON)
        assert r.status_code == 200
    await running.analysed()
    assert with_body(running) == 1  # a new body is kept until it is old enough
