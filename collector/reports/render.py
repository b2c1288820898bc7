"""Render a country report as JSON, CSV, a terminal table, Markdown or a standalone HTML page.

Decides nothing: every verdict comes from the report. HTML and Markdown escape every value,
since domains and network names come from measurements and may be hostile.
"""

from __future__ import annotations

import csv
import html
import io
import math
from enum import StrEnum

import msgspec
from rich.console import Console
from rich.table import Table

from collector.reports.model import CountryReport, DomainReport

UNLIMITED_WIDTH = 100_000
"""Wide enough for any cell: a table this wide only takes the width its cells need."""


class ReportFormat(StrEnum):
    """The formats `crenel-collector report` and the API can produce."""

    TABLE = "table"
    JSON = "json"
    CSV = "csv"
    MD = "md"
    HTML = "html"


CSV_COLUMNS = (
    "cc",
    "domain",
    "category",
    "verdict",
    "confidence",
    "since",
    "methods",
    "asn",
    "network_verdict",
    "network_confidence",
    "measurements",
    "probes",
    "blocked",
    "ok",
    "down",
    "inconclusive",
    "confirmed",
    "packet_confirmed",
    "weighted_share",
)


def confidence_text(value: float) -> str:
    """Return a confidence with two decimals, rounded down (0.999 is not shown as 1.00)."""
    return f"{math.floor(value * 100) / 100:.2f}"


def _methods(methods: dict[str, int]) -> str:
    return " ".join(f"{m}:{n}" for m, n in methods.items())


def render_json(report: CountryReport) -> bytes:
    """Return the report as JSON."""
    return msgspec.json.encode(report)


def render_csv(report: CountryReport) -> str:
    """Return one CSV row per domain and network (the domain's row repeats its verdict)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for d in report.domains:
        for n in d.networks:
            writer.writerow(
                [
                    report.cc,
                    d.domain,
                    d.category or "",
                    d.verdict,
                    d.confidence,
                    d.since or "",
                    _methods(d.methods),
                    n.asn,
                    n.verdict,
                    n.confidence,
                    n.measurements,
                    n.probes,
                    n.blocked,
                    n.ok,
                    n.down,
                    n.inconclusive,
                    n.confirmed,
                    n.packet_confirmed,
                    "" if n.weighted_share is None else n.weighted_share,
                ]
            )
    return out.getvalue()


def where_text(domain: DomainReport) -> str:
    """Return where a domain is blocked and where not ("blocked in AS1; not blocked in AS2"),
    from its network rows."""
    parts = []
    for verdict, label in (
        ("blocked", "blocked in"),
        ("mixed", "partly blocked in"),
        ("not blocked", "not blocked in"),
    ):
        asns = [f"AS{n.asn}" for n in domain.networks if n.verdict == verdict]
        if asns:
            parts.append(f"{label} {', '.join(asns)}")
    return "; ".join(parts)


def verdict_text(domain: DomainReport) -> str:
    """Return the domain's verdict, saying where for `mixed`."""
    where = where_text(domain) if domain.verdict == "mixed" else ""
    return f"{domain.verdict} ({where})" if where else domain.verdict


def _scope(report: CountryReport) -> str:
    """Return what the report covers: the country and any network, region or category."""
    parts = [report.cc]
    if report.region:
        parts.append(report.region)
    if report.asn:
        parts.append(f"AS{report.asn}")
    if report.category:
        parts.append(report.category)
    return ", ".join(parts)


def render_table(report: CountryReport, *, width: int | None = 120) -> str:
    """Return the report as a terminal table `width` columns wide; with `width=None` as wide as
    its longest cells, so no cell wraps (for pipes)."""
    table = Table(title=f"{_scope(report)}: {report.since} to {report.until}")
    for column in ("domain", "verdict", "conf.", "since", "methods", "networks", "measurements"):
        if width is None:
            table.add_column(column, no_wrap=True, overflow="ignore")
        else:
            table.add_column(column, overflow="fold")
    for d in report.domains:
        table.add_row(
            d.domain,
            verdict_text(d),
            confidence_text(d.confidence),
            d.since or "-",
            _methods(d.methods) or "-",
            f"{d.networks_blocked} blocked / {len(d.networks)}",
            str(d.measurements),
        )
    console = Console(
        file=io.StringIO(),
        width=width or UNLIMITED_WIDTH,
        highlight=False,
        color_system=None,
        soft_wrap=width is None,
    )
    console.print(table)
    assert isinstance(console.file, io.StringIO)
    text = console.file.getvalue()
    if width is None:
        text = "".join(line.rstrip() + "\n" for line in text.splitlines())
    return text


def _md(text: object) -> str:
    return html.escape(str(text)).replace("|", "&#124;").replace("\n", " ")


def render_markdown(report: CountryReport) -> str:
    """Return the report as a Markdown document."""
    lines = [
        f"# Blocking in {_md(_scope(report))}",
        "",
        f"{_md(report.since)} to {_md(report.until)}, {report.measurements} measurements, "
        f"{len(report.networks)} networks.",
        "",
        "| domain | verdict | confidence | since | methods | networks blocked |",
        "|---|---|---|---|---|---|",
    ]
    for d in report.domains:
        lines.append(
            f"| {_md(d.domain)} | {_md(verdict_text(d))} | {confidence_text(d.confidence)} "
            f"| {_md(d.since or '-')} "
            f"| {_md(_methods(d.methods) or '-')} | {d.networks_blocked} of {len(d.networks)} |"
        )
    return "\n".join(lines) + "\n"


def render_html(report: CountryReport) -> str:
    """Return the report as one standalone, escaped HTML page."""
    e = html.escape
    rows = "\n".join(
        f"<tr><td>{e(d.domain)}</td><td>{e(verdict_text(d))}</td>"
        f"<td>{confidence_text(d.confidence)}</td>"
        f"<td>{e(d.since or '-')}</td><td>{e(_methods(d.methods) or '-')}</td>"
        f"<td>{d.networks_blocked} of {len(d.networks)}</td><td>{d.measurements}</td></tr>"
        for d in report.domains
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Blocking in {e(_scope(report))}</title></head>
<body><h1>Blocking in {e(_scope(report))}</h1>
<p>{e(report.since)} to {e(report.until)}; {report.measurements} measurements.</p>
<table><thead><tr><th>domain</th><th>verdict</th><th>confidence</th><th>since</th>
<th>methods</th><th>networks blocked</th><th>measurements</th></tr></thead>
<tbody>
{rows}
</tbody></table></body></html>
"""


def render(report: CountryReport, fmt: ReportFormat) -> str:
    """Return the report in the chosen format, as text."""
    if fmt is ReportFormat.JSON:
        return render_json(report).decode()
    if fmt is ReportFormat.CSV:
        return render_csv(report)
    if fmt is ReportFormat.MD:
        return render_markdown(report)
    if fmt is ReportFormat.HTML:
        return render_html(report)
    return render_table(report)
