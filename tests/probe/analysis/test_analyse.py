"""Verdicts for hand-built measurements that mirror the lab catalogue (S01-S33), one rule at a time."""

from __future__ import annotations

import pytest

from probe.analysis import (
    RULES,
    BogonPolicy,
    FingerprintSet,
    ReferenceData,
    analyse,
    parse_ooni_csv,
)
from probe.model import (
    Analysis,
    Blocking,
    ByteSample,
    DnsConsistency,
    Method,
    ResolverKind,
    Verdict,
)
from probe.model import Failure as F

from .build import PAGE, SITE, World, control_page, healthy, page_response
from .packet_worlds import bait_answered, injected_with_packet_traits, located, with_injected_end

LAB_PUBLIC = ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32")
BLOCKPAGE = b"<html><head><title>Access denied</title></head><body>This site is blocked by order of the Lab Telecom Authority.</body></html>"
FINGERPRINTS = parse_ooni_csv(
    "name,scope,other_names,location_found,pattern_type,pattern,confidence_no_fp,expected_countries,source,exp_url,notes\n"
    'lab_blockpage,nat,,body,contains,Lab Telecom Authority,5,"ZZ",lab,,\n'
    'lab_warning_redirect,isp,,header.location,prefix,http://warning.isp.test/,5,"ZZ",lab,,\n'
    'lab_blockpage_ip,isp,,dns,full,203.0.113.66,5,"ZZ",lab,,\n'
    'cdn_challenge,fp,,body,contains,Checking your browser,5,"",lab,,\n',
    "lab.csv",
)
REF = ReferenceData(fingerprints=FingerprintSet(FINGERPRINTS), bogons=BogonPolicy(LAB_PUBLIC))


def run(world: World) -> Analysis:
    return analyse(world.build(), REF)


def assert_blocked(result: Analysis, *methods: Method) -> None:
    assert result.verdict is Verdict.BLOCKED, result
    assert set(methods) <= set(result.methods), result
    assert 0.5 <= result.confidence <= 0.99


def test_healthy_http_site_is_ok() -> None:
    result = run(healthy())
    assert result.verdict is Verdict.OK
    assert result.blocking is False and result.accessible is True
    assert result.dns_consistency is DnsConsistency.CONSISTENT
    assert result.http is not None and result.http.body_length_match is True
    assert result.confidence >= 0.8


def test_healthy_https_site_is_ok_with_high_confidence() -> None:
    result = run(healthy("https://news.example.test/"))
    assert result.verdict is Verdict.OK
    assert result.confidence >= 0.9


def test_isp_nxdomain_while_control_resolves_is_dns_nxdomain() -> None:
    w = World(url="https://news.example.test/")
    w.lookup(ResolverKind.SYSTEM, failure=F.DNS_NXDOMAIN).lookup(
        ResolverKind.UDP, failure=F.DNS_NXDOMAIN
    )
    w.lookup(ResolverKind.DOH, SITE).connect(SITE).handshake(SITE)
    w.fetch(SITE, page_response()).with_control()
    result = run(w)
    assert_blocked(result, Method.DNS_NXDOMAIN)
    assert result.methods == [Method.DNS_NXDOMAIN]
    assert result.blocking is Blocking.DNS


def test_loopback_answer_is_dns_bogon() -> None:
    w = World()
    w.lookup(ResolverKind.SYSTEM, "127.0.0.2").lookup(ResolverKind.UDP, "127.0.0.2")
    w.lookup(ResolverKind.DOH, SITE).connect("127.0.0.2", failure=F.CONNECTION_REFUSED)
    w.connect(SITE).fetch("127.0.0.2", failure=F.CONNECTION_REFUSED, stage="tcp").with_control()
    result = run(w)
    assert_blocked(result, Method.DNS_BOGON)
    assert Method.TCP_REFUSED not in result.methods
    assert Method.DNS_FORGED not in result.methods


