"""Renderers for nft, iptables and tc (pure tables), then each rule acting on the real probe."""

from __future__ import annotations

import pytest

from lab.censor.nft import (
    censor_commands,
    render_iptables,
    render_nft,
    render_tc,
    throttle_burst_bytes,
)
from lab.censor.rules import (
    CensorPlan,
    CensorRule,
    DnsDrop,
    DnsInject,
    ForgedTraits,
    HttpBlock,
    HttpInject,
    IpBlock,
    Throttle,
    TlsBlock,
    TlsIntercept,
)

from .netlab import CLIENT_NETWORK, NEWS, THROTTLED_BYTES, Lab

IPT = ["iptables", "-w", "-A", "FORWARD", "-i", "lan"]
STRING = ["-m", "string", "--algo", "bm", "--icase", "--hex-string"]


def plan(*rules: CensorRule) -> CensorPlan:
    return CensorPlan(rules=rules, client_networks=(CLIENT_NETWORK,))


@pytest.mark.parametrize(
    ("rule", "lines"),
    [
        pytest.param(
            IpBlock("203.0.113.20", "drop", 443),
            ["ip daddr 203.0.113.20 tcp dport 443 drop"],
            id="drop-port",
        ),
        pytest.param(IpBlock("203.0.113.20", "drop"), ["ip daddr 203.0.113.20 drop"], id="drop"),
        pytest.param(
            IpBlock("203.0.113.20", "reject", 80),
            ["ip daddr 203.0.113.20 tcp dport 80 reject with tcp reset"],
            id="reject-port",
        ),
        pytest.param(
            IpBlock("203.0.113.20", "reject"),
            [
                "ip daddr 203.0.113.20 meta l4proto tcp reject with tcp reset",
                "ip daddr 203.0.113.20 meta l4proto udp reject with icmp type port-unreachable",
                "ip daddr 203.0.113.20 drop",
            ],
            id="reject",
        ),
        pytest.param(
            IpBlock("203.0.113.20", "unreachable"),
            ["ip daddr 203.0.113.20 reject with icmp type host-unreachable"],
            id="unreachable",
        ),
        pytest.param(
            IpBlock("2001:db8::20", "unreachable", 443),
            ["ip6 daddr 2001:db8::20 tcp dport 443 reject with icmpv6 type addr-unreachable"],
            id="unreachable-ipv6",
        ),
    ],
)
def test_ip_blocks_render_to_forward_chain_lines(rule: IpBlock, lines: list[str]) -> None:
    script = render_nft(plan(rule), interceptor_port=None)
    body = [line.strip() for line in script.splitlines()]
    start = body.index("type filter hook forward priority filter; policy accept;") + 1
    assert body[start : start + len(lines)] == lines
    assert body[start + len(lines)] == "}"
    assert "prerouting" not in script


def test_nft_script_replaces_its_own_table_as_a_whole() -> None:
    script = render_nft(plan(IpBlock("203.0.113.20", "drop")), interceptor_port=None)
    assert script.splitlines()[:3] == [
        "table inet crenel",
        "delete table inet crenel",
        "table inet crenel {",
    ]
    assert script.endswith("}\n")


def test_interception_redirects_client_tls_to_the_interceptor() -> None:
    script = render_nft(plan(TlsIntercept("news.example.test")), interceptor_port=10443)
    assert "type nat hook prerouting priority dstnat; policy accept;" in script
    redirect = 'iifname "lan" ip saddr { 192.0.2.0/28 } tcp dport 443 redirect to :10443'
    assert redirect in script
    assert "forward" not in script


def test_interception_without_client_networks_redirects_everything_from_the_lan() -> None:
    rules = (TlsIntercept("news.example.test"),)
    script = render_nft(CensorPlan(rules=rules), interceptor_port=10443)
    assert 'iifname "lan" meta nfproto ipv4 tcp dport 443 redirect to :10443' in script


