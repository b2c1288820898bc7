"""Every catalogue scenario through the real `crenel-lab run`, one test case per scenario file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from lab.cli import bundled_scenarios

CRENEL_LAB = Path(sys.executable).parent / "crenel-lab"
SCENARIOS = bundled_scenarios()


def _leftover_namespaces() -> list[str]:
    listing = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=False)
    return [line.split()[0] for line in listing.stdout.splitlines() if line.startswith("crl")]


def test_the_catalogue_has_every_scenario_once() -> None:
    ids = [p.name.split("-", 1)[0] for p in SCENARIOS]
    assert ids == [f"S{i:02d}" for i in range(1, 32)]


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
