"""Reports never contradict themselves (docs/methodology.md, "Coherent reports").

The country table, the domain page (summary, network rows, timeline, changes), the changes
table and the API must agree: a domain's country verdict is the set rule over its network
verdicts, each day's over that day's, and no decided day or network says the opposite of the
country. Checked on the dataset of issue 9 (a few dozen uploads through the API, where the
country once said `not blocked, 48 %` beside a network `mixed 90 %` and a change to `blocked`
that day) and on datasets hypothesis generates straight into the rollups, where the product
(report SQL and columns) must also give the plain-Python oracle's verdicts.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import msgspec
import trio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collector.regional.changes import blocked_since, detect_changes
from collector.regional.model import ModelSettings, RegionalVerdict
from collector.reports.build import changes, country_report, domain_detail
from collector.reports.model import (
    Change,
    ChangesReply,
    CountriesReply,
    CountryReport,
    DomainDetail,
    DomainReport,
)
from collector.reports.render import render_markdown
from collector.storage import ReportQuery, network_day_rollups
from collector.storage.duckdb import DuckDBStorage
from probe.model import Measurement
from tests.collector.regional_oracle import Days, ProbeCounts, estimate_over_days, set_rule
from tests.collector.report_data import reachable, sni_blocked
from tests.collector.running import RunningCollector, ndjson, start_collector

S = ModelSettings()
B, N, M, INSUF = (v.value for v in RegionalVerdict)
COMPATIBLE = {B: {B, M}, N: {N, M}, M: {M}}
"""The country verdicts a decided day (or network) verdict allows."""


def _verdict(text: str) -> RegionalVerdict:
    return RegionalVerdict(text)


def check_line(line: DomainReport) -> None:
    """A country line is the set rule over its network rows, and says where."""
    rows = [_verdict(n.verdict) for n in line.networks]
    assert line.verdict == set_rule(rows).value, line
    assert (line.networks_blocked, line.networks_mixed, line.networks_clear) == (
        rows.count(RegionalVerdict.BLOCKED),
        rows.count(RegionalVerdict.MIXED),
        rows.count(RegionalVerdict.NOT_BLOCKED),
    )
    if line.verdict in (N, M) or (
        line.verdict == B and line.confirmed + line.packet_confirmed == 0
    ):
        assert line.confidence >= S.decide_at, line  # never a verdict below the floor
    if line.verdict == INSUF:
        assert line.confidence == 0.0


def check_coherent(
    report: CountryReport, details: Mapping[str, DomainDetail], found: Sequence[Change]
) -> None:
    """Every rule of "Coherent reports" on one country's table, pages and changes."""
    by_domain = {d.domain: d for d in report.domains}
    assert set(details) == set(by_domain)
    for domain, line in by_domain.items():
        check_line(line)
        detail = details[domain]
        page = detail.summary
        assert (page.verdict, page.confidence, page.since) == (
            line.verdict,
            line.confidence,
            line.since,
        )
        listed = {n.asn: (n.verdict, n.confidence) for n in line.networks}
        on_page = {n.asn: (n.verdict, n.confidence) for n in page.networks}
        assert {a: v for a, v in on_page.items() if v[0] != INSUF} == {
            a: v for a, v in listed.items() if v[0] != INSUF
        }
        check_line(page)
        start = date.fromisoformat(report.since)
        span = (date.fromisoformat(report.until) - start).days + 1
        assert [d.day for d in detail.timeline] == [
            (start + timedelta(days=k)).isoformat() for k in range(span)
        ]
        series = [(d.day, _verdict(d.verdict)) for d in detail.timeline]
        for day in detail.timeline:
            assert day.verdict == set_rule(_verdict(n.verdict) for n in day.networks).value
            if day.verdict != INSUF:
                assert line.verdict in COMPATIBLE[day.verdict], (domain, day, line.verdict)
            for n in day.networks:
                if n.verdict != INSUF:
                    assert listed[n.asn][0] in COMPATIBLE[n.verdict], (domain, day.day, n)
        expected = [(c.day, c.before.value, c.after.value) for c in detect_changes(series)]
        assert [(c.day, c.before, c.after) for c in detail.changes] == expected
        mine = [(c.day, c.before, c.after) for c in found if c.domain == domain]
        assert sorted(mine) == sorted(expected)
        assert line.since == (blocked_since(series) if line.verdict == B else None)
        if expected:
            assert line.verdict in COMPATIBLE[expected[-1][2]]
    assert all(c.domain in by_domain for c in found)


