"""`crenel-probe run`: parse the options, run the volunteer's campaign (`probe.volunteer`:
geolookup, check-in, measuring, background upload) with a progress bar, and render the outcome.

Prints a summary and the URLs that were not ok; `--json` streams every measurement instead.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

from probe.cli.options import add_measuring_flags
from probe.errors import BadInputError

if TYPE_CHECKING:
    import httpx

    from probe.config import ProbeConfig
    from probe.model import Measurement
    from probe.testlists import ListEntry
    from probe.upload import BackgroundUploader
    from probe.volunteer import CampaignPlan

MAX_ROWS = 200


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the subcommand."""
    parser = subparsers.add_parser(
        "run", help="measure a test list (given, or from the collector's check-in)"
    )
    parser.add_argument(
        "--list",
        dest="list_path",
        metavar="FILE",
        help="Citizen Lab CSV (url,category_code,...) or one URL per line; without it the "
        "collector's check-in chooses",
    )
    parser.add_argument("--limit", type=int, metavar="N", help="measure at most N URLs")
    parser.add_argument(
        "--categories",
        metavar="CODES",
        help="with check-in: only these test-list categories (comma-separated, e.g. NEWS,HUMR)",
    )
    parser.add_argument(
        "--no-upload",
        dest="upload",
        action="store_false",
        help="keep the measurements local (upload them later with `crenel-probe upload`)",
    )
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
    parser.set_defaults(handler=handle_run, is_async=True, needs_consent=True)


async def handle_run(args: argparse.Namespace, config: ProbeConfig) -> int:
    """Measure the list and return the exit code."""
    import trio

    from probe.volunteer import CampaignRequest, collector_client, plan_campaign

    if args.list_path is None and config.collector_url is None:
        raise BadInputError(
            "nothing to measure: give --list FILE, or set a collector "
            "(crenel-probe config set collector URL) to get a list at check-in"
        )
    categories = [c.strip().upper() for c in (args.categories or "").split(",") if c.strip()]
    request = CampaignRequest(
        list_path=Path(args.list_path) if args.list_path else None,
        limit=args.limit,
        categories=categories,
        upload=args.upload,
    )
    client = collector_client(config) if config.collector_url else None
    try:
        plan = await plan_campaign(config, client, request, warn=_warn, say=_say)
        return await _measure(args, plan, client)
    finally:
        if client is not None:
            with trio.move_on_after(5, shield=True):
                await client.aclose()


def _warn(line: str) -> None:
    from probe.cli import render

    print(render.warning_line(line), file=sys.stderr)


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


async def _measure(
    args: argparse.Namespace, plan: CampaignPlan, client: httpx.AsyncClient | None
) -> int:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    from probe.cli import render
    from probe.model import Verdict
    from probe.volunteer import run_campaign

    config, entries = plan.config, plan.entries
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
    with progress:
        task = progress.add_task("measuring", total=len(entries))

        def kept(measurement: Measurement) -> None:
            counts[measurement.analysis.verdict] += 1
            if measurement.analysis.verdict is not Verdict.OK and len(notable) < MAX_ROWS:
                notable.append(measurement)
            if args.json:
                print(render.json_line(measurement), flush=True)
            progress.advance(task)

        def skipped(entry: ListEntry, why: str) -> None:
            progress.advance(task)
            print(render.error_line(f"skipped {entry.url!r}: {why}"), file=sys.stderr)

        outcome = await run_campaign(
            plan, client, upload=args.upload, on_result=kept, on_skip=skipped, say=_say
        )
    summary = outcome.summary
    if not args.json:
        if notable:
            render.print_table(out, render.results_table(notable, title="URLs that were not ok"))
        totals = ", ".join(f"{v.value} {counts[v]}" for v in Verdict if counts[v])
        out.print(
            f"measured {summary.measured} of {len(entries)} URLs: {totals or 'none'}; "
            f"stored in {config.store_path}"
        )
        if summary.not_started:
            out.print(f"{summary.not_started} URLs not started: --max-runtime reached")
    if outcome.uploads is not None:
        _report_uploads(outcome.uploads, outcome.pending, config.collector_url or "")
    return 0


def _report_uploads(uploads: BackgroundUploader, pending: int, collector: str) -> None:
    from probe.cli import render

    line = f"uploaded {uploads.uploaded} measurements to {collector}"
    if pending:
        why = f" ({uploads.last_error})" if uploads.last_error else ""
        line += f"; {pending} still pending{why}: `crenel-probe upload` retries them"
    print(line, file=sys.stderr)
    for uid, why in uploads.refused[:5]:
        print(render.warning_line(f"the collector refused {uid}: {why}"), file=sys.stderr)
