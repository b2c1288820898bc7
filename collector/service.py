"""The running collector: storage, the group-commit writer, the analyser, GeoIP, rate limits,
metrics and the control helper, opened together and closed in order.

`open_collector` is what the app's lifespan enters; the CLI's offline commands use the storage
alone. On exit, uploads already queued are committed before the database is closed.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import trio

from collector.api.control import ControlEndpoint
from collector.config import CollectorConfig
from collector.control.helper import ControlHelper
from collector.export_slots import ExportSlots
from collector.geoip import SourceLocator
from collector.metrics import Metrics
from collector.quota import DailyQuota
from collector.ratelimit import RateLimiter
from collector.reanalyse import Analyser, ReferenceSource
from collector.regional import ModelSettings
from collector.report_gauges import ReportGauges
from collector.reports.cache import ReportCache
from collector.retention import RawRetention
from collector.storage import DuckDBStorage, ThreadedStorage, remove_leftovers
from collector.uploaders import UploaderKeys, load_uploader_secret
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
    exports: ExportSlots
    quotas: DailyQuota
    retention: RawRetention
    uploaders: UploaderKeys
    body_threads: trio.CapacityLimiter
    """Bounds the worker threads that decode and parse request bodies."""


def reference_source(config: CollectorConfig) -> ReferenceSource:
    """Return where the collector's analysis reference data comes from."""
    return ReferenceSource(
        fingerprint_paths=config.fingerprint_paths,
        fingerprint_set_path=config.fingerprint_set_path,
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
    uploaders = UploaderKeys(
        await trio.to_thread.run_sync(load_uploader_secret, config.data_dir),
        config.trusted_uploaders,
    )
    with SourceLocator(config.geoip_paths) as locator:
        await trio.to_thread.run_sync(remove_leftovers, config.data_dir, config.database_path)
        store = await trio.to_thread.run_sync(
            functools.partial(
                DuckDBStorage,
                config.database_path,
                memory_mb=limits.db_memory_mb,
                threads=limits.db_threads,
            )
        )
        try:
            storage = ThreadedStorage(store, read_threads=limits.read_threads)
            with Analyser(
                storage,
                reference_source(config),
                metrics,
                workers=config.analysis_workers,
                clock=config.clock,
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
                        storage,
                        metrics,
                        limits.report_gauges_s,
                        ModelSettings(count_contradicted=config.count_contradicted),
                        reports,
                        clock=config.clock,
                    )
                    await nursery.start(gauges.run)
                    retention = RawRetention(storage, config.raw_retention_days)
                    await nursery.start(retention.run)
                    try:
                        yield Collector(
                            config=config,
                            storage=storage,
                            writer=writer,
                            analyser=analyser,
                            locator=locator,
                            metrics=metrics,
                            request_limits=RateLimiter(
                                limits.requests_per_s,
                                limits.requests_burst,
                                key=key,
                                ipv6_prefix=limits.ipv6_prefix,
                            ),
                            upload_limits=RateLimiter(
                                limits.measurements_per_s,
                                limits.measurements_burst,
                                key=key,
                                ipv6_prefix=limits.ipv6_prefix,
                            ),
                            retention=retention,
                            quotas=DailyQuota(
                                measurements_per_day=limits.quota_measurements_per_day,
                                bytes_per_day=limits.quota_bytes_per_day,
                            ),
                            control=ControlEndpoint(helper, body_threads=body_threads),
                            reports=reports,
                            exports=ExportSlots(
                                per_source=limits.exports_per_source, total=limits.exports_total
                            ),
                            uploaders=uploaders,
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
