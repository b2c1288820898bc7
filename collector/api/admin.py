"""Admin actions over HTTP, for a running collector: re-analysis and test-list import.

Each needs `Authorization: Bearer <admin token>`; without a configured token they are disabled
(the CLI can still do them on a stopped collector's data directory).
"""

from __future__ import annotations

import hmac

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from collector.api.schemas import (
    ReanalyseReply,
    ReanalyseRequest,
    TestListImport,
    TestListImportReply,
)
from collector.core.errors import AdminDisabled, Unauthorized
from collector.ingest.body import read_json
from collector.runtime import Runtime

MAX_ADMIN_BODY_BYTES = 64 << 20


def require_admin(collector: Runtime, request: Request) -> None:
    """Refuse the request unless it carries the admin token.

    Raises:
        AdminDisabled: no token is configured.
        Unauthorized: the token is missing or wrong.
    """
    token = collector.config.admin_token
    if token is None:
        raise AdminDisabled()
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip(), token):
        raise Unauthorized()


async def reanalyse(collector: Runtime, request: Request) -> Response:
    """Flag measurements for the analyser; return how many."""
    require_admin(collector, request)
    wanted = await read_json(
        request,
        ReanalyseRequest,
        limit_bytes=4096,
        limiter=collector.body_threads,
        empty=ReanalyseRequest(),
    )
    flagged = await collector.analyser.request(everything=wanted.everything)
    reply = ReanalyseReply(
        flagged=flagged,
        rules_version=collector.analyser.rules_version,
        reference_digest=collector.analyser.reference_digest,
    )
    return Response(msgspec.json.encode(reply), media_type="application/json")


async def import_test_lists(collector: Runtime, request: Request) -> Response:
    """Replace the stored test lists with the posted ones."""
    require_admin(collector, request)
    lists = await read_json(
        request, TestListImport, limit_bytes=MAX_ADMIN_BODY_BYTES, limiter=collector.body_threads
    )
    store = collector.storage.backend
    stored = await collector.storage.write(store.replace_test_lists, lists.urls, lists.origin)
    return Response(
        msgspec.json.encode(TestListImportReply(stored=stored)), media_type="application/json"
    )
