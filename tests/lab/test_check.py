"""Comparing a measurement with a scenario's expectation."""

from __future__ import annotations

import msgspec

from lab.check import compare
from lab.scenario import Expectation
from probe.analysis import analyse
from probe.model import Analysis, Method, Verdict
from tests.probe.analysis.build import healthy
from tests.probe.analysis.packet_worlds import located, with_injected_end
from tests.probe.analysis.test_analyse import REF


def _with(verdict: Verdict, *methods: Method):  # type: ignore[no-untyped-def]
    m = healthy().build()
    return msgspec.structs.replace(
        m,
        analysis=Analysis(
            verdict=verdict,
            methods=list(methods),
            confidence=0.9,
            rules_version="1",
            reference_digest="",
        ),
    )


def test_matching_verdict_and_methods_pass() -> None:
    e = Expectation(url="u", verdict="blocked", methods=["dns.injected"])
    assert compare(e, _with(Verdict.BLOCKED, Method.DNS_INJECTED)) == []


def test_wrong_verdict_missing_and_extra_methods_are_reported() -> None:
    e = Expectation(url="u", verdict="blocked", methods=["tls.reset"])
    assert compare(e, _with(Verdict.OK)) == [
        "verdict ok, expected blocked",
        "missing methods tls.reset",
    ]
    problems = compare(e, _with(Verdict.BLOCKED, Method.TLS_RESET, Method.DNS_FORGED))
    assert problems == ["unexpected methods dns.forged"]
    allowed = Expectation(
        url="u", verdict="blocked", methods=["tls.reset"], allow_extra=["dns.forged"]
    )
    assert compare(allowed, _with(Verdict.BLOCKED, Method.TLS_RESET, Method.DNS_FORGED)) == []


def test_any_of_needs_one_of_the_alternatives() -> None:
    e = Expectation(url="u", verdict="blocked", any_of=["http.blockpage", "http.diff"])
    assert compare(e, _with(Verdict.BLOCKED, Method.HTTP_DIFF)) == []
    assert compare(e, _with(Verdict.BLOCKED, Method.HTTP_RESET)) == [
        "none of http.blockpage, http.diff",
        "unexpected methods http.reset",
    ]


def test_missing_measurement_fails() -> None:
    assert compare(Expectation(url="u", verdict="ok"), None) == ["no measurement came back"]


def test_injection_check_needs_a_forged_answer_then_a_real_one() -> None:
    from probe.model import ResolverKind
    from tests.probe.analysis.build import SITE, World

    e = Expectation(
        url="u", verdict="blocked", methods=["dns.injected"], checks=["dns-injection-recorded"]
    )
    w = World()
    w.lookup(ResolverKind.UDP, responses=[["203.0.113.250"], [SITE]])
    m = msgspec.structs.replace(
        w.build(), analysis=_with(Verdict.BLOCKED, Method.DNS_INJECTED).analysis
    )
    assert compare(e, m) == []
    w2 = World()
    w2.lookup(ResolverKind.UDP, responses=[[SITE]])
    m2 = msgspec.structs.replace(w2.build(), analysis=m.analysis)
    assert compare(e, m2) == [
        "dns-injection-recorded: no UDP query kept a forged answer and a later real one"
    ]


def test_rules_notes_and_the_censor_hop_are_checked() -> None:
    ref = REF
    m = located().build()
    m = msgspec.structs.replace(m, analysis=analyse(m, ref))
    good = Expectation(
        url="u",
        verdict="blocked",
        methods=["tls.reset"],
        rules=["censor-located"],
        absent_rules=["tcp-rst-injected"],
        censor_hop=2,
        censor_path="in-path",
    )
    assert compare(good, m) == []
    bad = Expectation(
        url="u",
        verdict="blocked",
        methods=["tls.reset"],
        rules=["dns-bait-answered"],
        absent_rules=["censor-located"],
        notes=["came from the server itself"],
        censor_hop=3,
        censor_path="on-path",
    )
    assert compare(bad, m) == [
        "rules did not fire: dns-bait-answered",
        "rules fired that must not: censor-located",
        "no note says 'came from the server itself'",
        "censor located at hop 2, expected 3",
        "censor in-path, expected on-path",
    ]
    plain = with_injected_end("R").build()
    plain = msgspec.structs.replace(plain, analysis=analyse(plain, ref))
    expected = Expectation(
        url="u", verdict="blocked", methods=["tls.reset", "tcp.rst_injected"], censor_hop=2
    )
    assert compare(expected, plain) == ["no localisation was made"]
