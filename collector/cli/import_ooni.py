"""`crenel-collector import-ooni PATH...`: import OONI Web Connectivity measurements, into a
stopped collector's data directory (stored, analysed, rolled up) or a running one (--url)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import msgspec
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from collector.cli.datadir import open_storage
from collector.cli.errors import CliError
from collector.cli.options import add_analysis_flags, add_storage_flags, collector_config
from collector.metrics import Metrics
from collector.ooni_import import (
    Converted,
    Destination,
    FileReader,
    ImportSummary,
    LocalDestination,
    RemoteDestination,
    convert,
)
from collector.reanalyse import Analyser
from collector.service import reference_source
from collector.storage import ThreadedStorage

BATCH = 2_000
"""Measurements stored (or uploaded) per transaction."""
UPLOAD_BATCH = 500


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `import-ooni`; return nothing."""
    p = sub.add_parser(
        "import-ooni",
        help="import OONI Web Connectivity measurements (JSON, JSONL, .jsonl.gz, API answers)",
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="OONI files, as published")
    p.add_argument(
        "--url", metavar="URL", help="upload to a running collector at this base URL instead"
    )
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    add_storage_flags(p)
    add_analysis_flags(p)
    p.set_defaults(handler=run_import_ooni)


async def run_import_ooni(args: argparse.Namespace) -> None:
    """Import the files and print what was stored and what was skipped."""
    paths = [Path(p) for p in args.paths]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise CliError(f"no such file: {', '.join(missing)}")
    summary = ImportSummary()
    async with _destination(args) as destination:
        await import_files(paths, destination, summary, show_progress=not args.json)
    if args.json:
        sys.stdout.write(msgspec.json.encode(summary).decode() + "\n")
    else:
        sys.stdout.write(render_summary(summary))


@asynccontextmanager
async def _destination(args: argparse.Namespace) -> AsyncIterator[Destination]:
    if args.url:
        async with httpx.AsyncClient(timeout=60.0, trust_env=False) as client:
            yield RemoteDestination(args.url, client)
        return
    config = collector_config(args)
    store = open_storage(config)
    try:
        storage = ThreadedStorage(store)
        source = reference_source(config)
        with Analyser(
            storage, source, Metrics(), workers=config.analysis_workers, clock=config.clock
        ) as analyser:
            yield LocalDestination(storage, analyser, config.clock)
    finally:
        store.close()


async def import_files(
    paths: Sequence[Path],
    destination: Destination,
    summary: ImportSummary,
    *,
    show_progress: bool,
) -> None:
    """Stream every file into `destination`, counting into `summary`; return nothing."""
    batch_size = UPLOAD_BATCH if isinstance(destination, RemoteDestination) else BATCH
    total = sum(p.stat().st_size for p in paths)
    console = Console(stderr=True)
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TextColumn("{task.fields[count]} measurements"),
        TimeRemainingColumn(),
        console=console,
        disable=not (show_progress and console.is_terminal),
        transient=True,
    )
    with progress:
        task = progress.add_task("importing", total=total, count=0)
        done_bytes = 0
        for path in paths:
            summary.files += 1
            reader = FileReader(path)
            batch: list[Converted] = []
            for item in reader.documents():
                converted = convert(item, summary)
                if converted is not None:
                    batch.append(converted)
                if len(batch) >= batch_size:
                    await destination.store(batch, summary)
                    batch = []
                    progress.update(
                        task, completed=done_bytes + reader.position, count=summary.converted
                    )
            await destination.store(batch, summary)
            done_bytes += path.stat().st_size
            progress.update(task, completed=done_bytes, count=summary.converted)


def render_summary(summary: ImportSummary) -> str:
    """Return the import's summary as a few lines of text."""
    lines = [
        f"read {summary.documents} OONI measurements from {summary.files} files: "
        f"{summary.stored} stored, {summary.duplicates} already stored, "
        f"{summary.converted - summary.stored - summary.duplicates} not stored"
    ]
    if summary.analysed:
        lines.append(f"analysed {summary.analysed} measurements")
    if summary.other_tests:
        tests = ", ".join(f"{n} {name}" for name, n in sorted(summary.other_tests.items()))
        lines.append(f"skipped other OONI tests: {tests}")
    if summary.skipped:
        reasons = ", ".join(f"{n} {reason}" for reason, n in sorted(summary.skipped.items()))
        lines.append(f"skipped unreadable lines: {reasons}")
        lines.extend(f"  {p.file}:{p.line}: {p.reason}: {p.detail}" for p in summary.problems[:20])
        hidden = sum(summary.skipped.values()) - min(20, len(summary.problems))
        if hidden > 0:
            lines.append(f"  ... and {hidden} more (--json lists the first 100)")
    return "\n".join(lines) + "\n"
