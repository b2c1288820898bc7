"""The running collector's parts: storage, the group-commit writer, the analyser, GeoIP, rate
limits, metrics and the control helper, opened together and closed in order. It knows no HTTP:
the API's handlers are given a `Runtime`.

`open_runtime` is what the app's lifespan enters; the CLI's offline commands use the storage
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

from collector.analyse.analyser import Analyser, ReferenceSource
from collector.config import CollectorConfig
from collector.control.helper import ControlHelper
from collector.core.metrics import Metrics
from collector.core.ratelimit import RateLimiter
from collector.ingest.writer import IngestWriter
from collector.regional.model import ModelSettings
from collector.reports.cache import ReportCache
from collector.reports.gauges import ReportGauges
from collector.sources.export_slots import ExportSlots
from collector.sources.geoip import SourceLocator
from collector.sources.quota import DailyQuota
from collector.sources.uploaders import UploaderKeys, load_uploader_secret
from collector.storage import ThreadedStorage, database_url, open_backends, remove_leftovers
from collector.storage.retention import RawRetention

logger = logging.getLogger(__name__)

SHUTDOWN_GRACE_S = 10.0


@dataclass
class Runtime:
    """Everything a request handler may use."""

    config: CollectorConfig
    storage: ThreadedStorage
    writer: IngestWriter
    analyser: Analyser
    locator: SourceLocator
    metrics: Metrics
    request_limits: RateLimiter
    upload_limits: RateLimiter
    helper: ControlHelper
    """The control (test helper); the app serves it through `collector.api.control`."""
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
async def open_runtime(config: CollectorConfig) -> AsyncIterator[Runtime]:
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
                open_backends,
                config.store or database_url(config.database_path),
                config.read_store,
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
                    commit_window_s=limits.commit_window_ms / 1000,
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
                        yield Runtime(
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
                            helper=helper,
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