def test_forged_answer_to_a_blockpage_server_is_forged_and_blockpage() -> None:
    w = World()
    w.lookup(ResolverKind.SYSTEM, "203.0.113.80").lookup(ResolverKind.UDP, "203.0.113.80")
    w.lookup(ResolverKind.DOH, SITE).connect("203.0.113.80").connect(SITE)
    w.fetch("203.0.113.80", page_response(BLOCKPAGE, title="Access denied")).with_control()
    result = run(w)
    assert_blocked(result, Method.DNS_FORGED, Method.HTTP_BLOCKPAGE)
    assert result.fingerprints[0].name == "lab_blockpage"
    assert result.dns_consistency is DnsConsistency.INCONSISTENT


def test_known_blockpage_address_from_dns_fingerprint_is_forged() -> None:
    w = World()
    w.lookup(ResolverKind.SYSTEM, "203.0.113.66").lookup(ResolverKind.DOH, SITE)
    w.fetch("203.0.113.66", failure=F.GENERIC_TIMEOUT, stage="tcp").with_control()
    result = run(w)
    assert_blocked(result, Method.DNS_FORGED)
    assert any(h.rule == "dns-forged-known" for h in result.rules)


def test_two_different_answers_to_one_query_is_dns_injected() -> None:
    w = World(url="https://news.example.test/")
    w.lookup(ResolverKind.SYSTEM, "203.0.113.250")
    w.lookup(ResolverKind.UDP, responses=[["203.0.113.250"], [SITE]])
    w.lookup(ResolverKind.DOH, SITE).connect("203.0.113.250", failure=F.GENERIC_TIMEOUT)
    w.connect(SITE).handshake(SITE)
    w.fetch("203.0.113.250", failure=F.GENERIC_TIMEOUT, stage="tcp").with_control()
    result = run(w)
    assert_blocked(result, Method.DNS_INJECTED)
    assert Method.TCP_TIMEOUT not in result.methods
    hit = next(h for h in result.rules if h.rule == "dns-injected")
    assert "203.0.113.250" in hit.detail and SITE in hit.detail


def test_identical_duplicate_answers_are_not_injection() -> None:
    w = healthy()
    w.dns = [q for q in w.dns if q.resolver_kind is not ResolverKind.UDP]
    w.lookup(ResolverKind.UDP, responses=[[SITE], [SITE]])
    result = run(w)
    assert result.verdict is Verdict.OK


def test_dropped_dns_queries_are_dns_timeout() -> None:
    w = World(url="https://news.example.test/")
    w.lookup(ResolverKind.SYSTEM, failure=F.GENERIC_TIMEOUT).lookup(
        ResolverKind.UDP, failure=F.GENERIC_TIMEOUT
    )
    w.lookup(ResolverKind.DOH, SITE).connect(SITE).handshake(SITE).fetch(SITE, page_response())
    assert_blocked(run(w.with_control()), Method.DNS_TIMEOUT)


def test_servfail_while_control_resolves_is_dns_failure() -> None:
    w = World()
    w.lookup(ResolverKind.UDP, failure=F.DNS_SERVER_FAILURE).lookup(ResolverKind.DOH, SITE)
    w.fetch(SITE, page_response()).with_control()
    assert_blocked(run(w), Method.DNS_FAILURE)


def test_transparent_proxy_with_consistent_content_is_ok_with_a_note() -> None:
    w = World()
    w.lookup(ResolverKind.SYSTEM, "203.0.113.8").lookup(ResolverKind.UDP, "203.0.113.8")
    w.lookup(ResolverKind.DOH, SITE).connect("203.0.113.8").connect(SITE)
    w.connect("203.0.113.8", 443, failure=F.CONNECTION_REFUSED).connect(SITE, 443)
    w.fetch("203.0.113.8", page_response()).with_control()
    result = run(w)
    assert result.verdict is Verdict.OK, result
    assert any("transparent proxy" in n for n in result.notes)
    assert result.dns_consistency is DnsConsistency.INCONSISTENT


def test_dropped_syn_is_tcp_timeout() -> None:
    w = World(url="https://news.example.test/")
    w.lookup(ResolverKind.SYSTEM, SITE).lookup(ResolverKind.DOH, SITE)
    w.connect(SITE, failure=F.GENERIC_TIMEOUT).handshake(SITE, F.GENERIC_TIMEOUT)
    w.fetch(SITE, failure=F.GENERIC_TIMEOUT, stage="tcp").with_control()
    result = run(w)
    assert_blocked(result, Method.TCP_TIMEOUT)
    assert result.methods == [Method.TCP_TIMEOUT]
    assert result.blocking is Blocking.TCP_IP