# The dataset of issue 9: two networks, two days, a few dozen uploads.
NOW = datetime(2027, 1, 1, 0, 30, tzinfo=UTC)
TODAY = NOW - timedelta(minutes=10)
YESTERDAY = TODAY - timedelta(days=1)
A, B_NET = 64510, 64520
ISSUE = "issue.example.test"


def issue_world() -> list[Measurement]:
    """Yesterday everything worked; today AS64510's four probes find `issue` reset while
    AS64520's one probe of the day reaches it. The old model said `not blocked, 48 %` for the
    country, `mixed` for AS64510, and the changes said `blocked` today."""
    ms: list[Measurement] = []
    for asn, probes in ((A, ("a1", "a2")), (B_NET, ("b1", "b2", "b3"))):
        for probe in probes:
            for host in (ISSUE, "fine.example.test"):
                ms.append(reachable(host, cc="CN", asn=asn, probe=probe, at=YESTERDAY))
    for probe in ("a1", "a2", "a3", "a4"):
        ms.append(sni_blocked(ISSUE, cc="CN", asn=A, probe=probe, at=TODAY))
        ms.append(reachable("fine.example.test", cc="CN", asn=A, probe=probe, at=TODAY))
        ms.append(sni_blocked("gone.example.test", cc="CN", asn=A, probe=probe, at=TODAY))
    ms.append(reachable(ISSUE, cc="CN", asn=B_NET, probe="b1", at=TODAY))
    for probe in ("b1", "b2", "b3"):
        ms.append(sni_blocked("gone.example.test", cc="CN", asn=B_NET, probe=probe, at=TODAY))
    return ms


async def _get(running: RunningCollector, path: str) -> bytes:
    async with httpx.AsyncClient() as client:
        r = await client.get(f"{running.api}{path}")
    assert r.status_code == 200, r.text
    return r.content


async def test_the_issue_9_dataset_agrees_everywhere(nursery: trio.Nursery, tmp_path: Path) -> None:
    running = await start_collector(
        nursery, tmp_path, public_networks=("198.51.100.0/24",), clock=lambda: NOW
    )
    world = issue_world()
    assert 24 <= len(world) <= 48  # "a few dozen uploads"
    async with httpx.AsyncClient() as client:
        r = await client.post(
            f"{running.api}/measurements",
            content=ndjson(world),
            headers={"Content-Type": "application/x-ndjson"},
        )
        assert r.status_code == 200, r.text
    await running.analysed()
    window = f"since={YESTERDAY.date().isoformat()}"
    report = msgspec.json.decode(await _get(running, f"/reports/CN?{window}"), type=CountryReport)
    details = {
        d.domain: msgspec.json.decode(
            await _get(running, f"/reports/CN/domains/{d.domain}?{window}"), type=DomainDetail
        )
        for d in report.domains
    }
    found = msgspec.json.decode(await _get(running, f"/changes?cc=CN&{window}"), type=ChangesReply)
    check_coherent(report, details, found.changes)
    line = next(d for d in report.domains if d.domain == ISSUE)
    # Blocked today in AS64510, reachable in AS64520: mixed, and it says where.
    assert line.verdict == M and line.confidence >= S.decide_at
    assert {n.asn: n.verdict for n in line.networks} == {A: B, B_NET: N}
    assert (line.networks_blocked, line.networks_clear) == (1, 1)
    assert f"| {ISSUE} | mixed (blocked in AS{A}; not blocked in AS{B_NET}) |" in (
        render_markdown(report)
    )
    assert [(c.day, c.before, c.after) for c in found.changes if c.domain == ISSUE] == [
        (TODAY.date().isoformat(), N, B)
    ]
    timeline = details[ISSUE].timeline
    assert [(d.verdict, d.measurements) for d in timeline] == [(N, 5), (B, 5)]
    # The overview counts the same verdicts.
    overview = msgspec.json.decode(await _get(running, f"/reports?{window}"), type=CountriesReply)
    [cn] = overview.countries
    verdicts = [d.verdict for d in report.domains]
    assert (cn.blocked, cn.mixed) == (verdicts.count(B), verdicts.count(M)) == (1, 1)


