"""Blocking figures for Prometheus dashboards: each country's blocked and mixed domains over the
default report window, refreshed in the background (a scrape never builds reports).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from datetime import datetime

import trio

from collector.config import utc_now
from collector.core.errors import CollectorError
from collector.core.metrics import Metrics
from collector.regional.model import ModelSettings
from collector.reports import build
from collector.reports.cache import ReportCache
from collector.storage import ThreadedStorage

logger = logging.getLogger(__name__)

FIRST_REFRESH_S = 5.0


class ReportGauges:
    """Keeps `crenel_report_domains{cc,verdict}` and `crenel_report_measurements{cc}` current."""

    def __init__(
        self,
        storage: ThreadedStorage,
        metrics: Metrics,
        interval_s: float,
        settings: ModelSettings,
        cache: ReportCache,
        *,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._clock = clock
        self._storage = storage
        self._cache = cache
        self._metrics = metrics
        self._interval_s = interval_s
        self._settings = settings

    async def refresh(self) -> int:
        """Rebuild the overview and set the gauges; return how many countries it covers."""
        now = self._clock()
        since, until = build.default_window(now.date())
        store = self._storage.backend
        overview = functools.partial(build.countries, report_of=self._cache.country_report)
        reply = await self._storage.read(overview, store, since, until, self._settings, now)
        metrics = self._metrics
        metrics.report_domains.clear()
        metrics.report_measurements.clear()
        for country in reply.countries:
            metrics.report_domains.labels(cc=country.cc, verdict="blocked").set(country.blocked)
            metrics.report_domains.labels(cc=country.cc, verdict="mixed").set(country.mixed)
            metrics.report_measurements.labels(cc=country.cc).set(country.measurements)
        metrics.report_refreshed.set(now.timestamp())
        return len(reply.countries)

    async def run(self, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Refresh shortly after start, then every interval, until cancelled."""
        task_status.started()
        await trio.sleep(min(FIRST_REFRESH_S, self._interval_s))
        while True:
            try:
                await self.refresh()
            except CollectorError as exc:
                logger.warning("report gauges not refreshed: %s", exc)
            await trio.sleep(self._interval_s)
