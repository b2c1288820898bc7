"""Daily per-source quotas: measurements and stored bytes per source and UTC day, counted from
a time the test chooses; 429 quota_exceeded with Retry-After over HTTP; re-uploads cost
nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import trio

from collector.config import Limits
from collector.core.errors import QuotaExceeded
from collector.ingest.rows import measurement_row
from collector.sources.quota import OVERFLOW_SOURCE, DailyQuota, stored_bytes
from tests.collector.running import measurement, ndjson, start_collector

NOON = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
NDJSON = {"content-type": "application/x-ndjson"}


def test_measurements_beyond_the_daily_quota_are_refused_until_midnight_utc() -> None:
    quota = DailyQuota(measurements_per_day=10, bytes_per_day=0)
    quota.reserve(b"a", NOON, 6, 100)
    with pytest.raises(QuotaExceeded) as refused:
        quota.reserve(b"a", NOON + timedelta(hours=1), 5, 100)
    assert refused.value.retry_after_s == 11 * 3600
    assert refused.value.code == "quota_exceeded" and refused.value.status_code == 429
    quota.reserve(b"a", NOON, 4, 100)  # exactly the quota; the refusal charged nothing
    quota.reserve(b"b", NOON, 10, 100)  # another source has its own
    quota.reserve(b"a", NOON + timedelta(hours=12), 10, 100)  # a new UTC day starts at zero


def test_stored_bytes_have_their_own_quota_and_refunds_give_back() -> None:
    quota = DailyQuota(measurements_per_day=0, bytes_per_day=1000)
    charge = quota.reserve(b"a", NOON, 1, 800)
    with pytest.raises(QuotaExceeded, match="1000 bytes"):
        quota.reserve(b"a", NOON, 1, 300)
    quota.refund(charge, 0.5)
    quota.reserve(b"a", NOON, 1, 500)
    assert not DailyQuota(measurements_per_day=0, bytes_per_day=0).enabled


def test_sources_beyond_the_tracked_number_share_one_quota() -> None:
    quota = DailyQuota(measurements_per_day=3, bytes_per_day=0, max_sources=2)
    quota.reserve(b"a", NOON, 1, 1)
    quota.reserve(b"b", NOON, 1, 1)
    quota.reserve(b"c", NOON, 2, 1)  # counted in the overflow quota
    with pytest.raises(QuotaExceeded):
        quota.reserve(b"d", NOON, 2, 1)
    assert len(quota) == 3 and OVERFLOW_SOURCE in quota._use


def test_stored_bytes_count_the_body_and_the_text_columns() -> None:
    m = measurement()
    small = measurement_row(m, b"x" * 10, received_at=NOON, source=None)
    large = measurement_row(m, b"x" * 1010, received_at=NOON, source=None)
    assert stored_bytes([large]) - stored_bytes([small]) == 1000
    assert stored_bytes([small]) > len(m.input) + 10


async def test_an_upload_beyond_the_quota_gets_429_and_re_uploads_cost_nothing(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    limits = Limits(requests_per_s=0, measurements_per_s=0, quota_measurements_per_day=10)
    running = await start_collector(nursery, tmp_path, limits=limits)
    first = [measurement(url=f"http://q{i}.test/") for i in range(4)]
    async with httpx.AsyncClient(base_url=running.api) as client:
        assert (
            await client.post("/measurements", content=ndjson(first), headers=NDJSON)
        ).is_success
        again = await client.post("/measurements", content=ndjson(first), headers=NDJSON)
        assert again.status_code == 200 and again.json()["duplicates"] == 4  # refunded
        more = [measurement(url=f"http://r{i}.test/") for i in range(7)]
        refused = await client.post("/measurements", content=ndjson(more), headers=NDJSON)
        assert refused.status_code == 429
        assert refused.json()["error"] == "quota_exceeded"
        assert 1 <= int(refused.headers["Retry-After"]) <= 86_400
        fits = await client.post("/measurements", content=ndjson(more[:6]), headers=NDJSON)
        assert fits.status_code == 200
        assert (await client.get("/health")).json()["measurements"] == 10
        last = await client.post("/measurements", content=ndjson(more[6:]), headers=NDJSON)
        assert last.status_code == 429