# Generated datasets, straight into the rollups.
DAY0 = date(2026, 11, 1)
DAYS = 3
QUERY = ReportQuery(cc="CN", since=DAY0, until=DAY0 + timedelta(days=DAYS - 1))


@st.composite
def datasets(draw: st.DrawFn) -> dict[str, Days]:
    """Up to three domains over three days in up to three networks, a few probes each, with
    blocking that may differ by network and by day."""
    out: dict[str, Days] = {}
    for d in range(draw(st.integers(1, 3))):
        days: dict[str, dict[int, list[ProbeCounts]]] = {}
        for offset in range(DAYS):
            networks: dict[int, list[ProbeCounts]] = {}
            for asn in range(1, draw(st.integers(1, 3)) + 1):
                share = draw(st.sampled_from([0.0, 0.0, 0.5, 1.0, 1.0]))
                probes = []
                for i in range(draw(st.integers(0, 4))):
                    total = draw(st.integers(1, 4))
                    blocked = draw(st.integers(0, total)) if share == 0.5 else round(share * total)
                    probes.append(
                        ProbeCounts(
                            probe_id=f"p{asn}-{i}",
                            uploader=draw(st.sampled_from(["", f"u{asn}-{i}", "shared"])),
                            blocked=blocked,
                            ok=total - blocked,
                            down=draw(st.integers(0, 1)),
                        )
                    )
                if probes:
                    networks[asn] = probes
            if networks:
                days[(DAY0 + timedelta(days=offset)).isoformat()] = networks
        if days:
            out[f"d{d}.example"] = days
    return out


def _load(store: DuckDBStorage, data: Mapping[str, Days]) -> None:
    store._con.execute("DELETE FROM rollup_probe_day")
    for domain, days in data.items():
        for day, networks in days.items():
            for asn, probes in networks.items():
                for p in probes:
                    store._con.execute(
                        "INSERT INTO rollup_probe_day VALUES (?, 'CN', ?, '', ?, ?, ?, false, "
                        "'NEWS', 'Net', ?, 0, ?, ?, 0, 0, 0, 'crenel')",
                        [day, asn, domain, p.uploader, p.probe_id, p.blocked, p.ok, p.down],
                    )
    # Derived as a rebuild does: the country's daily rows then come from the per-day network
    # rollup, a domain page's from the per-probe rollup, and the two must agree.
    store._con.execute("DELETE FROM rollup_network_day")
    store._con.execute(network_day_rollups.FILL)


def test_generated_datasets_agree_everywhere_and_with_the_oracle() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = DuckDBStorage(Path(tmp) / "collector.duckdb")
        try:

            @settings(
                max_examples=60,
                deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
            )
            @given(datasets())
            def check(data: dict[str, Days]) -> None:
                _load(store, data)
                report = country_report(store, QUERY, S, datetime(2026, 11, 4, tzinfo=UTC))
                details = {}
                for line in report.domains:
                    detail = domain_detail(store, _one(line.domain), S)
                    assert detail is not None
                    details[line.domain] = detail
                check_coherent(report, details, changes(store, QUERY, S))
                for line in report.domains:
                    expected, series = estimate_over_days(data[line.domain], S)
                    assert line.verdict == expected.verdict.value, (line, expected)
                    assert abs(line.confidence - expected.confidence) <= 1.1e-3
                    oracle = {n.asn: n.verdict.value for n in expected.networks}
                    page = details[line.domain]
                    assert {n.asn: n.verdict for n in page.summary.networks} == oracle
                    days = {d.day: d.verdict for d in page.timeline}
                    assert {day: days[day] for day, _ in series} == {
                        day: v.value for day, v in series
                    }

            check()
        finally:
            store.close()


def _one(domain: str) -> ReportQuery:
    return ReportQuery(cc=QUERY.cc, since=QUERY.since, until=QUERY.until, domain=domain)
