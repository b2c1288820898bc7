"""Packet evidence: who sent a reset, which DNS answer was injected, bait answers, the censor's hop."""

from __future__ import annotations

import pytest

from probe.analysis import PACKET_RULE_IDS, RULES, analyse, is_packet_confirmed, judge_flow
from probe.model import Blocking, Method, PacketEvidence, ResolverKind, Verdict
from probe.model import Failure as F

from .build import SITE, World, flow, handshake_then, tcp_packet
from .packet_worlds import (
    FORGED,
    bait_answered,
    dns_response,
    injected_with_packet_traits,
    located,
    sni_reset_world,
    udp_query,
    with_injected_end,
)
from .test_analyse import REF


def _server_data(t_ms: float, ip_id: int, *, ttl: int = 59) -> object:
    return tcp_packet(t_ms, "PA", ttl=ttl, ip_id=ip_id, seq=1000, ack=5517, payload=1200)


@pytest.mark.parametrize(
    ("packets", "origin", "factor"),
    [
        pytest.param(
            handshake_then(tcp_packet(11.0, "R", ttl=63, ip_id=0)),
            "injected",
            0.8,
            id="ttl-differs-alone",
        ),
        pytest.param(
            handshake_then(
                tcp_packet(10.9, "A", ttl=59, ip_id=3000, seq=1000, ack=5517),
                tcp_packet(11.0, "R", ttl=59, ip_id=51234),
            ),
            "injected",
            0.95,
            id="ip-id-off-the-counter",
        ),
        pytest.param(
            handshake_then(tcp_packet(11.0, "R", ttl=59, ip_id=0), _server_data(12.0, 3001)),
            "injected",
            0.95,
            id="ttl-copying-but-the-server-kept-talking",
        ),
        pytest.param(
            handshake_then(
                tcp_packet(11.0, "R", ttl=63, ip_id=9, seq=1000),
                tcp_packet(11.1, "R", ttl=63, ip_id=10, seq=2460),
            ),
            "injected",
            1.0,
            id="several-resets-disagree",
        ),
        pytest.param(
            handshake_then(
                tcp_packet(10.9, "A", ttl=59, ip_id=3000, seq=1000, ack=5517),
                tcp_packet(11.0, "R", ttl=59, ip_id=3001),
            ),
            "server",
            1.0,
            id="the-server-itself",
        ),
        pytest.param(
            handshake_then(tcp_packet(11.0, "R", ttl=59, ip_id=0)),
            "unknown",
            1.0,
            id="ttl-copying-with-zero-ip-ids",
        ),
    ],
)
def test_reset_origin_follows_ttl_ip_id_and_races(
    packets: list[object], origin: str, factor: float
) -> None:
    judgement = judge_flow(flow(5, *packets), "rst")  # type: ignore[arg-type]
    assert judgement is not None
    assert judgement.origin == origin
    assert judgement.factor == factor
    if origin == "injected":
        assert judgement.against
    else:
        assert not judgement.against and judgement.consistent


def test_a_reset_sooner_than_the_server_could_answer_is_injected() -> None:
    packets = [
        tcp_packet(0.0, "S", inbound=False, ttl=64, seq=4999, ack=0),
        tcp_packet(80.0, "SA", ttl=59, seq=999, ack=5000),
        tcp_packet(80.1, "A", inbound=False, ttl=64, seq=5000, ack=1000),
        tcp_packet(80.2, "PA", inbound=False, ttl=64, seq=5000, ack=1000, payload=517),
        tcp_packet(83.0, "R", ttl=59, ip_id=0),
    ]
    judgement = judge_flow(flow(5, *packets), "rst")
    assert judgement is not None and judgement.origin == "injected"
    assert any("sooner than the server's round trip" in text for text in judgement.against)


def test_a_flow_without_the_packet_kind_has_no_judgement() -> None:
    assert judge_flow(flow(5, *handshake_then()), "rst") is None
    assert judge_flow(flow(5, *handshake_then(tcp_packet(11.0, "R"))), "fin") is None


def test_an_injected_reset_is_an_extra_method_beside_tls_reset() -> None:
    result = analyse(with_injected_end("R").build(), REF)
    assert result.verdict is Verdict.BLOCKED
    assert set(result.methods) == {Method.TLS_RESET, Method.TCP_RST_INJECTED}
    assert result.blocking is Blocking.HTTP_FAILURE
    assert is_packet_confirmed(result)
    hit = next(h for h in result.rules if h.rule == "tcp-rst-injected")
    assert "IP TTL 63 vs 59" in hit.detail and "after it" in hit.detail


def test_an_injected_fin_is_an_extra_method_beside_tls_eof() -> None:
    result = analyse(with_injected_end("FA").build(), REF)
    assert set(result.methods) == {Method.TLS_EOF, Method.TCP_FIN_INJECTED}


