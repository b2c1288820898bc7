"""Start the lab's servers (DNS, HTTP/HTTPS) from a JSON config, print READY, run until SIGTERM.

Test support: the censor tests run it inside the `inet` namespace as
`python serve_lab.py CONFIG.json`. It writes the lab CA to `ca_path` for the probe's trust store.
"""

from __future__ import annotations

import functools
import json
import signal
import sys
from pathlib import Path
from typing import Any

import trio

from lab.servers import (
    DnsRecord,
    NameBehaviour,
    Route,
    Site,
    TlsSetup,
    Zone,
    serve_dns,
    serve_web,
)


def build_sites(config: dict[str, Any]) -> list[Site]:
    """Return the sites described by config["sites"]: host -> path -> route fields."""
    sites = []
    for host, routes in config["sites"].items():
        built = {}
        for path, fields in routes.items():
            arguments = dict(fields)
            if "body" in arguments:
                arguments["body"] = arguments["body"].encode()
            built[path] = Route(**arguments)
        sites.append(Site(host, built))
    return sites


async def serve(config: dict[str, Any]) -> None:
    """Start every server, print READY, and return when SIGTERM or SIGINT arrives."""
    tls = TlsSetup.create()
    tls.ca.write_pem(config["ca_path"])
    sites = build_sites(config)
    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async with trio.open_nursery() as nursery:
            for resolver in config.get("resolvers", []):
                zone = Zone(
                    records=tuple(DnsRecord(*record) for record in resolver["records"]),
                    behaviours={
                        name: NameBehaviour(delay_ms=delay)
                        for name, delay in resolver.get("delays_ms", {}).items()
                    },
                )
                await nursery.start(
                    functools.partial(serve_dns, zone, host=resolver["address"], port=53)
                )
            for address in config.get("web", []):
                await nursery.start(functools.partial(serve_web, sites, host=address, port=80))
                await nursery.start(
                    functools.partial(serve_web, sites, host=address, port=443, tls=tls)
                )
            print("READY", flush=True)
            async for _ in signals:
                nursery.cancel_scope.cancel()
                break


def main() -> None:
    """Read the config file named on the command line and serve it."""
    config = json.loads(Path(sys.argv[1]).read_text())
    trio.run(serve, config)


if __name__ == "__main__":
    main()
