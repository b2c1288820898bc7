"""Pure tests of hostname normalisation."""

from __future__ import annotations

import pytest

from lab.servers.names import normalise_name, wildcard_parents

NAME_CASES = [
    ("lowercase", "WWW.Example.TEST", "www.example.test"),
    ("trailing-dot", "example.test.", "example.test"),
    ("unicode", "Bücher.example", "xn--bcher-kva.example"),
    ("a-label-kept", "XN--BCHER-KVA.example", "xn--bcher-kva.example"),
    ("ideographic-full-stop", "bücher。example", "xn--bcher-kva.example"),
    ("wildcard", "*.Bench.Test.", "*.bench.test"),
    ("unicode-wildcard", "*.bücher.test", "*.xn--bcher-kva.test"),
    ("underscore-label", "_dns.example.test", "_dns.example.test"),
    ("ipv4-literal", "192.0.2.1", "192.0.2.1"),
]


@pytest.mark.parametrize(
    ("name", "expected"), [c[1:] for c in NAME_CASES], ids=[c[0] for c in NAME_CASES]
)
def test_names_normalise_to_lowercase_a_labels(name: str, expected: str) -> None:
    assert normalise_name(name) == expected


@pytest.mark.parametrize("name", ["", ".", "a..test", "..", "*."], ids=repr)
def test_empty_names_and_labels_are_refused(name: str) -> None:
    with pytest.raises(ValueError):
        normalise_name(name)


def test_wildcard_parents_are_listed_closest_first() -> None:
    assert wildcard_parents("a.b.test") == ["*.b.test", "*.test"]
    assert wildcard_parents("test") == []
