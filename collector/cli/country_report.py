"""`crenel-collector report CC`: print a country's report from the data directory or a running
collector (`--url`), as a table, JSON, CSV, Markdown or HTML. Its flags are registered by
`collector.cli.report`, which imports this module only when the command runs."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import UTC, date, datetime
from urllib.parse import urlencode

import httpx
import msgspec

from collector.core.errors import CollectorError, CollectorUnreachable
from collector.regional.model import ModelSettings
from collector.reports import build
from collector.reports.model import CountryReport
from collector.reports.render import ReportFormat, render, render_table
from collector.storage import ReportQuery, Storage

FETCH_TIMEOUT_S = 60.0


class ReportCommandError(CollectorError):
    """The report could not be made."""


def _window(args: argparse.Namespace, today: date) -> tuple[date, date]:
    default_since, default_until = build.default_window(today)
    try:
        until = date.fromisoformat(args.until) if args.until else default_until
        since = (
            date.fromisoformat(args.since)
            if args.since
            else until - (default_until - default_since)
        )
    except ValueError as exc:
        raise ReportCommandError(f"--since/--until: {exc}") from exc
    if until < since:
        raise ReportCommandError("--until is before --since")
    return since, until


def _asn(text: str | None) -> int | None:
    if not text:
        return None
    digits = text.upper().removeprefix("AS")
    if not digits.isdigit():
        raise ReportCommandError(f"--asn: {text!r} is not an AS number")
    return int(digits)


def _fetch(url: str, query: ReportQuery, args: argparse.Namespace) -> CountryReport:
    # The window is sent only when the user gave it: otherwise the collector's clock decides
    # "today", so the answer is the same report its API and dashboard show.
    params: dict[str, str] = {}
    if args.since:
        params["since"] = query.since.isoformat()
    if args.until:
        params["until"] = query.until.isoformat()
    if query.asn is not None:
        params["asn"] = str(query.asn)
    if query.category is not None:
        params["category"] = query.category
    if query.region is not None:
        params["region"] = query.region
    if query.origin is not None:
        params["origin"] = query.origin
    target = f"{url.rstrip('/')}/api/v1/reports/{query.cc}?{urlencode(params)}"
    try:
        response = httpx.get(target, timeout=FETCH_TIMEOUT_S, trust_env=False)
    except httpx.HTTPError as exc:
        raise CollectorUnreachable(f"cannot reach the collector at {url}: {exc}") from exc
    if response.status_code != 200:
        raise ReportCommandError(
            f"the collector answered {response.status_code}: {response.text[:200]}"
        )
    try:
        return msgspec.json.decode(response.content, type=CountryReport)
    except msgspec.DecodeError as exc:
        raise ReportCommandError(f"the collector's answer is not a report: {exc}") from exc


def print_report(args: argparse.Namespace, open_storage: Callable[[], Storage]) -> None:
    """Print the report; `open_storage` opens the local store when there is no --url."""
    now = datetime.now(UTC)
    since, until = _window(args, now.date())
    cc = args.cc.upper()
    if len(cc) != 2 or not cc.isalpha():
        raise ReportCommandError(f"{args.cc!r} is not an ISO 3166 alpha-2 country code")
    query = ReportQuery(
        cc=cc,
        since=since,
        until=until,
        asn=_asn(args.asn),
        region=args.region or None,
        category=args.category.upper() if args.category else None,
        origin=getattr(args, "origin", None),
    )
    if args.url:
        report = _fetch(args.url, query, args)
    else:
        store = open_storage()
        try:
            report = build.country_report(store, query, ModelSettings(), now)
        finally:
            store.close()
    fmt = ReportFormat(args.fmt)
    if fmt is ReportFormat.TABLE and not sys.stdout.isatty():
        # Into a pipe no cell wraps: a line a domain, however long, for grep and cut.
        sys.stdout.write(render_table(report, width=None))
    else:
        sys.stdout.write(render(report, fmt))
