"""Packet-level rules: injected RSTs and FINs, injected DNS answers, bait answers, the censor's hop.

Pure: no I/O. Claims only what the packets show: traits that match the server's are inconclusive,
never proof of innocence, unless the IP ID also continues the server's own counter.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from probe.analysis.evidence import Evidence
from probe.analysis.facts import Facts
from probe.model import (
    Analysis,
    DnsQuery,
    DnsResponse,
    Failure,
    Measurement,
    PacketEvidence,
    ResolverKind,
    TcpFlow,
    TcpPacket,
)

PACKET_RULE_IDS = frozenset(
    {
        "tcp-rst-injected",
        "tcp-fin-injected",
        "dns-injected-packet",
        "dns-bait-answered",
        "censor-located",
    }
)
"""Rules that fire only on packet-level evidence: a measurement with one is packet-confirmed."""

ID_WINDOW = 256
"""How far a stack's IP ID counter may move within one short flow (Linux: one per segment)."""
EARLY_RTT_MIN_MS = 10.0
"""Round trips shorter than this are too noisy to call a packet early."""

Origin = Literal["injected", "server", "unknown"]
_KIND_NAMES = {"rst": "RST", "fin": "FIN"}


@dataclass(frozen=True)
class FlowJudgement:
    """What the packets of one flow say about its RST (or FIN)."""

    origin: Origin
    against: tuple[str, ...] = ()
    """Evidence that the packet did not come from the server."""
    consistent: tuple[str, ...] = ()
    """Evidence that it did (or traits that match without proving anything)."""
    factor: float = 1.0


@dataclass
class _Traits:
    against: list[str] = field(default_factory=list)
    consistent: list[str] = field(default_factory=list)
    strong: bool = False
    ttl_differs: bool = False
    id_fits: bool = False


def _is_target(packet: TcpPacket, kind: str) -> bool:
    if kind == "rst":
        return "R" in packet.flags
    return "F" in packet.flags and "R" not in packet.flags


def _check_ttl(target: TcpPacket, synack: TcpPacket | None, traits: _Traits) -> None:
    if synack is None:
        traits.consistent.append("no SYN-ACK captured to compare the IP TTL with")
        return
    if target.ip_ttl != synack.ip_ttl:
        traits.ttl_differs = True
        traits.against.append(f"IP TTL {target.ip_ttl} vs {synack.ip_ttl} in the server's SYN-ACK")
    else:
        traits.consistent.append(f"IP TTL {target.ip_ttl} as in the server's SYN-ACK")


def _check_ip_id(
    target: TcpPacket, synack: TcpPacket | None, server_before: list[TcpPacket], traits: _Traits
) -> None:
    counter = [p.ip_id for p in server_before if p.ip_id != 0]
    if synack is not None and synack.ip_id != 0:
        counter.insert(0, synack.ip_id)
    if target.ip_id == 0:
        traits.consistent.append("IP ID 0 (many stacks send 0 with DF set: no evidence)")
    elif counter:
        delta = (target.ip_id - counter[-1]) % 65536
        if 0 < delta <= ID_WINDOW:
            traits.id_fits = True
            traits.consistent.append(
                f"IP ID {target.ip_id} continues the server's counter (last {counter[-1]})"
            )
        else:
            traits.strong = True
            traits.against.append(
                f"IP ID {target.ip_id} is off the server's counter (last {counter[-1]})"
            )
    elif server_before:
        traits.strong = True
        traits.against.append(f"IP ID {target.ip_id} while the server's own packets carry IP ID 0")
    else:
        traits.consistent.append(
            f"IP ID {target.ip_id}, but no server packet with a counter to compare it with"
        )


def _check_timing(
    flow: TcpFlow, target_index: int, synack: TcpPacket | None, traits: _Traits
) -> None:
    if synack is None:
        return
    syn = next((p for p in flow.packets if not p.is_inbound and p.flags == "S"), None)
    request = next(
        (
            p
            for p in reversed(flow.packets[:target_index])
            if not p.is_inbound and p.payload_bytes > 0
        ),
        None,
    )
    if syn is None or request is None:
        return
    rtt_ms = synack.t_ms - syn.t_ms
    delay_ms = flow.packets[target_index].t_ms - request.t_ms
    if rtt_ms >= EARLY_RTT_MIN_MS and 0 <= delay_ms < rtt_ms / 2:
        traits.strong = True
        traits.against.append(
            f"it came {delay_ms:.1f} ms after the request, sooner than the server's round trip "
            f"({rtt_ms:.1f} ms)"
        )


