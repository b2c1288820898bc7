"""The collector's own analysis: on ingest with its fingerprints, beside the probe's verdict, and
again (`crenel-collector reanalyse` or the admin API) when the fingerprints change."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import msgspec
import trio

from collector.cli import main as collector_main
from probe.analysis import RULES_VERSION
from probe.identity import new_uid
from probe.model import Measurement
from tests.collector.running import NOW, RunningCollector, measurement, start_collector
from tests.probe.analysis.build import page_response

FINGERPRINTS = (
    "name,scope,other_names,location_found,pattern_type,pattern,confidence_no_fp,"
    "expected_countries,source,exp_url,notes\n"
    "test.examplewall,prod,,body,contains,Examplewall denied this address,5,,test,,\n"
)
TOKEN = "reanalyse-admin-token-000"


def blockpage() -> Measurement:
    m = measurement()
    page = page_response(b"<html><body>Examplewall denied this address</body></html>", title=None)
    http = [msgspec.structs.replace(m.http[0], response=page)]
    return msgspec.structs.replace(
        m, http=http, uid=new_uid(int(NOW.timestamp() * 1e9), os.urandom(10))
    )


async def upload(running: RunningCollector, items: list[Measurement]) -> None:
    async with httpx.AsyncClient(base_url=running.api) as client:
        for m in items:
            assert (
                await client.post("/measurements", content=msgspec.json.encode(m))
            ).status_code == 200
    await running.analysed()


async def summary(running: RunningCollector, uid: str) -> dict[str, object]:
    async with httpx.AsyncClient(base_url=running.api) as client:
        rows = (await client.get("/measurements", params={"limit": 100})).json()["results"]
    found: dict[str, object] = next(r for r in rows if r["uid"] == uid)
    return found


async def test_fingerprints_added_later_change_the_verdict_after_reanalyse(
    tmp_path: Path,
) -> None:
    page, plain = blockpage(), measurement()
    fingerprints = tmp_path / "fp.csv"
    fingerprints.write_text(FINGERPRINTS)
    async with trio.open_nursery() as nursery:
        running = await start_collector(nursery, tmp_path)
        await upload(running, [page, plain])
        before = await summary(running, page.uid)
        old_digest = running.collector.analyser.reference_digest
        nursery.cancel_scope.cancel()
    assert (before["verdict"], before["fingerprint_confirmed"]) == ("ok", False)
    assert before["rules_version"] == RULES_VERSION
    assert before["probe_verdict"] == "ok"

    data_dir = str(running.config.data_dir)
    args = ["reanalyse", "--data-dir", data_dir, "--fingerprints", str(fingerprints)]
    code = await trio.to_thread.run_sync(collector_main, [*args, "--analysis-workers", "1"])
    assert code == 0

    async with trio.open_nursery() as nursery:
        running = await start_collector(
            nursery, tmp_path, fingerprint_paths=(fingerprints,), admin_token=TOKEN
        )
        after = await summary(running, page.uid)
        unchanged = await summary(running, plain.uid)
        assert (after["verdict"], after["methods"], after["fingerprint_confirmed"]) == (
            "blocked",
            ["http.blockpage"],
            True,
        )
        assert after["probe_verdict"] == "ok"  # the probe's own verdict is kept beside
        assert unchanged["verdict"] == "ok"
        store = running.collector.storage.backend
        with store._reader() as cursor:
            digests = cursor.execute(
                "SELECT DISTINCT reference_digest, rules_version FROM measurements"
            ).fetchall()
        new_digest = running.collector.analyser.reference_digest
        assert digests == [(new_digest, RULES_VERSION)] and new_digest != old_digest

        async with httpx.AsyncClient(base_url=running.api) as client:
            auth = {"Authorization": f"Bearer {TOKEN}"}
            same = await client.post("/admin/reanalyse", headers=auth)
            assert same.json()["flagged"] == 0
            every = await client.post("/admin/reanalyse", headers=auth, json={"everything": True})
            assert every.json() == {
                "flagged": 2,
                "rules_version": RULES_VERSION,
                "reference_digest": new_digest,
            }
        await running.analysed()
        assert store.counts().pending_analysis == 0
        nursery.cancel_scope.cancel()


async def test_ingest_analysis_with_fingerprints_in_worker_processes(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    fingerprints = tmp_path / "fp.csv"
    fingerprints.write_text(FINGERPRINTS)
    running = await start_collector(
        nursery, tmp_path, fingerprint_paths=(fingerprints,), analysis_workers=1
    )
    page = blockpage()
    await upload(running, [page])
    row = await summary(running, page.uid)
    assert (row["verdict"], row["fingerprint_confirmed"], row["probe_verdict"]) == (
        "blocked",
        True,
        "ok",
    )
