"""`crenel-probe run`: measure a test list (given, or from the collector's check-in) with a
progress bar, store everything, and upload each measurement as it completes.

Prints a summary and the URLs that were not ok; `--json` streams every measurement instead.
With a collector configured, the probe first asks it where it is (geolookup: its country, AS
and public address, which is then scrubbed) and, without `--list`, what to measure.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

from probe.cli.options import add_measuring_flags
from probe.errors import BadInputError, FingerprintSetRefused

if TYPE_CHECKING:
    import httpx

    from probe.checkin import FingerprintOffer
    from probe.config import ProbeConfig
    from probe.model import Measurement, ProbeNetwork, Verdict
    from probe.testlists import ListEntry
    from probe.upload import BackgroundUploader, UploadPolicy

MAX_ROWS = 200
DEFAULT_CHECKIN_URLS = 100


def run_upload_policy() -> UploadPolicy:
    """Return the upload policy during a run: it gives up sooner than `upload`, and what is
    left stays in the outbox for `upload`."""
    from probe.upload import UploadPolicy

    return UploadPolicy(attempts=3, deadline_s=60.0, max_backoff_s=10.0)


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
    parser.set_defaults(handler=run, is_async=True, needs_consent=True)


def read_list(path: Path, limit: int | None) -> list[ListEntry]:
    """Return the list's entries (the first `limit` of them).

    Raises:
        BadInputError: the file cannot be read or holds no URL.
    """
    from probe.testlists import parse_url_list

    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInputError(f"cannot read the list {path}: {exc}") from exc
    entries = parse_url_list(text, str(path))
    if limit is not None:
        entries = entries[:limit]
    return entries


async def _entries(
    args: argparse.Namespace,
    config: ProbeConfig,
    client: httpx.AsyncClient | None,
    network: ProbeNetwork,
) -> tuple[list[ListEntry], ProbeConfig]:
    """Return the URLs to measure and the settings (with the check-in's control, if any)."""
    from probe.checkin import check_in
    from probe.config import with_overrides

    if args.limit is not None and args.limit < 1:
        raise BadInputError("--limit must be at least 1")
    if args.list_path:
        return read_list(Path(args.list_path), args.limit), config
    if client is None or config.collector_url is None:
        raise BadInputError(
            "nothing to measure: give --list FILE, or set a collector "
            "(crenel-probe config set collector URL) to get a list at check-in"
        )
    categories = [c.strip().upper() for c in (args.categories or "").split(",") if c.strip()]
    answer = await check_in(
        client,
        config.collector_url,
        network=network,
        categories=categories,
        limit=args.limit or DEFAULT_CHECKIN_URLS,
    )
    if answer.fingerprints is not None:
        await take_fingerprint_set(client, config, answer.fingerprints)
    if not answer.entries:
        raise BadInputError(
            "the collector's check-in returned no URLs (has it imported test lists?)"
        )
    if config.control_url is None:
        config = with_overrides(config, control_url=answer.control_url)
    return answer.entries, config


async def take_fingerprint_set(
    client: httpx.AsyncClient, config: ProbeConfig, offer: FingerprintOffer
) -> None:
    """Fetch and keep the collector's fingerprint set when it is newer than the one in use;
    print one line saying what happened (a refusal is a warning: the old set stays)."""
    import trio

    from probe.cli import render
    from probe.fingerprint_updates import update_fingerprint_set
    from probe.references import active_set

    assert config.collector_url is not None
    current = await trio.to_thread.run_sync(active_set, config.data_dir)
    try:
        used = await update_fingerprint_set(
            client, config.collector_url, offer, current, config.data_dir
        )
    except FingerprintSetRefused as exc:
        print(render.warning_line(f"{exc.message}; keeping set {current.version}"), file=sys.stderr)
        return
    if used is not current:
        print(
            f"fingerprint set {used.version} from the collector (was {current.version})",
            file=sys.stderr,
        )


async def run(args: argparse.Namespace, config: ProbeConfig) -> int:
    """Measure the list and return the exit code."""
    if args.list_path is None and config.collector_url is None:
        raise BadInputError(
            "nothing to measure: give --list FILE, or set a collector "
            "(crenel-probe config set collector URL) to get a list at check-in"
        )
    import trio

    from probe.cli.session import collector_client

    client = collector_client(config) if config.collector_url else None
    try:
        return await _run(args, config, client)
    finally:
        if client is not None:
            with trio.move_on_after(5, shield=True):
                await client.aclose()


async def _run(
    args: argparse.Namespace, config: ProbeConfig, client: httpx.AsyncClient | None
) -> int:
    import trio
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    from probe.cli import render
    from probe.cli.session import local_network, locate, open_session
    from probe.model import ProbeNetwork, Verdict
    from probe.privacy import own_addresses
    from probe.runner import run_urls
    from probe.store import AsyncStore, Store
    from probe.upload import BackgroundUploader, Uploader

    located = await locate(client, config, needed=args.list_path is None)
    network = local_network(config, own_addresses()) or (
        located.network if located else ProbeNetwork()
    )
    entries, config = await _entries(args, config, client, network)
    extra = [located.address] if located and located.address else []
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
    uploads: BackgroundUploader | None = None
    with Store(config.store_path) as store, progress:
        saver = AsyncStore(store)
        task = progress.add_task("measuring", total=len(entries))

        async def keep(measurement: Measurement) -> None:
            await saver.add(measurement)
            if uploads is not None:
                uploads.notify()
            counts[measurement.analysis.verdict] += 1
            if measurement.analysis.verdict is not Verdict.OK and len(notable) < MAX_ROWS:
                notable.append(measurement)
            if args.json:
                print(render.json_line(measurement), flush=True)
            progress.advance(task)

        async def skipped(entry: ListEntry, why: str) -> None:
            progress.advance(task)
            print(render.error_line(f"skipped {entry.url!r}: {why}"), file=sys.stderr)

        with Store(config.store_path) as outbox:
            if client is not None and config.collector_url is not None and args.upload:
                uploader = Uploader(outbox, config.collector_url, client, run_upload_policy())
                uploads = BackgroundUploader(uploader)
                if located is None:
                    uploads.pause("the collector did not answer the geolookup")
            async with open_session(config, network=network, extra_addresses=extra) as session:
                async with trio.open_nursery() as nursery:
                    if uploads is not None:
                        await nursery.start(uploads.run)
                    summary = await run_urls(
                        session,
                        entries,
                        concurrency=config.concurrency,
                        per_host=config.per_host,
                        max_runtime_s=config.max_runtime_s,
                        on_result=keep,
                        on_skip=skipped,
                    )
                    if uploads is not None:
                        await uploads.close()
                if uploads is not None:
                    await uploads.finish()
            pending = store.count(pending_only=True)
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
    if uploads is not None:
        _report_uploads(uploads, pending, config.collector_url or "")
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
