"""The lab internet's server process: every DNS, web, DoH and proxy server of a scenario's world.

Run inside the world's `inet` namespace by the world builder:
`python -m lab.server_process SCENARIO.toml --prefix P --world-dir DIR`. It recomputes the world
plan (same scenario, same prefix, same addresses), loads the lab CAs from DIR, prints `READY` once
every server listens, and serves until terminated. It sits above `plan`, `censor` and `servers`
(it runs the servers a plan describes), so the servers never import the plan.
"""

from __future__ import annotations

import argparse
import functools
import signal
import sys
from pathlib import Path

import trio

from lab.plan import WorldPlan, plan_world
from lab.scenario import load_scenario
from lab.servers.certs import CertificateAuthority
from lab.servers.dns import serve_dns
from lab.servers.listeners import ServerLimits
from lab.servers.proxy import serve_transparent_proxy
from lab.servers.tls import TlsSetup
from lab.servers.web import serve_web

LIMITS = ServerLimits(max_connections=2048, max_pending_queries=4096)


def load_tls(world_dir: Path) -> TlsSetup:
    """Return the lab CAs the world builder wrote into `world_dir`."""
    return TlsSetup(
        ca=CertificateAuthority.from_pem(
            (world_dir / "lab-ca.pem").read_bytes(), (world_dir / "lab-ca.key").read_bytes()
        ),
        untrusted_ca=CertificateAuthority.from_pem(
            (world_dir / "untrusted-ca.pem").read_bytes(),
            (world_dir / "untrusted-ca.key").read_bytes(),
        ),
    )


async def serve_world(plan: WorldPlan, tls: TlsSetup) -> None:
    """Start every server of `plan`, print READY, and serve until cancelled."""
    async with trio.open_nursery() as nursery:
        for address, zone in plan.dns_servers:
            await nursery.start(
                functools.partial(serve_dns, zone, host=address, port=53, limits=LIMITS)
            )
        for web in plan.web_servers:
            if web.http:
                await nursery.start(
                    functools.partial(
                        serve_web,
                        web.sites,
                        host=web.address,
                        port=80,
                        doh_zone=web.doh_zone,
                        limits=LIMITS,
                    )
                )
            if web.https:
                await nursery.start(
                    functools.partial(
                        serve_web,
                        web.sites,
                        host=web.address,
                        port=443,
                        tls=tls,
                        doh_zone=web.doh_zone,
                        handshake_latency_ms=web.handshake_latency_ms,
                        limits=LIMITS,
                    )
                )
        for proxy in plan.proxies:
            await nursery.start(
                functools.partial(
                    serve_transparent_proxy, dict(proxy.routes), host=proxy.address, port=80
                )
            )
        print("READY", flush=True)
        with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
            async for _ in signals:
                nursery.cancel_scope.cancel()
                break


def main() -> int:
    """Run the server process; return its exit code."""
    parser = argparse.ArgumentParser(prog="python -m lab.server_process")
    parser.add_argument("scenario", type=Path)
    parser.add_argument("--prefix", required=True)
    parser.add_argument("--world-dir", type=Path, required=True)
    args = parser.parse_args()
    plan = plan_world(load_scenario(args.scenario), args.prefix)
    trio.run(serve_world, plan, load_tls(args.world_dir))
    return 0


if __name__ == "__main__":
    sys.exit(main())
