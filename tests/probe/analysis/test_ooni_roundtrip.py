"""Crenel measurements written in OONI's format and read back keep their verdicts and methods."""

from __future__ import annotations

import json

import msgspec
import pytest

from probe.analysis import RULES, analyse
from probe.model import Measurement
from probe.ooni import measurement_from_ooni, ooni_from_measurement

from .build import healthy
from .test_analyse import VAGUE, _world_for_rule

# Packet evidence (captured flows, DNS bait, censor localisation) has no place in OONI's Web
# Connectivity format: these verdicts rest on it alone, so they cannot survive the trip.
PACKET_ONLY = {"tcp-rst-injected", "tcp-fin-injected", "dns-injected-packet", "dns-bait-answered",
               "censor-located"}  # fmt: skip


def round_trip(measurement: Measurement) -> Measurement:
    analysed = msgspec.structs.replace(measurement, analysis=analyse(measurement, VAGUE))
    document = json.loads(json.dumps(ooni_from_measurement(analysed)))
    return measurement_from_ooni(document)


@pytest.mark.parametrize("rule_id", sorted(set(RULES) - PACKET_ONLY))
def test_a_blocked_measurement_keeps_its_verdict_and_methods(rule_id: str) -> None:
    original = _world_for_rule(rule_id).build()
    before = analyse(original, VAGUE)
    after = analyse(round_trip(original), VAGUE)
    assert (after.verdict, after.methods, after.blocking) == (
        before.verdict,
        before.methods,
        before.blocking,
    ), (before.rules, after.rules)


@pytest.mark.parametrize("url", ["http://news.example.test/", "https://news.example.test/"])
def test_an_accessible_measurement_stays_accessible(url: str) -> None:
    original = healthy(url).build()
    before = analyse(original, VAGUE)
    after = analyse(round_trip(original), VAGUE)
    assert (after.verdict, after.accessible) == (before.verdict, before.accessible)


def test_ooni_keys_and_crenel_verdict_are_written() -> None:
    original = _world_for_rule("http-blockpage").build()
    analysed = msgspec.structs.replace(original, analysis=analyse(original, VAGUE))
    doc = ooni_from_measurement(analysed, report_id="r1")
    assert doc["test_name"] == "web_connectivity" and doc["data_format_version"] == "0.2.0"
    keys = doc["test_keys"]
    for key in ("queries", "tcp_connect", "tls_handshakes", "requests", "control", "blocking",
                "accessible", "dns_consistency", "status_code_match", "body_length_match"):  # fmt: skip
        assert key in keys
    assert keys["blocking"] == analysed.analysis.blocking
    assert keys["accessible"] is False
    assert keys["x_crenel_verdict"] == "blocked"
    assert doc["probe_ip"] == "127.0.0.1"
