"""How fast, and at what CPU cost, the probe measures many URLs against loopback servers that
add latency.

Runs `crenel-probe run` (the real CLI, storing every measurement) over N distinct URLs against a
DNS resolver, web server and control helper in another process, each adding --latency-ms per
response, three times:

1. with the DNS capture window (default 500 ms: the UDP socket keeps listening for injected
   answers) over --urls URLs: the ratio to the ideal *with* the window;
2. with the window at 0 over --urls URLs: the ratio to the ideal *without* it, and CPU per URL;
3. with the window at 0 over --large-urls URLs: CPU per URL again (flat if nothing grows with
   the list).

Active critical path of one URL: the resolver's latency, then the control's own DNS + fetch
(the longer of the steps that run side by side): 3 × latency. The capture window holds no
concurrency slot, so the ideal is URLs × active path ÷ concurrency, plus one window for the
last URLs' capture to end. CPU is the probe process's user + system time (start-up included)
divided by the URLs; "marginal" is the difference between the two runs without the window
divided by the difference in URLs (start-up excluded).

Usage: python bench/probe_throughput.py [--quick] [--urls 1000] [--large-urls 10000]
       [--latency-ms 20] [--concurrency 16] [--capture-window-ms 500]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class ProbeRun:
    """One `crenel-probe run` over a list: wall and CPU seconds, peak RSS, the probe's summary."""

    urls: int
    window_ms: float
    wall_s: float
    cpu_s: float
    rss_mb: float
    summary: str


def run_probe(
    ports: dict[str, str], urls: int, window_ms: float, concurrency: int
) -> ProbeRun | None:
    """Return the figures of one probe run, or None (after printing why) when it fails."""
    with tempfile.TemporaryDirectory() as tmp:
        listing = Path(tmp) / "list.txt"
        listing.write_text(
            "".join(f"http://url-{i:05d}.bench.test:{ports['web']}/\n" for i in range(urls))
        )
        env = {
            **os.environ,
            "CRENEL_CONFIG": f"{tmp}/probe.toml",
            "CRENEL_DATA_DIR": f"{tmp}/data",
        }
        command = [
            sys.executable,
            "-m",
            "probe.cli.main",
            "run",
            "--yes",
            "--list",
            str(listing),
            "--no-system-resolver",
            "--resolver",
            f"127.0.0.1:{ports['dns']}",
            "--doh",
            "off",
            "--control",
            ports["control"],
            "--public-network",
            "127.0.0.0/8",
            "--concurrency",
            str(concurrency),
            "--per-host",
            "2",
            "--capture-window-ms",
            str(window_ms),
        ]
        output_path = Path(tmp) / "output.txt"
        with output_path.open("w") as output_file:
            start = time.perf_counter()
            probe = subprocess.Popen(command, env=env, stdout=output_file, text=True)
            _, status, usage = os.wait4(probe.pid, 0)
            wall = time.perf_counter() - start
        output = output_path.read_text()
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        print(output)
        print(f"probe failed with exit code {code}")
        return None
    lines = output.strip().splitlines()
    return ProbeRun(
        urls=urls,
        window_ms=window_ms,
        wall_s=wall,
        cpu_s=usage.ru_utime + usage.ru_stime,
        rss_mb=usage.ru_maxrss / 1024,
        summary=lines[-1] if lines else "",
    )


def start_servers(latency_ms: float) -> tuple[subprocess.Popen[str], dict[str, str]]:
    """Return the loopback servers' process and their ports (as `loopback_servers.py` prints)."""
    servers = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "bench" / "loopback_servers.py"),
            "--latency-ms",
            str(latency_ms),
            "--max-seconds",
            "1800",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert servers.stdout is not None
    return servers, json.loads(servers.stdout.readline())


def stop_servers(servers: subprocess.Popen[str]) -> float:
    """Stop the loopback servers; return the CPU seconds they used (start-up included)."""
    if servers.stdin:
        servers.stdin.close()
    try:
        _, _, usage = os.wait4(servers.pid, 0)
    except ChildProcessError:
        return 0.0
    servers.returncode = 0
    return usage.ru_utime + usage.ru_stime


def main() -> int:
    """Run the three probe runs, each against fresh servers, and print their figures; return
    the exit code."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="200 and 1,000 URLs (under a minute)")
    parser.add_argument("--urls", type=int, default=1000)
    parser.add_argument("--large-urls", type=int, default=10000)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--capture-window-ms", type=float, default=500.0)
    args = parser.parse_args()
    small, large = (200, 1000) if args.quick else (args.urls, args.large_urls)
    print(f"load average at start: {os.getloadavg()[0]:.2f} (other work shares the cores)")
    runs: list[tuple[ProbeRun, float]] = []
    for urls, window in ((small, args.capture_window_ms), (small, 0.0), (large, 0.0)):
        servers, ports = start_servers(args.latency_ms)
        try:
            run = run_probe(ports, urls, window, args.concurrency)
        finally:
            servers_cpu_s = stop_servers(servers)
        if run is None:
            return 1
        runs.append((run, servers_cpu_s))
    return report(runs, args.latency_ms / 1000, args.concurrency)


def report(runs: list[tuple[ProbeRun, float]], latency_s: float, concurrency: int) -> int:
    """Print each run's figures, then the headline; return 0."""
    active_s = 3 * latency_s
    ratios: list[float] = []
    for run, servers_cpu_s in runs:
        ideal = run.urls * active_s / concurrency + run.window_ms / 1000
        ratios.append(run.wall_s / ideal)
        print(
            f"{run.urls} URLs, capture window {run.window_ms:.0f} ms: wall {run.wall_s:.2f} s, "
            f"ideal {ideal:.2f} s, ratio {run.wall_s / ideal:.2f}; "
            f"CPU {run.cpu_s:.2f} s = {run.cpu_s / run.urls * 1000:.2f} ms per URL; "
            f"peak RSS {run.rss_mb:.1f} MB; servers' CPU {servers_cpu_s:.2f} s"
        )
        print(f"  probe says: {run.summary}")
    with_window, without, large = (run for run, _ in runs)
    marginal = (large.cpu_s - without.cpu_s) / max(1, large.urls - without.urls)
    print(
        f"concurrency {concurrency}, latency {latency_s * 1000:.0f} ms, "
        f"active critical path {active_s * 1000:.0f} ms per URL; "
        f"marginal CPU {marginal * 1000:.2f} ms per URL; "
        f"load average at the end: {os.getloadavg()[0]:.2f}"
    )
    print(
        f"ratio to ideal: {ratios[1]:.2f} without the window, {ratios[0]:.2f} with "
        f"{with_window.window_ms:.0f} ms; CPU per URL: "
        f"{without.cpu_s / without.urls * 1000:.2f} ms at {without.urls:,}, "
        f"{large.cpu_s / large.urls * 1000:.2f} ms at {large.urls:,}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
