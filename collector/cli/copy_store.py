"""`crenel-collector copy --from DATA_DIR --to postgresql://...`: move a stopped collector's
DuckDB store into PostgreSQL, day by day; run it again to resume, it skips the days already
equal (counts and checksums) and verifies every other."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `copy`; return nothing."""
    p = sub.add_parser(
        "copy", help="copy a stopped collector's DuckDB data into PostgreSQL (resumable)"
    )
    p.add_argument("--from", dest="source", required=True, metavar="DATA_DIR")
    p.add_argument("--to", dest="target", required=True, metavar="URL", help="postgresql://...")
    p.add_argument("--json", action="store_true", help="print the totals as JSON")
    p.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    p.set_defaults(handler=run_copy)


def run_copy(args: argparse.Namespace) -> None:
    """Copy, printing one line per day on stderr and the totals on stdout."""
    from collector.cli.migrate import shown_url
    from collector.storage import copy_to_postgresql

    def progress(day: date, how: str, rows: int) -> None:
        print(f"{day}: {how}, {rows} rows verified", file=sys.stderr)

    copied, skipped, rows = copy_to_postgresql(Path(args.source), args.target, on_day=progress)
    if args.json:
        print(json.dumps({"days_copied": copied, "days_skipped": skipped, "rows": rows}))
        return
    print(
        f"{rows} measurements in {copied + skipped} days verified in {shown_url(args.target)} "
        f"({copied} days copied, {skipped} already there)"
    )
