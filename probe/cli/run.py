"""`crenel-probe run --list FILE`: measure a test list with a progress bar, store everything.

Prints a summary and the URLs that were not ok; `--json` streams every measurement instead.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from probe.cli import render
from probe.cli.options import add_measuring_flags
from probe.cli.session import open_session
from probe.config import ProbeConfig
from probe.errors import BadInputError
from probe.model import Measurement, Verdict
from probe.runner import run_urls
from probe.store import AsyncStore, Store
from probe.testlists import ListEntry, parse_url_list

MAX_ROWS = 200


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the subcommand."""
    parser = subparsers.add_parser("run", help="measure every URL of a test list")
    parser.add_argument(
        "--list",
        dest="list_path",
        metavar="FILE",
        required=True,
        help="Citizen Lab CSV (url,category_code,...) or one URL per line",
    )
    parser.add_argument("--limit", type=int, metavar="N", help="measure at most N URLs")
    parser.add_argument("--concurrency", type=int, metavar="N", help="URLs at once (default 16)")
    parser.add_argument("--per-host", type=int, metavar="N", help="URLs at once per host (2)")
    parser.add_argument(
        "--max-runtime",
        dest="max_runtime_s",
        type=float,
        metavar="SECONDS",
        help="start no new URL after this long",
    )
    add_measuring_flags(parser)
    parser.set_defaults(handler=run, is_async=True, needs_consent=True)


def read_list(path: Path, limit: int | None) -> list[ListEntry]:
    """Return the list's entries (the first `limit` of them).

    Raises:
        BadInputError: the file cannot be read or holds no URL.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInputError(f"cannot read the list {path}: {exc}") from exc
    entries = parse_url_list(text, str(path))
    if limit is not None:
        if limit < 1:
            raise BadInputError("--limit must be at least 1")
        entries = entries[:limit]
    return entries


async def run(args: argparse.Namespace, config: ProbeConfig) -> int:
    """Measure the list and return the exit code."""
    entries = read_list(Path(args.list_path), args.limit)
    out = render.console()
    counts: Counter[Verdict] = Counter()
    notable: list[Measurement] = []
    progress = Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=render.console(sys.stderr),
        transient=True,
        disable=args.json or not sys.stderr.isatty(),
    )
    with Store(config.store_path) as store, progress:
        saver = AsyncStore(store)
        task = progress.add_task("measuring", total=len(entries))

        async def keep(measurement: Measurement) -> None:
            await saver.add(measurement)
            counts[measurement.analysis.verdict] += 1
            if measurement.analysis.verdict is not Verdict.OK and len(notable) < MAX_ROWS:
                notable.append(measurement)
            if args.json:
                print(render.json_line(measurement), flush=True)
            progress.advance(task)

        async def skipped(entry: ListEntry, why: str) -> None:
            progress.advance(task)
            print(render.error_line(f"skipped {entry.url!r}: {why}"), file=sys.stderr)

        async with open_session(config) as session:
            summary = await run_urls(
                session,
                entries,
                concurrency=config.concurrency,
                per_host=config.per_host,
                max_runtime_s=config.max_runtime_s,
                on_result=keep,
                on_skip=skipped,
            )
    if not args.json:
        if notable:
            out.print(render.results_table(notable, title="URLs that were not ok"))
        totals = ", ".join(f"{v.value} {counts[v]}" for v in Verdict if counts[v])
        out.print(
            f"measured {summary.measured} of {len(entries)} URLs: {totals or 'none'}; "
            f"stored in {config.store_path}"
        )
        if summary.not_started:
            out.print(f"{summary.not_started} URLs not started: --max-runtime reached")
    return 0
