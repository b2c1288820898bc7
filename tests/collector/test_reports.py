"""Reports: rollups kept at ingest, regional verdicts, timelines, changes, CSV, the CLI."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import msgspec
import pytest
import trio

from collector.cli import main as collector_main
from collector.regional.model import ModelSettings
from collector.reports.gauges import ReportGauges
from collector.reports.model import ChangesReply, CountriesReply, CountryReport, DomainDetail
from collector.storage.rollups import RowState, compute_deltas
from probe.model import Measurement
from tests.collector.report_data import reachable, sni_blocked
from tests.collector.running import RunningCollector, ndjson, start_collector

# The collector's clock in these tests: the two ends of a UTC day, across a year boundary, so a
# test that confuses "today" with "now", or local time with UTC, fails in one of them. The wall
# clock is never read: CI runs at any hour.
INSTANTS = (
    datetime(2027, 1, 1, 0, 30, tzinfo=UTC),
    datetime(2026, 12, 31, 23, 30, tzinfo=UTC),
)


@dataclass(frozen=True)
class Days:
    """Moments of the test world, relative to the collector's clock `now`."""

    now: datetime

    @property
    def today(self) -> datetime:
        """A moment of today (UTC) shortly before `now`."""
        return self.now - timedelta(minutes=10)

    @property
    def yesterday(self) -> datetime:
        return self.today - timedelta(days=1)


@pytest.fixture(params=INSTANTS, ids=lambda t: t.strftime("%H%MZ"))
def days(request: pytest.FixtureRequest) -> Days:
    return Days(request.param)


def world(days: Days) -> list[Measurement]:
    """CN: social blocked everywhere; news blocked in AS64501 only; weather fine; a noisy
    probe says blog is blocked. IR: nothing blocked (the baseline for CN)."""
    ms: list[Measurement] = []
    for asn, probes in ((64501, ("a", "b")), (64502, ("c", "d"))):
        for probe in probes:
            for at in (days.yesterday, days.today):
                ms.append(sni_blocked("social.example.test", cc="CN", asn=asn, probe=probe, at=at))
                ms.append(reachable("weather.example.test", cc="CN", asn=asn, probe=probe, at=at))
                ms.append(reachable("blog.example.test", cc="CN", asn=asn, probe=probe, at=at))
                news = sni_blocked if asn == 64501 else reachable
                ms.append(news("news.example.test", cc="CN", asn=asn, probe=probe, at=at))
    for at in (days.yesterday, days.today):  # a third uploader: enough to decide each day
        ms.append(sni_blocked("news.example.test", cc="CN", asn=64501, probe="e", at=at))
    for _ in range(30):
        ms.append(
            sni_blocked("blog.example.test", cc="CN", asn=64501, probe="noisy", at=days.today)
        )
    # news was fine in AS64501 the day before yesterday: a change to "blocked" yesterday.
    for probe in ("a", "b"):
        ms.append(
            reachable(
                "news.example.test",
                cc="CN",
                asn=64501,
                probe=probe,
                at=days.yesterday - timedelta(days=1),
            )
        )
        ms.append(
            reachable(
                "news.example.test",
                cc="CN",
                asn=64501,
                probe=probe + "2",
                at=days.yesterday - timedelta(days=1),
            )
        )
    for probe in ("x", "y"):
        for host in ("social.example.test", "news.example.test"):
            ms.append(reachable(host, cc="IR", asn=64511, probe=probe, at=days.today))
            ms.append(reachable(host, cc="IR", asn=64511, probe=probe, at=days.yesterday))
    return ms


async def loaded(nursery: trio.Nursery, tmp_path: Path, days: Days) -> RunningCollector:
    running = await start_collector(
        nursery, tmp_path, public_networks=("198.51.100.0/24",), clock=lambda: days.now
    )
    async with httpx.AsyncClient() as client:
        r = await client.post(
            f"{running.api}/measurements",
            content=ndjson(world(days)),
            headers={"Content-Type": "application/x-ndjson"},
        )
        assert r.status_code == 200, r.text
    await running.analysed()
    return running


async def get(running: RunningCollector, path: str) -> httpx.Response:
    async with httpx.AsyncClient() as client:
        return await client.get(f"{running.api}{path}")


