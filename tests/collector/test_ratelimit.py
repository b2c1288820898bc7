"""Per-source token buckets: steady rate, bursts, keyed hashes, and 429 over HTTP."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import trio

from collector.config import Limits
from collector.core.ratelimit import RateLimiter, source_of
from tests.collector.running import measurement, ndjson, start_collector

KEY = b"k" * 16


def test_a_burst_is_allowed_then_the_steady_rate() -> None:
    limiter = RateLimiter(2.0, 3.0, key=KEY)
    assert [limiter.take("192.0.2.1", 0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.take("192.0.2.1", 0.0) == 0.5
    assert limiter.take("192.0.2.1", 0.5) == 0.0
    assert limiter.take("198.51.100.1", 0.5) == 0.0  # another source has its own bucket


def test_a_refused_request_spends_nothing_and_costs_can_be_larger() -> None:
    limiter = RateLimiter(10.0, 100.0, key=KEY)
    assert limiter.take("192.0.2.1", 0.0, cost=80) == 0.0
    assert limiter.take("192.0.2.1", 0.0, cost=50) == 3.0
    assert limiter.take("192.0.2.1", 0.0, cost=20) == 0.0


def test_addresses_are_kept_only_as_keyed_hashes_and_idle_sources_are_forgotten() -> None:
    limiter = RateLimiter(1.0, 1.0, key=KEY, max_sources=4)
    for i in range(4):
        limiter.take(f"192.0.2.{i}", 0.0)
    assert all(b"192.0.2" not in k for k in limiter._buckets)
    assert limiter.source_key("192.0.2.1") != RateLimiter(1, 1, key=b"x" * 16).source_key(
        "192.0.2.1"
    )
    limiter.take("192.0.2.99", 100.0)
    assert len(limiter) == 1


def test_a_zero_rate_disables_the_limit() -> None:
    limiter = RateLimiter(0.0, 1.0, key=KEY)
    assert not limiter.enabled
    assert all(limiter.take("192.0.2.1", 0.0) == 0.0 for _ in range(100))


async def test_a_flooding_source_gets_429_with_retry_after(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    limits = Limits(
        requests_per_s=1.0, requests_burst=5.0, measurements_per_s=1.0, measurements_burst=4.0
    )
    running = await start_collector(nursery, tmp_path, limits=limits)
    batch = {"content-type": "application/x-ndjson"}
    async with httpx.AsyncClient(base_url=running.api) as client:
        r = await client.post(
            "/measurements", content=ndjson([measurement() for _ in range(5)]), headers=batch
        )
        assert r.status_code == 200  # a full bucket allows one batch above the burst...
        r = await client.post("/measurements", content=ndjson([measurement()]), headers=batch)
        assert r.status_code == 429 and r.json()["error"] == "rate_limited"  # ...then it waits
        assert int(r.headers["retry-after"]) >= 1
        statuses = [(await client.get("/measurements")).status_code for _ in range(4)]
        assert statuses[:2] == [200, 200] and statuses[-1] == 429
        assert (await client.get("/health")).status_code == 200  # never limited
        metrics = (await client.get("/metrics")).text
    limited = re.search(r"^crenel_rate_limited_requests_total (\S+)$", metrics, re.M)
    assert limited is not None and float(limited.group(1)) >= 2


def test_ipv6_addresses_of_one_64_share_a_bucket_and_other_64s_do_not() -> None:
    limiter = RateLimiter(1.0, 1.0, key=KEY)
    assert limiter.take("2001:db8:1:2::1", 0.0) == 0.0
    assert limiter.take("2001:db8:1:2:ffff:ffff:ffff:fffe", 0.0) == 1.0  # same /64: spent
    assert limiter.take("2001:db8:1:3::1", 0.0) == 0.0  # the next /64 has its own bucket
    assert limiter.source_key("2001:db8:1:2::1") == limiter.source_key("2001:db8:1:2:a:b:c:d")
    assert limiter.source_key("::ffff:192.0.2.1") == limiter.source_key("192.0.2.1")
    assert limiter.source_key("192.0.2.1") != limiter.source_key("192.0.2.2")


def test_the_ipv6_prefix_is_configurable() -> None:
    wide = RateLimiter(1.0, 1.0, key=KEY, ipv6_prefix=48)
    assert wide.take("2001:db8:1:2::1", 0.0) == 0.0
    assert wide.take("2001:db8:1:ffff::1", 0.0) == 1.0  # same /48
    assert wide.take("2001:db8:2::1", 0.0) == 0.0
    exact = RateLimiter(1.0, 1.0, key=KEY, ipv6_prefix=128)
    assert exact.source_key("2001:db8::1") != exact.source_key("2001:db8::2")
    assert source_of("2001:db8:1:2:3:4:5:6", 56) == "2001:db8:1::/56"
    assert source_of("not an address") == "not an address"
