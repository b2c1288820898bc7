"""How the collector holds up against cheap hostile uploads: gzip bombs of newlines (issue 13).

`crenel-collector serve` runs in its own process (fresh data directory, rate limits off, default
size limits). Each bomb is ~65 KB of gzip that inflates to 64 MiB of newlines. N bombs are posted
at once on loopback while /health is polled every 50 ms; the collector's RSS is sampled with
psutil every 20 ms. Reports each bomb's answer and time, the slowest /health answer while bombs
were in flight, and the collector's RSS growth.

Usage: python bench/ingest_bombs.py [--quick] [--bombs 4] [--rounds 3]
Prints its headline on the last line: `health while N bombs in flight: max X ms`.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

import httpx
import psutil
import trio

ROOT = Path(__file__).resolve().parents[1]
_SERVING = re.compile(r"(http://127\.0\.0\.1:\d+)")
NEWLINES_MIB = 64
POLL_S = 0.05
RSS_SAMPLE_S = 0.02
BOMB_BUDGET_S = 120.0


def newline_bomb() -> bytes:
    """Return gzip of 64 MiB of newlines (~65 KB)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    chunk = b"\n" * (1 << 20)
    return b"".join(packer.compress(chunk) for _ in range(NEWLINES_MIB)) + packer.flush()


def start_collector(data_dir: Path) -> tuple[subprocess.Popen[str], str]:
    """Start `crenel-collector serve` on loopback and return the process and its base URL."""
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "collector.cli", "serve", "--data-dir", str(data_dir)),
            *("--listen", "127.0.0.1:0", "--rate-limit", "0"),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    match = _SERVING.search(line)
    if match is None:
        process.kill()
        raise SystemExit(f"the collector did not start: {line!r}")
    return process, match.group(1)


async def one_round(url: str, bomb: bytes, bombs: int, pid: int) -> tuple[float, float, list[str]]:
    """Return (slowest health ms while bombs were in flight, RSS growth MiB, bomb answers)."""
    process = psutil.Process(pid)
    rss_before = process.memory_info().rss
    rss_peak = rss_before
    answers: list[str] = []
    health_ms: list[float] = []
    failures: list[float] = []
    done = trio.Event()
    started = time.perf_counter()
    headers = {"content-type": "application/x-ndjson", "content-encoding": "gzip"}

    async with httpx.AsyncClient(base_url=url, timeout=BOMB_BUDGET_S, trust_env=False) as client:

        async def send() -> None:
            try:
                response = await client.post("/api/v1/measurements", content=bomb, headers=headers)
                answer = f"{response.status_code} {response.json().get('error')}"
            except httpx.TransportError as exc:
                answer = f"no answer ({type(exc).__name__})"
            answers.append(f"{answer} {time.perf_counter() - started:.2f} s")

        async def poll() -> None:
            for _ in range(int(BOMB_BUDGET_S / POLL_S)):
                if done.is_set():
                    return
                t0 = time.perf_counter()
                try:
                    await client.get("/api/v1/health")
                except httpx.TransportError:
                    failures.append(time.perf_counter() - t0)
                health_ms.append((time.perf_counter() - t0) * 1000)
                await trio.sleep(POLL_S)

        async def sample_rss() -> None:
            # Sampled here, not when /health answers: a stalled collector answers nothing.
            nonlocal rss_peak
            for _ in range(int(BOMB_BUDGET_S / RSS_SAMPLE_S)):
                if done.is_set():
                    return
                rss_peak = max(rss_peak, process.memory_info().rss)
                await trio.sleep(RSS_SAMPLE_S)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(poll)
            nursery.start_soon(sample_rss)
            with trio.fail_after(BOMB_BUDGET_S):
                async with trio.open_nursery() as senders:
                    for _ in range(bombs):
                        senders.start_soon(send)
            done.set()
    if failures:
        answers.append(f"{len(failures)} /health requests failed")
    return max(health_ms, default=0.0), (rss_peak - rss_before) / (1 << 20), answers


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="one round of 4 bombs (< 1 min)")
    parser.add_argument("--bombs", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    bomb = newline_bomb()
    print(f"bomb: {len(bomb)} bytes of gzip -> {NEWLINES_MIB} MiB of newlines", flush=True)
    plan = [args.bombs] if args.quick else [1, *([args.bombs] * args.rounds)]
    worst = 0.0
    with tempfile.TemporaryDirectory(prefix="crenel-bombs-") as tmp:
        process, url = start_collector(Path(tmp) / "collector")
        try:
            for bombs in plan:
                slowest, grown, answers = trio.run(one_round, url, bomb, bombs, process.pid)
                print(
                    f"{bombs} bomb(s): answers {answers}; slowest /health {slowest:.0f} ms; "
                    f"collector RSS +{grown:.0f} MiB",
                    flush=True,
                )
                if bombs == args.bombs:
                    worst = max(worst, slowest)
        finally:
            process.terminate()
            process.wait(timeout=30)
    print(f"health while {args.bombs} bombs in flight: max {worst:.0f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
