"""crenel-collector's command line: parse flags, run the chosen command, map errors to exit codes.

Commands: `serve` (the whole API), `helper` (the control alone), `testlists import`,
`reanalyse` and `export`. The last three work on a stopped collector's data directory, or (import
and reanalyse) on a running one over HTTP with the admin token.

Exit codes: 0 done, 2 bad input, 3 the collector (for --url) is unreachable, 4 a required
privilege is missing, 69 the address is in use, 70 a bug (traceback only with --debug), 74 the
database cannot be opened or written, 75 the data directory is in use by a running collector,
130 interrupted.
"""

from __future__ import annotations

import argparse
import errno
import inspect
import logging
import signal
import sys
import traceback
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import msgspec
import trio
from hypercorn.config import Config as HypercornConfig
from hypercorn.trio import serve

from collector.api.params import parse_filters
from collector.api.routes import API
from collector.api.schemas import ReanalyseReply, TestListImport, TestListImportReply
from collector.app import CONTROL_PATH, build_collector_app, build_helper_app
from collector.config import (
    CollectorConfig,
    environment,
    load_collector_config,
    read_admin_token,
)
from collector.control.helper import HelperConfig
from collector.errors import (
    CollectorError,
    ConfigInvalid,
    DataDirLocked,
    InvalidField,
    StorageUnavailable,
)
from collector.metrics import Metrics
from collector.reanalyse import Analyser
from collector.reports import command as report_command
from collector.service import reference_source
from collector.storage import DuckDBStorage, ExportFormat, ThreadedStorage
from collector.testlists import read_checkout
from probe.config import parse_endpoint
from probe.errors import ConfigError, first_leaf
from probe.identity import SOFTWARE_VERSION

logger = logging.getLogger(__name__)

EXIT_UNREACHABLE = 3
EXIT_LOCKED = 75
EXIT_STORAGE = 74
ADMIN_TIMEOUT_S = 600.0


class CliError(Exception):
    """A problem the user can fix; `exit_code` says which kind."""

    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def _listen(text: str) -> tuple[str, int]:
    try:
        host, port = parse_endpoint(text, default_port=8080)
    except ConfigError as exc:
        raise CliError(f"--listen: {exc}") from exc
    return host, port


def _storage_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir", metavar="DIR", help="where the database lives (default: per-user)"
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")


def _analysis_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--fingerprints",
        action="append",
        default=[],
        metavar="FILE",
        help="blockpage fingerprints for the collector's analysis: OONI .csv or Censored "
        "Planet .json (repeat)",
    )
    parser.add_argument(
        "--public-network",
        action="append",
        default=[],
        metavar="CIDR",
        help="treat this special range as public in the analysis (repeat; lab use)",
    )
    parser.add_argument(
        "--analysis-workers",
        type=int,
        metavar="N",
        help="processes for the collector's analysis (default 1 on 2+ cores; 0: a thread)",
    )


def _remote_flags(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "--url",
        metavar="URL",
        help=f"{what} on a running collector at this base URL (needs --admin-token-file)",
    )
    parser.add_argument("--admin-token-file", metavar="FILE", help="the collector's admin token")


