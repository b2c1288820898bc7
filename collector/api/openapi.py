"""Generate the OpenAPI 3.1 document from the route table and the msgspec schemas.

Pure: returns data and text. Starlette has no generator of its own, and the format is msgspec
records, so the schemas come from `msgspec.json.schema_components`; `scripts/generate_docs.py`
writes docs/openapi.json and `--check` fails when it is stale.
"""

from __future__ import annotations

import json
from typing import Any

import msgspec

from collector.api.routes import ENDPOINTS, NDJSON, Endpoint
from collector.api.schemas import ErrorReply
from probe.model import FORMAT_VERSION

REF = "#/components/schemas/{name}"
API_VERSION = "1.0.0"
"""The API's version, not the package's, so docs/openapi.json only changes with the API."""


def _types() -> list[Any]:
    found: list[Any] = [ErrorReply]
    for endpoint in ENDPOINTS:
        candidates = [endpoint.body] + [reply.body for reply in endpoint.replies]
        for kind in candidates:
            if kind is not None and kind not in found:
                found.append(kind)
    return found


def _operation(endpoint: Endpoint, refs: dict[Any, dict[str, Any]]) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": endpoint.name,
        "summary": endpoint.summary,
        "tags": [endpoint.tag],
    }
    if endpoint.params:
        operation["parameters"] = [
            {
                "name": p.name,
                "in": p.location,
                "required": p.required or p.location == "path",
                "description": p.description,
                "schema": p.schema,
            }
            for p in endpoint.params
        ]
    if endpoint.body is not None:
        content: dict[str, Any] = {}
        for media in endpoint.body_media_types:
            if media == NDJSON:
                content[media] = {
                    "schema": {
                        "type": "string",
                        "description": "One measurement (JSON, as the application/json body) "
                        "per line.",
                    }
                }
            else:
                content[media] = {"schema": refs[endpoint.body]}
        operation["requestBody"] = {"required": not endpoint.admin, "content": content}
    responses: dict[str, Any] = {}
    for reply in endpoint.replies:
        entry: dict[str, Any] = {"description": reply.description}
        if reply.body is not None:
            entry["content"] = {reply.media_type: {"schema": refs[reply.body]}}
        elif reply.media_type != "application/json":
            entry["content"] = {reply.media_type: {"schema": {"type": "string"}}}
        responses[str(reply.status)] = entry
    operation["responses"] = responses
    if endpoint.admin:
        operation["security"] = [{"adminToken": []}]
    return operation


def openapi_document() -> dict[str, Any]:
    """Return the OpenAPI document of the collector's API."""
    types = _types()
    refs_list, components = msgspec.json.schema_components(types, ref_template=REF)
    refs = dict(zip(types, refs_list, strict=True))
    paths: dict[str, dict[str, Any]] = {}
    for endpoint in ENDPOINTS:
        paths.setdefault(endpoint.path, {})[endpoint.method.lower()] = _operation(endpoint, refs)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Crenel collector API",
            "version": API_VERSION,
            "description": (
                "Uploads from probes, check-in, the control (test helper), and the researcher "
                f"API over stored measurements (format {FORMAT_VERSION}). Errors are JSON "
                "`{error, detail, field?, line?}`; codes are listed in docs/errors.md."
            ),
        },
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {"adminToken": {"type": "http", "scheme": "bearer"}},
        },
    }


def render_openapi() -> str:
    """Return the OpenAPI document as stable, indented JSON text."""
    return json.dumps(openapi_document(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
