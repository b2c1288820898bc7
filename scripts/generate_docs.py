"""Write the generated documentation: docs/measurement-v1.schema.json, the field reference in
docs/measurement-format.md (between its BEGIN/END markers) and the collector's docs/openapi.json.
`--check` fails if any of them is stale."""

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
BEGIN = "<!-- BEGIN GENERATED FIELD REFERENCE -->"
END = "<!-- END GENERATED FIELD REFERENCE -->"


def expected_format(current: str) -> str:
    """Return the format document with its generated section replaced."""
    head, _, rest = current.partition(BEGIN)
    _, _, tail = rest.partition(END)
    return f"{head}{BEGIN}\n\n{render_field_reference()}\n{END}{tail}"


def main() -> int:
    """Write or check the generated files; return the exit code."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    schema = render_schema()
    fmt = expected_format(FORMAT.read_text(encoding="utf-8"))
    openapi = render_openapi()
    if args.check:
        stale = [
            p.name
            for p, text in ((SCHEMA, schema), (FORMAT, fmt), (OPENAPI, openapi))
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
