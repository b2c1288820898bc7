"""Build reports: read rollups through the storage interface's `ReportStore` part, decide with
`collector.regional.columns` (through `collector.reports.domains`).

The functions are synchronous and read only rollups (and a few sample rows): the API runs each
one whole in a storage reader thread; the CLI calls them directly.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import TypeVar

import msgspec

from collector.regional.changes import blocked_since, detect_changes
from collector.regional.model import VERDICTS, ModelSettings, RegionalVerdict
from collector.reports.domains import (
    Series,
    TableDecisions,
    daily_series,
    decide_table,
    domain_reports,
    empty_table,
    reconcile_days,
)
from collector.reports.model import (
    Change,
    CountriesReply,
    CountryNetwork,
    CountryReport,
    CountrySummaryReport,
    DomainDetail,
    DomainReport,
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


def _decided_days(
    store: ReportStore,
    query: ReportQuery,
    baselines: dict[str, float],
    settings: ModelSettings,
) -> list[tuple[date, TableDecisions]]:
    """Return every day of the query's window decided like the window (with its baselines);
    a day without data has an empty table."""
    tables = store.report_daily_domains(query, settings)
    days = (query.until - query.since).days + 1
    out = []
    for offset in range(days):
        day = query.since + timedelta(days=offset)
        table = tables.get(day) or empty_table()
        out.append((day, decide_table(table, baselines, settings)))
    return out


_ORDER = {
    RegionalVerdict.BLOCKED.value: 0,
    RegionalVerdict.MIXED.value: 1,
    RegionalVerdict.NOT_BLOCKED.value: 2,
    RegionalVerdict.INSUFFICIENT.value: 3,
}


def _with_since(reports: list[DomainReport], series: dict[str, Series]) -> list[DomainReport]:
    return [
        msgspec.structs.replace(d, since=blocked_since(series.get(d.domain, [])))
        if d.verdict == RegionalVerdict.BLOCKED.value
        else d
        for d in reports
    ]


def country_report(
    store: ReportStore, query: ReportQuery, settings: ModelSettings, now: datetime
) -> CountryReport:
    """Return the report of one country (network, category) over the query's window: each
    domain's verdict agrees with its networks' and with its daily verdicts (`changes`)."""
    table = store.report_domains(query, settings)
    baselines = store.report_baselines(query, settings)
    stored_networks = store.report_networks(query)
    names = {n.asn: n.name for n in stored_networks}
    days = _decided_days(store, query, baselines, settings) if table.domains else []
    decided = reconcile_days(decide_table(table, baselines, settings), [d for _, d in days])
    lines = domain_reports(decided, names)
    blocked = [d.domain for d in lines if d.verdict == RegionalVerdict.BLOCKED.value]
    reports = _with_since(lines, daily_series(blocked, days))
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


def _changes(cc: str, domain: str, series: Series) -> list[Change]:
    return [
        Change(cc=cc, domain=domain, day=c.day, before=c.before.value, after=c.after.value)
        for c in detect_changes(series)
    ]


def changes(store: ReportStore, query: ReportQuery, settings: ModelSettings) -> list[Change]:
    """Return the days each domain's daily country verdict (the domain page's timeline)
    flipped in the country, newest first."""
    days = _decided_days(store, query, store.report_baselines(query, settings), settings)
    domains = sorted({name for _, decided in days for name in decided.table.domains})
    found = [
        change
        for domain, series in daily_series(domains, days).items()
        for change in _changes(query.cc, domain, series)
    ]
    return sorted(found, key=lambda c: (c.day, c.domain), reverse=True)


def _timeline_day(day: date, lines: list[DomainReport]) -> TimelineDay:
    if not lines:
        return TimelineDay(
            day=day.isoformat(),
            verdict=RegionalVerdict.INSUFFICIENT.value,
            measurements=0,
            networks=[],
        )
    [line] = lines
    return TimelineDay(
        day=day.isoformat(),
        verdict=line.verdict,
        measurements=line.measurements,
        networks=[
            TimelineNetwork(
                asn=n.asn, verdict=n.verdict, share=n.weighted_share, measurements=n.measurements
            )
            for n in line.networks
        ],
    )


def domain_detail(
    store: ReportStore, query: ReportQuery, settings: ModelSettings
) -> DomainDetail | None:
    """Return one domain's page: summary, daily timeline per network (every day of the window),
    changes, evidence."""
    assert query.domain is not None
    table = store.report_domains(query, settings)
    if not table.domains:
        return None
    [domain] = table.domains
    names = {n.asn: n.name for n in store.report_networks(query)}
    baselines = store.report_baselines(query, settings)
    days = _decided_days(store, query, baselines, settings)
    decided = reconcile_days(decide_table(table, baselines, settings), [d for _, d in days])
    series = daily_series([domain], days)
    [summary] = _with_since(domain_reports(decided, names), series)
    timeline = [_timeline_day(day, domain_reports(d, names)) for day, d in days]
    samples, fingerprints = store.report_samples(query, SAMPLE_LIMIT)
    return DomainDetail(
        cc=query.cc,
        domain=domain,
        since=query.since.isoformat(),
        until=query.until.isoformat(),
        summary=summary,
        timeline=timeline,
        changes=_changes(query.cc, domain, series[domain]),
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
    verdicts (`country_report`, reconciled with their days), without what only its page shows
    (the report lines, each blocked domain's `since`, the networks and their names)."""
    table = store.report_domains(query, settings)
    if not table.domains:
        return Counter()
    baselines = store.report_baselines(query, settings)
    days = _decided_days(store, query, baselines, settings)
    decided = reconcile_days(decide_table(table, baselines, settings), [d for _, d in days])
    return Counter(VERDICTS[code].value for code in decided.domains.verdict.tolist())


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
    blocks (each country's verdicts from `report_of`'s report when given, such as a cached one,
    else from `verdict_counts`)."""
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