def test_rst_to_syn_is_tcp_refused() -> None:
    w = World()
    w.lookup(ResolverKind.SYSTEM, SITE).connect(SITE, failure=F.CONNECTION_REFUSED)
    w.fetch(SITE, failure=F.CONNECTION_REFUSED, stage="tcp").with_control()
    assert_blocked(run(w), Method.TCP_REFUSED)


def test_icmp_unreachable_is_tcp_unreachable() -> None:
    w = World(url="https://news.example.test/")
    w.lookup(ResolverKind.SYSTEM, SITE).connect(SITE, failure=F.HOST_UNREACHABLE)
    w.fetch(SITE, failure=F.HOST_UNREACHABLE, stage="tcp").with_control()
    assert_blocked(run(w), Method.TCP_UNREACHABLE)


def _sni_blocked(failure: str) -> World:
    w = World(url="https://news.example.test/")
    w.lookup(ResolverKind.SYSTEM, SITE).lookup(ResolverKind.DOH, SITE).connect(SITE)
    w.handshake(SITE, failure).fetch(SITE, failure=failure, stage="tls")
    return w.with_control()


def test_reset_after_client_hello_is_tls_reset() -> None:
    result = run(_sni_blocked(F.CONNECTION_RESET))
    assert_blocked(result, Method.TLS_RESET)
    assert result.blocking is Blocking.HTTP_FAILURE


def test_silence_after_client_hello_is_tls_timeout() -> None:
    assert_blocked(run(_sni_blocked(F.GENERIC_TIMEOUT)), Method.TLS_TIMEOUT)


def test_fin_after_client_hello_is_tls_eof() -> None:
    assert_blocked(run(_sni_blocked(F.EOF)), Method.TLS_EOF)


def test_untrusted_certificate_only_for_the_probe_is_tls_mitm() -> None:
    result = run(_sni_blocked(F.SSL_UNKNOWN_AUTHORITY))
    assert_blocked(result, Method.TLS_MITM)
    assert result.methods == [Method.TLS_MITM]


def test_reset_after_http_request_is_http_reset() -> None:
    w = World()
    w.lookup(ResolverKind.SYSTEM, SITE).connect(SITE)
    w.fetch(SITE, failure=F.CONNECTION_RESET, stage="http").with_control()
    result = run(w)
    assert_blocked(result, Method.HTTP_RESET)
    assert result.methods == [Method.HTTP_RESET]


def test_injected_page_matching_a_fingerprint_is_blockpage_and_beats_plain_diff() -> None:
    w = World()
    w.lookup(ResolverKind.SYSTEM, SITE).connect(SITE)
    w.fetch(SITE, page_response(BLOCKPAGE, title="Access denied")).with_control()
    blockpage = run(w)
    assert_blocked(blockpage, Method.HTTP_BLOCKPAGE)
    assert blockpage.blocking is Blocking.HTTP_DIFF
    other = b"<html><head><title>Notice</title></head><body>Unavailable.</body></html>"
    w2 = World()
    w2.lookup(ResolverKind.SYSTEM, SITE).connect(SITE)
    w2.fetch(SITE, page_response(other, title="Notice", headers=(("Content-Type", "text/html"),)))
    diff = run(w2.with_control())
    assert_blocked(diff, Method.HTTP_DIFF)
    assert Method.HTTP_BLOCKPAGE not in diff.methods
    assert diff.confidence < blockpage.confidence


def test_injected_redirect_to_a_warning_host_is_blockpage() -> None:
    w = World()
    w.lookup(ResolverKind.SYSTEM, SITE).connect(SITE)
    redirect = page_response(
        b"", status=302, headers=(("Location", "http://warning.isp.test/"),), title=None
    )
    w.fetch(SITE, redirect)
    w.lookup(ResolverKind.SYSTEM, failure=F.DNS_NXDOMAIN, hostname="warning.isp.test", depth=1)
    w.with_control(http=control_page(final_url="http://news.example.test/"))
    result = run(w)
    assert result.verdict is Verdict.BLOCKED
    assert {Method.HTTP_BLOCKPAGE, Method.HTTP_DIFF} & set(result.methods)
    assert Method.DNS_NXDOMAIN not in result.methods


