"""How long the lab takes: world set-up and teardown, and the whole scenario catalogue.

Runs `crenel-lab run` (root needed) over the bundled scenarios and prints per-world set-up and
teardown times (median and max) and the wall time. --quick runs five scenarios.

Usage: sudo python bench/lab_catalogue.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

QUICK = ["S01", "S06", "S11", "S18", "S31"]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help=f"only {', '.join(QUICK)}")
    args = parser.parse_args()
    lab = Path(sys.executable).parent / "crenel-lab"
    selection = QUICK if args.quick else ["--all"]
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        started = time.perf_counter()
        result = subprocess.run(
            [str(lab), "run", *selection, "--json", str(report)],
            capture_output=True,
            text=True,
            check=False,
            timeout=1800,
        )
        wall = time.perf_counter() - started
        if not report.exists():
            print(result.stderr.strip())
            return 1
        scenarios = json.loads(report.read_text())
    setups = [s["setup_s"] for s in scenarios if s["setup_s"]]
    teardowns = [s["teardown_s"] for s in scenarios if s["teardown_s"]]
    passed = sum(1 for s in scenarios if not s["error"] and all(o["passed"] for o in s["outcomes"]))
    print(f"scenarios: {len(scenarios)}, verdicts matched in {passed}")
    print(f"set-up: median {statistics.median(setups):.2f} s, max {max(setups):.2f} s")
    print(f"teardown: median {statistics.median(teardowns):.2f} s, max {max(teardowns):.2f} s")
    print(f"catalogue: {wall:.1f} s for {len(scenarios)} scenarios")
    return 0 if result.returncode == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
