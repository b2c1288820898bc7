"""Two collector instances on loopback share one PostgreSQL database behind a round-robin
balancer: probes upload through it while one instance is killed with -9 and restarted. Every
acknowledged measurement is stored exactly once, the outboxes deliver the rest, and a report is
byte-identical whichever instance answers."""

from __future__ import annotations

import os
import signal
import socket
from datetime import timedelta
from pathlib import Path

import httpx
import psycopg
import pytest
import trio

from tests.collector.balancer import RoundRobin
from tests.collector.nginx_front import NginxFront, nginx_skip_reason
from tests.collector.running import NOW
from tests.collector.test_crash import collector_process, fill_outbox, upload_all
from tests.postgres_cluster import PostgresCluster

PROBES = 3
KILL_AFTER = 90


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def wait_analysed(url: str) -> None:
    """Wait (bounded) until the shared database has nothing left to analyse."""
    async with httpx.AsyncClient(base_url=f"{url}/api/v1", trust_env=False) as client:
        for _ in range(300):
            if not (await client.get("/health")).json()["pending_analysis"]:
                return
            await trio.sleep(0.2)
    raise AssertionError("the analysis did not finish within a minute")


async def report_of(url: str, fmt: str) -> bytes:
    day = NOW.date()
    params = {
        "since": (day - timedelta(days=1)).isoformat(),
        "until": day.isoformat(),
        "format": fmt,
    }
    async with httpx.AsyncClient(base_url=f"{url}/api/v1", trust_env=False) as client:
        reply = await client.get("/reports/IR", params=params)
    assert reply.status_code == 200, reply.text
    return reply.content


@pytest.mark.parametrize("front", ["balancer", "nginx"])
async def test_two_instances_behind_a_balancer_survive_kill_9_of_one(
    tmp_path: Path, postgres_cluster: PostgresCluster, front: str
) -> None:
    """The front is the test's own round-robin balancer, or Debian's nginx when installed."""
    if front == "nginx" and (reason := nginx_skip_reason()) is not None:
        pytest.skip(reason)
    store = postgres_cluster.create_database()
    flags = ("--store", store, "--trusted-uploader", "127.0.0.1/32")
    stores = [tmp_path / f"probe{i}" / "measurements.sqlite3" for i in range(PROBES)]
    everything: set[str] = set()
    for i, path in enumerate(stores):
        everything.update(fill_outbox(path, i))
    ports = [free_port(), free_port()]
    balancer = RoundRobin(ports) if front == "balancer" else NginxFront(tmp_path / "nginx", ports)
    acked: set[str] = set()

    async with trio.open_nursery() as nursery:
        front = f"http://127.0.0.1:{await nursery.start(balancer.serve)}"
        async with collector_process(tmp_path / "b", *flags, listen=f"127.0.0.1:{ports[1]}") as (
            _,
            url_b,
        ):
            async with collector_process(
                tmp_path / "a", *flags, listen=f"127.0.0.1:{ports[0]}"
            ) as (process_a, _):
                killed = trio.Event()

                async def killer() -> None:
                    await killed.wait()
                    os.kill(process_a.pid, signal.SIGKILL)

                async with trio.open_nursery() as uploads:
                    uploads.start_soon(killer)
                    await upload_all(stores, front, acked, killed)
                with trio.fail_after(10):
                    await process_a.wait()
                assert process_a.returncode == -signal.SIGKILL
            assert len(acked) >= KILL_AFTER
            async with collector_process(
                tmp_path / "a", *flags, listen=f"127.0.0.1:{ports[0]}"
            ) as (_, url_a):
                delivered: set[str] = set()
                await upload_all(stores, front, delivered, None)
                assert acked | delivered == everything
                await wait_analysed(url_a)
                csv = {await report_of(url, "csv") for url in (url_a, url_b, front, front)}
                json_reports = {
                    (await report_of(url, "json")).split(b'"generated_at"')[0]
                    for url in (url_a, url_b)
                }
        nursery.cancel_scope.cancel()

    served = balancer.connections if isinstance(balancer, RoundRobin) else balancer.served()
    assert all(count > 0 for count in served.values())
    with psycopg.connect(store) as con:
        stored = con.execute("SELECT uid::TEXT, count(*) FROM measurements GROUP BY uid").fetchall()
    assert {uid for uid, _ in stored} == everything >= acked
    assert all(count == 1 for _, count in stored)
    assert len(csv) == 1
    assert b"site1.example.test" in next(iter(csv))
    assert len(json_reports) == 1
