"""The text a fingerprint's regular expression requires: a page without it is not searched, so
it must be in every text the expression matches, or a blockpage would go unnoticed."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from probe.analysis import Fingerprint, parse_censoredplanet_jsonl
from probe.analysis.fingerprint_index import RequiredText, has_top_level_branch, required_text_of
from probe.references import bundled_set

SHIPPED_REGEXES = [fp for fp in bundled_set().fingerprints if fp.regex is not None]


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("<title>D.*Marie</title>", RequiredText("<title>D", False)),
        (
            "(?im)^X-Amzn-Waf-Action:\\s*(captcha|challenge)",
            RequiredText("x-amzn-waf-action:", True),
        ),
        ("(?i)checking (if|your)", RequiredText("checking ", True)),
        ("scout\\.js?", RequiredText("scout.j", False)),
        ("ab+c", RequiredText("a", False)),
        ("ab{2}", RequiredText("a", False)),
        ("U\\.S\\..*Command", RequiredText("U.S.", False)),
        ("abc\\d+", RequiredText("abc", False)),
        ("(?i)Доступ.*", None),  # ignoring case beyond ASCII: not lowered here
        ("Доступ.*закрыт", RequiredText("Доступ", False)),
        ("Blocked by .*|Denied", None),  # either branch alone matches
        ('{"msg":.*', None),
        ("(?x)a b", None),  # verbose: spaces are not literal
        ("\\d+ blocked", None),
        ("a\\", None),
    ],
)
def test_required_text_opens_the_pattern(pattern: str, expected: RequiredText | None) -> None:
    assert required_text_of(pattern) == expected


def test_a_bar_inside_a_group_or_class_is_no_top_level_branch() -> None:
    assert not has_top_level_branch("a(b|c)d")
    assert not has_top_level_branch("a[|]d")
    assert not has_top_level_branch("a[]|]d")
    assert not has_top_level_branch("a\\|d")
    assert has_top_level_branch("a(b)|d")
    assert has_top_level_branch("[ab]|c")


def test_a_text_without_the_required_text_is_not_searched() -> None:
    (fp,) = parse_censoredplanet_jsonl(
        '{"fingerprint": "a_waf", "pattern": "(?im)^x-amzn-waf-action:\\\\s*captcha"}\n', "t"
    )
    assert fp.required == RequiredText("x-amzn-waf-action:", True)
    assert fp.matches("HTTP/1.1 200\r\nX-Amzn-WAF-Action: captcha\r\n")
    assert not fp.matches("HTTP/1.1 200\r\nX-Amzn-WAF-Action: allow\r\n")
    assert not fp.matches("HTTP/1.1 200\r\nServer: x\r\n")
    # A text that is not ASCII is searched by the expression itself (re folds more cases).
    assert fp.matches("HTTP/1.1 200\r\nX-Amzn-WAF-Action: captcha é\r\n")


def test_most_shipped_regexes_require_a_text() -> None:
    required = [fp for fp in SHIPPED_REGEXES if fp.required is not None]
    assert len(required) > 0.8 * len(SHIPPED_REGEXES)


@pytest.mark.parametrize("fp", SHIPPED_REGEXES, ids=lambda fp: fp.name)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_text_a_shipped_regex_matches_is_matched(
    fp: Fingerprint, data: st.DataObject
) -> None:
    assert fp.regex is not None
    found = data.draw(st.from_regex(fp.regex))
    assert fp.regex.search(found) is not None
    assert fp.matches(found), (fp.pattern, found)
    for around in (f"<html>\n{found}\n</html>", found[1:], found[:-1], found.upper()):
        assert fp.matches(around) is (fp.regex.search(around) is not None), (fp.pattern, around)


@given(text=st.text(alphabet=st.sampled_from("abcXY. -:<>\u017fK\u0130"), max_size=40))
@settings(max_examples=300, deadline=None)
def test_matching_with_the_required_text_is_matching_without(text: str) -> None:
    pattern = "(?i)ab.*c"
    compiled = re.compile(pattern, re.DOTALL)
    (fp,) = parse_censoredplanet_jsonl(f'{{"fingerprint": "a_x", "pattern": "{pattern}"}}\n', "t")
    assert fp.matches(text) is (compiled.search(text) is not None)