def test_slow_partial_body_is_throttled() -> None:
    w = World(url="https://files.example.test/big")
    w.lookup(ResolverKind.SYSTEM, SITE).connect(SITE).handshake(SITE)
    partial = page_response(PAGE[:100], complete=False, length=20_000)
    samples = [ByteSample(t_ms=1000.0 * i, bytes=2000 * i) for i in range(1, 11)]
    w.fetch(
        SITE,
        partial,
        failure=F.GENERIC_TIMEOUT,
        stage="body",
        t_ms=10_010.0,
        headers_ms=10.0,
        samples=samples,
    )
    w.with_control(http=control_page(body_length=2 * 1024 * 1024))
    result = run(w)
    assert_blocked(result, Method.THROTTLED)
    assert Method.HTTP_TIMEOUT not in result.methods


def test_fast_partial_body_cut_by_a_reset_is_not_throttling() -> None:
    w = World()
    w.lookup(ResolverKind.SYSTEM, SITE).connect(SITE)
    partial = page_response(PAGE[:100], complete=False, length=500_000)
    w.fetch(SITE, partial, failure=F.CONNECTION_RESET, stage="body", t_ms=1200.0, headers_ms=10.0)
    result = run(w.with_control())
    assert_blocked(result, Method.HTTP_RESET)
    assert Method.THROTTLED not in result.methods


def test_name_that_exists_nowhere_is_down() -> None:
    w = World(url="http://nonexistent.example.test/")
    w.lookup(ResolverKind.SYSTEM, failure=F.DNS_NXDOMAIN).lookup(
        ResolverKind.UDP, failure=F.DNS_NXDOMAIN
    )
    w.lookup(ResolverKind.DOH, failure=F.DNS_NXDOMAIN)
    w.with_control(
        addresses=(),
        dns_failure=F.DNS_NXDOMAIN,
        http=control_page(
            status_code=None, body_length=None, title=None, headers=[], failure=F.DNS_NXDOMAIN
        ),
    )
    result = run(w)
    assert result.verdict is Verdict.DOWN, result
    assert result.blocking is False and result.accessible is False


def test_closed_port_for_probe_and_control_is_down() -> None:
    w = World(url="http://www.example.test:8081/")
    w.lookup(ResolverKind.SYSTEM, SITE).connect(SITE, failure=F.CONNECTION_REFUSED)
    w.fetch(SITE, failure=F.CONNECTION_REFUSED, stage="tcp")
    w.with_control(
        tcp={(SITE, 8081): F.CONNECTION_REFUSED},
        http=control_page(
            status_code=None, body_length=None, title=None, headers=[], failure=F.CONNECTION_REFUSED
        ),
    )
    assert run(w).verdict is Verdict.DOWN


def test_expired_certificate_for_everyone_is_down() -> None:
    w = World(url="https://expired.example.test/")
    w.lookup(ResolverKind.SYSTEM, SITE).connect(SITE).handshake(SITE, F.SSL_INVALID_CERTIFICATE)
    w.fetch(SITE, failure=F.SSL_INVALID_CERTIFICATE, stage="tls")
    w.with_control(
        tls={(SITE, 443): F.SSL_INVALID_CERTIFICATE},
        http=control_page(
            status_code=None,
            body_length=None,
            title=None,
            headers=[],
            failure=F.SSL_INVALID_CERTIFICATE,
        ),
    )
    assert run(w).verdict is Verdict.DOWN


def test_unreachable_control_with_working_https_is_ok() -> None:
    w = World(url="https://www.example.test/")
    w.lookup(ResolverKind.SYSTEM, SITE).connect(SITE).handshake(SITE).fetch(SITE, page_response())
    result = run(w.control_unreachable())
    assert result.verdict is Verdict.OK
    assert result.confidence < run(healthy("https://www.example.test/")).confidence


