"""What packet evidence costs: extra time per blocked URL, and packets sent per localisation.

Builds a lab world (root needed) with a 5-hop path and a censor at hop 2 that resets the TLS
handshakes of every site (half by the packet filter, in-path; half by an on-path injector), then
runs the real probe in the client namespace over the same blocked URLs three ways: evidence off,
`--packet-evidence`, and `--packet-evidence --locate-censor`. Prints the median runtime per URL
(the measurement's own `runtime_ms`) of each, the probe's start-up cost, and the packets and time
per localisation. --quick uses 4 URLs and one round instead of 8 and three.

Usage: sudo python bench/packet_evidence.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import trio

from lab.check import PROBE_TIMEOUT_S
from lab.netns import in_namespace
from lab.scenario import load_scenario
from lab.world import World, executable, running_world

LAB_FINGERPRINTS = (
    Path(__file__).resolve().parents[1] / "lab" / "fingerprints" / "lab-blockpages.csv"
)
MODES = {
    "off": [],
    "evidence": ["--packet-evidence"],
    "locate": ["--packet-evidence", "--locate-censor"],
}


def scenario_text(sites: int) -> str:
    """Return a scenario with `sites` HTTPS sites, every one reset at hop 2 of 5."""
    lines = ['id = "B01"', 'title = "packet evidence bench"', "hops_before = 1", "hops_after = 3"]
    lines += ["[options]", "tls_latency_ms = 100"]  # the injector must win the race
    for i in range(sites):
        host = f"site{i}.example.test"
        lines += ["[[site]]", f'host = "{host}"', "[[censor]]", 'action = "tls_reset"']
        lines += [f'sni = "{host}"'] + (["injector = true"] if i % 2 else [])
    lines += ["[[expect]]", 'url = "https://site0.example.test/"', 'verdict = "blocked"']
    return "\n".join(lines) + "\n"


async def probe(world: World, urls: list[str], flags: list[str]) -> tuple[float, list[dict]]:  # type: ignore[type-arg]
    """Return the wall time of one probe run and its measurements."""
    client = world.plan.clients[0]
    command = in_namespace(
        client.namespace,
        [executable("crenel-probe"), "measure", "--json", "--yes", "--config",
         str(world.probe_config(client)), *flags, *urls],
    )  # fmt: skip
    env = {**os.environ, "CRENEL_DATA_DIR": str(world.probe_data_dir(client))}
    started = time.perf_counter()
    with trio.fail_after(PROBE_TIMEOUT_S):
        result = await trio.run_process(
            command, capture_stdout=True, capture_stderr=True, check=False, env=env
        )
    wall = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError(result.stderr.decode(errors="replace"))
    return wall, [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


async def bench(sites: int, rounds: int) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.toml"
        path.write_text(scenario_text(sites))
        scenario = load_scenario(path)
        urls = [f"https://site{i}.example.test/" for i in range(sites)]
        runtimes: dict[str, list[float]] = {mode: [] for mode in MODES}
        walls: dict[str, list[float]] = {mode: [] for mode in MODES}
        localisations: list[dict] = []  # type: ignore[type-arg]
        async with running_world(scenario, path, fingerprints=[LAB_FINGERPRINTS]) as world:
            for _ in range(rounds):
                for mode, flags in MODES.items():
                    wall, measurements = await probe(world, urls, flags)
                    walls[mode].append(wall)
                    for m in measurements:
                        if m["analysis"]["verdict"] != "blocked":
                            print(f"warning: {m['input']} was {m['analysis']['verdict']} ({mode})")
                        runtimes[mode].append(m["runtime_ms"] / 1000)
                        located = (m.get("packets") or {}).get("localisation")
                        if mode == "locate" and located:
                            localisations.append(located)
    medians = {mode: statistics.median(values) for mode, values in runtimes.items()}
    for mode in MODES:
        print(
            f"{mode:9} runtime per blocked URL: median {medians[mode]:.3f} s, max "
            f"{max(runtimes[mode]):.3f} s; probe run of {sites} URLs: median "
            f"{statistics.median(walls[mode]):.2f} s"
        )
    start_up = statistics.median(walls["evidence"]) - statistics.median(walls["off"])
    print(f"start-up and capture cost per probe run: {start_up:+.2f} s")
    if localisations:
        sent = [loc["packets_sent"] for loc in localisations]
        took = [(loc["t_ms"] - loc["t0_ms"]) / 1000 for loc in localisations]
        hops = sorted({loc["censor_hop"] for loc in localisations}, key=str)
        median_sent = statistics.median(sent)
        print(
            f"localisation: {len(localisations)} runs, packets sent median {median_sent:.0f} "
            f"(max {max(sent)}), time median {statistics.median(took):.2f} s, censor hops {hops}"
        )
    added = (statistics.median(walls["locate"]) - statistics.median(walls["evidence"])) / sites
    print(f"localisation adds {added:.2f} s per blocked URL to a run (one at a time)")
    print(f"evidence overhead: {medians['evidence'] - medians['off']:.2f} s per blocked URL")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="4 URLs, one round")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("bench/packet_evidence.py needs root (network namespaces, packet capture)")
        return 4
    sites, rounds = (4, 1) if args.quick else (8, 3)
    return trio.run(bench, sites, rounds)


if __name__ == "__main__":
    sys.exit(main())
