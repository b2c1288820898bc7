"""`crenel-collector report CC`: wire `collector.reports.command` to the data directory flags.

The report itself is built and printed by `collector.reports`; this module only registers it.
"""

from __future__ import annotations

import argparse

from collector.cli.datadir import open_storage
from collector.cli.options import add_storage_flags, collector_config
from collector.reports import command as report_command


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `report` with the storage flags; return nothing."""
    report = report_command.add_parser(sub)
    add_storage_flags(report)
    report.set_defaults(handler=run_report)


def run_report(args: argparse.Namespace) -> None:
    """Print a country's report (from the data directory, or a running collector with --url)."""
    report_command.run_report(args, lambda: open_storage(collector_config(args)))
