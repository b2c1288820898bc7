"""`crenel-collector serve` (the whole API and the dashboard) and `helper` (the control alone):
serve over HTTP(S) until interrupted; each prints the addresses it serves once it listens."""

from __future__ import annotations

import argparse
import logging
import signal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from collector.cli.errors import CliError
from collector.cli.options import add_analysis_flags, add_storage_flags, collector_config

if TYPE_CHECKING:
    import trio
    from hypercorn.config import Config as HypercornConfig

DASHBOARD_PATH = "/dashboard/"
"""Where `collector.dashboard` serves its pages."""


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `serve` and `helper`; return nothing."""
    _add_serve(sub)
    _add_helper(sub)


def _add_serve(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("serve", help="run the collector: ingest, check-in, control, research API")
    add_storage_flags(p)
    add_analysis_flags(p)
    p.add_argument(
        "--read-store",
        metavar="URL",
        help="answer researchers' queries, exports and reports from this database (a read "
        "replica of --store)",
    )
    p.add_argument("--listen", metavar="IP:PORT", help="address to serve on (127.0.0.1:8080)")
    p.add_argument(
        "--geoip",
        action="append",
        default=[],
        metavar="MMDB",
        help="MaxMind-format Country/ASN database for uploaders' addresses (repeat)",
    )
    p.add_argument("--admin-token-file", metavar="FILE", help="enables admin actions over HTTP")
    p.add_argument(
        "--control-resolver", metavar="IP[:PORT]", help="the control's trusted DNS resolver"
    )
    p.add_argument("--control-doh", metavar="URL", help="the control's trusted DoH resolver")
    p.add_argument(
        "--control-url", metavar="URL", help="announce this control at check-in instead of ours"
    )
    p.add_argument(
        "--allow-network",
        action="append",
        default=[],
        metavar="CIDR",
        help="let the control connect to this non-public network (lab use only; repeat)",
    )
    p.add_argument("--ca-bundle", metavar="PEM", help="extra CA certificates for the control")
    p.add_argument("--tls-cert", metavar="PEM", help="serve HTTPS with this certificate")
    p.add_argument("--tls-key", metavar="PEM", help="private key of --tls-cert")
    p.add_argument(
        "--plain-listen",
        metavar="IP:PORT",
        help="with --tls-cert, also serve plain HTTP here (e.g. the dashboard on an internal "
        "address)",
    )
    p.add_argument(
        "--trusted-uploader",
        action="append",
        default=[],
        metavar="CIDR",
        help="weigh uploads from this network per probe id, not per uploading network (a relay "
        "you run; repeat)",
    )
    p.add_argument(
        "--count-contradicted",
        action="store_true",
        default=None,
        help="count in reports the measurements whose claimed network contradicts their source",
    )
    p.add_argument(
        "--rate-limit",
        type=float,
        metavar="PER_S",
        help="requests per second per source (default 50; 0 disables all per-source limits)",
    )
    p.add_argument(
        "--exports-per-source",
        type=int,
        metavar="N",
        help="HTTP exports one source may run at once (default 1)",
    )
    p.add_argument(
        "--exports-total", type=int, metavar="N", help="HTTP exports running at once (default 2)"
    )
    p.add_argument(
        "--db-memory-mb",
        type=int,
        metavar="MIB",
        help="DuckDB's memory limit (default 512; DuckDB's own default is 80%% of RAM)",
    )
    p.add_argument(
        "--db-threads", type=int, metavar="N", help="DuckDB's threads (default: one per core)"
    )
    p.add_argument(
        "--quota-measurements-per-day",
        type=int,
        metavar="N",
        help="measurements one source may upload per UTC day (default 200000; 0: no quota)",
    )
    p.add_argument(
        "--quota-bytes-per-day",
        type=int,
        metavar="BYTES",
        help="bytes one source's measurements may take per UTC day (default 1 GiB; 0: none)",
    )
    p.add_argument(
        "--ipv6-prefix",
        type=int,
        metavar="BITS",
        help="an IPv6 source is its network of this many bits for per-source limits (default 64)",
    )
    p.add_argument(
        "--raw-retention-days",
        type=int,
        metavar="N",
        help="strip measurement bodies received more than N days ago, keeping summaries, "
        "analyses and reports (default 0: keep forever)",
    )
    p.set_defaults(handler=run_serve)


def _add_helper(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    helper = sub.add_parser("helper", help="run the control (test helper) service alone")
    helper.add_argument("--listen", default="127.0.0.1:8080", metavar="IP:PORT")
    helper.add_argument(
        "--resolver", metavar="IP[:PORT]", help="trusted DNS-over-UDP resolver (default: DoH)"
    )
    helper.add_argument(
        "--doh",
        default="https://dns.google/dns-query",
        metavar="URL",
        help="trusted DNS-over-HTTPS resolver",
    )
    helper.add_argument(
        "--allow-network",
        action="append",
        default=[],
        metavar="CIDR",
        help="also connect to this non-public network (lab use only; repeat)",
    )
    helper.add_argument("--ca-bundle", metavar="PEM", help="extra CA certificates to trust")
    helper.add_argument("--tls-cert", metavar="PEM", help="serve HTTPS with this certificate")
    helper.add_argument("--tls-key", metavar="PEM", help="private key of --tls-cert")
    helper.add_argument("--debug", action="store_true")
    helper.set_defaults(handler=run_helper)


def _listen(text: str) -> tuple[str, int]:
    from probe.config import parse_endpoint
    from probe.errors import ConfigError

    try:
        host, port = parse_endpoint(text, default_port=8080)
    except ConfigError as exc:
        raise CliError(f"--listen: {exc}") from exc
    return host, port


def _hypercorn_config(
    listen: tuple[str, int], cert: str | None, key: str | None
) -> HypercornConfig:
    from hypercorn.config import Config as HypercornConfig

    config = HypercornConfig()
    host, port = listen
    config.bind = [f"[{host}]:{port}" if ":" in host else f"{host}:{port}"]
    config.accesslog = None
    config.loglevel = "WARNING"
    config.errorlog = logging.getLogger("hypercorn.error")
    if cert or key:
        if not (cert and key):
            raise CliError("--tls-cert and --tls-key go together")
        for path in (cert, key):
            if not Path(path).is_file():
                raise CliError(f"no such file: {path}")
        config.certfile, config.keyfile = cert, key
    return config


async def run_serve(args: argparse.Namespace) -> None:
    """Serve the collector until interrupted."""
    import trio

    from collector.api.routes import API
    from collector.app import build_collector_app
    from collector.core.collection import settle_after_start

    config = collector_config(args)
    cert = str(config.tls_cert) if config.tls_cert else None
    key = str(config.tls_key) if config.tls_key else None
    hypercorn = _hypercorn_config(config.listen, cert, key)
    if args.plain_listen:
        if not cert:
            raise CliError("--plain-listen goes with --tls-cert (the main listener is HTTPS)")
        host, port = _listen(args.plain_listen)
        hypercorn.insecure_bind = [f"[{host}]:{port}" if ":" in host else f"{host}:{port}"]
    app = build_collector_app(config)
    async with trio.open_nursery() as nursery:
        binds = await nursery.start(_serve_until_terminated, app, hypercorn)
        settle_after_start()
        print(serving_line(binds, API, config.data_dir), flush=True)


def serving_line(binds: list[str], api: str, data_dir: Path) -> str:
    """Return the line `serve` prints once it listens: the API's and the dashboard's addresses
    on every bound listener, and where the data is."""
    apis = ", ".join(f"{b}{api}" for b in binds)
    dashboards = ", ".join(f"{b}{DASHBOARD_PATH}" for b in binds)
    return f"crenel-collector: serving {apis}, dashboard {dashboards} (data in {data_dir})"


async def _serve_until_terminated(
    app: Any, config: HypercornConfig, *, task_status: trio.TaskStatus[list[str]]
) -> None:
    from hypercorn.trio import serve

    await serve(app, config, shutdown_trigger=_terminated, task_status=task_status)


async def _terminated() -> None:
    """Return on SIGTERM or SIGINT: hypercorn then shuts down gracefully (queued uploads are
    committed, analysis workers stop) instead of the process dying mid-commit."""
    import trio

    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async for _ in signals:
            return


async def run_helper(args: argparse.Namespace) -> None:
    """Serve the control endpoint until interrupted."""
    import trio
    from hypercorn.trio import serve

    from collector.app import CONTROL_PATH, build_helper_app
    from collector.control.helper import HelperConfig
    from probe.config import parse_endpoint
    from probe.errors import ConfigError
    from probe.identity import SOFTWARE_VERSION

    try:
        resolver = parse_endpoint(args.resolver) if args.resolver else None
    except ConfigError as exc:
        raise CliError(f"--resolver: {exc}") from exc
    networks = tuple(args.allow_network)
    try:
        helper_config = HelperConfig(
            udp_resolver=resolver,
            doh_url=None if resolver else args.doh,
            allowed_networks=networks,
            ca_bundle=Path(args.ca_bundle) if args.ca_bundle else None,
            software_version=SOFTWARE_VERSION,
        )
        app = build_helper_app(helper_config)
        config = _hypercorn_config(_listen(args.listen), args.tls_cert, args.tls_key)
    except ValueError as exc:
        raise CliError(str(exc)) from exc
    async with trio.open_nursery() as nursery:
        binds = await nursery.start(serve, app, config)
        scheme_urls = ", ".join(f"{b}{CONTROL_PATH}" for b in binds)
        print(f"crenel-collector helper: serving the control at {scheme_urls}", flush=True)
