"""`crenel-lab demo --exit`: the whole system in two simulated countries, in CI."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

CRENEL_LAB = Path(sys.executable).parent / "crenel-lab"
WORLD = re.compile(r"^crl[0-9a-f]{4}-")


@pytest.mark.netns
def test_demo_reports_match_the_censors_configuration(tmp_path: Path) -> None:
    checks = tmp_path / "checks.json"
    result = subprocess.run(
        [str(CRENEL_LAB), "demo", "--exit", "--port", "0", "--json", str(checks)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    lines = json.loads(checks.read_text())
    assert {line["cc"] for line in lines} == {"CN", "IR"}
    assert all(line["got"] == line["expected"] for line in lines)
    blocked = {(line["cc"], line["domain"]) for line in lines if line["expected"] == "blocked"}
    assert ("CN", "social.example.test") in blocked and ("IR", "forum.example.test") in blocked
    assert "every report matches the censors' configuration" in result.stdout
    assert "round 2: 8 probes in 4 networks" in result.stdout
    listing = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=False)
    assert not [n for n in listing.stdout.splitlines() if WORLD.match(n)]
