"""The reports API: per-country verdicts, one domain's timeline, verdict changes.

Thin: parses parameters, runs `collector.reports.build` whole in a storage reader thread (country
reports through the collector's `ReportCache`), and renders JSON or CSV. Public reads, no token.
"""

from __future__ import annotations

import functools
import re
from datetime import date, timedelta

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from collector.api.params import check_day, parse_asn, parse_origin
from collector.core.errors import InvalidField, NotFound
from collector.regional.model import ModelSettings
from collector.reports import build
from collector.reports.model import ChangesReply
from collector.reports.render import render_csv
from collector.runtime import Runtime
from collector.storage import ReportQuery

MAX_WINDOW_DAYS = 366
MAX_REGION_CHARS = 100
_CC = re.compile(r"^[A-Z]{2}$")
_DOMAIN = re.compile(r"^[a-z0-9_.\-]{1,253}$")


def _json(value: object) -> Response:
    return Response(msgspec.json.encode(value), media_type="application/json")


def _day(text: str | None, name: str, default: date) -> date:
    if not text:
        return default
    try:
        day = date.fromisoformat(text.strip())
    except ValueError as exc:
        raise InvalidField(f"{name}: {text!r} is not a date (YYYY-MM-DD)", field=name) from exc
    return check_day(day, name)


def parse_window(request: Request, today: date) -> tuple[date, date]:
    """Return (since, until) from the `since`/`until` parameters (inclusive days).

    Raises:
        InvalidField: a bad date, until before since, or a window over a year.
    """
    default_since, default_until = build.default_window(today)
    until = _day(request.query_params.get("until"), "until", default_until)
    since = _day(
        request.query_params.get("since"), "since", until - (default_until - default_since)
    )
    if until < since:
        raise InvalidField("until is before since", field="until")
    if (until - since) > timedelta(days=MAX_WINDOW_DAYS):
        raise InvalidField(f"the window is at most {MAX_WINDOW_DAYS} days", field="since")
    return since, until


def parse_cc(text: str) -> str:
    """Return a country code from a path.

    Raises:
        InvalidField: not two letters.
    """
    cc = text.upper()
    if not _CC.match(cc):
        raise InvalidField(f"country {text!r} is not an ISO 3166 alpha-2 code", field="cc")
    return cc


def _query(request: Request, cc: str, today: date, domain: str | None = None) -> ReportQuery:
    since, until = parse_window(request, today)
    asn_text = request.query_params.get("asn")
    category = request.query_params.get("category") or None
    region = (request.query_params.get("region") or "").strip() or None
    if region is not None and len(region) > MAX_REGION_CHARS:
        raise InvalidField(f"region is at most {MAX_REGION_CHARS} characters", field="region")
    return ReportQuery(
        cc=cc,
        since=since,
        until=until,
        asn=parse_asn(asn_text) if asn_text else None,
        region=region,
        category=category.upper() if category else None,
        domain=domain,
        origin=parse_origin(request.query_params.get("origin")),
    )


def _settings(collector: Runtime) -> ModelSettings:
    return ModelSettings(count_contradicted=collector.config.count_contradicted)


async def countries(collector: Runtime, request: Request) -> Response:
    """Answer GET /reports: every country with data, ranked by blocked domains."""
    now = collector.config.clock()
    since, until = parse_window(request, now.date())
    store = collector.storage.backend
    overview = functools.partial(
        build.countries,
        report_of=collector.reports.country_report,
        origin=parse_origin(request.query_params.get("origin")),
    )
    settings = _settings(collector)
    reply = await collector.storage.read(overview, store, since, until, settings, now)
    return _json(reply)


async def country(collector: Runtime, request: Request) -> Response:
    """Answer GET /reports/{cc}: every tested domain's verdict, as JSON or CSV."""
    now = collector.config.clock()
    query = _query(request, parse_cc(request.path_params["cc"]), now.date())
    fmt = request.query_params.get("format", "json")
    if fmt not in ("json", "csv"):
        raise InvalidField("format is json or csv", field="format")
    store = collector.storage.backend
    reports = collector.reports
    wants_csv = fmt == "csv" or "text/csv" in request.headers.get("accept", "")
    settings = _settings(collector)
    if wants_csv:
        report = await collector.storage.read(reports.country_report, store, query, settings, now)
        return Response(render_csv(report), media_type="text/csv; charset=utf-8")
    body = await collector.storage.read(reports.country_json, store, query, settings, now)
    return Response(body, media_type="application/json")


async def domain(collector: Runtime, request: Request) -> Response:
    """Answer GET /reports/{cc}/domains/{domain}: timeline per network, evidence, samples."""
    now = collector.config.clock()
    name = request.path_params["domain"].lower()
    if not _DOMAIN.match(name):
        raise InvalidField(f"{name!r} is not a domain", field="domain")
    query = _query(request, parse_cc(request.path_params["cc"]), now.date(), domain=name)
    store = collector.storage.backend
    settings = _settings(collector)
    detail = await collector.storage.read(build.domain_detail, store, query, settings)
    if detail is None:
        raise NotFound(
            f"no measurements of {name} in {query.cc} between {query.since} and {query.until}"
        )
    return _json(detail)


async def changes(collector: Runtime, request: Request) -> Response:
    """Answer GET /changes?cc=: the days domains' verdicts flipped, newest first."""
    now = collector.config.clock()
    cc_text = request.query_params.get("cc")
    if not cc_text:
        raise InvalidField("cc is required", field="cc")
    query = _query(request, parse_cc(cc_text), now.date())
    store = collector.storage.backend
    settings = _settings(collector)
    found = await collector.storage.read(build.changes, store, query, settings)
    return _json(
        ChangesReply(since=query.since.isoformat(), until=query.until.isoformat(), changes=found)
    )
