"""`crenel-lab demo`: the whole system in one command.

Builds the demo world (two countries with different censors, two networks each), starts a
collector with its own database and GeoIP file, has two volunteer probes per network check in,
measure the collector's test list twice and upload, then prints each country's report and
checks it against what the censors were told to do. The dashboard stays reachable on
127.0.0.1 until Ctrl-C (or the command ends at once with --exit).
"""

from __future__ import annotations

import csv
import functools
import io
import logging
import math
import os
import signal
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import trio

from lab import netns
from lab.check import run_probe_command
from lab.errors import LabError
from lab.forward import serve_forward
from lab.geodb import write_world_geodb
from lab.plan import (
    CLIENT_NETWORK,
    COLLECTOR_ADDRESS,
    LAB_NETWORKS,
    PUBLIC_RESOLVER_ADDRESS,
    ClientPlan,
)
from lab.scenario import Expectation, Scenario, load_scenario
from lab.world import World, executable, running_world, start_process, wait_ready

log = logging.getLogger(__name__)

DEMO_WORLD = Path(__file__).resolve().parent / "demo" / "world.toml"
PROBES_PER_NETWORK = 2
ROUNDS = 2
COLLECTOR_READY_S = 60.0
ANALYSIS_WAIT_S = 120.0
PROBE_RUN_TIMEOUT_S = 300.0
CATEGORY = {
    "news": "NEWS",
    "video": "MMED",
    "social": "GRP",
    "books": "CULTR",
    "rights": "HUMR",
    "forum": "GRP",
    "search": "SRCH",
    "weather": "MISC",
    "shop": "COMM",
}


@dataclass(frozen=True)
class CheckLine:
    """One expectation of the demo held against the collector's report."""

    cc: str
    domain: str
    expected: str
    got: str
    methods_expected: tuple[str, ...]
    methods_got: tuple[str, ...]

    @property
    def passed(self) -> bool:
        """Return whether the report says what the censor configuration implies."""
        return self.got == self.expected and set(self.methods_expected) <= set(self.methods_got)


def write_test_lists(scenario: Scenario, root: Path) -> Path:
    """Write a Citizen Lab style checkout (lists/global.csv) with the demo's URLs; return it."""
    lists = root / "test-lists" / "lists"
    lists.mkdir(parents=True, exist_ok=True)
    urls = list(dict.fromkeys(e.url for e in scenario.expect))
    with (lists / "global.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(
            ["url", "category_code", "category_description", "date_added", "source", "notes"]
        )
        for url in urls:
            label = (urlsplit(url).hostname or "").split(".")[0]
            writer.writerow([url, CATEGORY.get(label, "MISC"), "", "2026-11-01", "crenel-lab", ""])
    return root / "test-lists"


def expected_report(scenario: Scenario) -> dict[tuple[str, str], tuple[str, tuple[str, ...]]]:
    """Return (country, domain) -> (regional verdict, methods) implied by the expectations."""
    countries = [c.cc for c in scenario.country_specs()]
    found: dict[tuple[str, str], tuple[str, tuple[str, ...]]] = {}
    for expectation in scenario.expect:
        domain = urlsplit(expectation.url).hostname or ""
        for cc in [expectation.country] if expectation.country else countries:
            found[(cc, domain)] = _regional(expectation)
    return found


def _regional(expectation: Expectation) -> tuple[str, tuple[str, ...]]:
    if expectation.verdict == "blocked":
        return "blocked", tuple(expectation.methods)
    return "not blocked", ()


def check_reports(
    expected: dict[tuple[str, str], tuple[str, tuple[str, ...]]],
    reports: dict[str, dict[str, Any]],
) -> list[CheckLine]:
    """Return each expectation against the collector's reports (JSON by country)."""
    lines: list[CheckLine] = []
    for (cc, domain), (verdict, methods) in sorted(expected.items()):
        entry = next(
            (d for d in reports.get(cc, {}).get("domains", []) if d.get("domain") == domain), None
        )
        got = str(entry["verdict"]) if entry else "absent"
        got_methods = tuple(entry["methods"]) if entry else ()
        lines.append(CheckLine(cc, domain, verdict, got, methods, got_methods))
    return lines


def _probe_config(world: World, client: ClientPlan, index: int, collector_url: str) -> Path:
    base = world.probe_config(client).read_text()
    # Check-in decides the URLs and the control: the collector hands out its own.
    lines = [line for line in base.splitlines() if not line.startswith("control = ")]
    lines.append(f'collector = "{collector_url}"')
    path = world.directory / f"probe-{client.namespace}-{index}.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


async def _run_probes(world: World, collector_url: str, say: Callable[[str], None]) -> None:
    clients = world.plan.clients
    configs = [
        (client, index, _probe_config(world, client, index, collector_url))
        for client in clients
        for index in range(1, PROBES_PER_NETWORK + 1)
    ]
    for round_number in range(1, ROUNDS + 1):
        started = time.monotonic()
        async with trio.open_nursery() as nursery:
            for client, index, config in configs:
                data_dir = world.directory / f"data-{client.namespace}-{index}"
                nursery.start_soon(
                    run_probe_command,
                    client.namespace,
                    ["run", "--yes", "--config", str(config)],
                    data_dir,
                    PROBE_RUN_TIMEOUT_S,
                )
        say(
            f"round {round_number}: {len(configs)} probes in {len(clients)} networks measured "
            f"and uploaded in {time.monotonic() - started:.1f} s"
        )