def test_a_ttl_copying_reset_with_zero_ip_ids_is_inconclusive_not_injected() -> None:
    w = sni_reset_world()
    packets = handshake_then(tcp_packet(11.0, "R", ttl=59, ip_id=0))
    w.packets = PacketEvidence(is_captured=True, flows=[flow(w.last_id, *packets)])
    result = analyse(w.build(), REF)
    assert result.methods == [Method.TLS_RESET]
    assert not is_packet_confirmed(result)
    assert any("is inconclusive" in note for note in result.notes), result.notes


def test_a_server_that_resets_everyone_is_down_and_its_reset_is_its_own() -> None:
    w = sni_reset_world()
    w.with_control(tls={(SITE, 443): F.CONNECTION_RESET})
    packets = handshake_then(
        tcp_packet(10.9, "A", ttl=59, ip_id=3000, seq=1000, ack=5517),
        tcp_packet(11.0, "R", ttl=59, ip_id=3001),
    )
    w.packets = PacketEvidence(is_captured=True, flows=[flow(w.last_id, *packets)])
    result = analyse(w.build(), REF)
    assert result.verdict is Verdict.DOWN
    assert any("came from the server itself" in note for note in result.notes), result.notes


def test_a_flow_of_a_successful_step_is_not_judged() -> None:
    w = sni_reset_world()
    packets = handshake_then(tcp_packet(11.0, "R", ttl=63))
    tcp_id = next(c.id for c in w.tcp)  # the TCP connect succeeded
    w.packets = PacketEvidence(is_captured=True, flows=[flow(tcp_id, *packets)])
    result = analyse(w.build(), REF)
    assert Method.TCP_RST_INJECTED not in result.methods


def test_an_early_answer_from_another_sender_is_packet_confirmed_injection() -> None:
    result = analyse(injected_with_packet_traits().build(), REF)
    assert result.methods[0] is Method.DNS_INJECTED
    hit = next(h for h in result.rules if h.rule == "dns-injected-packet")
    assert "IP TTL 64 vs 61" in hit.detail and "IP ID 4242 vs 0" in hit.detail
    assert is_packet_confirmed(result)


def test_two_injectors_are_both_named() -> None:
    w = World()
    w.dns.append(
        udp_query(
            dns_response(1.0, FORGED, ttl=64, ip_id=11),
            dns_response(1.5, "203.0.113.251", ttl=63, ip_id=12),
            dns_response(51.0, SITE, ttl=61, ip_id=0),
        )
    )
    w.lookup(ResolverKind.DOH, SITE)
    w.fetch(FORGED, failure=F.GENERIC_TIMEOUT, stage="tcp").with_control()
    hit = next(h for h in analyse(w.build(), REF).rules if h.rule == "dns-injected-packet")
    assert FORGED in hit.detail and "203.0.113.251" in hit.detail


def test_matching_dns_packet_traits_leave_injection_to_the_answers_alone() -> None:
    result = analyse(injected_with_packet_traits(forged_ttl=61, forged_id=0).build(), REF)
    rules = {h.rule for h in result.rules}
    assert "dns-injected" in rules and "dns-injected-packet" not in rules
    assert any("cannot tell which is forged" in note for note in result.notes)


def test_a_missing_udp_checksum_tells_the_senders_apart() -> None:
    w = injected_with_packet_traits(forged_ttl=61, forged_id=0, checksum=False)
    hit = next(h for h in analyse(w.build(), REF).rules if h.rule == "dns-injected-packet")
    assert "UDP checksum zero vs set" in hit.detail


def test_responses_without_capture_fields_fire_no_packet_rule() -> None:
    w = World()
    w.lookup(ResolverKind.UDP, responses=[[FORGED], [SITE]]).lookup(ResolverKind.DOH, SITE)
    w.fetch(FORGED, failure=F.GENERIC_TIMEOUT, stage="tcp").with_control()
    result = analyse(w.build(), REF)
    assert not is_packet_confirmed(result)
    assert not any("packet evidence" in note for note in result.notes)


def test_an_answer_from_the_bait_is_injection() -> None:
    result = analyse(bait_answered().build(), REF)
    assert Method.DNS_INJECTED in result.methods
    hit = next(h for h in result.rules if h.rule == "dns-bait-answered")
    assert "runs no DNS server" in hit.detail


def test_a_bait_that_answers_harmless_names_proves_nothing() -> None:
    result = analyse(bait_answered(harmless_answered=True).build(), REF)
    assert "dns-bait-answered" not in {h.rule for h in result.rules}
    assert any("not a usable bait" in note for note in result.notes)


def test_a_located_censor_is_named_with_its_hop() -> None:
    result = analyse(located().build(), REF)
    hit = next(h for h in result.rules if h.rule == "censor-located")
    assert "hop 2 (198.51.100.2)" in hit.detail and "in-path" in hit.detail
    assert result.methods == [Method.TLS_RESET]


def test_a_localisation_without_a_blocked_hop_is_a_note() -> None:
    result = analyse(located(censor_found=False).build(), REF)
    assert "censor-located" not in {h.rule for h in result.rules}
    assert any("no hop where only the trigger was blocked" in note for note in result.notes)


def test_packet_rule_ids_are_rules() -> None:
    assert set(RULES) >= PACKET_RULE_IDS
