"""Scenario files: parsing, validation messages, and the world plan derived from them."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from lab.censor.rules import DnsInject, ForgedTraits, HttpBlock, IpBlock, TlsBlock
from lab.cli import bundled_scenarios
from lab.errors import ScenarioError
from lab.plan import CONTROL_ADDRESS, LAB_NETWORKS, plan_world
from lab.scenario import load_scenario, parse_scenario

EXAMPLES = Path(__file__).resolve().parents[2] / "lab" / "examples"
MINIMAL = b'id = "X"\ntitle = "t"\n[[site]]\nhost = "a.test"\n[[expect]]\nurl = "http://a.test/"\nverdict = "ok"\n'


@pytest.mark.parametrize(
    "path", [*bundled_scenarios(), *sorted(EXAMPLES.glob("*.toml"))], ids=lambda p: p.stem
)
def test_every_shipped_scenario_loads_and_plans_inside_the_lab_ranges(path: Path) -> None:
    plan = plan_world(load_scenario(path), "crl0000")
    lab = [ipaddress.ip_network(n) for n in LAB_NETWORKS]
    for address in plan.service_addresses():
        assert any(ipaddress.ip_address(address) in n for n in lab)
    for link in plan.links:
        for cidr in (link.cidr_a, link.cidr_b):
            if cidr:
                assert any(ipaddress.ip_interface(cidr).ip in n for n in lab)
    for route in plan.routes:
        assert any(ipaddress.ip_network(route.destination).subnet_of(n) for n in lab)
    assert all(len(ns) <= 15 for ns in plan.namespaces)
    assert all(ns.startswith("crl0000-") for ns in plan.namespaces)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (b"id = 1\n", "$.id"),
        (MINIMAL + b'[[censor]]\naction = "teleport"\n', "$.censor[0].action"),
        (MINIMAL + b'[[censor]]\naction = "drop"\n', "address"),
        (MINIMAL.replace(b'verdict = "ok"', b'verdict = "fine"'), "$.expect[0].verdict"),
        (b'id = "X"\ntitle = "t"\n', "at least one [[expect]]"),
        (MINIMAL + b'[[site]]\nhost = "a.test"\n', "hosts defined twice"),
        (MINIMAL + b'[[censor]]\naction = "http_reset"\n', "exactly one of host, path_keyword"),
        (b"not = [toml", "not valid TOML"),
        (MINIMAL.replace(b'verdict = "ok"', b'verdict = "ok"\ncensor_hop = 2'), "locate_censor"),
        (
            MINIMAL + b'[[censor]]\naction = "tls_reset"\nsni = "a.test"\nttl_mode = "echo"\n',
            "ttl_mode",
        ),
        (
            b"hops_before = 1\n" + MINIMAL + b'[[country]]\ncc = "CN"\n',
            "hops under each [[country]]",
        ),
    ],
    ids=[
        "wrong-type",
        "unknown-action",
        "missing-field",
        "bad-verdict",
        "no-expect",
        "duplicate-host",
        "http-match",
        "not-toml",
        "censor-hop-without-localisation",
        "bad-ttl-mode",
        "top-level-hops-with-countries",
    ],
)
def test_invalid_scenarios_name_the_file_and_the_field(text: bytes, message: str) -> None:
    with pytest.raises(ScenarioError) as raised:
        parse_scenario(text, "my.toml")
    assert str(raised.value).startswith("my.toml")
    assert message in str(raised.value)


def test_references_resolve_to_lab_addresses_and_unknown_ones_fail() -> None:
    scenario = parse_scenario(
        MINIMAL
        + b'[[censor]]\naction = "reject"\naddress = "@control"\n'
        + b'[[censor]]\naction = "drop"\naddress = "@a.test"\nport = 443\n'
        + b'[[censor]]\naction = "tls_reset"\nsni = "A.TEST"\n'
        + b'[[censor]]\naction = "dns_inject"\nname = "a.test"\nanswer = "@a.test"\n',
        "x.toml",
    )
    plan = plan_world(scenario, "crl0000")
    rules = plan.countries[0].censor.rules
    site = plan.host_addresses["a.test"]
    assert rules == (
        IpBlock(address=CONTROL_ADDRESS, action="reject"),
        IpBlock(address=site, action="drop", port=443),
        TlsBlock(sni="a.test", action="reset"),
        DnsInject(name="a.test", answers=(site,)),
    )
    bad = parse_scenario(
        MINIMAL + b'[[censor]]\naction = "drop"\naddress = "@nowhere.test"\n', "y.toml"
    )
    with pytest.raises(ScenarioError, match=r"unknown lab host '@nowhere\.test'"):
        plan_world(bad, "crl0000")


def test_resolver_overrides_shape_the_isp_zone_only() -> None:
    scenario = parse_scenario(MINIMAL + b'[resolver]\n"a.test" = "nxdomain"\n', "x.toml")
    plan = plan_world(scenario, "crl0000")
    isp = plan.countries[0].zone
    assert isp.behaviours["a.test"].rcode == "NXDOMAIN"
    assert "a.test" not in plan.public_zone.behaviours
    assert any(r.name == "a.test" for r in plan.public_zone.records)


def test_two_countries_get_separate_censors_resolvers_and_routes() -> None:
    plan = plan_world(load_scenario(EXAMPLES / "two-countries.toml"), "crl0000")
    cn, ir = plan.countries
    assert (cn.cc, ir.cc) == ("CN", "IR")
    assert cn.resolver_address != ir.resolver_address
    assert len(cn.clients) == len(ir.clients) == 2
    assert len(cn.routers) == 3 and ir.routers == ()
    assert {c.subnet for c in cn.clients}.isdisjoint({c.subnet for c in ir.clients})
    inet_routes = {r.destination for r in plan.routes if r.namespace == plan.inet_namespace}
    assert {c.subnet for c in plan.clients} <= inet_routes


def test_packet_options_reach_the_plan_censor_and_servers() -> None:
    text = b"""
id = "X"
title = "t"
hops_before = 1
hops_after = 2
[options]
packet_evidence = true
tls_latency_ms = 40
[[site]]
host = "a.test"
[site.pages."/"]
reset = true
[[censor]]
action = "tls_reset"
sni = "a.test"
injector = true
ttl_mode = "copy"
ip_id = "zero"
[[censor]]
action = "http_reset"
host = "a.test"
[[censor]]
action = "dns_inject"
name = "a.test"
udp_checksum = false
[[expect]]
url = "https://a.test/"
verdict = "down"
"""
    plan = plan_world(parse_scenario(text, "x.toml"), "crl0000")
    (country,) = plan.countries
    assert len(country.routers) == 3
    tls, http, dns = country.censor.rules
    assert isinstance(tls, TlsBlock) and tls.forged == ForgedTraits(ttl_mode="copy", ip_id="zero")
    assert isinstance(http, HttpBlock) and http.forged is None
    assert isinstance(dns, DnsInject) and not dns.udp_checksum
    (site_server,) = [w for w in plan.web_servers if w.sites[0].host == "a.test"]
    assert site_server.handshake_latency_ms == 40
    assert site_server.sites[0].routes["/"].reset
