"""Hundreds of idle and slow connections to `crenel-collector serve` do not stop it answering:
/health keeps answering and an upload is still acknowledged while they are held open."""

from __future__ import annotations

import contextlib
import resource
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import trio

from tests.collector.running import measurement, ndjson
from tests.collector.test_crash import collector_process

WANTED = 300
HEALTH_CHECKS = 5
ANSWER_WITHIN_S = 10.0
"""Generous on purpose: the point is that health answers at all while the connections are held
(a server that handled connections one at a time would never answer), not how fast."""


def connection_budget() -> int:
    """Return how many slow connections this process can hold: each costs the test and the
    collector (same user, same limit) one descriptor, and both need some for themselves."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return max(0, min(WANTED, (soft - 200) // 2))


@dataclass
class Attack:
    """The slow connections: how many to open, which kinds are open, and when to stop."""

    count: int
    opened: list[int] = field(default_factory=list)
    all_open: trio.Event = field(default_factory=trio.Event)
    stop: trio.Event = field(default_factory=trio.Event)


async def hold(host: str, port: int, kind: int, attack: Attack) -> None:
    """Open one connection and keep it busy doing almost nothing until the attack stops:
    idle (kind 0), request headers one line a second (1), or a body one byte a second (2)."""
    stop = attack.stop
    with contextlib.suppress(OSError, trio.BrokenResourceError, trio.ClosedResourceError):
        stream = await trio.open_tcp_stream(host, port)
        async with stream:
            attack.opened.append(kind)
            if len(attack.opened) == attack.count:
                attack.all_open.set()
            if kind == 1:
                await stream.send_all(b"GET /api/v1/health HTTP/1.1\r\nHost: c\r\n")
            elif kind == 2:
                await stream.send_all(
                    b"POST /api/v1/measurements HTTP/1.1\r\nHost: c\r\n"
                    b"Content-Type: application/x-ndjson\r\nContent-Length: 1000000\r\n\r\n"
                )
            for n in range(120):  # bounded: the test sets `stop` long before
                with trio.move_on_after(1.0):
                    await stop.wait()
                if stop.is_set():
                    return
                if kind == 1:
                    await stream.send_all(b"X-Slow-%d: a\r\n" % n)
                elif kind == 2:
                    await stream.send_all(b"{")


@pytest.mark.slow
async def test_health_answers_and_uploads_are_acknowledged_under_slow_connections(
    tmp_path: Path,
) -> None:
    count = connection_budget()
    if count < 50:
        pytest.skip(f"the open-files limit leaves room for only {count} connections")
    async with collector_process(tmp_path / "collector") as (_process, url):
        host, port = url.removeprefix("http://").rsplit(":", 1)
        attack = Attack(count)
        async with trio.open_nursery() as nursery:
            for i in range(count):
                nursery.start_soon(hold, host, int(port), i % 3, attack)
            with trio.fail_after(30):
                await attack.all_open.wait()
            limits = httpx.Limits(max_keepalive_connections=0)
            async with httpx.AsyncClient(
                base_url=f"{url}/api/v1", trust_env=False, limits=limits, timeout=30.0
            ) as client:
                for _ in range(HEALTH_CHECKS):
                    with trio.fail_after(ANSWER_WITHIN_S):
                        health = await client.get("/health")
                    assert health.status_code == 200, health.text
                    await trio.sleep(0.5)
                body = ndjson([measurement(probe_id="p-slowloris")])
                with trio.fail_after(ANSWER_WITHIN_S):
                    upload = await client.post(
                        "/measurements",
                        content=body,
                        headers={"Content-Type": "application/x-ndjson"},
                    )
                assert upload.status_code == 200, upload.text
                assert len(upload.json()["uids"]) == 1
            attack.stop.set()
        assert sorted(set(attack.opened)) == [0, 1, 2]