def test_unreachable_control_with_failing_http_is_inconclusive() -> None:
    w = World(url="http://www.example.test/")
    w.lookup(ResolverKind.SYSTEM, SITE).connect(SITE)
    w.fetch(SITE, failure=F.CONNECTION_RESET, stage="http")
    result = run(w.control_unreachable())
    assert result.verdict is Verdict.INCONCLUSIVE
    assert result.blocking is None and result.accessible is None


def test_failure_on_a_redirect_hop_is_attributed_by_stage() -> None:
    w = World(url="http://redirect.example.test/")
    w.lookup(ResolverKind.SYSTEM, SITE).connect(SITE)
    w.fetch(
        SITE,
        page_response(
            b"", status=302, title=None, headers=(("Location", "https://news.example.test/"),)
        ),
    )
    w.lookup(ResolverKind.SYSTEM, "198.51.100.11", hostname="news.example.test", depth=1)
    w.fetch(
        "198.51.100.11",
        url="https://news.example.test/",
        failure=F.CONNECTION_RESET,
        stage="tls",
        depth=1,
    )
    w.with_control(
        http=control_page(
            final_url="https://news.example.test/", redirects=["http://redirect.example.test/"]
        )
    )
    result = run(w)
    assert_blocked(result, Method.TLS_RESET)


def test_redirect_loop_for_everyone_is_down() -> None:
    w = World(url="http://loop.example.test/")
    w.lookup(ResolverKind.SYSTEM, SITE).connect(SITE)
    loop = page_response(
        b"", status=302, title=None, headers=(("Location", "http://loop.example.test/"),)
    )
    w.fetch(SITE, loop, failure=F.HTTP_TOO_MANY_REDIRECTS, depth=10)
    w.with_control(
        http=control_page(
            status_code=None,
            body_length=None,
            title=None,
            headers=[],
            failure=F.HTTP_TOO_MANY_REDIRECTS,
        )
    )
    assert run(w).verdict is Verdict.DOWN


def test_truncated_huge_body_is_still_ok() -> None:
    w = World(url="https://files.example.test/huge")
    w.lookup(ResolverKind.SYSTEM, SITE).connect(SITE).handshake(SITE)
    w.fetch(SITE, page_response(PAGE, length=32 * 1024 * 1024))
    w.with_control(http=control_page(body_length=32 * 1024 * 1024))
    assert run(w).verdict is Verdict.OK


def test_cdn_challenge_for_the_probe_only_is_inconclusive_not_blocked() -> None:
    w = World(url="https://cdn.example.test/")
    w.lookup(ResolverKind.SYSTEM, SITE).connect(SITE).handshake(SITE)
    challenge = b"<html><title>Just a moment</title><body>Checking your browser</body></html>"
    w.fetch(SITE, page_response(challenge, status=503, title="Just a moment"))
    result = run(w.with_control())
    assert result.verdict is Verdict.INCONCLUSIVE, result
    assert any(f.is_false_positive for f in result.fingerprints)
    assert any(n.startswith("server-side") for n in result.notes)


def test_cdn_challenge_over_plain_http_is_inconclusive_too() -> None:
    w = World(url="http://cdn.example.test/")
    w.lookup(ResolverKind.SYSTEM, SITE).connect(SITE)
    challenge = b"<html><title>Just a moment</title><body>Checking your browser</body></html>"
    w.fetch(SITE, page_response(challenge, status=503, title="Just a moment"))
    assert run(w.with_control()).verdict is Verdict.INCONCLUSIVE


def test_ipv6_failures_on_a_network_without_ipv6_are_ignored() -> None:
    w = healthy()
    w.lookup(ResolverKind.SYSTEM, "2001:db8::10").connect(
        "2001:db8::10", failure=F.NETWORK_UNREACHABLE
    )
    w.with_control(addresses=(SITE, "2001:db8::10"))
    result = run(w)
    assert result.verdict is Verdict.OK
    assert any("IPv6" in n for n in result.notes)


