"""The demo's pure parts: its test list, what its reports must say, and the comparison."""

from __future__ import annotations

import csv
from pathlib import Path

from lab.demo import DEMO_WORLD, CheckLine, check_reports, expected_report, write_test_lists
from lab.scenario import load_scenario


def test_the_test_list_holds_every_demo_url_once_in_citizen_lab_format(tmp_path: Path) -> None:
    scenario = load_scenario(DEMO_WORLD)
    root = write_test_lists(scenario, tmp_path)
    with (root / "lists" / "global.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [r["url"] for r in rows] == list(dict.fromkeys(e.url for e in scenario.expect))
    assert all(r["category_code"] for r in rows)


def test_expected_report_follows_the_censors_configuration() -> None:
    expected = expected_report(load_scenario(DEMO_WORLD))
    assert expected[("CN", "social.example.test")] == ("blocked", ("tls.reset",))
    assert expected[("IR", "social.example.test")] == ("not blocked", ())
    assert expected[("IR", "rights.example.test")] == ("blocked", ("dns.forged", "http.blockpage"))
    assert expected[("CN", "search.example.test")] == ("not blocked", ())
    assert {cc for cc, _ in expected} == {"CN", "IR"}


def test_a_report_must_have_the_verdict_and_at_least_the_methods() -> None:
    expected = {
        ("CN", "a.test"): ("blocked", ("tls.reset",)),
        ("CN", "b.test"): ("not blocked", ()),
    }
    good = {
        "CN": {
            "domains": [
                {
                    "domain": "a.test",
                    "verdict": "blocked",
                    "methods": {"tls.reset": 4, "dns.forged": 1},
                },
                {"domain": "b.test", "verdict": "not blocked", "methods": {}},
            ]
        }
    }
    assert all(line.passed for line in check_reports(expected, good))
    bad = {
        "CN": {
            "domains": [
                {"domain": "a.test", "verdict": "blocked", "methods": {"dns.forged": 1}},
            ]
        }
    }
    lines = check_reports(expected, bad)
    assert [line.passed for line in lines] == [False, False]
    assert lines[1] == CheckLine("CN", "b.test", "not blocked", "absent", (), ())
