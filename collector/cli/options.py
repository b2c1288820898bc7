"""Flags shared by several subcommands, and their resolution into the collector's config.

Adds arguments and reads them back; it runs no command.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collector.config import CollectorConfig

ORIGINS = ("crenel", "ooni")
"""The values of `--origin` (`collector.api.params.ORIGINS`), spelled here so `--help` stays
light."""


def add_storage_flags(parser: argparse.ArgumentParser) -> None:
    """Add --data-dir, --store and --debug to `parser`; return nothing."""
    parser.add_argument(
        "--data-dir", metavar="DIR", help="where the database lives (default: per-user)"
    )
    parser.add_argument(
        "--store",
        metavar="URL",
        help="the database: postgresql://USER@HOST:PORT/DB, shared by several collectors, or "
        "duckdb:///PATH (default: the DuckDB file in --data-dir)",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")


def add_analysis_flags(parser: argparse.ArgumentParser) -> None:
    """Add the flags of the collector's own analysis to `parser`; return nothing."""
    parser.add_argument(
        "--fingerprints",
        action="append",
        default=[],
        metavar="FILE",
        help="blockpage fingerprints for the collector's analysis: OONI .csv or Censored "
        "Planet .json (repeat)",
    )
    parser.add_argument(
        "--fingerprint-set",
        metavar="FILE",
        help="a newer versioned fingerprint set (crenel-fingerprint-set/1 JSON) to analyse "
        "with and hand to probes at check-in (default: the one shipped with Crenel)",
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


def add_remote_flags(parser: argparse.ArgumentParser, what: str) -> None:
    """Add --url and --admin-token-file (`what` to do on a running collector); return nothing."""
    parser.add_argument(
        "--url",
        metavar="URL",
        help=f"{what} on a running collector at this base URL (needs --admin-token-file)",
    )
    parser.add_argument("--admin-token-file", metavar="FILE", help="the collector's admin token")


def _flags(args: argparse.Namespace) -> dict[str, Any]:
    from collector.config import LIMIT_FLAGS

    keys = (
        "data_dir",
        "listen",
        "geoip",
        "fingerprints",
        "fingerprint_set",
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
        "raw_retention_days",
        *LIMIT_FLAGS,
        "trusted_uploader",
        "count_contradicted",
        "store",
        "read_store",
    )
    return {key: getattr(args, key, None) for key in keys}


def collector_config(args: argparse.Namespace) -> CollectorConfig:
    """Return the collector's config from these flags, the environment, its file and defaults."""
    from collector.config import environment, load_collector_config

    return load_collector_config(_flags(args), environment())


def add_json_flag(parser: argparse.ArgumentParser, what: str) -> None:
    """Add `--json`: print `what` as one JSON object on stdout instead of a sentence."""
    parser.add_argument("--json", action="store_true", help=f"print {what} as JSON")
