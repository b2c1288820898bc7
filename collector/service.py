"""The running collector: storage, the group-commit writer, the analyser, GeoIP, rate limits,
metrics and the control helper, opened together and closed in order.

`open_collector` is what the app's lifespan enters; the CLI's offline commands use the storage
alone. On exit, uploads already queued are committed before the database is closed.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import trio

from collector.api.control import ControlEndpoint
from collector.config import CollectorConfig
from collector.control.helper import ControlHelper
from collector.geoip import SourceLocator
from collector.metrics import Metrics
from collector.ratelimit import RateLimiter
from collector.reanalyse import Analyser, ReferenceSource
from collector.regional import ModelSettings
from collector.report_gauges import ReportGauges
from collector.reports.cache import ReportCache
from collector.storage import DuckDBStorage, ThreadedStorage
from collector.writer import IngestWriter

logger = logging.getLogger(__name__)

SHUTDOWN_GRACE_S = 10.0


@dataclass
class Collector:
    """Everything a request handler may use."""

    config: CollectorConfig
    storage: ThreadedStorage
    writer: IngestWriter
    analyser: Analyser
    locator: SourceLocator
    metrics: Metrics
    request_limits: RateLimiter
    upload_limits: RateLimiter
    control: ControlEndpoint
    reports: ReportCache
    body_threads: trio.CapacityLimiter
    """Bounds the worker threads that decode and parse request bodies."""


def reference_source(config: CollectorConfig) -> ReferenceSource:
    """Return where the collector's analysis reference data comes from."""
    return ReferenceSource(
        fingerprint_paths=config.fingerprint_paths,
        public_networks=config.public_networks,
        throttle_kbps=config.throttle_kbps,
    )


@asynccontextmanager
async def open_collector(config: CollectorConfig) -> AsyncIterator[Collector]:
    """Open the store and start the writer and analyser tasks; close everything on exit.

    Raises:
        ConfigInvalid: a GeoIP or fingerprint file cannot be used.
        DataDirLocked: another collector owns the data directory.
        StorageUnavailable: the database cannot be opened or migrated.
    """
    metrics = Metrics()
    limits = config.limits
    key = os.urandom(16)
    with SourceLocator(config.geoip_paths) as locator:
        store = await trio.to_thread.run_sync(DuckDBStorage, config.database_path)
        try:
            storage = ThreadedStorage(store, read_threads=limits.read_threads)
            with Analyser(
                storage, reference_source(config), metrics, workers=config.analysis_workers
            ) as analyser:
                writer = IngestWriter(
                    storage,
                    metrics,
                    queue_rows=limits.queue_rows,
                    commit_rows=limits.commit_rows,
                    queue_wait_s=limits.queue_wait_s,
                    on_commit=analyser.offer,
                )
                async with ControlHelper(config.helper) as helper, trio.open_nursery() as nursery:
                    writer_done = trio.Event()

                    async def write() -> None:
                        try:
                            await writer.run()
                        finally:
                            writer_done.set()

                    nursery.start_soon(write)
                    await nursery.start(analyser.run)
                    body_threads = trio.CapacityLimiter(limits.body_threads)
                    reports = ReportCache(
                        limits.report_cache_bytes,
                        record=lambda how: metrics.report_answers.labels(answer=how).inc(),
                    )
                    gauges = ReportGauges(
                        storage, metrics, limits.report_gauges_s, ModelSettings(), reports
                    )
                    await nursery.start(gauges.run)
                    try:
                        yield Collector(
                            config=config,
                            storage=storage,
                            writer=writer,
                            analyser=analyser,
                            locator=locator,
                            metrics=metrics,
                            request_limits=RateLimiter(
                                limits.requests_per_s, limits.requests_burst, key=key
                            ),
                            upload_limits=RateLimiter(
                                limits.measurements_per_s, limits.measurements_burst, key=key
                            ),
                            control=ControlEndpoint(helper, body_threads=body_threads),
                            reports=reports,
                            body_threads=body_threads,
                        )
                    finally:
                        with trio.move_on_after(SHUTDOWN_GRACE_S, shield=True):
                            await writer.close()
                            await writer_done.wait()
                        nursery.cancel_scope.cancel()
        finally:
            with trio.CancelScope(shield=True):
                await trio.to_thread.run_sync(store.close)
