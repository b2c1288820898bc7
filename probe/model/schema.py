"""The measurement format's JSON Schema and its field reference, generated from the models.

Pure: returns text; writing the files under docs/ is `scripts/generate_docs.py`'s job.
"""

from __future__ import annotations

import json
from typing import Any

import msgspec

from probe.model.measurement import FORMAT_VERSION, Measurement

SCHEMA_ID = "https://crenel.example/schemas/measurement-v1.schema.json"


def measurement_schema() -> dict[str, Any]:
    """Return the JSON Schema (draft 2020-12) of a v1 measurement."""
    schema = msgspec.json.schema(Measurement)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": f"Crenel measurement, format {FORMAT_VERSION}",
        **schema,
    }


def render_schema() -> str:
    """Return the JSON Schema as stable, indented text."""
    return json.dumps(measurement_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _type_text(prop: dict[str, Any]) -> str:
    if "$ref" in prop:
        ref: str = prop["$ref"]
        return "`" + ref.rsplit("/", 1)[-1] + "`"
    if "anyOf" in prop:
        return " or ".join(_type_text(p) for p in prop["anyOf"])
    if "enum" in prop:
        return "one of " + ", ".join(f"`{v}`" for v in prop["enum"])
    if prop.get("format") == "date-time":
        return "RFC 3339 time"
    kind = prop.get("type", "any")
    if kind == "array":
        items = prop.get("items") or {}
        if "prefixItems" in prop:
            return "[" + ", ".join(_type_text(p) for p in prop["prefixItems"]) + "]"
        return "list of " + _type_text(items)
    if kind == "object" and "additionalProperties" in prop:
        return "map of " + _type_text(prop["additionalProperties"])
    return f"{kind}"


def render_field_reference() -> str:
    """Return a Markdown table per record type, listing every field with its type and meaning."""
    schema = measurement_schema()
    defs: dict[str, Any] = schema.get("$defs", {})
    lines: list[str] = []
    order = ["Measurement", *sorted(k for k in defs if k != "Measurement")]
    for name in order:
        body = defs[name]
        lines.append(f"### {name}")
        lines.append("")
        if body.get("description"):
            lines.append(body["description"])
            lines.append("")
        if "enum" in body:
            lines.append("Values: " + ", ".join(f"`{v}`" for v in body["enum"]))
            lines.append("")
            continue
        required = set(body.get("required", []))
        lines.append("| field | type | required | meaning |")
        lines.append("|---|---|---|---|")
        for field, prop in body.get("properties", {}).items():
            meaning = prop.get("description", "")
            if not meaning and "anyOf" in prop:
                meaning = next((p.get("description", "") for p in prop["anyOf"]), "")
            if "default" in prop and prop["default"] not in ([], {}):
                meaning = (meaning + f" Default `{json.dumps(prop['default'])}`.").strip()
            kind = _type_text(prop).replace("|", "\\|")
            req = "yes" if field in required else "no"
            meaning = meaning.replace("|", "\\|")
            lines.append(f"| `{field}` | {kind} | {req} | {meaning} |")
        lines.append("")
    return "\n".join(lines)
