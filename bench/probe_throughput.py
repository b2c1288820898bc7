"""How fast the probe measures many URLs against loopback servers that add latency.

Runs `crenel-probe run` (the real CLI, storing every measurement) over N distinct URLs against a
DNS resolver, web server and control helper in another process, each adding --latency-ms per
response. Prints wall time, the ideal (URLs x critical path / concurrency), their ratio, and the
probe's peak RSS.

Critical path of one URL: the resolver's latency, then the longer of the DNS capture window
(the UDP socket keeps listening for injected answers) and the control's own DNS + fetch.

Usage: python bench/probe_throughput.py [--quick] [--urls 1000] [--latency-ms 20]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="200 URLs (under a minute)")
    parser.add_argument("--urls", type=int, default=1000)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--capture-window-ms", type=float, default=500.0)
    args = parser.parse_args()
    urls = 200 if args.quick else args.urls
    servers = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "bench" / "loopback_servers.py"),
            "--latency-ms",
            str(args.latency_ms),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert servers.stdout is not None
        ports = json.loads(servers.stdout.readline())
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
                str(args.concurrency),
                "--per-host",
                "2",
                "--capture-window-ms",
                str(args.capture_window_ms),
            ]
            start = time.perf_counter()
            probe = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True)
            _, status, usage = os.wait4(probe.pid, 0)
            wall = time.perf_counter() - start
            output = probe.stdout.read() if probe.stdout else ""
            if os.waitstatus_to_exitcode(status) != 0:
                print(output)
                print(f"probe failed with exit code {os.waitstatus_to_exitcode(status)}")
                return 1
    finally:
        if servers.stdin:
            servers.stdin.close()
        try:
            servers.wait(timeout=10)
        except subprocess.TimeoutExpired:
            servers.kill()
    latency_s = args.latency_ms / 1000
    critical_s = latency_s + max(args.capture_window_ms / 1000, 2 * latency_s)
    ideal = urls * critical_s / args.concurrency
    summary = output.strip().splitlines()[-1] if output.strip() else ""
    print(
        f"urls: {urls}, concurrency: {args.concurrency}, latency: {args.latency_ms:.0f} ms, "
        f"capture window: {args.capture_window_ms:.0f} ms"
    )
    print(f"probe says: {summary}")
    print(f"critical path: {critical_s * 1000:.0f} ms per URL")
    print(f"wall time: {wall:.2f} s")
    print(f"ideal: {ideal:.2f} s")
    print(f"peak RSS: {usage.ru_maxrss / 1024:.1f} MB")
    print(f"ratio to ideal: {wall / ideal:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
