"""Build reports: read rollups through the storage interface's `ReportStore` part, decide with
`collector.regional.columns` (through `collector.reports.domains`).

The functions are synchronous and read only rollups (and a few sample rows): the API runs each
one whole in a storage reader thread; the CLI calls them directly.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TypeVar

import msgspec

from collector.regional.changes import blocked_since, detect_changes
from collector.regional.model import VERDICTS, ModelSettings, RegionalVerdict
from collector.reports.domains import (
    Series,
    TableDecisions,
    daily_series,
    decide_tables,
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
from collector.storage import ReportQuery, ReportStore, ReportTable

DayTable = tuple[date, ReportTable]
"""One day of a window and its table."""

DEFAULT_WINDOW_DAYS = 7
SAMPLE_LIMIT = 20

S = TypeVar("S", bound=ReportStore)


def default_window(today: date, days: int = DEFAULT_WINDOW_DAYS) -> tuple[date, date]:
    """Return the default report window: the last `days` days up to and including `today`."""
    return today - timedelta(days=days - 1), today


def _window_days(query: ReportQuery, tables: Mapping[date, ReportTable]) -> list[DayTable]:
    """Return every day of the query's window with its table (an empty one without data)."""
    days = (query.until - query.since).days + 1
    out = []
    for offset in range(days):
        day = query.since + timedelta(days=offset)
        out.append((day, tables.get(day) or empty_table()))
    return out


@dataclass(frozen=True)
class _Window:
    """What deciding one country's window takes: its table, baselines and daily tables."""

    table: ReportTable
    baselines: dict[str, float]
    days: list[DayTable]


def _read_window(
    store: ReportStore,
    query: ReportQuery,
    settings: ModelSettings,
    *,
    details: bool = True,
    baselines: dict[str, float] | None = None,
) -> _Window:
    """Return the query's window table, baselines (read unless given) and (when it has
    domains) daily tables."""
    table = store.report_domains(query, settings, details=details)
    if baselines is None:
        baselines = store.report_baselines(query, settings)
    days = _window_days(query, store.report_daily_domains(query, settings)) if table.domains else []
    return _Window(table=table, baselines=baselines, days=days)


def _decide_windows(
    windows: Sequence[_Window], settings: ModelSettings
) -> list[tuple[TableDecisions, list[tuple[date, TableDecisions]]]]:
    """Return each window decided (reconciled with its days) and its days decided, all in one
    `decide_tables` pass."""
    tables: list[tuple[ReportTable, dict[str, float]]] = []
    for window in windows:
        tables.append((window.table, window.baselines))
        tables += [(table, window.baselines) for _, table in window.days]
    decided = iter(decide_tables(tables, settings))
    out = []
    for window in windows:
        whole = next(decided)
        days = [(day, next(decided)) for day, _ in window.days]
        out.append((reconcile_days(whole, [d for _, d in days]), days))
    return out


def _decided_days(
    store: ReportStore,
    query: ReportQuery,
    baselines: dict[str, float],
    settings: ModelSettings,
) -> list[tuple[date, TableDecisions]]:
    """Return every day of the query's window decided like the window (with its baselines);
    a day without data has an empty table."""
    days = _window_days(query, store.report_daily_domains(query, settings))
    decided = decide_tables([(table, baselines) for _, table in days], settings)
    return [(day, d) for (day, _), d in zip(days, decided, strict=True)]


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
    window = _read_window(store, query, settings)
    stored_networks = store.report_networks(query)
    names = {n.asn: n.name for n in stored_networks}
    [(decided, days)] = _decide_windows([window], settings)
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
    window = _read_window(store, query, settings)
    if not window.table.domains:
        return None
    [domain] = window.table.domains
    names = {n.asn: n.name for n in store.report_networks(query)}
    [(decided, days)] = _decide_windows([window], settings)
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


def _counts(decided: TableDecisions) -> Counter[str]:
    return Counter(VERDICTS[code].value for code in decided.domains.verdict.tolist())


def verdict_counts(store: ReportStore, query: ReportQuery, settings: ModelSettings) -> Counter[str]:
    """Return how many domains of the country's report have each verdict: the report's own
    verdicts (`country_report`, reconciled with their days), without what only its page shows
    (the report lines and their methods and categories, each blocked domain's `since`, the
    networks and their names)."""
    [counts] = _verdict_counts_of(store, [query], settings)
    return counts


def _verdict_counts_of(
    store: ReportStore, queries: Sequence[ReportQuery], settings: ModelSettings
) -> list[Counter[str]]:
    """Return `verdict_counts` of each query, the reads one by one, the decisions in one pass."""
    windows = [
        _read_window(store, query, settings, details=False, baselines=baselines)
        for query, baselines in zip(
            queries, store.report_baselines_of(queries, settings), strict=True
        )
    ]
    decided = _decide_windows([w for w in windows if w.table.domains], settings)
    counts = iter([_counts(whole) for whole, _ in decided])
    return [next(counts) if w.table.domains else Counter() for w in windows]


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
    summaries = store.report_countries(since, until, origin)
    queries = [
        ReportQuery(cc=summary.cc, since=since, until=until, origin=origin) for summary in summaries
    ]
    if report_of is None:
        counted = _verdict_counts_of(store, queries, settings)
    else:
        reports = (report_of(store, query, settings, now) for query in queries)
        counted = [Counter(d.verdict for d in report.domains) for report in reports]
    for summary, verdicts in zip(summaries, counted, strict=True):
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
