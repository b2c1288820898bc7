"""crenel-collector's command line: parse flags, run the chosen service, map errors to exit codes.

Exit codes: 0 done, 2 bad input, 4 a required privilege is missing, 69 the address is in use,
70 a bug (traceback only with --debug), 130 interrupted.
"""

from __future__ import annotations

import argparse
import errno
import logging
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path

import trio
from hypercorn.config import Config as HypercornConfig
from hypercorn.trio import serve

from collector.app import CONTROL_PATH, build_helper_app
from collector.control.helper import HelperConfig
from probe.config import parse_endpoint
from probe.errors import ConfigError, first_leaf
from probe.identity import SOFTWARE_VERSION

logger = logging.getLogger(__name__)


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


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="crenel-collector", description="Crenel's central service and test helper."
    )
    parser.add_argument(
        "--version", action="version", version=f"crenel-collector {SOFTWARE_VERSION}"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
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


def main(argv: Sequence[str] | None = None) -> int:
    """Run crenel-collector and return its exit code."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if getattr(args, "debug", False) else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        try:
            trio.run(args.handler, args)
        except BaseExceptionGroup as group:
            raise first_leaf(group) from group
        return 0
    except CliError as exc:
        print(f"crenel-collector: error: {exc}", file=sys.stderr)
        return exc.exit_code
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
