"""Parsing URL lists."""

from __future__ import annotations

from pathlib import Path

import pytest

from probe.errors import BadInputError
from probe.testlists import ListEntry, parse_url_list


def test_citizen_lab_csv_gives_urls_and_categories() -> None:
    text = (
        "url,category_code,category_description,date_added,source,notes\n"
        'http://a.test/,NEWS,"News, media",2020-01-01,x,\n'
        'https://b.test/,HUMR,Human rights,2020-01-01,x,"a, b"\n'
        "http://a.test/,NEWS,dup,2020-01-01,x,\n"
    )
    assert parse_url_list(text, "l.csv") == [
        ListEntry("http://a.test/", "NEWS"),
        ListEntry("https://b.test/", "HUMR"),
    ]


def test_plain_lists_skip_comments_and_blanks() -> None:
    assert parse_url_list("# mine\n\nhttp://a.test/\n  https://b.test/  \n", "l.txt") == [
        ListEntry("http://a.test/"),
        ListEntry("https://b.test/"),
    ]


def test_empty_list_is_bad_input() -> None:
    with pytest.raises(BadInputError, match="no URLs"):
        parse_url_list("# nothing\n", "l.txt")


def test_the_real_citizen_lab_lists_parse(shared_data: Path) -> None:
    entries = parse_url_list((shared_data / "test-lists" / "cn.csv").read_text(), "cn.csv")
    assert len(entries) > 500 and all(e.category_code for e in entries)
