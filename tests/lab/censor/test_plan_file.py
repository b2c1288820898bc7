"""The censor plan's JSON encoding: round trips and refusals."""

from __future__ import annotations

import json
import typing

import pytest

from lab.censor.plan_file import RULE_KINDS, decode_plan, encode_plan
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

EVERY_RULE = CensorPlan(
    rules=(
        DnsInject("news.example.test", answers=("127.0.0.2",), ttl_mode="copy", copies=2),
        DnsInject("x.test", rcode="NXDOMAIN", ip_ttl=40, ip_id="zero", udp_checksum=False),
        DnsDrop("news.example.test"),
        IpBlock("203.0.113.20", "reject", 80),
        IpBlock("203.0.113.21", "unreachable"),
        TlsBlock("news.example.test", "close"),
        TlsBlock(
            "forged.example.test", "reset", forged=ForgedTraits(ttl_mode="copy", in_path=True)
        ),
        HttpBlock("reset", path_keyword="forbidden-word"),
        HttpInject(
            status=302,
            body=b"\x00\xffbinary <b>page</b>",
            headers=(("Location", "http://warning.isp.test/"),),
            host="news.example.test",
            end="rst",
        ),
        TlsIntercept("news.example.test"),
        Throttle("203.0.113.30", 16),
    ),
    lan_interface="c-lan",
    wan_interface="c-wan",
    client_networks=("192.0.2.0/28",),
)


def test_every_rule_kind_survives_a_round_trip() -> None:
    assert decode_plan(encode_plan(EVERY_RULE)) == EVERY_RULE


def test_every_rule_type_has_a_kind() -> None:
    assert set(RULE_KINDS.values()) == set(typing.get_args(CensorRule))
    assert {type(rule) for rule in EVERY_RULE.rules} == set(RULE_KINDS.values())


def test_the_encoding_is_readable_json_with_a_base64_body() -> None:
    document = json.loads(encode_plan(EVERY_RULE))
    assert document["version"] == 1
    inject = next(r for r in document["rules"] if r["kind"] == "http_inject")
    assert inject["body"] == "AP9iaW5hcnkgPGI+cGFnZTwvYj4="
    assert inject["headers"] == [["Location", "http://warning.isp.test/"]]


def test_missing_plan_fields_take_the_defaults() -> None:
    assert decode_plan(b'{"version": 1}') == CensorPlan()


def rules_document(*rules: object) -> str:
    return json.dumps({"version": 1, "rules": list(rules)})


@pytest.mark.parametrize(
    ("data", "message"),
    [
        pytest.param("{", "not JSON", id="not-json"),
        pytest.param("[]", "not a JSON object", id="not-object"),
        pytest.param('{"version": 2}', "version", id="version"),
        pytest.param('{"version": 1, "rules": {}}', "must be lists", id="rules-not-list"),
        pytest.param('{"version": 1, "client_networks": [1]}', "strings", id="network-type"),
        pytest.param('{"version": 1, "lan_interface": ""}', "interface", id="empty-interface"),
        pytest.param(rules_document(["dns_drop"]), "not an object", id="rule-not-object"),
        pytest.param(rules_document({"kind": "nope"}), "unknown kind", id="unknown-kind"),
        pytest.param(
            rules_document({"kind": "dns_drop", "name": "a.test", "nmae": "b"}),
            "unknown fields",
            id="unknown-field",
        ),
        pytest.param(
            rules_document({"kind": "dns_inject", "name": "a.test", "copies": "2"}),
            "Expected `int`",
            id="wrong-type",
        ),
        pytest.param(
            rules_document({"kind": "tls_block", "sni": "a.test", "action": "explode"}),
            "action",
            id="bad-literal",
        ),
        pytest.param(rules_document({"kind": "dns_drop"}), "name", id="missing-field"),
    ],
)
def test_invalid_plans_are_refused_with_a_reason(data: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        decode_plan(data)