def test_no_control_and_plain_http_success_is_inconclusive() -> None:
    w = World()
    w.lookup(ResolverKind.SYSTEM, SITE).connect(SITE).fetch(SITE, page_response())
    result = run(w)
    assert result.verdict is Verdict.INCONCLUSIVE
    assert any("none configured" in n for n in result.notes)


def test_no_control_but_a_blockpage_is_still_blocked() -> None:
    w = World()
    w.lookup(ResolverKind.SYSTEM, SITE).connect(SITE)
    w.fetch(SITE, page_response(BLOCKPAGE, title="Access denied"))
    assert_blocked(run(w), Method.HTTP_BLOCKPAGE)


def test_asn_overlap_makes_a_different_address_consistent() -> None:
    w = World()
    w.lookup(ResolverKind.SYSTEM, "198.51.100.99").connect("198.51.100.99")
    w.fetch("198.51.100.99", page_response())
    w.dns[0] = w.dns[0].__class__(
        **{
            **{f: getattr(w.dns[0], f) for f in w.dns[0].__struct_fields__},
            "answers": [
                w.dns[0].answers[0].__class__(answer_type="A", address="198.51.100.99", asn=64500)
            ],
        }
    )
    w.with_control(asn={SITE: 64500})
    result = run(w)
    assert result.verdict is Verdict.OK
    assert result.dns_consistency is DnsConsistency.CONSISTENT


def test_analysis_is_deterministic_and_records_its_versions() -> None:
    m = healthy().build()
    first, second = analyse(m, REF), analyse(m, REF)
    assert first == second
    assert first.rules_version == "3"
    assert first.reference_digest == REF.digest
    assert REF.digest != ReferenceData().digest


def _world_for_rule(rule_id: str) -> World:
    """A world in which exactly this rule must fire (one per rule id)."""
    if rule_id == "dns-no-answer":
        w = World()
        w.lookup(ResolverKind.UDP, failure=F.DNS_NO_ANSWER).lookup(ResolverKind.DOH, SITE)
        return w.fetch(SITE, page_response()).with_control()
    if rule_id == "dns-forged-ghost":
        w = World(url="http://ghost.example.test/")
        w.lookup(ResolverKind.SYSTEM, "203.0.113.80").fetch(
            "203.0.113.80", page_response(BLOCKPAGE)
        )
        return w.with_control(
            addresses=(),
            dns_failure=F.DNS_NXDOMAIN,
            http=control_page(
                status_code=None, body_length=None, title=None, headers=[], failure=F.DNS_NXDOMAIN
            ),
        )
    if rule_id == "http-blockpage-vague":
        w = World()
        w.lookup(ResolverKind.SYSTEM, SITE).connect(SITE)
        w.fetch(SITE, page_response(b"<html>Forbidden by the vague filter</html>", title=None))
        return w.with_control()
    if rule_id == "http-redirect-diff":
        w = World()
        w.lookup(ResolverKind.SYSTEM, SITE).connect(SITE)
        w.fetch(
            SITE,
            page_response(
                b"", status=302, title=None, headers=(("Location", "http://elsewhere.test/"),)
            ),
        )
        w.lookup(ResolverKind.SYSTEM, "198.51.100.20", hostname="elsewhere.test", depth=1)
        w.fetch("198.51.100.20", page_response(), url="http://elsewhere.test/", depth=1)
        return w.with_control(http=control_page(final_url="http://news.example.test/"))
    factories = {
        "dns-injected": _injected,
        "dns-nxdomain": lambda: _dns_failure(F.DNS_NXDOMAIN),
        "dns-timeout": lambda: _dns_failure(F.GENERIC_TIMEOUT),
        "dns-failure": lambda: _dns_failure(F.DNS_REFUSED),
        "dns-bogon": _bogon,
        "dns-forged-known": _known_forged,
        "dns-forged": _forged_diff,
        "tcp-blocked": lambda: _tcp(F.CONNECTION_REFUSED),
        "tls-blocked": lambda: _sni_blocked(F.CONNECTION_RESET),
        "tls-mitm": lambda: _sni_blocked(F.SSL_INVALID_HOSTNAME),
        "http-failure": lambda: _http_failure(F.EOF),
        "redirect-failure": _redirect_hop_failure,
        "throttled": _throttled,
        "http-blockpage": _blockpage,
        "http-diff": _diff,
        "forged-destination-blocked": _forged_then_reset,
        "tcp-rst-injected": lambda: with_injected_end("R"),
        "tcp-fin-injected": lambda: with_injected_end("FA"),
        "dns-injected-packet": injected_with_packet_traits,
        "dns-bait-answered": bait_answered,
        "censor-located": located,
    }
    return factories[rule_id]()


