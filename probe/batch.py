"""Measure many URLs: a global concurrency limit, a per-host limit and an optional runtime cap.

A concurrency slot (and the per-host slot) is held only while a URL's active steps run (DNS,
control, TCP, TLS, HTTP). Its DNS capture window, the fixed wait for late or injected answers,
then runs out in a separate, bounded set of tasks that also finish the record, so a slot never
sits idle waiting for a window. Results are handed to a callback as they complete (to store,
print and upload them); bad URLs are reported and skipped, never fatal.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import trio

from probe.model import Measurement
from probe.net import parse_web_url
from probe.testlists import ListEntry

logger = logging.getLogger(__name__)

ResultCallback = Callable[[Measurement], Awaitable[None]]
SkipCallback = Callable[[ListEntry, str], Awaitable[None]]

IN_FLIGHT_PER_SLOT = 8
"""Measurements in flight (active, or waiting out their capture window) per concurrency slot.

Bounds the open UDP sockets (two or four per measurement) and memory; with a 500 ms window it
stops slowing a batch only when a URL's active steps take under about 70 ms."""


class Measurer(Protocol):
    """What a batch needs of a measuring session (`probe.measure.MeasureSession`)."""

    async def measure(
        self,
        url: str,
        *,
        category_code: str | None = None,
        on_steps_done: Callable[[], object] | None = None,
    ) -> Measurement:
        """Return the measurement of `url`, calling `on_steps_done` once its active steps end."""
        ...


@dataclass
class BatchSummary:
    """How a run went."""

    measured: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    not_started: int = 0


async def measure_batch(
    session: Measurer,
    entries: Sequence[ListEntry],
    *,
    concurrency: int,
    per_host: int,
    max_runtime_s: float | None,
    on_result: ResultCallback,
    on_skip: SkipCallback | None = None,
) -> BatchSummary:
    """Measure every entry and return a summary; `on_result` receives each measurement.

    At most `concurrency` URLs run their active steps at once (at most `per_host` per host);
    at most `IN_FLIGHT_PER_SLOT` × `concurrency` are in flight, counting those waiting out
    their capture window. No new URL starts after `max_runtime_s`; those already started
    finish within their budgets. Owns the tasks it starts and waits for all of them.
    """
    summary = BatchSummary()
    deadline = trio.current_time() + max_runtime_s if max_runtime_s else float("inf")
    host_limits: defaultdict[str, trio.CapacityLimiter] = defaultdict(
        lambda: trio.CapacityLimiter(per_host)
    )
    slots = max(1, concurrency)
    in_flight = trio.CapacityLimiter(slots * IN_FLIGHT_PER_SLOT)
    send, receive = trio.open_memory_channel[ListEntry](slots)

    async def feed() -> None:
        async with send:
            for entry in entries:
                if trio.current_time() >= deadline:
                    summary.not_started += 1
                    continue
                await send.send(entry)

    async def measure_one(
        entry: ListEntry, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Measure one entry; `task_status.started()` once its active steps end."""
        async with in_flight:
            measurement = await session.measure(
                entry.url, category_code=entry.category_code, on_steps_done=task_status.started
            )
            summary.measured += 1
            await on_result(measurement)

    async def work(inbox: trio.MemoryReceiveChannel[ListEntry], tails: trio.Nursery) -> None:
        """Hold one concurrency slot: run each entry's active steps, then hand it to `tails`."""
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
                    await tails.start(measure_one, entry)

    async with trio.open_nursery() as tails, trio.open_nursery() as nursery:
        nursery.start_soon(feed)
        async with receive:
            for _ in range(slots):
                nursery.start_soon(work, receive.clone(), tails)
    return summary
