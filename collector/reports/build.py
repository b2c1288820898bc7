"""Build reports: read rollups through the storage interface's `ReportStore` part, decide with
`collector.regional`.

The functions are synchronous and read only rollups (and a few sample rows): the API runs each
one whole in a storage reader thread; the CLI calls them directly.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import TypeVar

import msgspec
import numpy as np

from collector.regional import columns as by_column
from collector.regional.model import (
    VERDICTS,
    ModelSettings,
    RegionalVerdict,
    blocked_since,
    combine_networks,
    detect_changes,
)
from collector.reports.domains import domain_reports, domain_verdicts
from collector.reports.model import (
    Change,
    CountriesReply,
    CountryNetwork,
    CountryReport,
    CountrySummaryReport,
    DomainDetail,
    FingerprintCount,
    SampleMeasurement,
    TimelineDay,
    TimelineNetwork,
)
from collector.storage import ReportQuery, ReportStore

DEFAULT_WINDOW_DAYS = 7
SAMPLE_LIMIT = 20

S = TypeVar("S", bound=ReportStore)


def default_window(today: date, days: int = DEFAULT_WINDOW_DAYS) -> tuple[date, date]:
    """Return the default report window: the last `days` days up to and including `today`."""
    return today - timedelta(days=days - 1), today


def _daily_series(
    shares: dict[str, list[tuple[date, float, float]]], settings: ModelSettings
) -> dict[str, list[tuple[str, RegionalVerdict]]]:
    """Return each domain's daily verdicts (decided for all days of all domains at once)."""
    flat = [(domain, day, b, o) for domain, days in shares.items() for day, b, o in days]
    codes = by_column.daily_verdicts(
        np.array([f[2] for f in flat], np.float64),
        np.array([f[3] for f in flat], np.float64),
        settings,
    ).tolist()
    out: dict[str, list[tuple[str, RegionalVerdict]]] = {d: [] for d in shares}
    for (domain, day, _b, _o), code in zip(flat, codes, strict=True):
        out[domain].append((day.isoformat(), VERDICTS[code]))
    return out


_ORDER = {
    RegionalVerdict.BLOCKED.value: 0,
    RegionalVerdict.MIXED.value: 1,
    RegionalVerdict.NOT_BLOCKED.value: 2,
    RegionalVerdict.INSUFFICIENT.value: 3,
}


def country_report(
    store: ReportStore, query: ReportQuery, settings: ModelSettings, now: datetime
) -> CountryReport:
    """Return the report of one country (network, category) over the query's window."""
    table = store.report_domains(query, settings)
    baselines = store.report_baselines(query, settings)
    stored_networks = store.report_networks(query)
    names = {n.asn: n.name for n in stored_networks}
    reports = domain_reports(table, baselines, names, settings)
    blocked = [d.domain for d in reports if d.verdict == RegionalVerdict.BLOCKED.value]
    if blocked:
        series = _daily_series(store.report_daily_shares(query, settings, blocked), settings)
        reports = [
            msgspec.structs.replace(d, since=blocked_since(series[d.domain]))
            if d.domain in series
            else d
            for d in reports
        ]
    reports.sort(key=lambda d: (_ORDER[d.verdict], -d.confidence, d.domain))
    networks = [
        CountryNetwork(asn=n.asn, name=n.name, measurements=n.measurements) for n in stored_networks
    ]
    return CountryReport(
        cc=query.cc,
        since=query.since.isoformat(),
        until=query.until.isoformat(),
        asn=query.asn,
        region=query.region,
        origin=query.origin,
        category=query.category,
        generated_at=now.astimezone(UTC).replace(microsecond=0).isoformat(),
        measurements=sum(d.measurements for d in reports),
        networks=networks,
        domains=reports,
    )


def _changes(cc: str, domain: str, series: list[tuple[str, RegionalVerdict]]) -> list[Change]:
    return [
        Change(cc=cc, domain=domain, day=c.day, before=c.before.value, after=c.after.value)
        for c in detect_changes(series)
    ]


