"""What one source can make the collector store in a day, before and after the daily quota.

`crenel-collector serve` runs in its own process on a fresh data directory with a scaled-down
quota (`--quota-measurements-per-day N`; the rate limits off so only the quota stops it). One
source uploads the smallest valid measurements, 1,000 per gzip NDJSON request, until it gets
`429 quota_exceeded`. The figures: bytes sent per measurement; bytes the data directory
(database and WAL) grew per stored measurement once the collector's analysis was stored too;
the collector's own estimate per measurement (`collector.sources.quota.stored_bytes`); and what that
makes a day from one source, at the default per-source rate (500 measurements/s) without a
quota, and under the default quotas now.

Usage: python bench/upload_quota.py [--quick] [--quota 20000]
Prints its headline on the last line: `upload quota: ...`.
"""

from __future__ import annotations

import argparse
import gzip
import os
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import msgspec
from collector_ingest import start_collector

from collector.config import Limits
from collector.ingest.rows import measurement_row
from collector.sources.quota import stored_bytes
from probe.identity import new_uid
from probe.model import Analysis, Measurement, MeasurementOptions, ProbeNetwork, Verdict

BATCH = 1_000
DAY_S = 86_400


def directory_bytes(path: Path) -> int:
    """Return the bytes of every file under `path`."""
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def smallest(i: int, start: datetime) -> Measurement:
    """Return a minimal valid measurement: no observations, only the envelope."""
    moment = start + timedelta(milliseconds=i)
    return Measurement(
        uid=new_uid(int(moment.timestamp() * 1e9), i.to_bytes(10, "big")),
        software_name="x",
        software_version="1",
        input="http://a.test/",
        url="http://a.test/",
        start_time=moment,
        runtime_ms=0.0,
        probe=ProbeNetwork(cc="ZZ", asn="AS0", network_name=""),
        options=MeasurementOptions(),
        analysis=Analysis(
            verdict=Verdict.OK, confidence=0.0, rules_version="1", reference_digest=""
        ),
    )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="a quota of 5,000 (< 1 min)")
    parser.add_argument("--quota", type=int, default=20_000, help="measurements per day")
    args = parser.parse_args()
    quota = 5_000 if args.quick else args.quota
    print(f"machine: {os.cpu_count()} cores, python {sys.version.split()[0]}", flush=True)
    start = datetime.now(UTC) - timedelta(hours=1)
    with tempfile.TemporaryDirectory() as name:
        data_dir = Path(name) / "collector"
        flags = ["--analysis-workers", "0", "--quota-measurements-per-day", str(quota)]
        process, url = start_collector(data_dir, flags)
        try:
            base = directory_bytes(data_dir)
            sent = accepted = refused_at = 0
            sample = smallest(0, start)
            with httpx.Client(base_url=f"{url}/api/v1", timeout=120, trust_env=False) as client:
                headers = {"Content-Type": "application/x-ndjson", "Content-Encoding": "gzip"}
                for first in range(0, quota * 2, BATCH):
                    lines = [
                        msgspec.json.encode(smallest(i, start)) for i in range(first, first + BATCH)
                    ]
                    body = gzip.compress(b"\n".join(lines) + b"\n", 9)
                    reply = client.post("/measurements", content=body, headers=headers)
                    if reply.status_code == 429:
                        assert reply.json()["error"] == "quota_exceeded", reply.text
                        refused_at = first
                        break
                    reply.raise_for_status()
                    sent += len(body)
                    accepted += reply.json()["stored"]
                for _ in range(600):  # the analysis is stored too: wait for it (bounded)
                    if client.get("/health").json()["pending_analysis"] == 0:
                        break
                    time.sleep(0.5)
            grown = directory_bytes(data_dir) - base
        finally:
            process.terminate()
            process.wait(timeout=30)
    line = msgspec.json.encode(sample)
    row = measurement_row(sample, gzip.compress(line), received_at=start, source=None)
    estimate = stored_bytes([row])
    per_row = grown / max(accepted, 1)
    limits = Limits()
    before_day = limits.measurements_per_s * DAY_S * per_row
    cap = min(limits.quota_measurements_per_day, limits.quota_bytes_per_day // estimate)
    now_day = cap * per_row
    print(f"accepted {accepted} measurements, refused from #{refused_at} on (quota {quota})")
    print(
        f"sent {sent / max(accepted, 1):.0f} bytes per measurement (gzip NDJSON, {BATCH} a batch)"
    )
    print(f"data directory grew {per_row:.0f} bytes per stored measurement (estimate {estimate})")
    print(
        f"one source per day: before {before_day / 1e9:.0f} GB at 500/s; now at most {cap} "
        f"measurements = {now_day / 1e9:.2f} GB"
    )
    return print_headline(before_day, now_day, per_row)


def print_headline(before_day: float, now_day: float, per_row: float) -> int:
    print(
        f"upload quota: {per_row:.0f} B stored per minimal measurement, one source a day "
        f"{before_day / 1e9:.0f} GB before, {now_day / 1e9:.2f} GB now"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