async def test_country_report_gives_each_domain_a_regional_verdict(
    nursery: trio.Nursery, tmp_path: Path, days: Days
) -> None:
    running = await loaded(nursery, tmp_path, days)
    since = days.yesterday.date().isoformat()
    r = await get(running, f"/reports/CN?since={since}")
    assert r.status_code == 200, r.text
    report = msgspec.json.decode(r.content, type=CountryReport)
    verdicts = {d.domain: d.verdict for d in report.domains}
    assert verdicts == {
        "social.example.test": "blocked",
        "news.example.test": "mixed",
        "weather.example.test": "not blocked",
        # The noisy probe's 30 today outweigh AS64501's two honest probes that day (each probe
        # is capped per day as per window): the day is `blocked` there, the day before clear,
        # so the window cannot say `not blocked` without contradicting its own timeline.
        "blog.example.test": "mixed",
    }
    social = next(d for d in report.domains if d.domain == "social.example.test")
    assert social.methods == {"tls.reset": 8}
    assert social.networks_blocked == 2 and social.confidence > 0.9
    # Each network has 2 measurements of social a day, too few to decide any one day: the days
    # are `insufficient data` on the timeline, so no day can say since when.
    assert social.since is None
    news = next(d for d in report.domains if d.domain == "news.example.test")
    by_asn = {n.asn: n.verdict for n in news.networks}
    assert by_asn == {64501: "blocked", 64502: "not blocked"}
    assert [n.asn for n in report.networks] == [64501, 64502]
    one = msgspec.json.decode(
        (await get(running, f"/reports/CN?asn=AS64502&since={since}")).content, type=CountryReport
    )
    assert {d.domain: d.verdict for d in one.domains}["news.example.test"] == "not blocked"
    assert {n.asn for d in one.domains for n in d.networks} == {64502}


