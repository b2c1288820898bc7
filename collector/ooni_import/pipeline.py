"""Run an import: stream every file through conversion into a destination, with progress, and
render the summary."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from collector.ooni_import.convert import Converted, ImportSummary, convert
from collector.ooni_import.destinations import Destination, RemoteDestination
from collector.ooni_import.documents import FileReader

BATCH = 2_000
"""Measurements stored per transaction (local imports)."""
UPLOAD_BATCH = 500
"""Measurements per upload (imports into a running collector)."""


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
