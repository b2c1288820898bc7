"""Admin actions need the admin token over HTTP, and are disabled without one."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import trio

from tests.collector.running import start_collector

TOKEN = "admin-token-for-tests-0001"
LISTS = {
    "origin": "test",
    "urls": [
        {"url": "http://a.test/", "category_code": "NEWS"},
        {"url": "http://b.test/", "category_code": "HUMR", "cc": "IR", "date_added": "2024-01-02"},
    ],
}


@pytest.mark.parametrize("path", ["/admin/reanalyse", "/admin/test-lists"])
async def test_without_a_configured_token_admin_actions_are_disabled(
    nursery: trio.Nursery, tmp_path: Path, path: str
) -> None:
    running = await start_collector(nursery, tmp_path)
    async with httpx.AsyncClient(base_url=running.api) as client:
        r = await client.post(path, json={}, headers={"Authorization": f"Bearer {TOKEN}"})
    assert r.status_code == 403 and r.json()["error"] == "admin_disabled"


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong-token-wrong-token"}, {"Authorization": TOKEN}],
    ids=["missing", "wrong", "no-scheme"],
)
async def test_a_missing_or_wrong_token_is_401(
    nursery: trio.Nursery, tmp_path: Path, headers: dict[str, str]
) -> None:
    running = await start_collector(nursery, tmp_path, admin_token=TOKEN)
    async with httpx.AsyncClient(base_url=running.api) as client:
        r = await client.post("/admin/test-lists", json=LISTS, headers=headers)
        assert r.status_code == 401 and r.json()["error"] == "unauthorized"
        assert r.headers["www-authenticate"] == "Bearer"
        assert (await client.get("/check-in", params={"cc": "IR"})).json()["urls"] == []


async def test_with_the_token_lists_are_replaced_and_bad_bodies_are_422(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    running = await start_collector(nursery, tmp_path, admin_token=TOKEN)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    async with httpx.AsyncClient(base_url=running.api) as client:
        r = await client.post("/admin/test-lists", json=LISTS, headers=auth)
        assert r.status_code == 200 and r.json() == {"stored": 2}
        urls = (await client.get("/check-in", params={"cc": "IR"})).json()["urls"]
        assert {u["url"] for u in urls} == {"http://a.test/", "http://b.test/"}
        bad = await client.post("/admin/test-lists", json={"urls": "nope"}, headers=auth)
        assert bad.status_code == 422
        bad = await client.post("/admin/reanalyse", json={"everything": "yes"}, headers=auth)
        assert bad.status_code == 422 and bad.json()["field"] == "everything"
        health = (await client.get("/health")).json()
    assert health["test_list_urls"] == 2
