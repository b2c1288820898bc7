"""The censor: everything that happens inside the lab's censor namespace.

Modules:
- `rules`: the rule model (`CensorPlan` and one record per kind of interference). Pure.
- `patterns`: the byte patterns (DNS name, SNI, Host, path keyword) both filter and injector use.
- `nft`: renders a plan into an nft script, iptables-nft and tc commands (`censor_commands`). Pure.
- `plan_file`: the plan's JSON encoding, read by the helper processes. Pure.
- `sni`: reads the SNI from a TLS ClientHello. Pure.
- `forgery`: what to forge for a sniffed packet (DNS replies, TCP segments). Pure.
- `injector`: process `python -m lab.censor.injector PLAN.json`; scapy sniffs and forges.
- `interceptor`: process `python -m lab.censor.interceptor PLAN.json --port N --ca-dir DIR`;
  a trio TLS interception proxy with the censor's own CA.
"""

from lab.censor.nft import (
    CensorCommands,
    censor_commands,
    needs_injector,
    needs_interceptor,
    render_iptables,
    render_nft,
    render_tc,
)
from lab.censor.plan_file import decode_plan, encode_plan
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

__all__ = [
    "CensorCommands",
    "CensorPlan",
    "CensorRule",
    "DnsDrop",
    "DnsInject",
    "HttpBlock",
    "HttpInject",
    "IpBlock",
    "Throttle",
    "TlsBlock",
    "TlsIntercept",
    "censor_commands",
    "decode_plan",
    "encode_plan",
    "needs_injector",
    "needs_interceptor",
    "render_iptables",
    "render_nft",
    "render_tc",
]
