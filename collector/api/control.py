"""The control (test helper) endpoint: POST a ControlRequest, get a ControlReply.

GET answers what the endpoint is. Concurrency is bounded: beyond the limit requests queue briefly,
then get 429 so a flood cannot exhaust the helper.
"""

from __future__ import annotations

import msgspec
import trio
from starlette.requests import Request
from starlette.responses import Response

from collector.control.helper import SOFTWARE_NAME, ControlHelper
from collector.core.errors import Overloaded
from collector.ingest.body import read_json
from probe.model import ControlRequest

MAX_REQUEST_BYTES = 64 * 1024
QUEUE_WAIT_S = 2.0
REQUEST_BUDGET_S = 60.0


class ControlEndpoint:
    """Serves `POST /api/v1/control` with a shared `ControlHelper` and a concurrency limit."""

    def __init__(
        self,
        helper: ControlHelper,
        *,
        max_concurrent: int = 32,
        body_threads: trio.CapacityLimiter | None = None,
    ) -> None:
        self.helper = helper
        self.limiter = trio.CapacityLimiter(max_concurrent)
        self.body_threads = trio.CapacityLimiter(2) if body_threads is None else body_threads
        """Bounds the worker threads that read request bodies (shared with the collector's)."""

    async def __call__(self, request: Request) -> Response:
        """Return the helper's reply, or a 4xx JSON error."""
        if request.method == "GET":
            body = {
                "service": SOFTWARE_NAME,
                "version": self.helper.config.software_version,
                "usage": "POST a JSON ControlRequest {url, addresses, ports}",
            }
            return Response(msgspec.json.encode(body), media_type="application/json")
        control_request = await read_json(
            request, ControlRequest, limit_bytes=MAX_REQUEST_BYTES, limiter=self.body_threads
        )
        with trio.move_on_after(QUEUE_WAIT_S) as waiting:
            await self.limiter.acquire()
        if waiting.cancelled_caught:
            raise Overloaded("the control is busy; retry in a few seconds")
        try:
            with trio.fail_after(REQUEST_BUDGET_S):
                reply = await self.helper.measure(control_request)
        finally:
            self.limiter.release()
        return Response(msgspec.json.encode(reply), media_type="application/json")
