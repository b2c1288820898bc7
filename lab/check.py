"""Run the probe inside a world's client namespaces and compare its verdicts with the scenario's.

The probe runs as a subprocess (`crenel-probe measure --json`), exactly as a volunteer would run
it; `compare` is pure.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import msgspec
import trio

from lab import netns
from lab.errors import LabError, PrivilegeMissing
from lab.plan import ClientPlan
from lab.scenario import Expectation, Scenario, load_scenario
from lab.servers.names import normalise_name
from lab.world import World, executable, running_world
from probe.model import Measurement, ResolverKind

PROBE_TIMEOUT_S = 180.0


@dataclass(frozen=True)
class Outcome:
    """One URL measured from one client, against what the scenario expects."""

    scenario: str
    client: str
    cc: str
    expectation: Expectation
    measurement: Measurement | None
    problems: tuple[str, ...]

    @property
    def passed(self) -> bool:
        """Return whether the verdict matched."""
        return not self.problems


@dataclass
class ScenarioResult:
    """Everything `check_scenario` found, with timings."""

    scenario: Scenario
    path: Path
    outcomes: list[Outcome] = field(default_factory=list)
    setup_s: float = 0.0
    measure_s: float = 0.0
    teardown_s: float = 0.0
    error: str | None = None

    @property
    def passed(self) -> bool:
        """Return whether every expectation held and nothing went wrong."""
        return self.error is None and all(o.passed for o in self.outcomes)


def _injection_recorded(measurement: Measurement) -> list[str]:
    host = urlsplit(measurement.url).hostname or ""
    for query in measurement.dns:
        if query.resolver_kind is not ResolverKind.UDP or query.hostname != host:
            continue
        if len(query.responses) < 2:
            continue
        delays = [r.delay_ms for r in query.responses]
        first = {a.address for a in query.responses[0].answers}
        later = {a.address for r in query.responses[1:] for a in r.answers}
        if delays == sorted(delays) and first != later:
            return []
    return ["dns-injection-recorded: no UDP query kept a forged answer and a later real one"]


def compare(expectation: Expectation, measurement: Measurement | None) -> list[str]:
    """Return what differs between the expectation and the measurement (empty when it holds)."""
    if measurement is None:
        return ["no measurement came back"]
    analysis = measurement.analysis
    problems: list[str] = []
    if analysis.verdict.value != expectation.verdict:
        problems.append(f"verdict {analysis.verdict.value}, expected {expectation.verdict}")
    got = {m.value for m in analysis.methods}
    missing = [m for m in expectation.methods if m not in got]
    if missing:
        problems.append(f"missing methods {', '.join(missing)}")
    if expectation.any_of and not got & set(expectation.any_of):
        problems.append(f"none of {', '.join(expectation.any_of)}")
    extra = got - set(expectation.methods) - set(expectation.any_of) - set(expectation.allow_extra)
    if extra:
        problems.append(f"unexpected methods {', '.join(sorted(extra))}")
    if "dns-injection-recorded" in expectation.checks:
        problems += _injection_recorded(measurement)
    problems += _packet_problems(expectation, measurement)
    return problems


def _packet_problems(expectation: Expectation, measurement: Measurement) -> list[str]:
    """Return what differs in rules, notes and localisation from the expectation."""
    analysis = measurement.analysis
    fired = {hit.rule for hit in analysis.rules}
    problems: list[str] = []
    missing = [r for r in expectation.rules if r not in fired]
    if missing:
        problems.append(f"rules did not fire: {', '.join(missing)}")
    unwanted = [r for r in expectation.absent_rules if r in fired]
    if unwanted:
        problems.append(f"rules fired that must not: {', '.join(unwanted)}")
    for text in expectation.notes:
        if not any(text in note for note in analysis.notes):
            problems.append(f"no note says {text!r}")
    if expectation.censor_hop is None and expectation.censor_path is None:
        return problems
    packets = measurement.packets
    located = packets.localisation if packets is not None else None
    if located is None:
        return [*problems, "no localisation was made"]
    if expectation.censor_hop is not None and located.censor_hop != expectation.censor_hop:
        problems.append(
            f"censor located at hop {located.censor_hop}, expected {expectation.censor_hop}"
            + (f" ({located.note})" if located.note else "")
        )
    path = located.path.value if located.path is not None else None
    if expectation.censor_path is not None and path != expectation.censor_path:
        problems.append(f"censor {path}, expected {expectation.censor_path}")
    return problems


def _same_url(a: str, b: str) -> bool:
    pa, pb = urlsplit(a), urlsplit(b)
    try:
        host_a, host_b = normalise_name(pa.hostname or ""), normalise_name(pb.hostname or "")
    except ValueError:
        return a == b
    return (pa.scheme, host_a, pa.port, pa.path or "/") == (
        pb.scheme,
        host_b,
        pb.port,
        pb.path or "/",
    )


async def run_probe_command(
    namespace: str, arguments: Sequence[str], data_dir: Path, timeout_s: float = PROBE_TIMEOUT_S
) -> bytes:
    """Return the stdout of `crenel-probe ARGUMENTS` run inside `namespace`.

    Raises:
        LabError: the probe failed or timed out.
    """
    command = netns.in_namespace(namespace, [executable("crenel-probe"), *arguments])
    env = {**os.environ, "CRENEL_DATA_DIR": str(data_dir)}
    env.pop("CRENEL_CONFIG", None)
    with trio.move_on_after(timeout_s) as scope:
        result = await trio.run_process(
            command, capture_stdout=True, capture_stderr=True, check=False, env=env
        )
    if scope.cancelled_caught:
        raise LabError(f"the probe in {namespace} did not finish in {timeout_s} s")
    if result.returncode != 0:
        err = result.stderr.decode(errors="replace").strip().splitlines()
        raise LabError(
            f"the probe in {namespace} failed ({result.returncode}): {err[-1] if err else ''}"
        )
    return result.stdout


async def run_probe(world: World, client: ClientPlan, urls: Sequence[str]) -> list[Measurement]:
    """Return the probe's measurements of `urls` made inside `client`'s namespace.

    Raises:
        LabError: the probe failed or timed out.
    """
    stdout = await run_probe_command(
        client.namespace,
        ["measure", "--json", "--yes", "--config", str(world.probe_config(client)), *urls],
        world.probe_data_dir(client),
    )
    decoder = msgspec.json.Decoder(Measurement)
    return [decoder.decode(line) for line in stdout.splitlines() if line.strip()]


def _clients_for(world: World, expectation: Expectation) -> list[ClientPlan]:
    return [
        c for c in world.plan.clients if expectation.country is None or c.cc == expectation.country
    ]


async def measure_world(world: World, scenario: Scenario) -> list[Outcome]:
    """Run the probe in every client that has expectations; return the outcomes."""
    outcomes: list[Outcome] = []
    by_client: dict[str, list[Expectation]] = {}
    clients: dict[str, ClientPlan] = {}
    for expectation in scenario.expect:
        for client in _clients_for(world, expectation):
            by_client.setdefault(client.namespace, []).append(expectation)
            clients[client.namespace] = client
    results: dict[str, list[Measurement]] = {}

    async def one(namespace: str) -> None:
        urls = list(dict.fromkeys(e.url for e in by_client[namespace]))
        results[namespace] = await run_probe(world, clients[namespace], urls)

    async with trio.open_nursery() as nursery:
        for namespace in by_client:
            nursery.start_soon(one, namespace)
    for namespace, expectations in by_client.items():
        measurements = results.get(namespace, [])
        for expectation in expectations:
            found = next((m for m in measurements if _same_url(m.input, expectation.url)), None)
            outcomes.append(
                Outcome(
                    scenario=scenario.id,
                    client=namespace,
                    cc=clients[namespace].cc,
                    expectation=expectation,
                    measurement=found,
                    problems=tuple(compare(expectation, found)),
                )
            )
    return outcomes


async def check_scenario(path: Path, *, fingerprints: Sequence[Path]) -> ScenarioResult:
    """Build the scenario's world, measure, compare, and tear it down; return the result.

    Raises:
        ScenarioError: the file is invalid.
        PrivilegeMissing: not root.
    """
    scenario = load_scenario(path)
    result = ScenarioResult(scenario=scenario, path=path)
    finished_measuring = 0.0
    try:
        async with running_world(scenario, path, fingerprints=fingerprints) as world:
            result.setup_s = world.setup_s
            started = time.monotonic()
            result.outcomes = await measure_world(world, scenario)
            finished_measuring = time.monotonic()
            result.measure_s = finished_measuring - started
    except LabError as exc:
        if isinstance(exc, PrivilegeMissing):
            raise
        result.error = str(exc)
    if finished_measuring:
        result.teardown_s = time.monotonic() - finished_measuring
    return result
