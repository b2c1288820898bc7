"""Loopback servers for benchmarks, in their own processes: a DNS resolver, a web server and the
control helper, each adding a fixed latency per response. Prints its ports as one JSON line, then
serves until stdin closes or --max-seconds pass.

`--role all` serves the three in one process. `--role servers` serves the DNS resolver and the
web server only; `--role control` serves the control helper only, resolving through the DNS
resolver at `--dns-port`, on a socket bound with SO_REUSEPORT (to `--port`, or a free port), so
that several control processes can share one port and the kernel spreads connections among them.

Usage: python bench/loopback_servers.py --latency-ms 20 [--max-seconds 600]
       [--role all|servers|control] [--dns-port PORT] [--port PORT]
"""

from __future__ import annotations

import argparse
import json
import socket
import sys

import trio
from hypercorn.config import Config as HypercornConfig
from hypercorn.trio import serve

from collector.app import CONTROL_PATH, build_helper_app
from collector.control.helper import HelperConfig
from lab.servers import DnsRecord, Route, ServerLimits, Site, Zone, html_page, serve_dns, serve_web

HOST = "127.0.0.1"
PAGE = html_page("Benchmark page", "Some text for the benchmark. " * 100)


async def start_dns_and_web(nursery: trio.Nursery, latency_ms: float) -> dict[str, int]:
    """Start the DNS resolver and the web server in `nursery`; return their ports."""
    zone = Zone(records=(DnsRecord("*.bench.test", "A", HOST),), default_delay_ms=latency_ms)
    sites = [Site(host="*.bench.test", routes={"/": Route(body=PAGE, latency_ms=latency_ms)})]
    limits = ServerLimits(max_connections=4096, max_pending_queries=8192)
    dns_port = await nursery.start(
        lambda task_status: serve_dns(zone, host=HOST, limits=limits, task_status=task_status)
    )
    web_port = await nursery.start(
        lambda task_status: serve_web(sites, host=HOST, limits=limits, task_status=task_status)
    )
    return {"dns": dns_port, "web": web_port}


def reusable_socket(port: int) -> socket.socket:
    """Return a TCP socket bound to HOST:`port` (0: a free one) with SO_REUSEPORT set."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((HOST, port))
    return sock


async def start_control(nursery: trio.Nursery, dns_port: int, port: int | None) -> dict[str, str]:
    """Start the control helper in `nursery`, resolving through `dns_port`; return its URL
    (`control`) and port. With `port` (0 or more) it listens on a SO_REUSEPORT socket."""
    config = HypercornConfig()
    config.accesslog = None
    config.loglevel = "WARNING"
    if port is None:
        config.bind = [f"{HOST}:0"]
    else:
        config.bind = [f"fd://{reusable_socket(port).detach()}"]
    app = build_helper_app(
        HelperConfig(udp_resolver=(HOST, dns_port), doh_url=None, allowed_networks=("127.0.0.0/8",))
    )
    binds = await nursery.start(serve, app, config)
    return {"control": f"{binds[0]}{CONTROL_PATH}", "port": binds[0].rsplit(":", 1)[1]}


async def main_async(args: argparse.Namespace) -> None:
    with trio.move_on_after(args.max_seconds):
        async with trio.open_nursery() as nursery:
            ports: dict[str, int | str] = {}
            if args.role in ("all", "servers"):
                ports.update(await start_dns_and_web(nursery, args.latency_ms))
            if args.role in ("all", "control"):
                dns_port = int(ports.get("dns", args.dns_port))
                reuse_port = args.port if args.role == "control" else None
                ports.update(await start_control(nursery, dns_port, reuse_port))
            print(json.dumps(ports), flush=True)
            await trio.to_thread.run_sync(sys.stdin.read, abandon_on_cancel=True)
            nursery.cancel_scope.cancel()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--max-seconds", type=float, default=900.0)
    parser.add_argument("--role", choices=("all", "servers", "control"), default="all")
    parser.add_argument("--dns-port", type=int, default=0, help="the resolver (--role control)")
    parser.add_argument("--port", type=int, default=0, help="SO_REUSEPORT port (--role control)")
    args = parser.parse_args()
    if args.role == "control" and not args.dns_port:
        parser.error("--role control needs --dns-port")
    trio.run(main_async, args)


if __name__ == "__main__":
    main()