def _add_serve(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("serve", help="run the collector: ingest, check-in, control, research API")
    _storage_flags(p)
    _analysis_flags(p)
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
        "--rate-limit",
        type=float,
        metavar="PER_S",
        help="requests per second per source (default 50; 0 disables all per-source limits)",
    )
    p.set_defaults(handler=run_serve)


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="crenel-collector", description="Crenel's central service and test helper."
    )
    parser.add_argument(
        "--version", action="version", version=f"crenel-collector {SOFTWARE_VERSION}"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_serve(sub)

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

    lists = sub.add_parser("testlists", help="manage the test lists probes get at check-in")
    actions = lists.add_subparsers(dest="action", required=True, metavar="ACTION")
    importer = actions.add_parser(
        "import", help="replace the test lists with a Citizen Lab test-lists checkout"
    )
    importer.add_argument("path", metavar="PATH", help="the checkout, or its lists/ directory")
    _storage_flags(importer)
    _remote_flags(importer, "import")
    importer.set_defaults(handler=run_import)

    again = sub.add_parser("reanalyse", help="analyse stored measurements again")
    again.add_argument(
        "--all",
        dest="everything",
        action="store_true",
        help="every measurement (default: those analysed with other rules or fingerprints)",
    )
    _storage_flags(again)
    _analysis_flags(again)
    _remote_flags(again, "ask for re-analysis")
    again.set_defaults(handler=run_reanalyse)

    export = sub.add_parser("export", help="write measurements as parquet, jsonl or csv")
    export.add_argument("--since", required=True, metavar="DATE", help="YYYY-MM-DD or RFC 3339")
    export.add_argument(
        "--until", required=True, metavar="DATE", help="exclusive; a bare date includes that day"
    )
    export.add_argument(
        "--format", required=True, choices=[f.value for f in ExportFormat], dest="fmt"
    )
    export.add_argument(
        "--out", required=True, metavar="PATH", help="directory (parquet) or file (jsonl, csv)"
    )
    export.add_argument("--country", metavar="CC", help="only these countries (comma-separated)")
    _storage_flags(export)
    export.set_defaults(handler=run_export)

    report = report_command.add_parser(sub)
    _storage_flags(report)
    report.set_defaults(handler=run_report)
    return parser


def _hypercorn_config(
    listen: tuple[str, int], cert: str | None, key: str | None
) -> HypercornConfig:
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


def _flags(args: argparse.Namespace) -> dict[str, Any]:
    keys = (
        "data_dir",
        "listen",
        "geoip",
        "fingerprints",
        "admin_token_file",
        "control_resolver",
        "control_doh",
        "control_url",
        "allow_network",
        "ca_bundle",
        "public_network",
        "tls_cert",
        "tls_key",
        "rate_limit",
        "analysis_workers",
    )
    return {key: getattr(args, key, None) for key in keys}


def _config(args: argparse.Namespace) -> CollectorConfig:
    return load_collector_config(_flags(args), environment())


async def run_serve(args: argparse.Namespace) -> None:
    """Serve the collector until interrupted."""
    config = _config(args)
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
        urls = ", ".join(f"{b}{API}" for b in binds)
        print(f"crenel-collector: serving {urls} (data in {config.data_dir})", flush=True)


async def _serve_until_terminated(
    app: Any, config: HypercornConfig, *, task_status: trio.TaskStatus[list[str]]
) -> None:
    await serve(app, config, shutdown_trigger=_terminated, task_status=task_status)


async def _terminated() -> None:
    """Return on SIGTERM or SIGINT: hypercorn then shuts down gracefully (queued uploads are
    committed, analysis workers stop) instead of the process dying mid-commit."""
    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async for _ in signals:
            return


async def run_helper(args: argparse.Namespace) -> None:
    """Serve the control endpoint until interrupted."""
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


def _open_storage(config: CollectorConfig) -> DuckDBStorage:
    try:
        return DuckDBStorage(config.database_path)
    except DataDirLocked as exc:
        raise CliError(
            f"{exc.detail}; stop it first, or use --url URL --admin-token-file FILE",
            EXIT_LOCKED,
        ) from exc


async def _admin_post(url: str, token_file: str | None, path: str, body: bytes) -> bytes:
    if not token_file:
        raise CliError("--url needs --admin-token-file")
    try:
        token = read_admin_token(Path(token_file))
    except ConfigInvalid as exc:
        raise CliError(exc.detail) from exc
    target = url.rstrip("/") + path
    try:
        async with httpx.AsyncClient(trust_env=False, timeout=ADMIN_TIMEOUT_S) as client:
            response = await client.post(
                target,
                content=body,
                headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            )
    except httpx.HTTPError as exc:
        raise CliError(f"cannot reach the collector at {url}: {exc}", EXIT_UNREACHABLE) from exc
    if response.status_code != 200:
        raise CliError(f"the collector refused: HTTP {response.status_code} {response.text}")
    return response.content


def run_import(args: argparse.Namespace) -> None:
    """Replace the test lists with those of a checkout."""
    urls = read_checkout(Path(args.path))
    origin = str(Path(args.path).resolve())
    if args.url:
        body = msgspec.json.encode(TestListImport(origin=origin, urls=urls))
        reply = trio.run(
            _admin_post, args.url, args.admin_token_file, f"{API}/admin/test-lists", body
        )
        stored = msgspec.json.decode(reply, type=TestListImportReply).stored
    else:
        store = _open_storage(_config(args))
        try:
            stored = store.replace_test_lists(urls, origin)
        finally:
            store.close()
    countries = len({u.cc for u in urls if u.cc})
    print(f"imported {stored} URLs (global and {countries} country lists) from {args.path}")


async def run_reanalyse(args: argparse.Namespace) -> None:
    """Analyse stored measurements again and report how many."""
    if args.url:
        body = msgspec.json.encode({"everything": args.everything})
        reply = await _admin_post(args.url, args.admin_token_file, f"{API}/admin/reanalyse", body)
        result = msgspec.json.decode(reply, type=ReanalyseReply)
        print(
            f"flagged {result.flagged} measurements; the running collector analyses them "
            f"with rules {result.rules_version}"
        )
        return
    config = _config(args)
    store = _open_storage(config)
    try:
        storage = ThreadedStorage(store)
        workers = config.analysis_workers
        with Analyser(storage, reference_source(config), Metrics(), workers=workers) as analyser:
            flagged = await analyser.request(everything=args.everything)
            done = 0
            for _ in range(1_000_000):
                batch = await analyser.drain(max_batches=50)
                done += batch
                if batch == 0:
                    break
                print(f"analysed {done} of {flagged}", file=sys.stderr, flush=True)
    finally:
        store.close()
    print(f"re-analysed {done} measurements with rules {analyser.rules_version}")


def run_export(args: argparse.Namespace) -> None:
    """Write the measurements of a time range to a directory or file."""
    params = {"since": args.since, "until": args.until}
    if args.country:
        params["country"] = args.country
    try:
        filters = parse_filters(params)
    except InvalidField as exc:
        raise CliError(f"--{exc.field}: {exc.detail}") from exc
    fmt = ExportFormat(args.fmt)
    out = Path(args.out)
    if fmt is ExportFormat.PARQUET:
        if out.exists() and any(out.iterdir()):
            raise CliError(f"{out} is not empty; parquet exports go into a new directory")
        out.mkdir(parents=True, exist_ok=True)
    elif out.is_dir():
        raise CliError(f"{out} is a directory; {fmt.value} exports are one file")
    store = _open_storage(_config(args))
    try:
        rows = store.export(filters, fmt, out, partitioned=fmt is ExportFormat.PARQUET)
    finally:
        store.close()
    assert filters.until is not None and filters.since is not None
    days = (filters.until - filters.since) / timedelta(days=1)
    print(f"exported {rows} measurements ({days:g} days) to {out}")


def run_report(args: argparse.Namespace) -> None:
    """Print a country's report (from the data directory, or a running collector with --url)."""
    report_command.run_report(args, lambda: _open_storage(_config(args)))


def main(argv: Sequence[str] | None = None) -> int:
    """Run crenel-collector and return its exit code."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if getattr(args, "debug", False) else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        try:
            if inspect.iscoroutinefunction(args.handler):
                trio.run(args.handler, args)
            else:
                args.handler(args)
        except BaseExceptionGroup as group:
            raise first_leaf(group) from group
        return 0
    except CliError as exc:
        print(f"crenel-collector: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except DataDirLocked as exc:
        print(f"crenel-collector: error: {exc.detail}", file=sys.stderr)
        return EXIT_LOCKED
    except StorageUnavailable as exc:
        print(f"crenel-collector: error: {exc.detail}", file=sys.stderr)
        return EXIT_STORAGE
    except report_command.CollectorUnreachable as exc:
        print(f"crenel-collector: error: {exc.detail}", file=sys.stderr)
        return report_command.EXIT_UNREACHABLE
    except CollectorError as exc:
        print(f"crenel-collector: error: {exc.detail}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            print(f"crenel-collector: error: cannot listen: {exc.strerror}", file=sys.stderr)
            return 69
        if exc.errno in (errno.EACCES, errno.EPERM):
            print(f"crenel-collector: error: not permitted: {exc.strerror}", file=sys.stderr)
            return 4
        raise
    except Exception as exc:  # the edge of the program: a bug is reported, never hidden
        if getattr(args, "debug", False):
            traceback.print_exc()
        print(
            f"crenel-collector: error: internal error ({type(exc).__name__}); this is a bug",
            file=sys.stderr,
        )
        return 70


def console_script() -> None:
    """Entry point of the `crenel-collector` command."""
    sys.exit(main())


if __name__ == "__main__":
    console_script()