def _injected() -> World:
    w = World()
    w.lookup(ResolverKind.UDP, responses=[["203.0.113.250"], [SITE]]).lookup(ResolverKind.DOH, SITE)
    return w.fetch("203.0.113.250", failure=F.GENERIC_TIMEOUT, stage="tcp").with_control()


def _forged_then_reset() -> World:
    w = World(url="https://news.example.test/")
    w.lookup(ResolverKind.SYSTEM, "203.0.113.9").lookup(ResolverKind.DOH, SITE)
    w.connect("203.0.113.9").handshake("203.0.113.9", F.CONNECTION_RESET)
    return w.fetch("203.0.113.9", failure=F.CONNECTION_RESET, stage="tls").with_control()


def test_forged_answer_to_an_address_that_resets_reports_both_methods() -> None:
    result = run(_forged_then_reset())
    assert result.verdict is Verdict.BLOCKED
    assert set(result.methods) == {Method.DNS_FORGED, Method.TLS_RESET}
    assert result.blocking == "dns" and result.accessible is False


def test_forged_answer_to_a_silent_address_reports_the_forgery_alone() -> None:
    w = World(url="https://news.example.test/")
    w.lookup(ResolverKind.SYSTEM, "203.0.113.9").lookup(ResolverKind.DOH, SITE)
    w.connect("203.0.113.9", 443, failure=F.GENERIC_TIMEOUT)
    w.fetch("203.0.113.9", failure=F.GENERIC_TIMEOUT, stage="tcp").with_control()
    assert run(w).methods == [Method.DNS_FORGED]


def test_an_http_url_that_loaded_stays_ok_when_tls_on_443_is_reset() -> None:
    w = World(url="http://news.example.test/")
    w.lookup(ResolverKind.SYSTEM, SITE).connect(SITE).connect(SITE, 443)
    w.handshake(SITE, F.CONNECTION_RESET).fetch(SITE, page_response()).with_control()
    result = run(w)
    assert (result.verdict, result.blocking, result.accessible) == (Verdict.OK, False, True)
    assert any(
        "not needed by this URL's fetch" in n and "connection_reset" in n for n in result.notes
    )


def test_the_same_reset_counts_when_the_http_fetch_failed_too() -> None:
    w = World(url="http://news.example.test/")
    w.lookup(ResolverKind.SYSTEM, SITE).connect(SITE).connect(SITE, 443)
    w.handshake(SITE, F.CONNECTION_RESET)
    w.fetch(SITE, failure=F.CONNECTION_RESET, stage="http").with_control()
    result = run(w)
    assert result.verdict is Verdict.BLOCKED
    assert Method.TLS_RESET in result.methods and Method.HTTP_RESET in result.methods


def _dns_failure(failure: str) -> World:
    w = World()
    w.lookup(ResolverKind.SYSTEM, failure=failure).lookup(ResolverKind.DOH, SITE)
    return w.fetch(SITE, page_response()).with_control()


def _bogon() -> World:
    w = World()
    w.lookup(ResolverKind.SYSTEM, "10.10.34.35").lookup(ResolverKind.DOH, SITE)
    return w.fetch("10.10.34.35", failure=F.GENERIC_TIMEOUT, stage="tcp").with_control()


def _known_forged() -> World:
    w = World()
    w.lookup(ResolverKind.SYSTEM, "203.0.113.66").lookup(ResolverKind.DOH, SITE)
    return w.fetch("203.0.113.66", failure=F.GENERIC_TIMEOUT, stage="tcp").with_control()


