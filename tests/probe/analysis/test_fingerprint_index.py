"""The index that picks which fingerprints to match: it never rules out one that matches, so
matching through it finds exactly what matching every fingerprint one by one finds."""

from __future__ import annotations

import re
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from probe.analysis import Fingerprint, FingerprintSet, parse_censoredplanet_jsonl
from probe.analysis.fingerprint_index import (
    CandidateIndex,
    inner_words,
    plain_text_of,
    plain_texts_of,
)
from probe.model import FingerprintMatch
from probe.references import bundled_set

SHIPPED = bundled_set().fingerprints
SHIPPED_SET = FingerprintSet(SHIPPED)
HEADERS = [("Content-Type", "text/html"), ("Server", "lab")]


def one_by_one(
    fingerprints: Sequence[Fingerprint],
    status_code: int,
    headers: list[tuple[str, str]],
    body: str,
) -> list[tuple[str, bool]]:
    """Return what matching every fingerprint finds: false positives if any, else blockpages
    (the rule `FingerprintSet.match_response` keeps), as (name, is_false_positive)."""
    head = "".join(f"{name}: {value}\r\n" for name, value in headers)
    whole = f"HTTP/1.1 {status_code}\r\n{head}\r\n{body}"
    lowered = [(name.lower(), value) for name, value in headers]

    def texts(location: str) -> list[str]:
        if location == "body":
            return [body]
        if location == "response":
            return [whole]
        wanted = location.removeprefix("header.")
        return [value for name, value in lowered if name == wanted]

    for is_false_positive in (True, False):
        found = [
            (fp.name, fp.is_false_positive)
            for fp in fingerprints
            if fp.is_false_positive is is_false_positive
            and fp.location != "dns"
            and any(fp.matches(text) for text in texts(fp.location))
        ]
        if found:
            return found
    return []


def names(matches: list[FingerprintMatch]) -> list[tuple[str, bool]]:
    return [(m.name, m.is_false_positive) for m in matches]


@pytest.mark.parametrize(
    ("pattern", "text"),
    [
        (r"fortinet\.net", "fortinet.net"),
        ("<title>Blocked</title>", "<title>Blocked</title>"),
        (r"Access denied \(403\)", "Access denied (403)"),
        (r"caf\é", "café"),
        ("a.b", None),
        (r"\d+ blocked", None),
        (r"back\1", None),
        ("(?i)blocked", None),
        ("[Bb]locked", None),
        ("blocked|denied", None),
        ("ends in a backslash\\", None),
    ],
    ids=["escaped-dot", "tags", "escaped-parens", "escaped-non-ascii", "any-char", "class",
         "backreference", "inline-flag", "set", "alternation", "trailing-backslash"],
)  # fmt: skip
def test_plain_text_is_found_only_where_the_pattern_is_plain(
    pattern: str, text: str | None
) -> None:
    assert plain_text_of(pattern) == text
    if text is not None:
        assert re.fullmatch(pattern, text, re.DOTALL) is not None


def test_plain_branches_are_each_plain_text() -> None:
    fp = parse_censoredplanet_jsonl(
        '{"fingerprint": "a_x", "pattern": "<b>Stop | blocked</b>|Access \\\\| denied"}\n', "t"
    )[0]
    assert plain_texts_of(fp) == ["<b>Stop ", " blocked</b>", "Access | denied"]


def test_every_shipped_plain_text_is_what_its_regex_matches() -> None:
    plain = 0
    for fp in SHIPPED:
        texts = plain_texts_of(fp)
        if texts is None:
            continue
        plain += 1
        compiled = re.compile(fp.pattern, re.DOTALL)
        for text in texts:
            assert compiled.search(text) is not None, fp.name
        if len(texts) == 1:
            # Never compiled: matched as the text itself.
            assert fp.regex is None and fp.plain_text == texts[0]
            assert fp.matches(f"x{texts[0]}y") and not fp.matches(texts[0][:-1])
    # The index is worth having: almost every shipped signature is plain.
    assert plain > 0.9 * len(SHIPPED)


def test_only_words_inside_a_text_key_it() -> None:
    assert inner_words("Server: Barracuda/NGFirewall") == ["Barracuda"]
    assert inner_words("fortinet.net") == []


def test_an_unkeyed_fingerprint_is_always_a_candidate() -> None:
    fps = parse_censoredplanet_jsonl(
        '{"fingerprint": "a_plain", "pattern": "<h1>Web Page Blocked</h1>"}\n'
        '{"fingerprint": "a_regex", "pattern": "Blocked by .* policy"}\n'
        '{"fingerprint": "a_edge", "pattern": "fortinet\\\\.net"}\n',
        "t",
    )
    index = CandidateIndex(fps)
    assert index.candidates(lambda _location: set()) == [1, 2]
    assert index.candidates(lambda _location: {"Blocked"}) == [0, 1, 2]
    assert index.candidates(lambda _location: {"Page", "Web"}) == [1, 2]


def test_every_shipped_fingerprint_is_found_in_a_page_that_holds_its_text() -> None:
    for position, fp in enumerate(SHIPPED):
        texts = plain_texts_of(fp)
        if texts is None or fp.location != "response":
            continue
        body = f"<html><body><p>before {texts[-1]} after</p></body></html>"
        found = names(SHIPPED_SET.match_response(200, HEADERS, body))
        assert found == one_by_one(SHIPPED, 200, HEADERS, body), (position, fp.name)
        if not fp.is_false_positive and not any(is_fp for _, is_fp in found):
            assert (fp.name, False) in found


FRAGMENTS = st.sampled_from(
    [fp.pattern.replace("\\", "")[:40] for fp in SHIPPED[::7]]
    + [" ", "<p>", "</title>", "Server: ", "\r\n", "blocked", "ǅ", "_x_", "1.2.3.4"]
)


@settings(max_examples=150, deadline=None)
@given(
    parts=st.lists(FRAGMENTS, max_size=6),
    header_value=st.text(max_size=30),
    status=st.sampled_from([200, 302, 403]),
)
def test_matching_through_the_index_finds_what_matching_one_by_one_finds(
    parts: list[str], header_value: str, status: int
) -> None:
    body = "".join(parts)
    headers = [("Server", header_value), *HEADERS]
    assert names(SHIPPED_SET.match_response(status, headers, body)) == one_by_one(
        SHIPPED, status, headers, body
    )