def judge_flow(flow: TcpFlow, kind: Literal["rst", "fin"]) -> FlowJudgement | None:
    """Return whether the flow's first inbound RST (or FIN) came from the server; None if none.

    Injected when the server kept sending data after it, its IP ID breaks the server's counter,
    several of them disagree, it came sooner than the server could answer, or its IP TTL differs
    from the SYN-ACK's (weaker alone). From the server only when the TTL matches and the IP ID
    continues the server's counter; otherwise unknown (a TTL-copying injector with zero IP IDs
    is indistinguishable from a server here).
    """
    packets = flow.packets
    index = next((i for i, p in enumerate(packets) if p.is_inbound and _is_target(p, kind)), None)
    if index is None:
        return None
    target = packets[index]
    synack = next((p for p in packets if p.is_inbound and "S" in p.flags and "A" in p.flags), None)
    server_before = [
        p
        for p in packets[:index]
        if p.is_inbound
        and p is not synack
        and not _is_target(p, kind)
        and (synack is None or p.ip_ttl == synack.ip_ttl)
    ]
    traits = _Traits()
    _check_ttl(target, synack, traits)
    _check_ip_id(target, synack, server_before, traits)
    later = [p for p in packets[index + 1 :] if p.is_inbound and p.payload_bytes > 0]
    if later and "R" not in later[0].flags:
        traits.strong = True
        traits.against.append(
            f"{len(later)} data packet(s) from the server's side arrived after it "
            "(the server never saw the connection end)"
        )
    others = [p for p in packets[index + 1 :] if p.is_inbound and _is_target(p, kind)]
    if any(p.ip_ttl != target.ip_ttl or p.seq != target.seq for p in others):
        traits.strong = True
        traits.against.append(f"{len(others) + 1} {_KIND_NAMES[kind]}s with different TTL or seq")
    _check_timing(flow, index, synack, traits)
    if traits.strong or traits.ttl_differs:
        if traits.strong and traits.ttl_differs:
            factor = 1.0
        elif traits.strong:
            factor = 0.95
        else:
            factor = 0.8
        return FlowJudgement(
            origin="injected",
            against=tuple(traits.against),
            consistent=tuple(traits.consistent),
            factor=factor,
        )
    if synack is not None and traits.id_fits:
        return FlowJudgement(origin="server", consistent=tuple(traits.consistent))
    return FlowJudgement(origin="unknown", consistent=tuple(traits.consistent))


def _failed_records(m: Measurement) -> dict[int, tuple[str, str]]:
    """Return transaction id -> (stage, failure) of every failed TCP, TLS and HTTP record."""
    failed: dict[int, tuple[str, str]] = {}
    for conn in m.tcp:
        if conn.failure is not None:
            failed[conn.id] = ("tcp", conn.failure)
    for hs in m.tls:
        if hs.failure is not None:
            failed[hs.id] = ("tls", hs.failure)
    for tx in m.http:
        if tx.failure is not None:
            failed[tx.id] = ("http", tx.failure)
    return failed


def _analyse_flows(m: Measurement, packets: PacketEvidence, ev: Evidence) -> None:
    failed = _failed_records(m)
    for flow in packets.flows:
        stage, failure = failed.get(flow.transaction, ("", ""))
        if failure == Failure.CONNECTION_RESET.value:
            kind: Literal["rst", "fin"] = "rst"
        elif failure == Failure.EOF.value:
            kind = "fin"
        else:
            continue
        name = _KIND_NAMES[kind]
        where = f"{flow.address}:{flow.port} ({stage} #{flow.transaction})"
        judgement = judge_flow(flow, kind)
        if judgement is None:
            ev.note(f"packet evidence: no {name} was captured on {where}")
        elif judgement.origin == "injected":
            matching = (
                f" (alike: {'; '.join(judgement.consistent)})" if judgement.consistent else ""
            )
            ev.hit(
                f"tcp-{kind}-injected",
                f"{name} on {where}: {'; '.join(judgement.against)}{matching}",
                factor=judgement.factor,
            )
        elif judgement.origin == "server":
            ev.note(
                f"packet evidence: the {name} on {where} came from the server itself "
                f"({'; '.join(judgement.consistent)})"
            )
        else:
            ev.note(
                f"packet evidence on {where} is inconclusive: nothing tells the {name} from "
                f"the server's own ({'; '.join(judgement.consistent)})"
            )


def _answer_key(response: DnsResponse) -> tuple[str, frozenset[str]]:
    values = frozenset(f"{a.answer_type}:{a.address or a.hostname}" for a in response.answers)
    return response.rcode, values


def _addresses(response: DnsResponse) -> set[str]:
    return {a.address for a in response.answers if a.address is not None}


def differing_traits(early: DnsResponse, real: DnsResponse) -> list[str]:
    """Return the packet traits (IP TTL, IP ID style, UDP checksum) in which two responses differ.

    IP IDs count only when one is zero and the other is not: two packets of one resolver can have
    any two counter values, but a stack sends zero IDs always or never.
    """
    found: list[str] = []
    if early.ip_ttl is not None and real.ip_ttl is not None and early.ip_ttl != real.ip_ttl:
        found.append(f"IP TTL {early.ip_ttl} vs {real.ip_ttl}")
    ids = (early.ip_id, real.ip_id)
    if ids[0] is not None and ids[1] is not None and (ids[0] == 0) != (ids[1] == 0):
        found.append(f"IP ID {early.ip_id} vs {real.ip_id}")
    if (
        early.udp_checksum is not None
        and real.udp_checksum is not None
        and early.udp_checksum != real.udp_checksum
    ):
        state = {True: "set", False: "zero"}
        found.append(f"UDP checksum {state[early.udp_checksum]} vs {state[real.udp_checksum]}")
    return found


