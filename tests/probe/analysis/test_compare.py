"""OONI-compatible HTTP comparison."""

from __future__ import annotations

import pytest

from probe.analysis.addresses import BogonPolicy
from probe.analysis.compare import (
    body_proportion,
    headers_match,
    is_diff,
    status_code_match,
    title_match,
)
from probe.model import HttpComparison


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [(100, 100, 1.0), (70, 100, 0.7), (100, 0, None), (0, 5, None)],
)
def test_body_proportion(a: int, b: int, expected: float | None) -> None:
    assert body_proportion(a, b) == expected


def test_status_mismatch_against_a_failing_control_is_not_comparable() -> None:
    assert status_code_match(200, 200) is True
    assert status_code_match(403, 200) is False
    assert status_code_match(200, 503) is None


def test_headers_match_on_shared_uncommon_names_only() -> None:
    assert headers_match([("X-Thing", "1"), ("Date", "x")], [("x-thing", "2")]) is True
    assert (
        headers_match([("Date", "x"), ("Server", "a")], [("Server", "b"), ("Vary", "*")]) is False
    )
    assert headers_match([("Date", "x")], [("date", "y")]) is True


def test_title_match_needs_every_long_word() -> None:
    assert title_match("Example News Today", "example news today") is True
    assert title_match("Access Denied", "Example News Today") is False
    assert title_match(None, "Example") is None


def test_diff_follows_oonis_rule() -> None:
    assert (
        is_diff(
            HttpComparison(
                status_code_match=True,
                body_length_match=False,
                headers_match=False,
                title_match=True,
            )
        )
        is False
    )
    assert (
        is_diff(
            HttpComparison(
                status_code_match=True,
                body_length_match=False,
                headers_match=False,
                title_match=False,
            )
        )
        is True
    )
    assert is_diff(HttpComparison(status_code_match=False)) is True
    assert is_diff(HttpComparison(status_code_match=None)) is None


def test_bogon_policy_honours_public_exceptions() -> None:
    default, lab = BogonPolicy(), BogonPolicy(public_networks=("198.51.100.0/24",))
    assert default.is_bogon("198.51.100.7") and not lab.is_bogon("198.51.100.7")
    assert lab.is_bogon("127.0.0.2") and lab.is_bogon("10.10.34.35") and lab.is_bogon("not-an-ip")
    assert not default.is_bogon("8.8.8.8")
    assert default.is_bogon("::ffff:10.0.0.1") and not default.is_bogon("2606:4700::1")
