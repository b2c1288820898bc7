"""Invariants of the rule table."""

from __future__ import annotations

from pathlib import Path

import pytest

from probe.analysis import RULES, method_for_failure
from probe.analysis.rules import FAILURE_METHODS, GENERIC_METHODS
from probe.model import Method

METHODOLOGY = Path(__file__).resolve().parents[3] / "docs" / "methodology.md"


def test_rule_ids_are_unique_and_every_rule_has_a_reason_and_a_weight() -> None:
    for rule_id, rule in RULES.items():
        assert rule.id == rule_id
        assert len(rule.why) > 30, rule_id
        assert 0 < rule.weight <= 1, rule_id


def test_every_method_can_be_produced_by_some_rule() -> None:
    produced = {r.method for r in RULES.values() if r.method is not None}
    for table in FAILURE_METHODS.values():
        produced |= set(table.values())
    produced |= set(GENERIC_METHODS.values())
    assert produced == set(Method)


def test_every_rule_has_a_section_in_the_methodology() -> None:
    text = METHODOLOGY.read_text()
    for rule_id in RULES:
        assert f"`{rule_id}`" in text, f"docs/methodology.md lacks a section for {rule_id}"


@pytest.mark.parametrize(
    ("stage", "failure", "method"),
    [
        ("tcp", "generic_timeout_error", Method.TCP_TIMEOUT),
        ("tcp", "connection_refused", Method.TCP_REFUSED),
        ("tcp", "host_unreachable", Method.TCP_UNREACHABLE),
        ("tcp", "unknown_failure: odd", Method.TCP_FAILURE),
        ("tls", "connection_reset", Method.TLS_RESET),
        ("tls", "eof_error", Method.TLS_EOF),
        ("tls", "ssl_failed_handshake", Method.TLS_FAILURE),
        ("http", "connection_reset", Method.HTTP_RESET),
        ("http", "eof_error", Method.HTTP_EOF),
        ("http", "generic_timeout_error", Method.HTTP_TIMEOUT),
        ("http", "http_request_failed", Method.HTTP_FAILURE),
    ],
)
def test_failure_strings_map_to_methods_by_stage(stage: str, failure: str, method: Method) -> None:
    assert method_for_failure(stage, failure) is method