@pytest.mark.parametrize(
    ("rules", "port", "message"),
    [
        pytest.param((TlsIntercept("a.test"),), None, "interceptor", id="intercept-no-port"),
        pytest.param((TlsIntercept("a.test"),), 70000, "out of range", id="intercept-bad-port"),
        pytest.param((IpBlock("a.test", "drop"),), None, "does not appear", id="name-not-ip"),
        pytest.param((IpBlock("203.0.113.1", "drop", 0),), None, "out of range", id="port-zero"),
    ],
)
def test_nft_refuses_what_it_cannot_render(
    rules: tuple[CensorRule, ...], port: int | None, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        render_nft(plan(*rules), interceptor_port=port)


def test_plans_without_ip_rules_render_no_nft_script() -> None:
    assert render_nft(plan(DnsDrop("news.example.test")), interceptor_port=None) == ""


@pytest.mark.parametrize(
    ("rule", "command"),
    [
        pytest.param(
            DnsDrop("news.example.test"),
            [*IPT, "-p", "udp", "--dport", "53", *STRING, "|04|news|07|example|04|test|00|",
             "-j", "DROP"],
            id="dns-drop",
        ),
        pytest.param(
            TlsBlock("news.example.test", "reset"),
            [*IPT, "-p", "tcp", *STRING, "|000011|news.example.test", "-j", "REJECT",
             "--reject-with", "tcp-reset"],
            id="sni-reset",
        ),
        pytest.param(
            TlsBlock("news.example.test", "drop"),
            [*IPT, "-p", "tcp", *STRING, "|000011|news.example.test", "-j", "DROP"],
            id="sni-drop",
        ),
        pytest.param(
            TlsBlock("news.example.test", "close"),
            [*IPT, "-p", "tcp", *STRING, "|000011|news.example.test", "-j", "DROP"],
            id="sni-close",
        ),
        pytest.param(
            HttpBlock("reset", host="news.example.test"),
            [*IPT, "-p", "tcp", *STRING, "Host:|20|news.example.test", "-j", "REJECT",
             "--reject-with", "tcp-reset"],
            id="host-reset",
        ),
        pytest.param(
            HttpBlock("drop", path_keyword="forbidden-word"),
            [*IPT, "-p", "tcp", *STRING, "forbidden-word", "-j", "DROP"],
            id="path-drop",
        ),
        pytest.param(
            HttpInject(status=200, host="news.example.test"),
            [*IPT, "-p", "tcp", *STRING, "Host:|20|news.example.test", "-j", "DROP"],
            id="inject-drops-trigger",
        ),
        pytest.param(
            TlsBlock("news.example.test", "reset", forged=ForgedTraits(in_path=True)),
            [*IPT, "-p", "tcp", *STRING, "|000011|news.example.test", "-j", "DROP"],
            id="in-path-forged-reset-drops-trigger",
        ),
    ],
)  # fmt: skip
def test_keyword_rules_render_to_iptables_string_matches(
    rule: CensorRule, command: list[str]
) -> None:
    assert render_iptables(plan(rule)) == [command]


@pytest.mark.parametrize(
    "rule",
    [
        pytest.param(IpBlock("203.0.113.20", "drop"), id="ip"),
        pytest.param(DnsInject("news.example.test"), id="dns-inject"),
        pytest.param(TlsIntercept("news.example.test"), id="intercept"),
        pytest.param(Throttle("203.0.113.30", 16), id="throttle"),
        pytest.param(
            HttpBlock("reset", host="news.example.test", forged=ForgedTraits()),
            id="on-path-forged-reset-lets-the-trigger-through",
        ),
    ],
)
def test_rules_without_keywords_render_no_iptables_command(rule: CensorRule) -> None:
    assert render_iptables(plan(rule)) == []


def test_iptables_rules_follow_the_plan_lan_interface() -> None:
    rules = (DnsDrop("news.example.test"),)
    (command,) = render_iptables(CensorPlan(rules=rules, lan_interface="c-lan"))
    assert command[command.index("-i") + 1] == "c-lan"


def test_a_throttle_renders_an_htb_class_with_a_packet_splitting_tbf() -> None:
    commands = render_tc(plan(Throttle("203.0.113.30", 16)))
    assert [" ".join(c) for c in commands] == [
        "tc qdisc replace dev lan root handle 1: htb default 1",
        "tc class add dev lan parent 1: classid 1:1 htb rate 10gbit quantum 1514",
        "tc class add dev lan parent 1: classid 1:10 htb rate 16kbit ceil 16kbit"
        " burst 1600 cburst 1600 quantum 1514",
        "tc qdisc add dev lan parent 1:10 handle 10: tbf rate 1gbit burst 2000 limit 96896",
        "tc filter add dev lan parent 1: protocol ip prio 1 u32 match ip src 203.0.113.30/32"
        " flowid 1:10",
    ]


def test_each_throttle_gets_its_own_class() -> None:
    commands = render_tc(plan(Throttle("203.0.113.30", 16), Throttle("2001:db8::30", 1000)))
    filters = [" ".join(c) for c in commands if c[1] == "filter"]
    assert filters == [
        "tc filter add dev lan parent 1: protocol ip prio 1 u32 match ip src 203.0.113.30/32"
        " flowid 1:10",
        "tc filter add dev lan parent 1: protocol ipv6 prio 1 u32 match ip6 src 2001:db8::30/128"
        " flowid 1:11",
    ]


def test_no_throttle_renders_no_tc_command() -> None:
    assert render_tc(plan(IpBlock("203.0.113.20", "drop"))) == []


@pytest.mark.parametrize("rate_kbit", [0, -16, 100_001])
def test_rates_outside_the_throttle_range_are_refused(rate_kbit: int) -> None:
    with pytest.raises(ValueError, match="throttle rate"):
        render_tc(plan(Throttle("203.0.113.30", rate_kbit)))


@pytest.mark.parametrize(
    ("rate_kbit", "burst"),
    [
        pytest.param(16, 1600, id="16k-one-frame"),
        pytest.param(256, 1600, id="256k-one-frame"),
        pytest.param(10_000, 12_500, id="10m-10ms"),
    ],
)
def test_throttle_bursts_are_one_frame_or_ten_milliseconds(rate_kbit: int, burst: int) -> None:
    assert throttle_burst_bytes(rate_kbit) == burst


@pytest.mark.parametrize(
    ("rule", "injector", "interceptor"),
    [
        pytest.param(DnsInject("a.test"), True, False, id="dns-inject"),
        pytest.param(HttpInject(status=200, host="a.test"), True, False, id="http-inject"),
        pytest.param(TlsBlock("a.test", "close"), True, False, id="sni-close"),
        pytest.param(HttpBlock("close", host="a.test"), True, False, id="http-close"),
        pytest.param(TlsBlock("a.test", "reset"), False, False, id="sni-reset"),
        pytest.param(HttpBlock("drop", host="a.test"), False, False, id="http-drop"),
        pytest.param(DnsDrop("a.test"), False, False, id="dns-drop"),
        pytest.param(TlsIntercept("a.test"), False, True, id="intercept"),
    ],
)
def test_censor_commands_say_which_helpers_a_plan_needs(
    rule: CensorRule, injector: bool, interceptor: bool
) -> None:
    commands = censor_commands(plan(rule), interceptor_port=10443)
    assert (commands.needs_injector, commands.needs_interceptor) == (injector, interceptor)


def test_censor_commands_put_iptables_before_tc() -> None:
    rules = (Throttle("203.0.113.30", 16), DnsDrop("news.example.test"))
    commands = censor_commands(plan(*rules))
    assert [c[0] for c in commands.commands] == ["iptables", "tc", "tc", "tc", "tc", "tc"]
    assert commands.nft_script == ""


# --- on the wire: the real probe in the client namespace, the rules in the censor ---------------


@pytest.mark.netns
async def test_sni_reset_resets_the_tls_handshake_only_for_that_name(lab: Lab) -> None:
    await lab.apply_censor(plan(TlsBlock("news.example.test", "reset")))
    news, www = await lab.probe("https://news.example.test/", "https://www.example.test/")
    assert [t.failure for t in news.tls] == ["connection_reset"]
    assert [t.failure for t in news.tcp] == [None]
    assert [h.failure for h in news.http] == ["connection_reset"]
    assert [t.failure for t in www.tls] == [None]
    assert www.http[0].response is not None and www.http[0].response.status_code == 200


@pytest.mark.netns
async def test_sni_drop_leaves_the_tls_handshake_to_time_out(lab: Lab) -> None:
    await lab.apply_censor(plan(TlsBlock("news.example.test", "drop")))
    (news,) = await lab.probe(
        "https://news.example.test/", timeouts=("--tls-timeout", "1", "--http-timeout", "1")
    )
    assert [t.failure for t in news.tcp] == [None]
    assert [t.failure for t in news.tls] == ["generic_timeout_error"]
    assert [h.failure for h in news.http] == ["generic_timeout_error"]


@pytest.mark.netns
async def test_ip_reject_refuses_the_connection(lab: Lab) -> None:
    await lab.apply_censor(plan(IpBlock(NEWS, "reject", 80)))
    (news,) = await lab.probe("http://news.example.test/")
    by_port = {t.port: t.failure for t in news.tcp}
    assert by_port == {80: "connection_refused", 443: None}
    assert [h.failure for h in news.http] == ["connection_refused"]


@pytest.mark.netns
async def test_ip_unreachable_makes_the_host_unreachable(lab: Lab) -> None:
    await lab.apply_censor(plan(IpBlock(NEWS, "unreachable")))
    (news,) = await lab.probe("https://news.example.test/")
    assert [t.failure for t in news.tcp] == ["host_unreachable"]
    assert [h.failure for h in news.http] == ["host_unreachable"]


@pytest.mark.netns
async def test_ip_drop_on_a_port_times_the_connect_out(lab: Lab) -> None:
    await lab.apply_censor(plan(IpBlock(NEWS, "drop", 443)))
    (news,) = await lab.probe(
        "https://news.example.test/", timeouts=("--tcp-timeout", "1", "--http-timeout", "1")
    )
    assert [t.failure for t in news.tcp] == ["generic_timeout_error"]
    assert [h.failure for h in news.http] == ["generic_timeout_error"]


@pytest.mark.netns
async def test_dns_drop_times_out_queries_for_the_name_only(lab: Lab) -> None:
    await lab.apply_censor(plan(DnsDrop("news.example.test")))
    news, www = await lab.probe(
        "https://news.example.test/", "http://www.example.test/", timeouts=("--dns-timeout", "1")
    )
    assert {q.query_type: q.failure for q in news.dns} == {
        "A": "generic_timeout_error",
        "AAAA": "generic_timeout_error",
    }
    assert all(q.responses == [] for q in news.dns)
    assert news.tcp == [] and news.http == []
    www_a = next(q for q in www.dns if q.query_type == "A")
    assert www_a.failure is None and [a.address for a in www_a.answers] == ["203.0.113.10"]


@pytest.mark.netns
async def test_host_reset_resets_the_http_request_for_that_host_only(lab: Lab) -> None:
    await lab.apply_censor(plan(HttpBlock("reset", host="news.example.test")))
    news, www = await lab.probe("http://news.example.test/", "http://www.example.test/")
    assert [h.failure for h in news.http] == ["connection_reset"]
    assert news.http[0].connect_ms is not None  # the TCP handshake itself went through
    assert [h.failure for h in www.http] == [None]


@pytest.mark.netns
async def test_path_keyword_reset_spares_other_paths_on_the_same_site(lab: Lab) -> None:
    await lab.apply_censor(plan(HttpBlock("reset", path_keyword="forbidden-word")))
    blocked, fine = await lab.probe(
        "http://www.example.test/forbidden-word/", "http://www.example.test/"
    )
    assert [h.failure for h in blocked.http] == ["connection_reset"]
    assert [h.failure for h in fine.http] == [None]
    assert fine.http[0].response is not None and fine.http[0].response.status_code == 200


@pytest.mark.netns
async def test_throttle_limits_goodput_to_the_configured_rate(lab: Lab) -> None:
    rate_kbit = 256
    await lab.apply_censor(plan(Throttle("203.0.113.30", rate_kbit)))
    (files,) = await lab.probe("http://files.example.test/big")
    (tx,) = files.http
    assert tx.failure is None and tx.response is not None
    assert tx.response.body_length == THROTTLED_BYTES and tx.response.body_is_complete
    assert tx.headers_ms is not None
    seconds = (tx.t_ms - tx.headers_ms) / 1000
    goodput_kbit = THROTTLED_BYTES * 8 / seconds / 1000
    assert rate_kbit / 2 <= goodput_kbit <= rate_kbit * 2, f"{goodput_kbit:.0f} kbit/s"
