"""The probe's outbox upload: gzip NDJSON batches, marked uploaded only when acknowledged,
bounded retries with backoff, refused measurements skipped, unreachable collectors kept for later."""

from __future__ import annotations

import gzip
import sqlite3
from datetime import timedelta
from pathlib import Path

import httpx
import msgspec
import pytest
import trio

from probe.errors import CollectorUnreachable
from probe.store import Store
from probe.upload import Uploader, UploadPolicy, collector_endpoint
from tests.collector.running import NOW, measurement, start_collector

FAST = UploadPolicy(batch_size=4, attempts=3, first_backoff_s=0.01, max_backoff_s=0.02)


def outbox(tmp_path: Path, count: int) -> tuple[Store, list[str]]:
    store = Store(tmp_path / "probe" / "m.sqlite3")
    uids = []
    for i in range(count):
        m = measurement(url=f"http://s{i}.test/")
        store.add(m)
        uids.append(m.uid)
    return store, uids


def attempts_of(store: Store) -> dict[str, tuple[int, str | None]]:
    db = sqlite3.connect(store.path)
    try:
        rows = db.execute("SELECT uid, upload_attempts, last_error FROM measurements").fetchall()
    finally:
        db.close()
    return {uid: (n, error) for uid, n, error in rows}


def test_the_ingest_endpoint_is_found_from_a_base_or_api_url() -> None:
    for base in ("https://c.example", "https://c.example/", "https://c.example/api/v1/"):
        assert collector_endpoint(base, "/api/v1/measurements") == (
            "https://c.example/api/v1/measurements"
        )


async def test_pending_measurements_reach_the_collector_in_batches(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    running = await start_collector(nursery, tmp_path)
    store, uids = outbox(tmp_path, 10)
    seen: list[list[str]] = []

    async def record(acked: list[str]) -> None:
        seen.append(acked)

    async with httpx.AsyncClient() as client:
        uploader = Uploader(store, running.url, client, FAST)
        summary = await uploader.upload_pending(on_uploaded=record)
        assert summary.uploaded == 10 and summary.refused == []
        assert [len(batch) for batch in seen] == [4, 4, 2]
        assert store.count(pending_only=True) == 0
        assert (await uploader.upload_pending()).uploaded == 0
        stored = await client.get(f"{running.api}/measurements/{uids[3]}")
    assert stored.content == store.raw(uids[3])
    store.close()


async def test_a_refused_measurement_is_skipped_and_recorded(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    running = await start_collector(nursery, tmp_path)
    store, _ = outbox(tmp_path, 5)
    bad = measurement(start=NOW + timedelta(days=3))
    store.add(bad)
    async with httpx.AsyncClient() as client:
        summary = await Uploader(store, running.url, client, FAST).upload_pending()
    assert summary.uploaded == 5
    assert [uid for uid, _ in summary.refused] == [bad.uid]
    assert "start_time" in summary.refused[0][1]
    assert store.count(pending_only=True) == 1
    attempts, error = attempts_of(store)[bad.uid]
    assert attempts == 1 and error is not None and error.startswith("refused:")
    store.close()


async def test_an_unreachable_collector_leaves_everything_pending(tmp_path: Path) -> None:
    store, _ = outbox(tmp_path, 3)
    async with httpx.AsyncClient() as client:
        uploader = Uploader(store, "http://127.0.0.1:9", client, FAST)
        with pytest.raises(CollectorUnreachable, match=r"127\.0\.0\.1:9 is unreachable"):
            await uploader.upload_pending()
    assert store.count(pending_only=True) == 3
    assert {n for n, _ in attempts_of(store).values()} == {1}
    store.close()


async def test_busy_answers_are_retried_with_backoff_then_given_up(tmp_path: Path) -> None:
    store, _ = outbox(tmp_path, 2)
    calls: list[httpx.Request] = []

    def busy_then_ok(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if len(calls) < 3:
            return httpx.Response(503, headers={"Retry-After": "0"}, json={"error": "x"})
        lines = gzip.decompress(request.content).splitlines()
        acked = [msgspec.json.decode(line)["uid"] for line in lines]
        return httpx.Response(200, json={"uids": acked[:1], "stored": 1, "duplicates": 0})

    async with httpx.AsyncClient(transport=httpx.MockTransport(busy_then_ok)) as client:
        summary = await Uploader(store, "http://c.test", client, FAST).upload_pending()
    assert len(calls) == 3
    assert calls[0].headers["content-encoding"] == "gzip"
    assert calls[0].headers["content-type"] == "application/x-ndjson"
    assert summary.uploaded == 1  # only what the answer lists is marked uploaded
    assert store.count(pending_only=True) == 1

    def always_busy(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(429, json={"error": "rate_limited"})

    calls.clear()
    async with httpx.AsyncClient(transport=httpx.MockTransport(always_busy)) as client:
        with pytest.raises(CollectorUnreachable, match="HTTP 429"):
            await Uploader(store, "http://c.test", client, FAST).upload_pending()
    assert len(calls) == FAST.attempts
    store.close()