async def _wait_for_analysis(client: httpx.AsyncClient, base: str) -> int:
    with trio.move_on_after(ANALYSIS_WAIT_S):
        while True:
            health = (await client.get(f"{base}/api/v1/health")).json()
            if health["pending_analysis"] == 0 and health["queue_depth"] == 0:
                return int(health["measurements"])
            await trio.sleep(0.5)
    raise LabError("the collector did not finish analysing in time")


async def _start_collector(world: World, say: Callable[[str], None]) -> None:
    scenario_lists = write_test_lists(load_scenario(world.scenario_path), world.directory)
    geodb = write_world_geodb(world.plan, world.directory / "lab-geo.mmdb")
    data_dir = world.directory / "collector"
    collector = executable("crenel-collector")
    await netns.run(
        [collector, "testlists", "import", str(scenario_lists), "--data-dir", str(data_dir)],
        timeout_s=60,
    )
    issued = world.directory / "collector.pem"
    command = [
        collector,
        "serve",
        "--data-dir",
        str(data_dir),
        "--listen",
        f"{COLLECTOR_ADDRESS}:443",
        "--plain-listen",
        f"{COLLECTOR_ADDRESS}:80",
        "--tls-cert",
        str(issued),
        "--tls-key",
        str(world.directory / "collector.key"),
        "--geoip",
        str(geodb),
        "--control-resolver",
        f"{PUBLIC_RESOLVER_ADDRESS}:53",
        "--ca-bundle",
        str(world.ca_file),
        "--rate-limit",
        "0",
        "--analysis-workers",
        "0",
    ]
    for fingerprints in world.fingerprints:
        command += ["--fingerprints", str(fingerprints)]
    for network in LAB_NETWORKS:
        command += ["--allow-network", network, "--public-network", network]
    # The two probes of a network share its one client address (and every client /28 lies in
    # one /24): as uploader networks they would be one voice per network. The lab runs them
    # itself, like a relay: weigh them per probe id.
    command += ["--trusted-uploader", str(CLIENT_NETWORK)]
    started = await start_process(world, "collector", world.plan.inet_namespace, command)
    await wait_ready(started, b"crenel-collector: serving", COLLECTOR_READY_S)
    say(f"collector up at https://{COLLECTOR_ADDRESS}/ (data in {data_dir})")


def _render_report(report: dict[str, Any]) -> str:
    out = io.StringIO()
    out.write(
        f"{report['cc']}: {report['since']} to {report['until']}, "
        f"{report['measurements']} measurements, {len(report['networks'])} networks\n"
    )
    for d in report["domains"]:
        methods = ", ".join(f"{m} x{n}" for m, n in d["methods"].items()) or "-"
        since = d["since"] or "-"
        # Floor: 0.999 is shown as 0.99, never as a certainty the data does not give.
        confidence = math.floor(d["confidence"] * 100) / 100
        networks = f"{d['networks_blocked']}/{len(d['networks'])} networks"
        out.write(
            f"  {d['domain']:<24} {d['verdict']:<12} {confidence:>4.2f}  {networks:<12}"
            f"  since {since:<10}  {methods}\n"
        )
    return out.getvalue()


async def run_demo(
    *, port: int, keep: bool, say: Callable[[str], None], fingerprints: Sequence[Path]
) -> list[CheckLine]:
    """Run the demo; return the report checks (after Ctrl-C when `keep`).

    Raises:
        PrivilegeMissing: not root.
        LabError: a part of the system did not start or finish.
    """
    scenario = load_scenario(DEMO_WORLD)
    async with running_world(
        scenario,
        DEMO_WORLD,
        fingerprints=fingerprints,
        extra_certificates={"collector": [COLLECTOR_ADDRESS, "collector.lab.test"]},
    ) as world:
        say(
            f"world {world.plan.prefix} up in {world.setup_s:.2f} s: "
            f"{len(world.plan.countries)} countries, {len(world.plan.clients)} networks"
        )
        await _start_collector(world, say)
        await _run_probes(world, f"https://{COLLECTOR_ADDRESS}/", say)
        async with trio.open_nursery() as nursery:
            bound = await nursery.start(
                functools.partial(
                    serve_forward,
                    world.plan.inet_namespace,
                    COLLECTOR_ADDRESS,
                    80,
                    listen_port=port,
                )
            )
            base = f"http://127.0.0.1:{bound}"
            async with httpx.AsyncClient(timeout=60, trust_env=False) as client:
                stored = await _wait_for_analysis(client, base)
                say(f"{stored} measurements stored and analysed")
                reports: dict[str, dict[str, Any]] = {}
                for country in world.plan.countries:
                    response = await client.get(f"{base}/api/v1/reports/{country.cc}")
                    response.raise_for_status()
                    reports[country.cc] = response.json()
                    say(_render_report(reports[country.cc]))
            lines = check_reports(expected_report(scenario), reports)
            if keep:
                say(f"dashboard: {base}/dashboard/  (Ctrl-C removes the world)")
                with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
                    async for _ in signals:
                        break
            nursery.cancel_scope.cancel()
    return lines


def environment_note() -> str:
    """Return why the demo cannot run here, or an empty string."""
    if os.geteuid() != 0:
        return "the demo needs root (it builds network namespaces)"
    return ""
