"""`crenel-probe list` and `crenel-probe show ID`: what the local store holds."""

from __future__ import annotations

import argparse
import sys

from probe.cli import render
from probe.cli.options import add_common_flags
from probe.config import ProbeConfig
from probe.errors import BadInputError
from probe.store import Store


def add_parsers(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `list` and `show`."""
    listing = subparsers.add_parser("list", help="list stored measurements, newest first")
    listing.add_argument("--limit", type=int, default=50, metavar="N")
    add_common_flags(listing)
    listing.set_defaults(handler=list_measurements, is_async=False, needs_consent=False)
    show = subparsers.add_parser("show", help="print one stored measurement as JSON")
    show.add_argument("uid", metavar="ID", help="measurement id (a unique prefix is enough)")
    add_common_flags(show)
    show.set_defaults(handler=show_measurement, is_async=False, needs_consent=False)


def list_measurements(args: argparse.Namespace, config: ProbeConfig) -> int:
    """Print the newest stored measurements and return the exit code."""
    with Store(config.store_path) as store:
        rows = store.summaries(limit=max(1, args.limit))
        total, pending = store.count(), store.count(pending_only=True)
    out = render.console()
    if rows:
        out.print(render.summary_table(rows))
    out.print(f"{total} measurements stored, {pending} not uploaded ({config.store_path})")
    return 0


def show_measurement(args: argparse.Namespace, config: ProbeConfig) -> int:
    """Print one measurement's JSON and return the exit code.

    Raises:
        BadInputError: no measurement, or several, match the id.
    """
    with Store(config.store_path) as store:
        matches = store.find(args.uid)
        if not matches:
            raise BadInputError(f"no stored measurement has id {args.uid!r}")
        if len(matches) > 1:
            raise BadInputError(f"{args.uid!r} matches several measurements; give more of the id")
        raw = store.raw(matches[0])
    assert raw is not None
    sys.stdout.write(raw.decode() + "\n")
    return 0
