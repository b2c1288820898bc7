"""The JSON encoding of a `CensorPlan`, the file the injector and interceptor processes read.

Pure: no I/O. Each rule is an object tagged with `kind`; bytes (an injected body) are base64.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import msgspec

from lab.censor.rules import (
    CensorPlan,
    CensorRule,
    DnsDrop,
    DnsInject,
    HttpBlock,
    HttpInject,
    IpBlock,
    Throttle,
    TlsBlock,
    TlsIntercept,
)

FORMAT_VERSION = 1
RULE_KINDS: dict[str, type[CensorRule]] = {
    "dns_inject": DnsInject,
    "dns_drop": DnsDrop,
    "ip_block": IpBlock,
    "tls_block": TlsBlock,
    "http_block": HttpBlock,
    "http_inject": HttpInject,
    "tls_intercept": TlsIntercept,
    "throttle": Throttle,
}
_KIND_OF = {cls: kind for kind, cls in RULE_KINDS.items()}


def encode_plan(plan: CensorPlan) -> bytes:
    """Return `plan` as UTF-8 JSON (version, interfaces, client networks, tagged rules)."""
    rules: list[dict[str, Any]] = []
    for rule in plan.rules:
        fields = msgspec.to_builtins(rule)
        rules.append({"kind": _KIND_OF[type(rule)], **fields})
    document = {
        "version": FORMAT_VERSION,
        "lan_interface": plan.lan_interface,
        "wan_interface": plan.wan_interface,
        "client_networks": list(plan.client_networks),
        "rules": rules,
    }
    return json.dumps(document, indent=2, ensure_ascii=False).encode()


def _rule(entry: object, index: int) -> CensorRule:
    """Return the rule encoded by one entry of the `rules` list.

    Raises:
        ValueError: not an object, an unknown kind, or fields of the wrong type.
    """
    if not isinstance(entry, dict):
        raise ValueError(f"rule {index} is not an object")
    fields = dict(entry)
    kind = fields.pop("kind", None)
    cls = RULE_KINDS.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise ValueError(f"rule {index} has an unknown kind {kind!r}")
    unknown = set(fields) - {f.name for f in dataclasses.fields(cls)}
    if unknown:
        raise ValueError(f"rule {index} ({kind}) has unknown fields {sorted(unknown)}")
    try:
        rule: CensorRule = msgspec.convert(fields, cls)
    except msgspec.ValidationError as exc:
        raise ValueError(f"rule {index} ({kind}): {exc}") from exc
    return rule


def decode_plan(data: bytes | str) -> CensorPlan:
    """Return the plan encoded by `encode_plan`.

    Raises:
        ValueError: not JSON, another format version, or an invalid field or rule.
    """
    try:
        document = json.loads(data)
    except json.JSONDecodeError as exc:
        raise ValueError(f"censor plan is not JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise ValueError("censor plan is not a JSON object")
    if document.get("version") != FORMAT_VERSION:
        raise ValueError(f"censor plan version must be {FORMAT_VERSION}")
    rules = document.get("rules", [])
    networks = document.get("client_networks", [])
    if not isinstance(rules, list) or not isinstance(networks, list):
        raise ValueError("`rules` and `client_networks` must be lists")
    if not all(isinstance(n, str) for n in networks):
        raise ValueError("`client_networks` must be strings")
    interfaces = {
        key: document.get(key, default)
        for key, default in (("lan_interface", "lan"), ("wan_interface", "wan"))
    }
    if not all(isinstance(v, str) and v for v in interfaces.values()):
        raise ValueError("interface names must be non-empty strings")
    return CensorPlan(
        rules=tuple(_rule(entry, i) for i, entry in enumerate(rules)),
        lan_interface=interfaces["lan_interface"],
        wan_interface=interfaces["wan_interface"],
        client_networks=tuple(networks),
    )
