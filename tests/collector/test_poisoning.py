"""One flooding source cannot flip a regional verdict, whatever ids, networks or volumes it claims.

A collector on loopback sees each upload's real source address: honest probes upload from nine
addresses in nine /24s (127.1.1.1 ... 127.3.3.1, three per network), the attacker from three
addresses of one /24 (127.66.0.0/24). The attacker sends what flipped a country before: 50
"blocked" measurements per network with a fresh probe id on each, for a domain every honest
probe reaches, and 1,000 in an invented network; and the mirror image ("ok" for a domain every
honest probe finds blocked). The report's verdicts (per domain and per network) must not move.
The same flood from a source the collector trusts (weighed per probe id, the old rule) does
flip them: the test can fail.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import msgspec
import trio

from collector.reports.model import CountryReport
from probe.model import Measurement
from tests.collector.geodb import write_geodb
from tests.collector.report_data import reachable, sni_blocked
from tests.collector.running import RunningCollector, ndjson, start_collector

DAY = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=1)
WINDOW = (DAY - timedelta(days=1)).date().isoformat()
NETWORKS = (64501, 64502, 64503)
INVENTED = 64999
OPEN, SHUT = "open.example.test", "shut.example.test"
LAB = ("198.51.100.0/24",)
ATTACKER = ("127.66.0.1", "127.66.0.2", "127.66.0.3")


@dataclass(frozen=True)
class Honest:
    address: str
    asn: int
    probe: str


HONEST = tuple(
    Honest(address=f"127.{n + 1}.{p + 1}.1", asn=asn, probe=f"honest-{asn}-{p}")
    for n, asn in enumerate(NETWORKS)
    for p in range(3)
)


def honest_measurements(who: Honest) -> list[Measurement]:
    out = []
    for i in range(5):
        at = DAY + timedelta(minutes=i)
        out.append(reachable(OPEN, cc="CN", asn=who.asn, probe=who.probe, at=at))
        out.append(sni_blocked(SHUT, cc="CN", asn=who.asn, probe=who.probe, at=at))
    return out


def flood() -> list[Measurement]:
    out: list[Measurement] = []
    n = 0
    for asn in NETWORKS:
        for _ in range(50):
            n += 1
            at = DAY + timedelta(seconds=n)
            out.append(sni_blocked(OPEN, cc="CN", asn=asn, probe=f"sybil-{n}", at=at))
            out.append(reachable(SHUT, cc="CN", asn=asn, probe=f"sybil-{n}", at=at))
    for i in range(500):  # and the day before, when no honest probe measured: a "change"
        at = DAY - timedelta(days=1) + timedelta(seconds=i)
        out.append(sni_blocked(OPEN, cc="CN", asn=INVENTED, probe=f"ghost-{i % 7}", at=at))
        out.append(reachable(SHUT, cc="CN", asn=INVENTED, probe=f"ghost-{i % 7}", at=at))
    return out


async def upload(running: RunningCollector, source: str, measurements: list[Measurement]) -> None:
    transport = httpx.AsyncHTTPTransport(local_address=source)
    async with httpx.AsyncClient(transport=transport, timeout=60) as client:
        for start in range(0, len(measurements), 500):
            r = await client.post(
                f"{running.api}/measurements",
                content=ndjson(measurements[start : start + 500]),
                headers={"Content-Type": "application/x-ndjson"},
            )
            assert r.status_code == 200, r.text


async def verdicts(running: RunningCollector) -> dict[str, Any]:
    await running.analysed()
    async with httpx.AsyncClient(timeout=60) as client:
        r = await client.get(f"{running.api}/reports/CN?since={WINDOW}")
    assert r.status_code == 200, r.text
    report = msgspec.json.decode(r.content, type=CountryReport)
    return {
        d.domain: (d.verdict, {n.asn: n.verdict for n in d.networks if n.asn in NETWORKS})
        for d in report.domains
    }


async def timeline(running: RunningCollector) -> tuple[Any, ...]:
    """Return each domain's `since` and the country's changes (the daily series)."""
    async with httpx.AsyncClient(timeout=60) as client:
        report = await client.get(f"{running.api}/reports/CN?since={WINDOW}")
        changes = await client.get(f"{running.api}/changes?cc=CN&since={WINDOW}")
    assert changes.status_code == 200, changes.text
    days = {d["domain"]: d["since"] for d in report.json()["domains"]}
    return days, changes.json()["changes"]


async def honest_then_flooded(
    nursery: trio.Nursery, tmp_path: Path, **config: Any
) -> tuple[dict[str, Any], dict[str, Any]]:
    running = await start_collector(
        nursery, tmp_path, trusted_uploaders=(), public_networks=LAB, **config
    )
    for who in HONEST:
        await upload(running, who.address, honest_measurements(who))
    before = await verdicts(running)
    daily = await timeline(running)
    attack = flood()
    for i, source in enumerate(ATTACKER):
        await upload(running, source, attack[i :: len(ATTACKER)])
    after = await verdicts(running)
    assert await timeline(running) == daily
    return before, after


EXPECTED = {
    OPEN: ("not blocked", dict.fromkeys(NETWORKS, "not blocked")),
    SHUT: ("blocked", dict.fromkeys(NETWORKS, "blocked")),
}


async def test_a_flood_from_one_24_claiming_any_networks_changes_no_verdict(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    before, after = await honest_then_flooded(nursery, tmp_path)
    assert before == EXPECTED
    assert after == before


async def test_with_geoip_claims_contradicting_the_source_do_not_count(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    networks = {f"127.{n + 1}.0.0/16": ("CN", asn, f"Net {asn}") for n, asn in enumerate(NETWORKS)}
    networks["127.66.0.0/16"] = ("CN", 64501, "Net 64501")  # the attacker is a real customer
    geodb = write_geodb(tmp_path / "geo.mmdb", networks)
    before, after = await honest_then_flooded(nursery, tmp_path, geoip_paths=(geodb,))
    assert before == EXPECTED
    assert after == before


async def test_the_same_flood_weighed_per_probe_id_flips_the_verdicts(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    # The old rule, kept for trusted relays: here the attacker's /24 is (wrongly) trusted.
    running = await start_collector(
        nursery, tmp_path, trusted_uploaders=("127.66.0.0/24",), public_networks=LAB
    )
    for who in HONEST:
        await upload(running, who.address, honest_measurements(who))
    assert await verdicts(running) == EXPECTED
    daily = await timeline(running)
    attack = flood()
    for i, source in enumerate(ATTACKER):
        await upload(running, source, attack[i :: len(ATTACKER)])
    flipped = await verdicts(running)
    assert flipped[OPEN][0] != "not blocked" and flipped[SHUT][0] != "blocked"
    assert await timeline(running) != daily