def changes(store: ReportStore, query: ReportQuery, settings: ModelSettings) -> list[Change]:
    """Return the days each domain's daily verdict flipped in the country, newest first."""
    found = [
        change
        for domain, series in _daily_series(
            store.report_daily_shares(query, settings), settings
        ).items()
        for change in _changes(query.cc, domain, series)
    ]
    return sorted(found, key=lambda c: (c.day, c.domain), reverse=True)


def domain_detail(
    store: ReportStore, query: ReportQuery, settings: ModelSettings
) -> DomainDetail | None:
    """Return one domain's page: summary, daily timeline per network, changes, evidence."""
    assert query.domain is not None
    table = store.report_domains(query, settings)
    if not table.domains:
        return None
    [domain] = table.domains
    names = {n.asn: n.name for n in store.report_networks(query)}
    [summary] = domain_reports(table, store.report_baselines(query, settings), names, settings)
    series = _daily_series(store.report_daily_shares(query, settings), settings).get(domain, [])
    if summary.verdict == RegionalVerdict.BLOCKED.value:
        summary = msgspec.structs.replace(summary, since=blocked_since(series))
    timeline: list[TimelineDay] = []
    for day, networks in store.report_daily_networks(query, settings).items():
        estimate = combine_networks(networks, settings)
        timeline.append(
            TimelineDay(
                day=day.isoformat(),
                verdict=estimate.verdict.value,
                networks=[
                    TimelineNetwork(
                        asn=n.asn,
                        verdict=n.verdict.value,
                        share=n.weighted_share,
                        measurements=n.measurements,
                    )
                    for n in estimate.networks
                ],
            )
        )
    samples, fingerprints = store.report_samples(query, SAMPLE_LIMIT)
    return DomainDetail(
        cc=query.cc,
        domain=domain,
        since=query.since.isoformat(),
        until=query.until.isoformat(),
        summary=summary,
        timeline=timeline,
        changes=_changes(query.cc, domain, series),
        fingerprints=[FingerprintCount(name=n, count=c) for n, c in fingerprints.most_common(20)],
        samples=[
            SampleMeasurement(
                uid=s.uid,
                start_time=s.start_time.isoformat(),
                asn=s.asn,
                verdict=s.verdict,
                methods=s.methods,
            )
            for s in samples
        ],
    )


CountryReportFunction = Callable[[S, ReportQuery, ModelSettings, datetime], CountryReport]
"""`country_report` or a cached stand-in (`collector.reports.cache.ReportCache`)."""


def verdict_counts(store: ReportStore, query: ReportQuery, settings: ModelSettings) -> Counter[str]:
    """Return how many domains of the country's report have each verdict: the report's own
    verdicts (`country_report`), without what only its page shows (the report lines, each
    blocked domain's `since` from its daily series, the networks and their names)."""
    table = store.report_domains(query, settings)
    return Counter(domain_verdicts(table, store.report_baselines(query, settings), settings))


def countries(
    store: S,
    since: date,
    until: date,
    settings: ModelSettings,
    now: datetime,
    *,
    report_of: CountryReportFunction[S] | None = None,
    origin: str | None = None,
) -> CountriesReply:
    """Return every country with data (of one origin, when given), ranked by how many domains it
    blocks (each country's verdicts from `report_of`'s report when given, such as a cached
    one, else from `verdict_counts`)."""
    lines: list[CountrySummaryReport] = []
    for summary in store.report_countries(since, until, origin):
        query = ReportQuery(cc=summary.cc, since=since, until=until, origin=origin)
        if report_of is None:
            verdicts = verdict_counts(store, query, settings)
        else:
            report = report_of(store, query, settings, now)
            verdicts = Counter(d.verdict for d in report.domains)
        lines.append(
            CountrySummaryReport(
                cc=summary.cc,
                blocked=verdicts[RegionalVerdict.BLOCKED.value],
                mixed=verdicts[RegionalVerdict.MIXED.value],
                domains=summary.domains,
                networks=summary.networks,
                measurements=summary.measurements,
                last_day=summary.last_day.isoformat() if summary.last_day else None,
            )
        )
    lines.sort(key=lambda c: (-c.blocked, -c.mixed, c.cc))
    return CountriesReply(since=since.isoformat(), until=until.isoformat(), countries=lines)