def _is_trusted(response: DnsResponse, trusted: set[str]) -> bool:
    addresses = _addresses(response)
    return bool(addresses) and addresses <= trusted


def _real_response(query: DnsQuery, trusted: set[str]) -> int:
    """Return the index of the response taken as the resolver's own: the last trusted one, or
    the last one (the real answer arrives after the injected ones)."""
    for i in range(len(query.responses) - 1, -1, -1):
        if _is_trusted(query.responses[i], trusted):
            return i
    return len(query.responses) - 1


def _analyse_dns(facts: Facts, ev: Evidence) -> None:
    trusted = facts.trusted_addresses()
    for query in facts.local_lookups:
        if query.resolver_kind is not ResolverKind.UDP or len(query.responses) < 2:
            continue
        real_index = _real_response(query, trusted)
        real = query.responses[real_index]
        early = [
            r
            for r in query.responses[:real_index]
            if _answer_key(r) != _answer_key(real) and not _is_trusted(r, trusted)
        ]
        if not early or not any(r.ip_id is not None for r in query.responses):
            continue
        where = f"{query.query_type} {query.hostname} via {query.resolver_address}"
        described = [(r, differing_traits(r, real)) for r in early]
        proven = [(r, traits) for r, traits in described if traits]
        if proven:
            parts = [
                f"[{', '.join(sorted(_addresses(r))) or r.rcode}] at +{r.delay_ms:.1f} ms: "
                + ", ".join(traits)
                for r, traits in proven
            ]
            ev.hit(
                "dns-injected-packet",
                f"{where}: {'; '.join(parts)} (real answer at +{real.delay_ms:.1f} ms)",
                factor=1.0 if trusted else 0.9,
            )
        else:
            ev.note(
                f"packet evidence: the early answers to {where} match the later one in IP TTL "
                f"{real.ip_ttl}, IP ID style and UDP checksum: the packets alone cannot tell "
                "which is forged (a TTL-copying injector?)"
            )


def _analyse_bait(facts: Facts, packets: PacketEvidence, ev: Evidence) -> None:
    if not packets.bait:
        return
    target = [q for q in packets.bait if q.hostname.rstrip(".").lower() == facts.host]
    harmless = [q for q in packets.bait if q not in target]
    if any(q.responses for q in harmless):
        where = harmless[0].resolver_address
        ev.note(f"dns bait {where} answered a harmless name too: it is not a usable bait")
        return
    if not harmless:
        return
    for query in target:
        if not query.responses:
            continue
        first = query.responses[0]
        answers = ", ".join(sorted(_addresses(first))) or first.rcode
        ev.hit(
            "dns-bait-answered",
            f"{query.resolver_address} runs no DNS server, yet {query.query_type} "
            f"{query.hostname} got [{answers}] after {first.delay_ms:.1f} ms "
            f"(ip_ttl {first.ip_ttl}); the harmless name got nothing",
        )
        return


def _analyse_localisation(packets: PacketEvidence, ev: Evidence) -> None:
    loc = packets.localisation
    if loc is None:
        return
    if loc.censor_hop is None or loc.blocking_ttl is None:
        ev.note(
            f"localisation of {loc.trigger.value} {loc.server_name} at {loc.address}:{loc.port}: "
            f"no hop where only the trigger was blocked ({loc.note or 'every TTL alike'})"
        )
        return
    where = f" ({loc.censor_address})" if loc.censor_address else ""
    path = loc.path.value if loc.path is not None else "unknown"
    copying = "; its packets copy the trigger's TTL" if loc.is_ttl_copying else ""
    ev.hit(
        "censor-located",
        f"{loc.trigger.value} {loc.server_name} to {loc.address}:{loc.port}: blocked from TTL "
        f"{loc.blocking_ttl} on while the control passed; censor at hop {loc.censor_hop}{where}, "
        f"{path}{copying}; {loc.packets_sent} packets sent",
    )


def analyse_packets(m: Measurement, facts: Facts, ev: Evidence) -> None:
    """Record packet-level rule hits (and notes) for the measurement's packet evidence."""
    _analyse_dns(facts, ev)
    packets = m.packets
    if packets is None:
        return
    _analyse_flows(m, packets, ev)
    _analyse_bait(facts, packets, ev)
    _analyse_localisation(packets, ev)


def is_packet_confirmed(analysis: Analysis) -> bool:
    """Return whether the analysis rests on packet-level evidence (a packet rule fired)."""
    return any(hit.rule in PACKET_RULE_IDS for hit in analysis.rules)
