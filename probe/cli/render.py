"""Everything the probe prints: result tables, progress, JSON lines, one-line errors.

Only `probe.cli` prints; the rest of the probe logs. Tables are drawn for a terminal; into a
pipe they are plain tab-separated lines, one row a line, so no cell (no URL) is ever broken.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any, TextIO

import msgspec
from rich.console import Console
from rich.table import Table
from rich.text import Text

from probe.model import Measurement, Verdict
from probe.store import StoredSummary

_STYLE = {
    Verdict.OK: "green",
    Verdict.BLOCKED: "bold red",
    Verdict.DOWN: "yellow",
    Verdict.INCONCLUSIVE: "magenta",
}


def console(stream: TextIO | None = None) -> Console:
    """Return a console on stdout (or `stream`) that never emits colour codes into pipes."""
    return Console(file=stream or sys.stdout, highlight=False, soft_wrap=True)


def print_table(out: Console, table: Table) -> None:
    """Print `table` on `out`: drawn on a terminal, else tab-separated lines without wrapping."""
    if out.is_terminal:
        out.print(table)
        return
    out.file.write(plain_table(table))
    out.file.flush()


def plain_table(table: Table) -> str:
    """Return the table as text: its title, then a header line and one line a row, the cells
    separated by tabs (tabs and line breaks inside a cell become spaces)."""
    columns = [[_plain(c.header), *(_plain(cell) for cell in c.cells)] for c in table.columns]
    lines = ["\t".join(row) for row in zip(*columns, strict=True)]
    if table.title:
        lines.insert(0, _plain(table.title))
    return "".join(line + "\n" for line in lines)


def _plain(cell: Any) -> str:
    text = cell.plain if isinstance(cell, Text) else str(cell)
    return " ".join(text.replace("\t", " ").splitlines())


def print_json(document: Any) -> None:
    """Print `document` (dicts, lists, dataclasses, msgspec structs) as one line of JSON."""
    sys.stdout.write(msgspec.json.encode(document).decode() + "\n")
    sys.stdout.flush()


def reason(measurement: Measurement) -> str:
    """Return the one-line explanation shown next to a verdict."""
    analysis = measurement.analysis
    if analysis.rules:
        return analysis.rules[0].detail
    for prefix in ("server-side:", "shared with the control:", "unexplained:", "control:"):
        for note in analysis.notes:
            if note.startswith(prefix):
                return note
    return analysis.notes[0] if analysis.notes else ""


def nothing_answered(measurement: Measurement) -> bool:
    """Return whether no resolver, connection or helper answered at all (likely offline)."""
    return (
        not any(q.answers for q in measurement.dns)
        and not any(t.failure is None for t in measurement.tcp)
        and not any(t.response is not None for t in measurement.http)
        and (measurement.control is None or measurement.control.reply is None)
    )


def results_table(measurements: Sequence[Measurement], *, title: str | None = None) -> Table:
    """Return a table of URL, verdict, methods, confidence and reason."""
    table = Table(title=title, show_lines=False, expand=False)
    table.add_column("URL", overflow="fold", max_width=48)
    table.add_column("verdict")
    table.add_column("methods", overflow="fold")
    table.add_column("confidence", justify="right")
    table.add_column("why", overflow="fold", max_width=70)
    for m in measurements:
        verdict = m.analysis.verdict
        table.add_row(
            Text(m.input),
            Text(verdict.value, style=_STYLE[verdict]),
            ", ".join(x.value for x in m.analysis.methods) or "-",
            f"{m.analysis.confidence:.2f}",
            Text(reason(m)),
        )
    return table


def summary_table(rows: Sequence[StoredSummary]) -> Table:
    """Return the store's listing as a table."""
    table = Table(show_lines=False)
    for name in ("id", "time", "URL", "verdict", "methods", "uploaded"):
        table.add_column(name, overflow="fold")
    for row in rows:
        table.add_row(
            row.uid,
            row.start_time[:19].replace("T", " "),
            Text(row.input),
            Text(row.verdict, style=_STYLE.get(Verdict(row.verdict), "")),
            ", ".join(row.methods) or "-",
            "yes" if row.uploaded_at else "no",
        )
    return table


def json_line(measurement: Measurement) -> str:
    """Return the measurement as one line of JSON."""
    return msgspec.json.encode(measurement).decode()


def error_line(message: str) -> str:
    """Return the single line printed on stderr for an error."""
    return f"crenel-probe: error: {message}"


def warning_line(message: str) -> str:
    """Return the single line printed on stderr for a problem that did not stop the command."""
    return f"crenel-probe: warning: {message}"
