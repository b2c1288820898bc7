"""Every catalogue scenario (S01-S35, and P01-P08 with packet evidence) through the real
`crenel-lab run`, one test case per scenario file."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from lab.cli import bundled_scenarios

CRENEL_LAB = Path(sys.executable).parent / "crenel-lab"
SCENARIOS = bundled_scenarios()


def _leftover_namespaces() -> list[str]:
    listing = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=False)
    return [line.split()[0] for line in listing.stdout.splitlines() if line.startswith("crl")]


PACKET_SCENARIOS = 8


def test_the_catalogue_has_every_scenario_once() -> None:
    ids = [p.name.split("-", 1)[0] for p in SCENARIOS]
    packet = [f"P{i:02d}" for i in range(1, PACKET_SCENARIOS + 1)]
    assert ids == packet + [f"S{i:02d}" for i in range(1, 36)]


def _two_injectors_answered(outcome: dict[str, Any]) -> None:
    """P02: three responses to one query, the first two forged with different IP TTLs."""
    host_queries = [
        q
        for q in outcome["measurement"]["dns"]
        if q["resolver_kind"] == "udp" and q["query_type"] == "A"
    ]
    (query,) = host_queries
    first, second, real = query["responses"]
    assert first["answers"] == second["answers"] != real["answers"]
    assert (first["ip_ttl"], second["ip_ttl"]) == (50, 49)
    assert all(r["ip_id"] is not None and r["udp_checksum"] for r in query["responses"])


def _localised_within_budget(outcome: dict[str, Any]) -> None:
    """P07, P08: the localisation stopped at the server (TTL 6) and sent 5 packets per flow."""
    located = outcome["measurement"]["packets"]["localisation"]
    assert located["server_ttl"] == 6 and [h["ttl"] for h in located["hops"]] == [1, 2, 3, 4, 5, 6]
    assert located["packets_sent"] == 6 * 2 * located["repetitions"] * 5


EXTRA_CHECKS: dict[str, Callable[[dict[str, Any]], None]] = {
    "P02": _two_injectors_answered,
    "P07": _localised_within_budget,
    "P08": _localised_within_budget,
}


@pytest.mark.netns
@pytest.mark.parametrize("path", SCENARIOS, ids=[p.name.split("-", 1)[0] for p in SCENARIOS])
def test_scenario_verdicts_match(path: Path, tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    result = subprocess.run(
        [str(CRENEL_LAB), "run", str(path), "--json", str(report)],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    [scenario] = json.loads(report.read_text())
    assert scenario["error"] is None
    assert scenario["outcomes"] and all(o["passed"] for o in scenario["outcomes"])
    for outcome in scenario["outcomes"]:
        measurement = outcome["measurement"]
        assert measurement["probe"]["cc"] in ("ZZ",) or len(measurement["probe"]["cc"]) == 2
        assert measurement["control"] is not None
        if scenario["scenario"] in EXTRA_CHECKS:
            EXTRA_CHECKS[scenario["scenario"]](outcome)
    assert _leftover_namespaces() == []


EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "lab" / "examples").glob("*.toml"))


@pytest.mark.netns
@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_worlds_match(path: Path, tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    result = subprocess.run(
        [str(CRENEL_LAB), "run", str(path), "--json", str(report)],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    [scenario] = json.loads(report.read_text())
    countries = {o["cc"] for o in scenario["outcomes"]}
    assert len(countries) == len({o["client"][-2] for o in scenario["outcomes"]})
    assert all(o["passed"] for o in scenario["outcomes"])
