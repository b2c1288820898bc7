"""Loopback servers for benchmarks, in their own process: a DNS resolver, a web server and the
control helper, each adding a fixed latency per response. Prints their ports as one JSON line,
then serves until stdin closes or --max-seconds pass.

Usage: python bench/loopback_servers.py --latency-ms 20 [--max-seconds 600]
"""

from __future__ import annotations

import argparse
import json
import sys

import trio
from hypercorn.config import Config as HypercornConfig
from hypercorn.trio import serve

from collector.app import CONTROL_PATH, build_helper_app
from collector.control.helper import HelperConfig
from lab.servers import DnsRecord, Route, ServerLimits, Site, Zone, html_page, serve_dns, serve_web

HOST = "127.0.0.1"
PAGE = html_page("Benchmark page", "Some text for the benchmark. " * 100)


async def main_async(latency_ms: float, max_seconds: float) -> None:
    zone = Zone(records=(DnsRecord("*.bench.test", "A", HOST),), default_delay_ms=latency_ms)
    sites = [Site(host="*.bench.test", routes={"/": Route(body=PAGE, latency_ms=latency_ms)})]
    limits = ServerLimits(max_connections=4096, max_pending_queries=8192)
    with trio.move_on_after(max_seconds):
        async with trio.open_nursery() as nursery:
            dns_port = await nursery.start(
                lambda task_status: serve_dns(
                    zone, host=HOST, limits=limits, task_status=task_status
                )
            )
            web_port = await nursery.start(
                lambda task_status: serve_web(
                    sites, host=HOST, limits=limits, task_status=task_status
                )
            )
            config = HypercornConfig()
            config.bind = [f"{HOST}:0"]
            config.accesslog = None
            config.loglevel = "WARNING"
            app = build_helper_app(
                HelperConfig(
                    udp_resolver=(HOST, dns_port), doh_url=None, allowed_networks=("127.0.0.0/8",)
                )
            )
            binds = await nursery.start(serve, app, config)
            print(
                json.dumps(
                    {"dns": dns_port, "web": web_port, "control": f"{binds[0]}{CONTROL_PATH}"}
                ),
                flush=True,
            )
            await trio.to_thread.run_sync(sys.stdin.read, abandon_on_cancel=True)
            nursery.cancel_scope.cancel()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--max-seconds", type=float, default=900.0)
    args = parser.parse_args()
    trio.run(main_async, args.latency_ms, args.max_seconds)


if __name__ == "__main__":
    main()
