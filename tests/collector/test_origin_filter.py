"""Imported OONI measurements and Crenel's own uploads in one store, told apart by `origin` in
searches, aggregations, exports, reports and the command line."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
import trio

from collector.cli import main as collector_main
from tests.collector.ooni_docs import ooni_doc
from tests.collector.report_data import reachable, sni_blocked
from tests.collector.running import RunningCollector, ndjson, start_collector

NOW = datetime(2026, 11, 3, 12, 0, tzinfo=UTC)
AT = datetime(2026, 11, 1, 10, 0, tzinfo=UTC)
WINDOW = {"since": "2026-10-30", "until": "2026-11-03"}
OONI_COUNT = 4
CRENEL_COUNT = 6
EXPECTED = {"ooni": OONI_COUNT, "crenel": CRENEL_COUNT, None: OONI_COUNT + CRENEL_COUNT}


def write_jsonl(path: Path, docs: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(d) + "\n" for d in docs))
    return path


def ooni_docs() -> list[dict[str, Any]]:
    """Return OONI measurements of news.example.org in Italy: blocked by a blockpage."""
    return [
        ooni_doc(uid=f"20261101100000.00000{i}_IT_webconnectivity_o{i}", blocked=True)
        for i in range(OONI_COUNT)
    ]


def crenel_uploads() -> bytes:
    """Return Crenel measurements of social.example.test in Italy, from three probes."""
    ms = [
        make("social.example.test", cc="IT", asn=64500, probe=f"p{i}", at=AT)
        for i in range(3)
        for make in (sni_blocked, reachable)
    ]
    assert len(ms) == CRENEL_COUNT
    return ndjson(ms)


async def loaded(nursery: trio.Nursery, tmp_path: Path) -> RunningCollector:
    running = await start_collector(nursery, tmp_path, clock=lambda: NOW)
    async with httpx.AsyncClient() as client:
        r = await client.post(
            f"{running.api}/measurements",
            content=crenel_uploads(),
            headers={"Content-Type": "application/x-ndjson"},
        )
        assert r.status_code == 200, r.text
    path = write_jsonl(tmp_path / "ooni.jsonl", ooni_docs())
    argv = ["import-ooni", str(path), "--url", running.url, "--json"]
    assert await trio.to_thread.run_sync(collector_main, argv) == 0
    await running.analysed()
    return running


def _origin(origin: str | None) -> dict[str, str]:
    return {} if origin is None else {"origin": origin}


async def test_every_endpoint_counts_the_origin_it_is_asked_for(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    running = await loaded(nursery, tmp_path)
    api = running.api
    async with httpx.AsyncClient(timeout=30) as client:
        for origin, count in EXPECTED.items():
            params = {**WINDOW, **_origin(origin)}
            r = await client.get(f"{api}/measurements", params={**params, "limit": 100})
            assert r.status_code == 200, r.text
            results = msgspec.json.decode(r.content)["results"]
            assert len(results) == count, origin
            software = {m["software_name"] for m in results}
            if origin == "ooni":
                assert software == {"ooniprobe-cli"}
            elif origin == "crenel":
                assert "ooniprobe-cli" not in software

            r = await client.get(f"{api}/aggregation", params={**params, "axis_x": "domain"})
            assert r.status_code == 200, r.text
            cells = {c["x"]: c["measurements"] for c in msgspec.json.decode(r.content)["result"]}
            assert sum(cells.values()) == count
            assert ("news.example.org" in cells) == (origin != "crenel")
            assert ("social.example.test" in cells) == (origin != "ooni")

            r = await client.get(f"{api}/export", params={**params, "format": "jsonl"})
            assert r.status_code == 200, r.text
            assert len(r.content.splitlines()) == count

            r = await client.get(f"{api}/reports", params=params)
            assert r.status_code == 200, r.text
            countries = msgspec.json.decode(r.content)["countries"]
            assert [(c["cc"], c["measurements"]) for c in countries] == [("IT", count)]

            r = await client.get(f"{api}/reports/IT", params=params)
            assert r.status_code == 200, r.text
            report = msgspec.json.decode(r.content)
            assert report["measurements"] == count and report["origin"] == origin
            domains = {d["domain"] for d in report["domains"]}
            assert ("news.example.org" in domains) == (origin != "crenel")
            assert ("social.example.test" in domains) == (origin != "ooni")

            r = await client.get(f"{api}/reports/IT/domains/news.example.org", params=params)
            assert r.status_code == (404 if origin == "crenel" else 200), r.text

            r = await client.get(f"{api}/changes", params={**params, "cc": "IT"})
            assert r.status_code == 200, r.text


@pytest.mark.parametrize(
    "path",
    [
        "/measurements",
        "/aggregation?axis_x=country",
        "/export?format=jsonl&since=2026-10-30&until=2026-11-03",
        "/reports",
        "/reports/IT",
        "/reports/IT/domains/news.example.org",
        "/changes?cc=IT",
    ],
)
async def test_an_unknown_origin_is_refused_with_a_json_error(
    nursery: trio.Nursery, tmp_path: Path, path: str
) -> None:
    running = await start_collector(nursery, tmp_path, clock=lambda: NOW)
    sep = "&" if "?" in path else "?"
    async with httpx.AsyncClient() as client:
        r = await client.get(f"{running.api}{path}{sep}origin=martian")
    assert r.status_code == 422, r.text
    body = msgspec.json.decode(r.content)
    assert body["error"] == "invalid_field" and body["field"] == "origin"
    assert "crenel, ooni" in body["detail"]


async def test_report_on_the_command_line_takes_an_origin(
    nursery: trio.Nursery, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    running = await loaded(nursery, tmp_path)
    capsys.readouterr()
    seen = {}
    for origin in ("ooni", "crenel"):
        argv = ["report", "IT", "--url", running.url, "--json", "--origin", origin]
        argv += ["--since", WINDOW["since"], "--until", WINDOW["until"]]
        assert await trio.to_thread.run_sync(collector_main, argv) == 0
        seen[origin] = json.loads(capsys.readouterr().out)
    assert seen["ooni"]["measurements"] == OONI_COUNT
    assert seen["crenel"]["measurements"] == CRENEL_COUNT
    assert {d["domain"] for d in seen["ooni"]["domains"]} == {"news.example.org"}


def test_export_on_the_command_line_takes_an_origin(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = str(tmp_path / "data")
    path = write_jsonl(tmp_path / "ooni.jsonl", ooni_docs())
    imported = ["import-ooni", str(path), "--data-dir", data, "--analysis-workers", "0", "--json"]
    assert collector_main(imported) == 0
    capsys.readouterr()
    for origin, count in (("ooni", OONI_COUNT), ("crenel", 0)):
        out = tmp_path / f"{origin}.jsonl"
        argv = ["export", "--since", WINDOW["since"], "--until", WINDOW["until"], "--format"]
        argv += ["jsonl", "--out", str(out), "--origin", origin, "--data-dir", data, "--json"]
        assert collector_main(argv) == 0
        assert json.loads(capsys.readouterr().out)["exported"] == count
    with pytest.raises(SystemExit) as bad:
        collector_main(["export", "--since", "2026-11-01", "--until", "2026-11-02", "--format",
                        "jsonl", "--out", str(tmp_path / "x"), "--origin", "martian"])  # fmt: skip
    assert bad.value.code == 2


def test_the_command_line_offers_the_origins_the_api_takes() -> None:
    from collector.api.params import ORIGINS
    from collector.cli.options import ORIGINS as CLI_ORIGINS

    assert CLI_ORIGINS == ORIGINS