async def test_report_as_csv_and_bad_parameters(
    nursery: trio.Nursery, tmp_path: Path, days: Days
) -> None:
    running = await loaded(nursery, tmp_path, days)
    r = await get(running, "/reports/CN?format=csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert {(row["domain"], row["asn"]) for row in rows} >= {("social.example.test", "64501")}
    for path, field in (
        ("/reports/C1", "cc"),
        ("/reports/CN?since=yesterday", "since"),
        ("/reports/CN?format=xml", "format"),
        ("/changes", "cc"),
        ("/reports/CN?since=2026-01-10&until=2026-01-01", "until"),
    ):
        r = await get(running, path)
        assert r.status_code == 422, (path, r.text)
        assert r.json()["field"] == field


async def test_domain_page_has_a_timeline_changes_and_samples(
    nursery: trio.Nursery, tmp_path: Path, days: Days
) -> None:
    running = await loaded(nursery, tmp_path, days)
    since = (days.today - timedelta(days=3)).date().isoformat()
    r = await get(running, f"/reports/CN/domains/news.example.test?since={since}")
    assert r.status_code == 200, r.text
    detail = msgspec.json.decode(r.content, type=DomainDetail)
    # Every day of the window is on the timeline; a day without data says so.
    assert [d.day for d in detail.timeline] == [
        (days.today - timedelta(days=k)).date().isoformat() for k in (3, 2, 1, 0)
    ]
    assert [(d.verdict, d.measurements) for d in detail.timeline[:2]] == [
        ("insufficient data", 0),
        ("not blocked", 4),
    ]
    # AS64501 decides each of the last two days (AS64502 has too few measurements a day).
    assert [d.verdict for d in detail.timeline[2:]] == ["blocked", "blocked"]
    assert detail.samples and detail.samples[0].verdict == "blocked"
    changes = msgspec.json.decode(
        (await get(running, f"/changes?cc=CN&since={since}")).content, type=ChangesReply
    )
    assert any(
        c.domain == "news.example.test" and c.after in ("mixed", "blocked") for c in changes.changes
    )
    assert (await get(running, "/reports/CN/domains/never.example.test")).status_code == 404


async def test_overview_ranks_countries_by_blocked_domains(
    nursery: trio.Nursery, tmp_path: Path, days: Days
) -> None:
    running = await loaded(nursery, tmp_path, days)
    reply = msgspec.json.decode((await get(running, "/reports")).content, type=CountriesReply)
    assert [(c.cc, c.blocked) for c in reply.countries] == [("CN", 1), ("IR", 0)]


async def test_cli_report_reads_a_running_collector_or_says_it_is_unreachable(
    nursery: trio.Nursery, tmp_path: Path, days: Days, capsys: object
) -> None:
    running = await loaded(nursery, tmp_path, days)
    code = await trio.to_thread.run_sync(
        collector_main, ["report", "CN", "--url", running.url, "--format", "md"]
    )
    assert code == 0
    out = capsys.readouterr().out  # type: ignore[attr-defined]
    assert "# Blocking in CN" in out and "social.example.test" in out
    code = await trio.to_thread.run_sync(
        collector_main, ["report", "CN", "--url", "http://127.0.0.1:9"]
    )
    assert code == 3


def test_deltas_move_counts_from_the_old_verdict_to_the_new() -> None:
    base = RowState(
        day=date(2026, 11, 1),
        cc="CN",
        asn=1,
        domain="d",
        probe_key="p",
        uploader="",
        contradicted=False,
        region=None,
        category_code=None,
        network_name=None,
        control_failed=False,
        verdict=None,
        methods=[],
        confirmed=False,
        packet_confirmed=False,
    )
    blocked = RowState(
        **{**base.__dict__, "verdict": "blocked", "methods": ["tls.reset"], "confirmed": True}
    )
    ok = RowState(**{**base.__dict__, "verdict": "ok"})
    first = compute_deltas([(base, blocked)])
    assert first.probe_day[(base.day, "CN", 1, "", "d", "", "p", False, "crenel")] == [
        1,
        0,
        0,
        0,
        0,
        1,
        0,
    ]
    assert first.methods == {(base.day, "CN", 1, "", "d", "tls.reset", "crenel"): 1}
    again = compute_deltas([(blocked, ok)])
    assert again.probe_day[(base.day, "CN", 1, "", "d", "", "p", False, "crenel")] == [
        -1,
        0,
        1,
        0,
        0,
        -1,
        0,
    ]
    assert again.methods == {(base.day, "CN", 1, "", "d", "tls.reset", "crenel"): -1}
    assert compute_deltas([(ok, ok)]).is_empty()
    moved = RowState(**{**ok.__dict__, "region": "Tehran"})
    assert compute_deltas([(ok, moved)]).probe_day == {
        (base.day, "CN", 1, "", "d", "", "p", False, "crenel"): [0, 0, -1, 0, 0, 0, 0],
        (base.day, "CN", 1, "Tehran", "d", "", "p", False, "crenel"): [0, 0, 1, 0, 0, 0, 0],
    }


async def test_rollups_equal_a_rebuild_after_reanalysis(
    nursery: trio.Nursery, tmp_path: Path, days: Days
) -> None:
    running = await loaded(nursery, tmp_path, days)
    store = running.collector.storage.backend
    tables = (
        "rollup_probe_day",
        "rollup_methods",
        "rollup_domain_day",
        "rollup_uploader_day",
        "rollup_probe_window",
        "rollup_uploader_window",
        "rollup_window_span",
    )

    def snapshot() -> dict[str, list[tuple[object, ...]]]:
        with store._reader() as con:  # type: ignore[attr-defined]
            return {
                t: sorted(con.execute(f"SELECT * FROM {t}").fetchall(), key=str) for t in tables
            }

    incremental = snapshot()
    assert incremental["rollup_probe_day"] and incremental["rollup_probe_window"]
    await running.collector.storage.write(store.rebuild_rollups)
    assert snapshot() == incremental


async def test_blocking_gauges_reach_metrics(
    nursery: trio.Nursery, tmp_path: Path, days: Days
) -> None:
    running = await loaded(nursery, tmp_path, days)
    collector = running.collector
    gauges = ReportGauges(
        collector.storage,
        collector.metrics,
        300.0,
        ModelSettings(),
        collector.reports,
        clock=running.config.clock,
    )
    assert await gauges.refresh() == 2
    async with httpx.AsyncClient() as client:
        body = (await client.get(f"{running.url}/metrics")).text
    assert 'crenel_report_domains{cc="CN",verdict="blocked"} 1.0' in body
    # Over 7 days AS64501 was clean, then blocked news (a change the timeline shows): mixed, as
    # is blog, blocked one day in AS64501 by its noisy probe.
    assert 'crenel_report_domains{cc="CN",verdict="mixed"} 2.0' in body
    assert 'crenel_report_measurements{cc="IR"} 8.0' in body
    assert 'crenel_report_domains{cc="IR",verdict="blocked"} 0.0' in body


async def test_a_repeated_report_is_cached_until_new_analyses_change_it(
    nursery: trio.Nursery, tmp_path: Path, days: Days
) -> None:
    running = await loaded(nursery, tmp_path, days)

    async def weather() -> str:
        r = await get(running, "/reports/CN")
        assert r.status_code == 200, r.text
        report = msgspec.json.decode(r.content, type=CountryReport)
        return next(d.verdict for d in report.domains if d.domain == "weather.example.test")

    assert await weather() == "not blocked"
    assert await weather() == "not blocked"
    async with httpx.AsyncClient() as client:
        body = (await client.get(f"{running.url}/metrics")).text
    assert 'crenel_report_answers_total{answer="cached"} 1.0' in body
    blocked = [
        sni_blocked("weather.example.test", cc="CN", asn=asn, probe=probe, at=days.today)
        for asn, probes in ((64501, ("a", "b")), (64502, ("c", "d")))
        for probe in probes
        for _ in range(10)
    ]
    async with httpx.AsyncClient() as client:
        r = await client.post(
            f"{running.api}/measurements",
            content=ndjson(blocked),
            headers={"Content-Type": "application/x-ndjson"},
        )
        assert r.status_code == 200, r.text
    await running.analysed()
    assert await weather() == "blocked"
