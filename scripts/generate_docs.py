"""Write the generated documentation: docs/measurement-v1.schema.json, the field reference in
docs/measurement-format.md (between its BEGIN/END markers), the collector's docs/openapi.json and
the dashboard's copy of the regional-verdict methodology (collector/dashboard/static/
methodology.md, from docs/methodology.md). `--check` fails if any of them is stale."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from collector.api.openapi import render_openapi
from probe.model.schema import render_field_reference, render_schema

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT / "docs" / "measurement-v1.schema.json"
FORMAT = ROOT / "docs" / "measurement-format.md"
OPENAPI = ROOT / "docs" / "openapi.json"
METHODOLOGY = ROOT / "docs" / "methodology.md"
DASHBOARD_METHODOLOGY = ROOT / "collector" / "dashboard" / "static" / "methodology.md"
REGIONAL = "## Regional verdicts (collector)"
BEGIN = "<!-- BEGIN GENERATED FIELD REFERENCE -->"
END = "<!-- END GENERATED FIELD REFERENCE -->"


def expected_format(current: str) -> str:
    """Return the format document with its generated section replaced."""
    head, _, rest = current.partition(BEGIN)
    _, _, tail = rest.partition(END)
    return f"{head}{BEGIN}\n\n{render_field_reference()}\n{END}{tail}"


def regional_methodology(text: str) -> str:
    """Return the "Regional verdicts" section of docs/methodology.md (to its next `## `)."""
    _, found, rest = text.partition(REGIONAL)
    if not found:
        raise SystemExit(f"docs/methodology.md has no {REGIONAL!r} section")
    body = rest.split("\n## ", 1)[0]
    return f"{REGIONAL}{body.rstrip()}\n"


def main() -> int:
    """Write or check the generated files; return the exit code."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    schema = render_schema()
    fmt = expected_format(FORMAT.read_text(encoding="utf-8"))
    openapi = render_openapi()
    regional = regional_methodology(METHODOLOGY.read_text(encoding="utf-8"))
    if args.check:
        stale = [
            p.name
            for p, text in (
                (SCHEMA, schema),
                (FORMAT, fmt),
                (OPENAPI, openapi),
                (DASHBOARD_METHODOLOGY, regional),
            )
            if not p.exists() or p.read_text(encoding="utf-8") != text
        ]
        if stale:
            print(
                f"stale generated docs: {', '.join(stale)}; run scripts/generate_docs.py",
                file=sys.stderr,
            )
            return 1
        return 0
    SCHEMA.write_text(schema, encoding="utf-8")
    FORMAT.write_text(fmt, encoding="utf-8")
    OPENAPI.write_text(openapi, encoding="utf-8")
    DASHBOARD_METHODOLOGY.write_text(regional, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
