"""Parsing and matching of OONI and Censored Planet fingerprints."""

from __future__ import annotations

from pathlib import Path

import pytest

from probe.analysis import (
    FingerprintError,
    FingerprintSet,
    parse_censoredplanet_jsonl,
    parse_ooni_csv,
)

HEADER = "name,scope,other_names,location_found,pattern_type,pattern,confidence_no_fp,expected_countries,source,exp_url,notes\n"


def test_ooni_rows_match_by_location_and_pattern_type() -> None:
    fps = parse_ooni_csv(
        HEADER
        + "body_c,nat,,body,contains,blocked by law,1,,,,\n"
        + "body_p,isp,,body,prefix,<html><b>STOP,1,,,,\n"
        + "hdr,isp,,header.location,full,http://warning.test/,1,,,,\n"
        + "rx,prod,,header.server,regexp,^Fort[iI]Gate,1,,,,\n"
        + "ip,nat,,dns,full,10.10.34.35,1,,,,\n",
        "t.csv",
    )
    s = FingerprintSet(fps)
    assert [m.name for m in s.match_response(200, [], "page blocked by law here")] == ["body_c"]
    assert [m.name for m in s.match_response(200, [], "<html><b>STOP now")] == ["body_p"]
    assert [m.name for m in s.match_response(302, [("Location", "http://warning.test/")], "")] == [
        "hdr"
    ]
    assert s.match_response(302, [("Location", "http://warning.test/x")], "") == []
    assert [m.name for m in s.match_response(200, [("Server", "FortiGate-100")], "")] == ["rx"]
    assert s.match_dns("10.10.34.35") is not None and s.match_dns("10.10.34.36") is None


def test_false_positive_signatures_win_over_blockpages() -> None:
    fps = parse_ooni_csv(
        HEADER
        + "bp,vbw,,body,contains,Access denied,1,,,,\n"
        + "cf,fp,,body,contains,cf-chl,1,,,,\n",
        "t.csv",
    )
    matches = FingerprintSet(fps).match_response(403, [], "Access denied <div id=cf-chl>")
    assert [(m.name, m.is_false_positive) for m in matches] == [("cf", True)]


def test_censoredplanet_lines_search_status_headers_and_body() -> None:
    fps = parse_censoredplanet_jsonl(
        '{"fingerprint": "a_prod_barracuda_1", "pattern": "Server: BarracudaHTTP"}\n'
        '{"fingerprint": "x_parking", "pattern": "domain is for sale"}\n',
        "cp.json",
    )
    assert [f.is_false_positive for f in fps] == [False, True]
    s = FingerprintSet(fps)
    hit = s.match_response(200, [("Server", "BarracudaHTTP 4.0")], "<html/>")
    assert [(m.name, m.scope) for m in hit] == [("a_prod_barracuda_1", "prod")]


@pytest.mark.parametrize(
    "text",
    [
        "name,pattern\nx,y\n",
        HEADER + "bad,nat,,body,glob,*,1,,,,\n",
        HEADER + "bad,nat,,body,regexp,([,1,,,,\n",
    ],
    ids=["missing-columns", "unknown-pattern-type", "bad-regexp"],
)
def test_bad_ooni_files_are_rejected_with_a_location(text: str) -> None:
    with pytest.raises(FingerprintError, match=r"t\.csv"):
        parse_ooni_csv(text, "t.csv")


def test_bad_censoredplanet_line_is_rejected() -> None:
    with pytest.raises(FingerprintError, match="cp:2"):
        parse_censoredplanet_jsonl('{"fingerprint": "a", "pattern": "b"}\nnot json\n', "cp")


def test_the_real_reference_files_parse(shared_data: Path) -> None:
    fp = shared_data / "fingerprints"
    http = parse_ooni_csv((fp / "fingerprints_http.csv").read_text(), "ooni")
    dns = parse_ooni_csv((fp / "fingerprints_dns.csv").read_text(), "ooni")
    cp = parse_censoredplanet_jsonl(
        (fp / "censoredplanet_blockpage_signatures.json").read_text(), "cp"
    )
    assert len(http) == 1729 and len(dns) == 226 and len(cp) == 622
    assert sum(f.is_false_positive for f in http) == 475
    s = FingerprintSet([*http, *dns, *cp])
    assert s.digest == FingerprintSet([*http, *dns, *cp]).digest
    assert s.match_response(200, [], "<html>nothing to see</html>") == []
