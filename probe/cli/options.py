"""Command-line flags shared by the measuring subcommands, and their mapping to settings keys."""

from __future__ import annotations

import argparse
from typing import Any


def add_common_flags(parser: argparse.ArgumentParser) -> None:
    """Add the flags every subcommand accepts (settings file, data directory, debugging)."""
    parser.add_argument("--config", metavar="FILE", help="settings file (default: per-user)")
    parser.add_argument("--data-dir", metavar="DIR", help="where measurements are stored")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")


def add_collector_flag(parser: argparse.ArgumentParser) -> None:
    """Add `--collector URL` (also `crenel-probe config set collector URL`)."""
    parser.add_argument(
        "--collector", metavar="URL", help="collector to check in with and upload to"
    )


def add_measuring_flags(parser: argparse.ArgumentParser) -> None:
    """Add the flags of `measure` and `run`."""
    add_common_flags(parser)
    parser.add_argument(
        "--yes", action="store_true", help="accept the informed-consent notice (for unattended use)"
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="write each measurement as a JSON line to stdout instead of a table",
    )
    parser.add_argument("--control", metavar="URL", help="control (test helper) endpoint URL")
    add_collector_flag(parser)
    parser.add_argument(
        "--resolver",
        metavar="IP[:PORT]",
        help="DNS-over-UDP resolver (default: the system's; `off` to skip)",
    )
    parser.add_argument("--doh", metavar="URL", help="DNS-over-HTTPS resolver URL (`off` to skip)")
    parser.add_argument(
        "--no-system-resolver",
        dest="system_resolver",
        action="store_const",
        const=False,
        default=None,
        help="do not use getaddrinfo",
    )
    parser.add_argument("--ca-bundle", metavar="PEM", help="extra CA certificates to trust")
    parser.add_argument(
        "--fingerprints",
        metavar="FILE",
        action="append",
        help="blockpage fingerprints: OONI .csv or Censored Planet .json (repeat)",
    )
    parser.add_argument(
        "--geoip",
        metavar="MMDB",
        action="append",
        help="MaxMind-format Country/ASN database (repeat)",
    )
    parser.add_argument(
        "--public-network",
        dest="public_networks",
        metavar="CIDR",
        action="append",
        help="treat this special range as public (repeat)",
    )
    for step in ("dns", "tcp", "tls", "http", "control"):
        parser.add_argument(
            f"--{step}-timeout",
            dest=f"{step}_timeout_s",
            type=float,
            metavar="SECONDS",
            help=f"time allowed for each {step} step",
        )
    parser.add_argument(
        "--capture-window-ms",
        type=float,
        metavar="MS",
        help="how long to keep listening for more DNS answers (default 500)",
    )
    add_packet_flags(parser)


def add_packet_flags(parser: argparse.ArgumentParser) -> None:
    """Add `--packet-evidence`, `--require-packet-evidence`, `--locate-censor`, `--dns-bait`."""
    parser.add_argument(
        "--packet-evidence",
        dest="packet_evidence",
        action="store_const",
        const="on",
        help="capture the packets of failed steps as evidence (needs CAP_NET_RAW; without it, "
        "says so once and measures as before)",
    )
    parser.add_argument(
        "--require-packet-evidence",
        dest="packet_evidence",
        action="store_const",
        const="required",
        help="like --packet-evidence, but exit with code 4 without the privilege",
    )
    parser.add_argument(
        "--locate-censor",
        dest="locate_censor",
        action="store_const",
        const="on",
        help="find the hop where blocking starts (sends extra packets carrying the blocked "
        "request; needs CAP_NET_RAW and CAP_NET_ADMIN; implies --packet-evidence)",
    )
    parser.add_argument(
        "--dns-bait",
        metavar="IP",
        help="also query this address, which runs no DNS server: any answer is forged",
    )


FLAG_KEYS = (
    "config",
    "data_dir",
    "control",
    "collector",
    "resolver",
    "doh",
    "system_resolver",
    "ca_bundle",
    "fingerprints",
    "geoip",
    "public_networks",
    "dns_timeout_s",
    "tcp_timeout_s",
    "tls_timeout_s",
    "http_timeout_s",
    "control_timeout_s",
    "capture_window_ms",
    "concurrency",
    "per_host",
    "max_runtime_s",
    "packet_evidence",
    "locate_censor",
    "dns_bait",
)


def flags_of(args: argparse.Namespace) -> dict[str, Any]:
    """Return the parsed flags keyed like settings keys (None where a flag was not given)."""
    return {key: getattr(args, key, None) for key in FLAG_KEYS}


def add_json_flag(parser: argparse.ArgumentParser, what: str) -> None:
    """Add `--json`: print `what` as JSON on stdout instead of text."""
    parser.add_argument("--json", action="store_true", help=f"print {what} as JSON")
