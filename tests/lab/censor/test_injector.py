"""The packet injector: its BPF filter, then forged DNS, HTTP and FIN packets seen by the probe."""

from __future__ import annotations

import pytest

from lab.censor.injector import bpf_filter
from lab.censor.rules import (
    CensorPlan,
    CensorRule,
    DnsInject,
    HttpBlock,
    HttpInject,
    TlsBlock,
)

from .netlab import CLIENT_NETWORK, NEWS, REAL_DNS_DELAY_MS, Lab

MAC = "02:00:00:00:00:01"
DNS_PART = "(udp and dst port 53)"
BLOCKPAGE = b"<html><head><title>Access denied</title></head><body>Blocked by order</body></html>"
SIGTERM_EXIT_S = 1.0


def plan(*rules: CensorRule) -> CensorPlan:
    return CensorPlan(rules=rules, client_networks=(CLIENT_NETWORK,))


def test_bpf_filter_takes_only_frames_sent_to_the_censor_that_a_rule_needs() -> None:
    dns_only = bpf_filter(MAC.upper(), (DnsInject("a.test"),))
    assert dns_only == f"ether dst {MAC} and ip and ({DNS_PART})"
    tcp_only = bpf_filter(MAC, (TlsBlock("a.test", "close"),))
    assert tcp_only is not None and tcp_only.startswith(f"ether dst {MAC} and ip and ((tcp and ")
    both = bpf_filter(MAC, (DnsInject("a.test"), HttpInject(status=200, host="a.test")))
    assert both is not None and DNS_PART in both and "(tcp and " in both


@pytest.mark.parametrize(
    "rules",
    [
        pytest.param((), id="empty"),
        pytest.param(
            (TlsBlock("a.test", "reset"), HttpBlock("drop", host="a.test")), id="iptables"
        ),
    ],
)
def test_bpf_filter_is_none_when_no_rule_needs_the_injector(rules: tuple[CensorRule, ...]) -> None:
    assert bpf_filter(MAC, rules) is None


@pytest.mark.netns
async def test_injected_dns_answer_arrives_first_and_the_real_one_is_recorded(lab: Lab) -> None:
    helpers = await lab.apply_censor(plan(DnsInject("news.example.test", answers=("127.0.0.2",))))
    news, www = await lab.probe("https://news.example.test/", "https://www.example.test/")
    by_type = {q.query_type: q for q in news.dns}
    forged, real = by_type["A"].responses
    assert [a.address for a in forged.answers] == ["127.0.0.2"]
    assert [a.address for a in real.answers] == [NEWS]
    # The probe stamps the send a little after the packet leaves, so allow for it.
    assert forged.delay_ms + REAL_DNS_DELAY_MS / 2 < real.delay_ms
    assert real.delay_ms > REAL_DNS_DELAY_MS * 0.8
    assert forged.source == real.source == "203.0.113.53:53"
    assert [a.address for a in by_type["A"].answers] == ["127.0.0.2"]  # the probe used the forgery
    assert len(by_type["AAAA"].responses) == 2  # an empty forged NOERROR, then the real one
    assert all(len(q.responses) == 1 for q in www.dns)
    assert await lab.stop(helpers["injector"]) < SIGTERM_EXIT_S
    assert helpers["injector"].returncode == 0


@pytest.mark.netns
async def test_injected_dns_copies_carry_the_query_ttl_and_differ(lab: Lab) -> None:
    rule = DnsInject("news.example.test", answers=("127.0.0.2",), ttl_mode="copy", copies=2)
    await lab.apply_censor(plan(rule))
    (news,) = await lab.probe("http://news.example.test/")
    a_query = next(q for q in news.dns if q.query_type == "A")
    assert [[a.address for a in r.answers] for r in a_query.responses] == [
        ["127.0.0.2"],
        ["127.0.0.2"],
        [NEWS],
    ]
    # The query left the client with TTL 64; the real answer crossed the censor (64 -> 63).
    assert [r.ip_ttl for r in a_query.responses] == [64, 63, 63]


@pytest.mark.netns
async def test_injected_http_response_wins_and_ends_the_flow(lab: Lab) -> None:
    rule = HttpInject(status=200, body=BLOCKPAGE, host="news.example.test")
    helpers = await lab.apply_censor(plan(rule))
    news, www = await lab.probe("http://news.example.test/", "http://www.example.test/")
    (tx,) = news.http
    assert tx.failure is None and tx.response is not None
    assert tx.response.status_code == 200
    assert tx.response.body_prefix == BLOCKPAGE.decode()
    assert tx.response.body_is_complete and tx.response.title == "Access denied"
    assert www.http[0].response is not None and www.http[0].response.title == "Example"
    assert await lab.stop(helpers["injector"]) < SIGTERM_EXIT_S


@pytest.mark.netns
async def test_injected_redirect_ending_in_a_reset_still_delivers_the_response(lab: Lab) -> None:
    rule = HttpInject(
        status=302,
        headers=(("Location", "http://warning.isp.test/"),),
        path_keyword="forbidden-word",
        end="rst",
    )
    await lab.apply_censor(plan(rule))
    (blocked,) = await lab.probe("http://www.example.test/forbidden-word/")
    first = blocked.http[0]
    assert first.response is not None and first.response.status_code == 302
    assert ("Location", "http://warning.isp.test/") in first.response.headers


@pytest.mark.netns
async def test_sni_close_ends_the_handshake_with_eof(lab: Lab) -> None:
    await lab.apply_censor(plan(TlsBlock("news.example.test", "close")))
    news, www = await lab.probe("https://news.example.test/", "https://www.example.test/")
    assert [t.failure for t in news.tls] == ["eof_error"]
    assert [h.failure for h in news.http] == ["eof_error"]
    assert [t.failure for t in www.tls] == [None]


@pytest.mark.netns
async def test_http_close_ends_the_request_with_eof(lab: Lab) -> None:
    await lab.apply_censor(plan(HttpBlock("close", host="news.example.test")))
    (news,) = await lab.probe("http://news.example.test/")
    assert [h.failure for h in news.http] == ["eof_error"]
    assert news.http[0].connect_ms is not None
