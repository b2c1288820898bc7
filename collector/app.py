"""Build the collector's ASGI apps: routes, error handlers and lifespans.

`build_collector_app` serves the whole API (`crenel-collector serve`): its routes come from the
table in `collector.api.routes`, each wrapped with per-source rate limits, unknown-parameter
checks and metrics. `build_helper_app` serves only the control endpoint (`crenel-collector
helper`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import trio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from collector import dashboard
from collector.api import admin, checkin, ingest, query, reports, status
from collector.api.control import ControlEndpoint
from collector.api.errors import EXCEPTION_HANDLERS
from collector.api.params import check_known
from collector.api.routes import ALIASES, CONTROL_PATH, ENDPOINTS, Endpoint
from collector.config import CollectorConfig
from collector.control.helper import ControlHelper, HelperConfig
from collector.core.errors import CollectorError, RateLimited
from collector.runtime import Runtime, open_runtime

logger = logging.getLogger(__name__)

__all__ = ["CONTROL_PATH", "build_collector_app", "build_helper_app"]

Handler = Callable[[Runtime, Request], Awaitable[Response]]


HANDLERS: dict[str, Handler | None] = {
    "upload_measurements": ingest.upload,
    "search_measurements": query.search,
    "get_measurement": query.fetch,
    "aggregate_measurements": query.aggregate,
    "export_measurements": query.export,
    "check_in": checkin.check_in,
    "geolookup": checkin.geolookup,
    "fingerprint_set": checkin.fingerprint_set,
    "control": None,
    "control_info": None,
    "health": status.health,
    "metrics": status.metrics,
    "openapi": status.openapi,
    "reanalyse": admin.reanalyse,
    "import_test_lists": admin.import_test_lists,
    "report_countries": reports.countries,
    "report_country": reports.country,
    "report_domain": reports.domain,
    "report_changes": reports.changes,
}
"""The handler of every endpoint of the route table, by operation name (None: the control
endpoint, which the app serves with its own `ControlEndpoint`)."""


class _Running:
    """The collector of the app's lifespan and its control endpoint, once it has started."""

    collector: Runtime | None = None
    control: ControlEndpoint | None = None


def _limit(collector: Runtime, request: Request) -> None:
    if request.client is None:
        return
    wait = collector.request_limits.take(request.client.host, trio.current_time())
    if wait > 0:
        collector.metrics.rate_limited.inc()
        limit = collector.config.limits.requests_per_s
        raise RateLimited(
            f"more than {limit:g} requests per second from this source", retry_after_s=wait
        )


def _endpoint(
    endpoint: Endpoint, handler: Handler | None, running: _Running, label: str
) -> Callable[[Request], Awaitable[Response]]:
    allowed = endpoint.param_names

    async def handle(request: Request) -> Response:
        collector = running.collector
        assert collector is not None, "the lifespan has not started"
        metrics = collector.metrics
        started = time.perf_counter()
        status_code = 500
        try:
            if endpoint.rate_limited:
                _limit(collector, request)
            if endpoint.method == "GET":
                check_known(request.query_params, allowed)
            if handler is None:
                assert running.control is not None, "the lifespan has not started"
                response = await running.control(request)
            else:
                response = await handler(collector, request)
            status_code = response.status_code
            return response
        except CollectorError as exc:
            status_code = exc.status_code
            metrics.errors.labels(code=exc.code).inc()
            raise
        except Exception:
            logger.exception("unexpected error answering %s", label)
            raise
        finally:
            metrics.requests.labels(route=label, status=str(status_code)).inc()
            metrics.latency.labels(route=label).observe(time.perf_counter() - started)

    handle.__name__ = endpoint.name
    return handle


def build_collector_app(config: CollectorConfig) -> Starlette:
    """Return the collector app; its lifespan opens the store and starts the writer and analyser.

    `app.state.running.collector` is the running `Runtime` (tests wait on its analyser).
    """
    running = _Running()
    routes: list[BaseRoute] = []
    for endpoint in ENDPOINTS:
        handler = HANDLERS[endpoint.name]
        label = f"{endpoint.method} {endpoint.path}"
        route = _endpoint(endpoint, handler, running, label)
        routes.append(Route(endpoint.path, route, methods=[endpoint.method], name=endpoint.name))
        for alias, target in ALIASES.items():
            if target == endpoint.path:
                routes.append(Route(alias, route, methods=[endpoint.method]))

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with open_runtime(config) as collector:
            running.collector = collector
            running.control = ControlEndpoint(collector.helper, body_threads=collector.body_threads)
            try:
                yield
            finally:
                running.collector = None
                running.control = None

    routes.extend(dashboard.routes())
    app = Starlette(routes=routes, exception_handlers=EXCEPTION_HANDLERS, lifespan=lifespan)
    app.state.running = running
    return app


def build_helper_app(config: HelperConfig) -> Starlette:
    """Return the standalone control (test helper) app; it opens its clients in its lifespan."""
    endpoint_box: list[ControlEndpoint] = []

    async def control(request: Request) -> Response:
        return await endpoint_box[0](request)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with ControlHelper(config) as helper:
            endpoint_box.append(ControlEndpoint(helper))
            yield
            endpoint_box.clear()

    return Starlette(
        routes=[Route(CONTROL_PATH, control, methods=["GET", "POST"])],
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=lifespan,
    )
