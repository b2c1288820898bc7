"""`crenel-collector import-ooni PATH...`: import OONI Web Connectivity measurements, into a
stopped collector's data directory (stored, analysed, rolled up) or a running one (--url)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from collector.cli.errors import CliError
from collector.cli.options import add_analysis_flags, add_storage_flags, collector_config

if TYPE_CHECKING:
    from collector.ooni_import import Destination, PreparationPool


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
    import msgspec

    from collector.ooni_import import ImportSummary
    from collector.ooni_import.pipeline import import_files, render_summary

    paths = [Path(p) for p in args.paths]
    # A named pipe is read like a file (a can streamed from elsewhere); a directory is not.
    missing = [str(p) for p in paths if not p.exists() or p.is_dir()]
    if missing:
        raise CliError(f"no such file: {', '.join(missing)}")
    summary = ImportSummary()
    async with _destination(args) as (destination, pool):
        await import_files(paths, destination, pool, summary, show_progress=not args.json)
    if args.json:
        sys.stdout.write(msgspec.json.encode(summary).decode() + "\n")
    else:
        sys.stdout.write(render_summary(summary))


@asynccontextmanager
async def _destination(
    args: argparse.Namespace,
) -> AsyncIterator[tuple[Destination, PreparationPool]]:
    import httpx

    from collector.analyse.analyser import Analyser
    from collector.cli.datadir import open_storage
    from collector.core.metrics import Metrics
    from collector.ooni_import import LocalDestination, PreparationPool, RemoteDestination
    from collector.runtime import reference_source
    from collector.storage import ThreadedStorage

    config = collector_config(args)
    workers = config.analysis_workers
    if args.url:
        async with httpx.AsyncClient(timeout=60.0, trust_env=False) as client:
            with PreparationPool(None, workers=workers, clock=config.clock) as pool:
                yield RemoteDestination(args.url, client), pool
        return
    store = open_storage(config, remedy="or import into it with --url URL")
    try:
        storage = ThreadedStorage(store)
        source = reference_source(config)
        # The workers convert and analyse each measurement once; the analyser only picks up
        # rows an earlier run left waiting for analysis.
        with (
            Analyser(storage, source, Metrics(), workers=0, clock=config.clock) as analyser,
            PreparationPool(source, workers=workers, clock=config.clock) as pool,
        ):
            yield LocalDestination(storage, analyser), pool
    finally:
        store.close()
