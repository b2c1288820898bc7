"""`crenel-probe list` and `crenel-probe show ID`: what the local store holds."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from probe.cli.options import add_common_flags, add_json_flag

if TYPE_CHECKING:
    from probe.config import ProbeConfig


def add_parsers(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `list` and `show`."""
    listing = subparsers.add_parser("list", help="list stored measurements, newest first")
    listing.add_argument("--limit", type=int, default=50, metavar="N")
    add_common_flags(listing)
    add_json_flag(listing, "the listing and the counts")
    listing.set_defaults(handler=list_measurements, is_async=False, needs_consent=False)
    show = subparsers.add_parser("show", help="print one stored measurement as JSON")
    show.add_argument("uid", metavar="ID", help="measurement id (a unique prefix is enough)")
    add_common_flags(show)
    show.add_argument(
        "--json", action="store_true", help="accepted for symmetry: `show` always prints JSON"
    )
    show.add_argument(
        "--format",
        dest="fmt",
        choices=["crenel", "ooni"],
        default="crenel",
        help="crenel (as stored) or ooni (OONI's web_connectivity format, for OONI's tools)",
    )
    show.set_defaults(handler=show_measurement, is_async=False, needs_consent=False)


def list_measurements(args: argparse.Namespace, config: ProbeConfig) -> int:
    """Print the newest stored measurements and return the exit code."""
    from probe.cli import render
    from probe.store import Store

    with Store(config.store_path) as store:
        rows = store.summaries(limit=max(1, args.limit))
        total, pending = store.count(), store.count(pending_only=True)
    if args.json:
        render.print_json(
            {
                "store": str(config.store_path),
                "total": total,
                "pending": pending,
                "measurements": rows,
            }
        )
        return 0
    out = render.console()
    if rows:
        render.print_table(out, render.summary_table(rows))
    out.print(
        f"{total} measurements stored, {pending} not uploaded ({config.store_path})",
        markup=False,
    )
    return 0


def show_measurement(args: argparse.Namespace, config: ProbeConfig) -> int:
    """Print one measurement's JSON and return the exit code.

    Raises:
        BadInputError: no measurement, or several, match the id.
    """
    from probe.errors import BadInputError
    from probe.store import Store

    with Store(config.store_path) as store:
        matches = store.find(args.uid)
        if not matches:
            raise BadInputError(f"no stored measurement has id {args.uid!r}")
        if len(matches) > 1:
            raise BadInputError(f"{args.uid!r} matches several measurements; give more of the id")
        raw = store.raw(matches[0])
    assert raw is not None
    if getattr(args, "fmt", "crenel") == "ooni":
        import msgspec

        from probe.model import Measurement
        from probe.ooni import ooni_from_measurement

        measurement = msgspec.json.decode(raw, type=Measurement)
        raw = msgspec.json.encode(ooni_from_measurement(measurement))
    sys.stdout.write(raw.decode() + "\n")
    return 0
