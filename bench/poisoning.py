"""What one flooding source does to a country's verdict, under the old and the current weighing.

The regional model (its plain-Python statement, `tests/collector/regional_oracle.py`, which a
property test holds the report SQL and columns to) on the
attack of issue 13: three networks of honest probes (3 uploader networks each, 5 measurements each,
all "ok" for the domain), then one source uploading 150 "blocked" measurements with a fresh probe
id on each (50 per network), and then 10,000 more in an invented network (a fresh id every 20).
"Old" weighs per probe id (what an unknown or trusted source still gets); "now" knows the
measurements share one uploader network. Prints one line per stage and, last, the headline: the
country verdict after the full flood, old and now.

Usage: python bench/poisoning.py [--quick]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.collector.regional_oracle

from collector.regional.model import ModelSettings
from tests.collector.regional_oracle import (
    ProbeCounts,
    RegionEstimate,
    estimate_region,
)

NETWORKS = (64501, 64502, 64503)
INVENTED = 64999


def honest() -> dict[int, list[ProbeCounts]]:
    """Return three networks of three honest uploaders each (5 ok measurements apiece)."""
    return {
        asn: [ProbeCounts(probe_id=f"h{asn}-{i}", uploader=f"net{asn}-{i}", ok=5) for i in range(3)]
        for asn in NETWORKS
    }


def flood(uploader: str, sybils: int, invented: int) -> dict[int, list[ProbeCounts]]:
    """Return the attack: `sybils` one-shot ids per network, `invented` measurements in an
    invented network."""
    out = {
        asn: [
            ProbeCounts(probe_id=f"s{asn}-{i}", uploader=uploader, blocked=1) for i in range(sybils)
        ]
        for asn in NETWORKS
    }
    if invented:
        out[INVENTED] = [
            ProbeCounts(probe_id=f"g{i}", uploader=uploader, blocked=20)
            for i in range(invented // 20)
        ]
    return out


def merged(*parts: dict[int, list[ProbeCounts]]) -> dict[int, list[ProbeCounts]]:
    """Return the networks of all `parts` together."""
    out: dict[int, list[ProbeCounts]] = {}
    for part in parts:
        for asn, probes in part.items():
            out.setdefault(asn, []).extend(probes)
    return out


def describe(region: RegionEstimate) -> str:
    """Return "verdict confidence" of a region."""
    return f"{region.verdict.value} {region.confidence:.3f}"


def main() -> None:
    """Print the verdicts of each stage, old rule and now; the headline last."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the same (it takes well under 1 s)")
    parser.parse_args()
    settings = ModelSettings()
    base = honest()
    print(f"honest only: {describe(estimate_region(base, settings))}")
    results = {}
    for sybils, invented in ((50, 0), (0, 10_000), (50, 10_000)):
        for rule, uploader in (("old", ""), ("now", "one-source")):
            region = estimate_region(merged(base, flood(uploader, sybils, invented)), settings)
            results[(sybils, invented, rule)] = describe(region)
            print(
                f"+{3 * sybils} blocked with fresh ids in 3 networks, +{invented} in "
                f"AS{INVENTED}, {rule} rule: {describe(region)}"
            )
    print(
        f"after the full flood: old rule {results[(50, 10_000, 'old')]}; "
        f"now {results[(50, 10_000, 'now')]}"
    )


if __name__ == "__main__":
    main()
