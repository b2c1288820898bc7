"""Tests of measuring many URLs: the concurrency and per-host limits, and DNS capture windows
that run out without holding a concurrency slot (counted, not timed)."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import trio
import trio.testing

from lab.servers import Injection, NameBehaviour
from probe.analysis import BogonPolicy, ReferenceData
from probe.batch import IN_FLIGHT_PER_SLOT, measure_batch
from probe.measure import MeasureSession
from probe.model import (
    Analysis,
    Measurement,
    MeasurementOptions,
    Method,
    ProbeNetwork,
    ResolverKind,
    Verdict,
)
from probe.net import parse_web_url
from probe.testlists import ListEntry

from .loopback import LOOPBACK, start_internet


def stub_measurement(url: str) -> Measurement:
    """Return an empty record of `url` (what the fake session hands back)."""
    return Measurement(
        uid="0190a5a4-3c1e-7abc-8def-0123456789ab",
        software_name="crenel-probe",
        software_version="test",
        input=url,
        url=url,
        start_time=datetime(2026, 11, 26, tzinfo=UTC),
        runtime_ms=0.0,
        probe=ProbeNetwork(),
        options=MeasurementOptions(),
        analysis=Analysis(
            verdict=Verdict.INCONCLUSIVE, confidence=0.0, rules_version="test", reference_digest=""
        ),
    )


class CountingSession:
    """Wraps a session (or fakes one) and counts, at every change, how many measurements are in
    their active steps and how many are waiting out their capture window ("tails")."""

    def __init__(
        self,
        inner: MeasureSession | None = None,
        *,
        active_s: float = 1.0,
        window_s: float = 10.0,
    ) -> None:
        self.inner = inner
        self.active_s = active_s
        self.window_s = window_s
        self.active: Counter[str] = Counter()
        self.tails: Counter[str] = Counter()
        self.snapshots: list[tuple[int, int]] = []
        """(active, tails) after every change."""
        self.peak_active_per_host: Counter[str] = Counter()
        self.steps_done_ms: dict[str, float] = {}
        """Per URL: when its active steps ended, in ms after `measure` was called."""

    def _note(self) -> None:
        self.snapshots.append((self.active.total(), self.tails.total()))
        for host, count in self.active.items():
            self.peak_active_per_host[host] = max(self.peak_active_per_host[host], count)

    async def measure(
        self,
        url: str,
        *,
        category_code: str | None = None,
        on_steps_done: Callable[[], object] | None = None,
    ) -> Measurement:
        host = parse_web_url(url).host
        start = trio.current_time()
        self.active[host] += 1
        self._note()

        def steps_done() -> None:
            self.steps_done_ms[url] = (trio.current_time() - start) * 1000.0
            self.active[host] -= 1
            self.tails[host] += 1
            self._note()
            if on_steps_done is not None:
                on_steps_done()

        if self.inner is not None:
            measurement = await self.inner.measure(
                url, category_code=category_code, on_steps_done=steps_done
            )
        else:
            await trio.sleep(self.active_s)
            steps_done()
            await trio.sleep(self.window_s)
            measurement = stub_measurement(url)
        self.tails[host] -= 1
        self._note()
        return measurement


def entries(count: int, *, hosts: int | None = None) -> list[ListEntry]:
    return [
        ListEntry(url=f"http://url-{i % (hosts or count)}.example.test/{i}") for i in range(count)
    ]


async def test_capture_windows_hold_no_concurrency_slot(
    autojump_clock: trio.testing.MockClock,
) -> None:
    session = CountingSession(active_s=1.0, window_s=10.0)
    results: list[Measurement] = []

    async def keep(measurement: Measurement) -> None:
        results.append(measurement)

    start = trio.current_time()
    summary = await measure_batch(
        session, entries(24), concurrency=4, per_host=2, max_runtime_s=None, on_result=keep
    )
    elapsed = trio.current_time() - start
    assert summary.measured == len(results) == 24
    assert max(active for active, _ in session.snapshots) == 4
    # Every slot busy with a new URL while at least as many windows are still open: the
    # windows hold no slot.
    assert any(active == 4 and tails >= 4 for active, tails in session.snapshots)
    # ceil(N/C) rounds of active steps, then the last window; never ceil(N/C) x (steps + window).
    assert elapsed == math.ceil(24 / 4) * 1.0 + 10.0
    assert elapsed < math.ceil(24 / 4) * (1.0 + 10.0)


async def test_measurements_in_flight_are_bounded_while_windows_run_out(
    autojump_clock: trio.testing.MockClock,
) -> None:
    session = CountingSession(active_s=1.0, window_s=1000.0)

    async def keep(_measurement: Measurement) -> None:
        pass

    summary = await measure_batch(
        session, entries(60), concurrency=2, per_host=2, max_runtime_s=None, on_result=keep
    )
    assert summary.measured == 60
    in_flight = [active + tails for active, tails in session.snapshots]
    assert max(in_flight) == 2 * IN_FLIGHT_PER_SLOT


async def test_per_host_limit_counts_active_steps_only(
    autojump_clock: trio.testing.MockClock,
) -> None:
    session = CountingSession(active_s=1.0, window_s=10.0)

    async def keep(_measurement: Measurement) -> None:
        pass

    await measure_batch(
        session, entries(12, hosts=2), concurrency=8, per_host=1, max_runtime_s=None, on_result=keep
    )
    assert set(session.peak_active_per_host.values()) == {1}
    assert max(tails for _, tails in session.snapshots) > 2


async def test_late_answer_in_the_window_is_recorded_after_the_slot_is_freed(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    # The forged answer comes first; the real one a second later, while the window is open
    # and (on loopback) long after the URL's active steps ended.
    behaviour = NameBehaviour(delay_ms=1000, inject=(Injection(("127.0.0.66",), delay_ms=0),))
    internet = await start_internet(
        nursery, tmp_path, isp_behaviours={"news.example.test": behaviour}
    )
    reference = ReferenceData(bogons=BogonPolicy(public_networks=("127.0.0.0/8",)))
    config = internet.probe_config(capture_window_s=2.0)
    injected = internet.url("news.example.test", https=True)
    results: dict[str, Measurement] = {}

    async def keep(measurement: Measurement) -> None:
        results[measurement.input] = measurement

    async with MeasureSession(config, reference) as inner:
        session = CountingSession(inner)
        await measure_batch(
            session,
            [ListEntry(url=injected), ListEntry(url=internet.url("www.example.test"))],
            concurrency=1,
            per_host=1,
            max_runtime_s=None,
            on_result=keep,
        )
    # With one slot, the second URL ran while the first one's window was still open.
    assert max(active for active, _ in session.snapshots) == 1
    assert max(active + tails for active, tails in session.snapshots) == 2
    m = results[injected]
    udp = next(q for q in m.dns if q.resolver_kind is ResolverKind.UDP and q.query_type == "A")
    assert [r.answers[0].address for r in udp.responses] == ["127.0.0.66", LOOPBACK]
    assert udp.responses[1].t_ms > session.steps_done_ms[injected]
    assert m.analysis.verdict is Verdict.BLOCKED
    assert Method.DNS_INJECTED in m.analysis.methods
    assert results[internet.url("www.example.test")].analysis.verdict is Verdict.OK
