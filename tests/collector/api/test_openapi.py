"""The OpenAPI document: generated from the route table, served, committed, and complete."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import trio
from starlette.routing import Route

from collector.api.openapi import openapi_document, render_openapi
from collector.api.routes import ENDPOINTS
from collector.app import HANDLERS, build_collector_app
from tests.collector.running import collector_config, start_collector

DOCS = Path(__file__).resolve().parents[3] / "docs" / "openapi.json"


def test_the_committed_openapi_json_is_fresh() -> None:
    assert DOCS.read_text(encoding="utf-8") == render_openapi(), (
        "docs/openapi.json is stale: run .venv/bin/python scripts/generate_docs.py"
    )


def test_every_route_of_the_app_is_documented_and_has_a_handler(tmp_path: Path) -> None:
    app = build_collector_app(collector_config(tmp_path))
    served = {
        (method, route.path)
        for route in app.routes
        if isinstance(route, Route) and route.path.startswith("/api/")
        for method in (route.methods or set()) - {"HEAD"}
    }
    documented = {(e.method, e.path) for e in ENDPOINTS}
    assert served == documented
    assert set(HANDLERS) == {e.name for e in ENDPOINTS}
    assert len({e.name for e in ENDPOINTS}) == len(ENDPOINTS)


def test_every_documented_error_reply_and_schema_reference_resolves() -> None:
    document = openapi_document()
    schemas = document["components"]["schemas"]
    text = json.dumps(document)
    for name in {part.split('"')[0] for part in text.split("#/components/schemas/")[1:]}:
        assert name in schemas, name
    assert "Measurement" in schemas and "ErrorReply" in schemas
    ingest = document["paths"]["/api/v1/measurements"]["post"]
    assert set(ingest["requestBody"]["content"]) == {"application/json", "application/x-ndjson"}
    assert {"200", "400", "413", "415", "422", "429", "503"} <= set(ingest["responses"])


async def test_the_served_document_is_the_committed_one(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    running = await start_collector(nursery, tmp_path)
    async with httpx.AsyncClient(base_url=running.api) as client:
        served = (await client.get("/openapi.json")).json()
    assert served == json.loads(DOCS.read_text(encoding="utf-8"))
