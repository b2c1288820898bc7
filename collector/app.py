"""Build the collector's ASGI apps: routes, error handlers and lifespans.

`build_helper_app` serves only the control endpoint (`crenel-collector helper`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from collector.api.control import ControlEndpoint
from collector.api.errors import EXCEPTION_HANDLERS
from collector.control.helper import ControlHelper, HelperConfig

CONTROL_PATH = "/api/v1/control"


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
