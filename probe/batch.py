"""Measure many URLs: a global concurrency limit, a per-host limit and an optional runtime cap.

Results are handed to a callback as they complete (to store, print and upload them); bad URLs
are reported and skipped, never fatal.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import trio

from probe.measure import MeasureSession
from probe.model import Measurement
from probe.net import parse_web_url
from probe.testlists import ListEntry

logger = logging.getLogger(__name__)

ResultCallback = Callable[[Measurement], Awaitable[None]]
SkipCallback = Callable[[ListEntry, str], Awaitable[None]]


@dataclass
class BatchSummary:
    """How a run went."""

    measured: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    not_started: int = 0


async def measure_batch(
    session: MeasureSession,
    entries: Sequence[ListEntry],
    *,
    concurrency: int,
    per_host: int,
    max_runtime_s: float | None,
    on_result: ResultCallback,
    on_skip: SkipCallback | None = None,
) -> BatchSummary:
    """Measure every entry and return a summary; `on_result` receives each measurement.

    No new URL starts after `max_runtime_s`; those already started finish within their budgets.
    """
    summary = BatchSummary()
    deadline = trio.current_time() + max_runtime_s if max_runtime_s else float("inf")
    host_limits: defaultdict[str, trio.CapacityLimiter] = defaultdict(
        lambda: trio.CapacityLimiter(per_host)
    )
    send, receive = trio.open_memory_channel[ListEntry](concurrency)

    async def feed() -> None:
        async with send:
            for entry in entries:
                if trio.current_time() >= deadline:
                    summary.not_started += 1
                    continue
                await send.send(entry)

    async def work(inbox: trio.MemoryReceiveChannel[ListEntry]) -> None:
        async with inbox:
            async for entry in inbox:
                if trio.current_time() >= deadline:
                    summary.not_started += 1
                    continue
                try:
                    host = parse_web_url(entry.url).host
                except ValueError as exc:
                    summary.skipped.append((entry.url, str(exc)))
                    if on_skip is not None:
                        await on_skip(entry, str(exc))
                    continue
                async with host_limits[host]:
                    measurement = await session.measure(
                        entry.url, category_code=entry.category_code
                    )
                summary.measured += 1
                await on_result(measurement)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(feed)
        async with receive:
            for _ in range(max(1, concurrency)):
                nursery.start_soon(work, receive.clone())
    return summary
