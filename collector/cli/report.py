"""`crenel-collector report CC`: its flags, wired to `collector.cli.country_report` and the data
directory.

The report itself is built and printed by `collector.reports`; this module only registers it.
"""

from __future__ import annotations

import argparse

from collector.cli.options import ORIGINS, add_storage_flags, collector_config

REPORT_FORMATS = ("table", "json", "csv", "md", "html")
"""The values of `collector.reports.render.ReportFormat`, spelled here so `--help` stays light."""


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `report` with the storage flags; return nothing."""
    p = sub.add_parser("report", help="print a country's blocking report")
    p.add_argument("cc", metavar="CC", help="ISO 3166 alpha-2 country code")
    p.add_argument("--asn", metavar="AS", help="only this network (AS12389 or 12389)")
    p.add_argument("--region", metavar="NAME", help="only this sub-national region")
    p.add_argument("--category", metavar="CODE", help="only this test-list category")
    p.add_argument(
        "--origin",
        choices=ORIGINS,
        help="only Crenel's own measurements (crenel) or those imported from OONI (ooni)",
    )
    p.add_argument("--since", metavar="YYYY-MM-DD", help="first day (default: 6 days before)")
    p.add_argument("--until", metavar="YYYY-MM-DD", help="last day (default: today, UTC)")
    p.add_argument("--format", dest="fmt", default="table", choices=REPORT_FORMATS)
    p.add_argument(
        "--json", dest="fmt", action="store_const", const="json", help="same as --format json"
    )
    p.add_argument("--url", metavar="URL", help="ask a running collector at this base URL")
    add_storage_flags(p)
    p.set_defaults(handler=run_report)


def run_report(args: argparse.Namespace) -> None:
    """Print a country's report (from the data directory, or a running collector with --url)."""
    from collector.cli.country_report import print_report
    from collector.cli.datadir import open_storage

    print_report(
        args,
        lambda: open_storage(collector_config(args), remedy="or use --url URL"),
    )
