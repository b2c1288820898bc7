"""`crenel-collector export`: write a time range of a stopped collector's measurements as
parquet, jsonl or csv.

Against a data directory a running collector holds, the error names what works instead: the
running collector's `GET /api/v1/export`. Whatever fails, no new (empty) folder is left behind.
"""

from __future__ import annotations

import argparse
import json
import shutil
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode

from collector.cli.errors import CliError
from collector.cli.options import ORIGINS, add_json_flag, add_storage_flags, collector_config

EXPORT_FORMATS = ("parquet", "jsonl", "csv", "ooni")
"""The values of `collector.storage.ExportFormat`, spelled here so `--help` imports no storage."""


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `export`; return nothing."""
    export = sub.add_parser(
        "export", help="write measurements as parquet, jsonl, csv or OONI's format (ooni)"
    )
    export.add_argument("--since", required=True, metavar="DATE", help="YYYY-MM-DD or RFC 3339")
    export.add_argument(
        "--until", required=True, metavar="DATE", help="exclusive; a bare date includes that day"
    )
    export.add_argument("--format", required=True, choices=EXPORT_FORMATS, dest="fmt")
    export.add_argument(
        "--out",
        required=True,
        metavar="PATH",
        help="directory (parquet) or file (jsonl, csv, ooni)",
    )
    export.add_argument("--country", metavar="CC", help="only these countries (comma-separated)")
    export.add_argument(
        "--origin",
        choices=ORIGINS,
        help="only Crenel's own measurements (crenel) or those imported from OONI (ooni)",
    )
    add_storage_flags(export)
    add_json_flag(export, "the count and the path")
    export.set_defaults(handler=run_export)


def api_export_route(params: dict[str, str]) -> str:
    """Return the running collector's export route for the same range, e.g.
    `GET /api/v1/export?since=...&until=...&format=jsonl`."""
    from collector.api.routes import API

    return f"GET {API}/export?{urlencode(params)}"


def missing_dirs(path: Path) -> list[Path]:
    """Return the directories `path.mkdir(parents=True)` would create, innermost first."""
    missing: list[Path] = []
    for candidate in (path, *path.parents):
        if candidate.exists():
            break
        missing.append(candidate)
    return missing


def remove_created(created: list[Path]) -> None:
    """Remove the directories this export created (`missing_dirs`, innermost first): the outermost
    one, with everything the export put in it."""
    if created:
        shutil.rmtree(created[-1], ignore_errors=True)


def run_export(args: argparse.Namespace) -> None:
    """Write the measurements of a time range to a directory or file.

    Raises:
        CliError: bad dates, an unusable `--out`, or a running collector holds the data
            directory (exit code 75; the message names its export route).
    """
    from collector.api.params import parse_filters
    from collector.cli.datadir import open_storage
    from collector.core.errors import InvalidField
    from collector.storage import ExportFormat

    params = {"since": args.since, "until": args.until}
    if args.country:
        params["country"] = args.country
    if args.origin:
        params["origin"] = args.origin
    try:
        filters = parse_filters(params)
    except InvalidField as exc:
        raise CliError(f"--{exc.field}: {exc.detail}") from exc
    fmt = ExportFormat(args.fmt)
    out = Path(args.out)
    if fmt is ExportFormat.PARQUET:
        if out.exists() and any(out.iterdir()):
            raise CliError(f"{out} is not empty; parquet exports go into a new directory")
    elif out.is_dir():
        raise CliError(f"{out} is a directory; {fmt.value} exports are one file")
    route = api_export_route({**params, "format": fmt.value})
    store = open_storage(collector_config(args), remedy=f"or ask it for the same export: {route}")
    folder = out if fmt is ExportFormat.PARQUET else out.parent
    created, had_file = missing_dirs(folder), out.is_file()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        rows = store.export(filters, fmt, out, partitioned=fmt is ExportFormat.PARQUET)
    except BaseException:
        remove_created(created)
        if not had_file and out.is_file():
            out.unlink()
        raise
    finally:
        store.close()
    assert filters.until is not None and filters.since is not None
    days = (filters.until - filters.since) / timedelta(days=1)
    if args.json:
        print(json.dumps({"exported": rows, "days": days, "format": fmt.value, "out": str(out)}))
    else:
        print(f"exported {rows} measurements ({days:g} days) to {out}")
