"""The measurement format: generated docs are fresh, every field is documented, records round-trip."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import msgspec
import pytest

from probe.identity import new_uid
from probe.model import Failure, Measurement, Method, is_failure_string, unknown_failure
from probe.model.failures import FAILURE_PATTERN
from probe.model.measurement import UID_PATTERN
from probe.model.schema import measurement_schema

ROOT = Path(__file__).resolve().parents[3]


def test_generated_schema_and_field_reference_are_fresh() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "generate_docs.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_every_field_of_every_record_has_a_description() -> None:
    defs = measurement_schema()["$defs"]
    missing = []
    for name, body in defs.items():
        for field, prop in body.get("properties", {}).items():
            described = prop.get("description") or any(
                p.get("description") for p in prop.get("anyOf", [])
            )
            is_record = "$ref" in prop or "$ref" in prop.get("items", {})
            if not described and not is_record:
                missing.append(f"{name}.{field}")
    assert not missing


def test_every_failure_string_is_documented() -> None:
    text = (ROOT / "docs" / "failures.md").read_text()
    for failure in Failure:
        assert f"`{failure.value}`" in text


def test_every_method_is_in_the_glossary() -> None:
    text = (ROOT / "docs" / "glossary.md").read_text()
    for method in Method:
        assert f"`{method.value}`" in text


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("connection_reset", True),
        ("unknown_failure: odd thing", True),
        ("unknown_failure: ", False),
        ("ConnectionResetError()", False),
        ("", False),
    ],
)
def test_failure_strings_belong_to_the_taxonomy(value: str, ok: bool) -> None:
    assert is_failure_string(value) is ok
    assert bool(re.match(FAILURE_PATTERN, value)) is ok


def test_unknown_failure_text_is_one_short_printable_line() -> None:
    text = unknown_failure("boom\n\x00" + "x" * 500)
    assert text.startswith("unknown_failure: boom")
    assert "\n" not in text and len(text) <= len("unknown_failure: ") + 120


def test_uids_are_uuid7_and_sort_by_time() -> None:
    first = new_uid(now_ns=1_700_000_000_000_000_000, random_bytes=b"\xff" * 10)
    second = new_uid(now_ns=1_700_000_000_001_000_000, random_bytes=b"\x00" * 10)
    assert re.match(UID_PATTERN, first) and re.match(UID_PATTERN, second)
    assert first < second


def test_decoding_rejects_unknown_fields_and_wrong_types() -> None:
    from tests.probe.analysis.build import healthy

    data = msgspec.to_builtins(healthy().build())
    assert msgspec.convert(data, Measurement) == healthy().build()
    with pytest.raises(msgspec.ValidationError, match="surprise"):
        msgspec.convert({**data, "surprise": 1}, Measurement)
    data["tcp"][0]["failure"] = "ConnectionRefusedError(111)"
    with pytest.raises(msgspec.ValidationError, match=r"tcp\[0\]\.failure"):
        msgspec.convert(data, Measurement)
