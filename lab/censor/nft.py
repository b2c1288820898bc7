"""Render a `CensorPlan` into packet-filter and traffic-control commands for the censor namespace.

Pure: no I/O. `render_nft` gives an nft script (IP blocks, the TLS interception redirect),
`render_iptables` iptables-nft string matches (DNS names, SNI, HTTP Host or path), `render_tc`
an htb throttle; `censor_commands` bundles them with which helper processes the plan needs.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from lab.censor.forgery import needs_dns, needs_tcp
from lab.censor.patterns import (
    dns_name_pattern,
    hex_string,
    http_pattern,
    sni_pattern,
)
from lab.censor.rules import (
    CensorPlan,
    DnsDrop,
    FlowAction,
    HttpBlock,
    HttpInject,
    IpBlock,
    Throttle,
    TlsBlock,
    TlsIntercept,
)

TABLE = "crenel"
TLS_PORT = 443
# htb class ids: the unlimited default class and the first throttled class (one per rule).
DEFAULT_CLASS = 1
FIRST_THROTTLE_CLASS = 10
UNLIMITED_RATE = "10gbit"
# A bucket of one full-size frame: any larger and a slow class sends whole bursts at line rate
# (16 kbit/s is 2000 bytes/s, so a 16 kB bucket would pass 8 s of traffic at once).
MIN_BURST_BYTES = 1600
BURST_S = 0.01  # faster classes get 10 ms of traffic per bucket (htb's own default is ~1 tick)
QUANTUM_BYTES = 1514  # one Ethernet frame; htb warns when rate/r2q falls below the MTU
# The tbf under each throttled class only splits TSO super-packets: a bucket just above one
# frame (larger packets are segmented), refilled at a rate no throttle comes near.
SPLITTER_RATE = "1gbit"
SPLITTER_BURST_BYTES = 2000
MAX_THROTTLE_KBIT = 100_000  # a tenth of the splitter's rate, so it never limits
# Bytes queued per throttled class: 64 full frames, enough for a TCP window. (The default
# 1000-packet queue would hold ~12 minutes of data at 16 kbit/s.)
THROTTLE_QUEUE_BYTES = 64 * 1514


@dataclass(frozen=True)
class CensorCommands:
    """Everything that configures one censor namespace, in the order to apply it.

    `nft_script` goes to `nft -f -` on stdin (empty: nothing to load); `commands` run one by
    one (iptables then tc). The helper processes are needed when the flags say so.
    """

    nft_script: str
    commands: tuple[tuple[str, ...], ...]
    needs_injector: bool
    needs_interceptor: bool


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """Return `text` as an IP address.

    Raises:
        ValueError: it is not an IP literal.
    """
    return ipaddress.ip_address(text)


def _ip_block_lines(rule: IpBlock) -> list[str]:
    """Return the forward-chain lines of one IP block."""
    address = _address(rule.address)
    family = "ip" if address.version == 4 else "ip6"
    icmp = "icmp" if address.version == 4 else "icmpv6"
    match = f"{family} daddr {address}"
    if rule.port is not None:
        if not 0 < rule.port < 65536:
            raise ValueError(f"port out of range: {rule.port}")
        match += f" tcp dport {rule.port}"
    if rule.action == "drop":
        return [f"{match} drop"]
    if rule.action == "unreachable":
        code = "host-unreachable" if address.version == 4 else "addr-unreachable"
        return [f"{match} reject with {icmp} type {code}"]
    if rule.port is not None:
        return [f"{match} reject with tcp reset"]
    return [
        f"{match} meta l4proto tcp reject with tcp reset",
        f"{match} meta l4proto udp reject with {icmp} type port-unreachable",
        f"{match} drop",  # neither TCP nor UDP: nothing to answer with
    ]


def _redirect_lines(plan: CensorPlan, port: int) -> list[str]:
    """Return the prerouting line sending the clients' IPv4 TLS flows to the interceptor.

    IPv4 only: the interceptor reads the original destination with SO_ORIGINAL_DST (IPv4).
    """
    if not 0 < port < 65536:
        raise ValueError(f"interceptor port out of range: {port}")
    networks = [ipaddress.ip_network(n, strict=False) for n in plan.client_networks]
    v4 = [str(n) for n in networks if n.version == 4]
    source = f"ip saddr {{ {', '.join(v4)} }}" if v4 else "meta nfproto ipv4"
    return [f'iifname "{plan.lan_interface}" {source} tcp dport {TLS_PORT} redirect to :{port}']


def render_nft(plan: CensorPlan, *, interceptor_port: int | None) -> str:
    """Return an nft script for the plan's IP blocks and TLS interception ("" if it has none).

    The script replaces table `inet crenel` as a whole, so loading it twice is harmless.

    Raises:
        ValueError: an invalid address or port, or TLS interception without `interceptor_port`.
    """
    forward: list[str] = []
    for rule in plan.rules:
        if isinstance(rule, IpBlock):
            forward.extend(_ip_block_lines(rule))
    prerouting: list[str] = []
    if any(isinstance(rule, TlsIntercept) for rule in plan.rules):
        if interceptor_port is None:
            raise ValueError("TLS interception needs the interceptor's port")
        prerouting = _redirect_lines(plan, interceptor_port)
    if not forward and not prerouting:
        return ""
    lines = [f"table inet {TABLE}", f"delete table inet {TABLE}", f"table inet {TABLE} {{"]
    if forward:
        lines += [
            "  chain forward {",
            "    type filter hook forward priority filter; policy accept;",
            *(f"    {line}" for line in forward),
            "  }",
        ]
    if prerouting:
        lines += [
            "  chain prerouting {",
            "    type nat hook prerouting priority dstnat; policy accept;",
            *(f"    {line}" for line in prerouting),
            "  }",
        ]
    lines.append("}")
    return "\n".join(lines) + "\n"


def _string_match(pattern: bytes) -> list[str]:
    """Return the iptables arguments matching `pattern` anywhere in a packet, ignoring case."""
    return ["-m", "string", "--algo", "bm", "--icase", "--hex-string", hex_string(pattern)]


def _flow_target(action: FlowAction) -> list[str]:
    """Return the iptables target for a flow action.

    "close" drops the trigger here; the injector then sends the client a FIN.
    """
    if action == "reset":
        return ["-j", "REJECT", "--reject-with", "tcp-reset"]
    return ["-j", "DROP"]


def render_iptables(plan: CensorPlan) -> list[list[str]]:
    """Return iptables commands (FORWARD chain, client-side packets) for the keyword rules.

    DNS queries carrying a dropped name are dropped; a TLS ClientHello with a blocked SNI and
    an HTTP request with a blocked Host or path keyword get the rule's action; a request that
    an `HttpInject` answers is dropped so the real server never sees it (the forged answer is
    then the only one). A reset the injector forges needs no rule here, unless it is in-path:
    then its trigger is dropped.

    Raises:
        ValueError: a name or keyword cannot be matched (invalid, or too long).
    """
    base = ["iptables", "-w", "-A", "FORWARD", "-i", plan.lan_interface]
    commands: list[list[str]] = []
    for rule in plan.rules:
        if isinstance(rule, DnsDrop):
            match = ["-p", "udp", "--dport", "53", *_string_match(dns_name_pattern(rule.name))]
            commands.append([*base, *match, "-j", "DROP"])
        elif isinstance(rule, TlsBlock | HttpBlock):
            pattern = (
                sni_pattern(rule.sni)
                if isinstance(rule, TlsBlock)
                else http_pattern(rule.host, rule.path_keyword)
            )
            match = ["-p", "tcp", *_string_match(pattern)]
            if rule.forged is None:
                commands.append([*base, *match, *_flow_target(rule.action)])
            elif rule.forged.in_path:
                commands.append([*base, *match, "-j", "DROP"])
        elif isinstance(rule, HttpInject):
            match = ["-p", "tcp", *_string_match(http_pattern(rule.host, rule.path_keyword))]
            commands.append([*base, *match, "-j", "DROP"])
    return commands


def throttle_burst_bytes(rate_kbit: int) -> int:
    """Return the htb bucket size for `rate_kbit`: one frame, or 10 ms of traffic if larger."""
    return max(MIN_BURST_BYTES, int(rate_kbit * 1000 / 8 * BURST_S))


def render_tc(plan: CensorPlan) -> list[list[str]]:
    """Return tc commands for the throttles: htb on the LAN interface (towards the client).

    Packets from each throttled address go to their own class at `rate_kbit`; everything else
    to an unlimited default class. Each throttled class holds a tbf that only splits packets:
    veth forwards TSO super-packets (up to 64 KB), which htb lets through whole while it has
    tokens (7 KB at once at 16 kbit/s, measured); tbf cuts anything larger than its bucket
    into frames, and its own rate is far above the class's, so htb alone paces them (a
    limiting tbf under htb makes the kernel log "non-work-conserving"). No throttle, no
    commands.

    Raises:
        ValueError: a rate outside 1-MAX_THROTTLE_KBIT or an invalid address.
    """
    throttles = [rule for rule in plan.rules if isinstance(rule, Throttle)]
    if not throttles:
        return []
    dev = plan.lan_interface
    tc_class = ["tc", "class", "add", "dev", dev, "parent", "1:"]
    commands = [
        ["tc", "qdisc", "replace", "dev", dev, "root", "handle", "1:", "htb",
         "default", str(DEFAULT_CLASS)],
        [*tc_class, "classid", f"1:{DEFAULT_CLASS}", "htb", "rate", UNLIMITED_RATE,
         "quantum", str(QUANTUM_BYTES)],
    ]  # fmt: skip
    for index, rule in enumerate(throttles):
        if not 0 < rule.rate_kbit <= MAX_THROTTLE_KBIT:
            raise ValueError(f"throttle rate must be 1-{MAX_THROTTLE_KBIT} kbit/s")
        address = _address(rule.address)
        minor = FIRST_THROTTLE_CLASS + index
        rate = f"{rule.rate_kbit}kbit"
        burst = str(throttle_burst_bytes(rule.rate_kbit))
        if address.version == 4:
            protocol, selector, prefix = "ip", "ip", 32
        else:
            protocol, selector, prefix = "ipv6", "ip6", 128
        commands += [
            [*tc_class, "classid", f"1:{minor}", "htb", "rate", rate, "ceil", rate,
             "burst", burst, "cburst", burst, "quantum", str(QUANTUM_BYTES)],
            ["tc", "qdisc", "add", "dev", dev, "parent", f"1:{minor}", "handle", f"{minor}:",
             "tbf", "rate", SPLITTER_RATE, "burst", str(SPLITTER_BURST_BYTES),
             "limit", str(THROTTLE_QUEUE_BYTES)],
            ["tc", "filter", "add", "dev", dev, "parent", "1:", "protocol", protocol, "prio", "1",
             "u32", "match", selector, "src", f"{address}/{prefix}", "flowid", f"1:{minor}"],
        ]  # fmt: skip
    return commands


def needs_injector(plan: CensorPlan) -> bool:
    """Return whether the plan has rules only the packet injector can act out."""
    return needs_dns(plan.rules) or needs_tcp(plan.rules)


def needs_interceptor(plan: CensorPlan) -> bool:
    """Return whether the plan intercepts TLS (and so needs the interceptor process)."""
    return any(isinstance(rule, TlsIntercept) for rule in plan.rules)


def censor_commands(plan: CensorPlan, *, interceptor_port: int | None = None) -> CensorCommands:
    """Return the nft script, the iptables and tc commands, and the helpers `plan` needs.

    Raises:
        ValueError: the plan cannot be rendered (see the render functions).
    """
    commands = [*render_iptables(plan), *render_tc(plan)]
    return CensorCommands(
        nft_script=render_nft(plan, interceptor_port=interceptor_port),
        commands=tuple(tuple(command) for command in commands),
        needs_injector=needs_injector(plan),
        needs_interceptor=needs_interceptor(plan),
    )
