"""How fast, and at what CPU cost, the probe measures many URLs against loopback servers that
add latency.

Runs `crenel-probe run` (the real CLI, storing every measurement) over N distinct URLs against a
DNS resolver and web server in one process and the control helper in --control-processes others
(sharing one port; 0: in the servers' process), each adding --latency-ms per response, so the
servers' event loop is not the bottleneck it was in one process. Three runs:

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
divided by the difference in URLs (start-up excluded). Each server process's CPU per URL is
printed too, in all and after its start-up.

Usage: python bench/probe_throughput.py [--quick] [--urls 1000] [--large-urls 10000]
       [--latency-ms 20] [--concurrency 16] [--capture-window-ms 500] [--control-processes 1]
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


@dataclass
class ServerProcess:
    """One loopback server process: its role, the process, and what it printed (its ports)."""

    role: str
    process: subprocess.Popen[str]
    ports: dict[str, str]


def start_server(role: str, latency_ms: float, *extra: str) -> ServerProcess:
    """Return a started `loopback_servers.py --role ROLE` process and the ports it prints."""
    process = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "bench" / "loopback_servers.py"),
            "--latency-ms",
            str(latency_ms),
            "--max-seconds",
            "1800",
            "--role",
            role,
            *extra,
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line:
        process.wait(30)
        raise RuntimeError(f"the {role} server process exited ({process.returncode})")
    return ServerProcess(role, process, {k: str(v) for k, v in json.loads(line).items()})


def start_servers(latency_ms: float, control_processes: int) -> list[ServerProcess]:
    """Return the started server processes: the DNS and web servers, then the control helper's
    (0: in the servers' own process, as before issue 14's third pass)."""
    if control_processes == 0:
        return [start_server("all", latency_ms)]
    started = [start_server("servers", latency_ms)]
    try:
        dns = started[0].ports["dns"]
        port = "0"
        for _ in range(control_processes):
            started.append(start_server("control", latency_ms, "--dns-port", dns, "--port", port))
            port = started[-1].ports["port"]
    except BaseException:
        stop_servers(started)
        raise
    return started


def cpu_so_far_s(pid: int) -> float:
    """Return the CPU seconds (user + system) a running process has used (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def server_ports(servers: list[ServerProcess]) -> dict[str, str]:
    """Return the ports the probe needs: `dns`, `web` and the `control` URL."""
    ports: dict[str, str] = {}
    for server in servers:
        ports = {**server.ports, **ports}
    return ports


def stop_servers(servers: list[ServerProcess]) -> list[tuple[str, float]]:
    """Stop the loopback servers; return each process's role and the CPU seconds it used
    (start-up included)."""
    used: list[tuple[str, float]] = []
    for server in servers:
        if server.process.stdin:
            server.process.stdin.close()
    for server in servers:
        try:
            _, _, usage = os.wait4(server.process.pid, 0)
        except ChildProcessError:
            used.append((server.role, 0.0))
            continue
        server.process.returncode = 0
        used.append((server.role, usage.ru_utime + usage.ru_stime))
    return used


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
    parser.add_argument(
        "--control-processes",
        type=int,
        default=1,
        help="control helper processes beside the DNS and web servers' (0: in their process)",
    )
    args = parser.parse_args()
    small, large = (200, 1000) if args.quick else (args.urls, args.large_urls)
    print(f"load average at start: {os.getloadavg()[0]:.2f} (other work shares the cores)")
    runs: list[tuple[ProbeRun, list[tuple[str, float, float]]]] = []
    for urls, window in ((small, args.capture_window_ms), (small, 0.0), (large, 0.0)):
        servers = start_servers(args.latency_ms, args.control_processes)
        try:
            ready_s = [cpu_so_far_s(server.process.pid) for server in servers]
            run = run_probe(server_ports(servers), urls, window, args.concurrency)
        finally:
            used = stop_servers(servers)
        if run is None:
            return 1
        runs.append((run, [(r, s, s - ready) for (r, s), ready in zip(used, ready_s, strict=True)]))
    return report(runs, args.latency_ms / 1000, args.concurrency)


def report(
    runs: list[tuple[ProbeRun, list[tuple[str, float, float]]]],
    latency_s: float,
    concurrency: int,
) -> int:
    """Print each run's figures, then the headline; return 0."""
    active_s = 3 * latency_s
    ratios: list[float] = []
    for run, servers_cpu in runs:
        ideal = run.urls * active_s / concurrency + run.window_ms / 1000
        ratios.append(run.wall_s / ideal)
        print(
            f"{run.urls} URLs, capture window {run.window_ms:.0f} ms: wall {run.wall_s:.2f} s, "
            f"ideal {ideal:.2f} s, ratio {run.wall_s / ideal:.2f}; "
            f"CPU {run.cpu_s:.2f} s = {run.cpu_s / run.urls * 1000:.2f} ms per URL; "
            f"peak RSS {run.rss_mb:.1f} MB"
        )
        per_process = ", ".join(
            f"{role} {cpu_s:.2f} s = {cpu_s / run.urls * 1000:.2f} ms "
            f"({during_s / run.urls * 1000:.2f} ms after start-up)"
            for role, cpu_s, during_s in servers_cpu
        )
        total_s = sum(cpu_s for _, cpu_s, _ in servers_cpu)
        during_total_s = sum(during_s for _, _, during_s in servers_cpu)
        print(
            f"  servers' CPU per URL by process: {per_process}; all {total_s / run.urls * 1000:.2f}"
            f" ms ({during_total_s / run.urls * 1000:.2f} ms after start-up)"
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