def _forged_diff() -> World:
    w = World()
    w.lookup(ResolverKind.SYSTEM, "203.0.113.9").lookup(ResolverKind.DOH, SITE)
    other = b"<html><head><title>Portal</title></head><body>x</body></html>"
    w.fetch("203.0.113.9", page_response(other, title="Portal", headers=()))
    return w.with_control()


def _tcp(failure: str) -> World:
    w = World()
    w.lookup(ResolverKind.SYSTEM, SITE).connect(SITE, failure=failure)
    return w.fetch(SITE, failure=failure, stage="tcp").with_control()


def _http_failure(failure: str) -> World:
    w = World()
    w.lookup(ResolverKind.SYSTEM, SITE).connect(SITE)
    return w.fetch(SITE, failure=failure, stage="http").with_control()


def _redirect_hop_failure() -> World:
    w = World(url="http://redirect.example.test/")
    w.lookup(ResolverKind.SYSTEM, SITE).connect(SITE)
    w.fetch(
        SITE,
        page_response(
            b"", status=302, title=None, headers=(("Location", "http://news.example.test/"),)
        ),
    )
    w.lookup(ResolverKind.SYSTEM, SITE, hostname="news.example.test", depth=1)
    w.fetch(
        SITE, url="http://news.example.test/", failure=F.CONNECTION_RESET, stage="http", depth=1
    )
    return w.with_control(
        http=control_page(
            final_url="http://news.example.test/", redirects=["http://redirect.example.test/"]
        )
    )


def _throttled() -> World:
    w = World()
    w.lookup(ResolverKind.SYSTEM, SITE).connect(SITE)
    partial = page_response(PAGE[:100], complete=False, length=10_000)
    w.fetch(SITE, partial, failure=F.GENERIC_TIMEOUT, stage="body", t_ms=5010.0, headers_ms=10.0)
    return w.with_control(http=control_page(body_length=1_000_000))


def _blockpage() -> World:
    w = World()
    w.lookup(ResolverKind.SYSTEM, SITE).connect(SITE)
    return w.fetch(SITE, page_response(BLOCKPAGE, title="Access denied")).with_control()


def _diff() -> World:
    w = World()
    w.lookup(ResolverKind.SYSTEM, SITE).connect(SITE)
    other = b"<html><head><title>Notice</title></head><body>Unavailable.</body></html>"
    w.fetch(SITE, page_response(other, title="Notice", headers=(("Content-Type", "text/html"),)))
    return w.with_control()


VAGUE = ReferenceData(
    fingerprints=FingerprintSet(
        [
            *FINGERPRINTS,
            *parse_ooni_csv(
                "name,scope,other_names,location_found,pattern_type,pattern,confidence_no_fp,expected_countries,source,exp_url,notes\n"
                'vague_word,vbw,,body,contains,Forbidden by the vague filter,1,"",lab,,\n',
                "vague.csv",
            ),
        ]
    ),
    bogons=BogonPolicy(LAB_PUBLIC),
)


@pytest.mark.parametrize("rule_id", sorted(RULES))
def test_each_rule_fires_on_its_own_case(rule_id: str) -> None:
    result = analyse(_world_for_rule(rule_id).build(), VAGUE)
    assert rule_id in {h.rule for h in result.rules}, result
    assert result.verdict is Verdict.BLOCKED
    hit = next(h for h in result.rules if h.rule == rule_id)
    assert hit.detail and 0 < hit.weight <= 1


def test_a_name_the_control_refuses_to_resolve_publicly_is_down_not_a_bogon() -> None:
    w = World()
    w.lookup(ResolverKind.SYSTEM, "10.0.0.7").lookup(ResolverKind.UDP, "10.0.0.7")
    w.connect("10.0.0.7", failure=F.GENERIC_TIMEOUT)
    w.fetch("10.0.0.7", failure=F.GENERIC_TIMEOUT, stage="tcp")
    w.with_control(
        addresses=(),
        dns_failure=F.REFUSED_ADDRESS,
        http=control_page(
            status_code=None, body_length=None, title=None, headers=[], failure=F.REFUSED_ADDRESS
        ),
    )
    result = run(w)
    assert result.verdict is Verdict.DOWN, result
    assert Method.DNS_BOGON not in result.methods
