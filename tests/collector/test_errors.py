"""Every error code the collector can answer is documented in docs/errors.md."""

from __future__ import annotations

from pathlib import Path

from collector.core import errors

DOCS = Path(__file__).resolve().parents[2] / "docs" / "errors.md"


def test_every_error_code_is_in_docs_errors_md() -> None:
    text = DOCS.read_text(encoding="utf-8")
    classes = [
        c
        for c in vars(errors).values()
        if isinstance(c, type) and issubclass(c, errors.CollectorError)
    ]
    assert len(classes) > 10
    for kind in classes:
        assert f"| {kind.status_code} | `{kind.code}` |" in text, kind.__name__
