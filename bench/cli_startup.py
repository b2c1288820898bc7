"""How long the three programs take to answer `--help` and `--version` (wall time, as a user
waits for them).

Runs each as a fresh subprocess — the installed console scripts beside this interpreter, or
`python -m` when they are not installed — once to warm the file cache, then N times, and
prints the median and the slowest run. The bare interpreter (`python -c pass`) is measured the
same way: the part of each figure no Crenel change can remove. The headline is the `--help`
medians.

Usage: python bench/cli_startup.py [--quick] [--runs N]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

PROGRAMS = {
    "crenel-probe": "probe.cli.main",
    "crenel-collector": "collector.cli",
    "crenel-lab": "lab.cli",
}


def command_of(program: str) -> list[str]:
    """Return how to start `program`: its console script if installed here, else `python -m`."""
    script = Path(sys.executable).parent / program
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", PROGRAMS[program]]


def wall_times_s(command: list[str], runs: int) -> list[float]:
    """Return the wall time of `runs` runs of `command` (after one unmeasured warm-up)."""
    subprocess.run(command, check=True, capture_output=True, timeout=60)
    times: list[float] = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True, timeout=60)
        times.append(time.perf_counter() - started)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5 runs each instead of 15")
    parser.add_argument("--runs", type=int, help="runs of each command")
    args = parser.parse_args()
    runs = args.runs or (5 if args.quick else 15)
    rows: list[tuple[str, float, float]] = []
    baseline = wall_times_s([sys.executable, "-c", "pass"], runs)
    rows.append(("python -c pass", statistics.median(baseline), max(baseline)))
    helps: dict[str, float] = {}
    for program in PROGRAMS:
        for flag in ("--help", "--version"):
            times = wall_times_s([*command_of(program), flag], runs)
            rows.append((f"{program} {flag}", statistics.median(times), max(times)))
            if flag == "--help":
                helps[program] = statistics.median(times)
    print(f"{'command':<28} {'median s':>9} {'max s':>7}   ({runs} runs each)")
    for name, median, slowest in rows:
        print(f"{name:<28} {median:>9.3f} {slowest:>7.3f}")
    print("cli startup: " + ", ".join(f"{p} --help {s:.2f} s" for p, s in helps.items()))


if __name__ == "__main__":
    main()
