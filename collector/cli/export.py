"""`crenel-collector export`: write a time range of a stopped collector's measurements as
parquet, jsonl or csv."""

from __future__ import annotations

import argparse
from datetime import timedelta
from pathlib import Path

from collector.api.params import parse_filters
from collector.cli.datadir import open_storage
from collector.cli.errors import CliError
from collector.cli.options import add_storage_flags, collector_config
from collector.errors import InvalidField
from collector.storage import ExportFormat


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `export`; return nothing."""
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
    add_storage_flags(export)
    export.set_defaults(handler=run_export)


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
    store = open_storage(collector_config(args))
    try:
        rows = store.export(filters, fmt, out, partitioned=fmt is ExportFormat.PARQUET)
    finally:
        store.close()
    assert filters.until is not None and filters.since is not None
    days = (filters.until - filters.since) / timedelta(days=1)
    print(f"exported {rows} measurements ({days:g} days) to {out}")
