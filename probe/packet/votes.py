"""Localisation logic: what one TTL-limited trigger got back, majority votes, and the censor's hop.

Pure: no I/O. `locate` sends the packets and calls these; the rules are documented in
docs/packet-evidence.md (in the manner of CenTrace: Sundara Raman et al., CoNEXT 2022).
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from probe.model import CensorPath, HopVotes, ProbeOutcome, TtlProbe
from probe.packet.wire import ICMP_TIME_EXCEEDED, TCP, WirePacket

PRECEDENCE = (
    ProbeOutcome.RESET,
    ProbeOutcome.FIN,
    ProbeOutcome.DATA,
    ProbeOutcome.EXPIRED,
    ProbeOutcome.SILENT,
)
"""Tie-break order of a vote: a blocking response outranks silence."""
ANSWERED = frozenset({ProbeOutcome.RESET, ProbeOutcome.FIN, ProbeOutcome.DATA})
TERMINATING = frozenset({ProbeOutcome.RESET, ProbeOutcome.FIN})
QUIET = frozenset({ProbeOutcome.EXPIRED, ProbeOutcome.SILENT})


def classify_probe(
    packets: Sequence[WirePacket],
    *,
    server: str,
    local_port: int,
    sent_at: float,
    request_end: int,
) -> TtlProbe:
    """Return what came back for one payload sent at `sent_at` on the flow from `local_port`.

    From the server's address: any RST makes it `reset`; else a FIN with no data before it
    `fin`; else data or an acknowledgement of the payload (`request_end` = its last sequence
    number + 1) `data`. An ICMP time-exceeded quoting the flow is kept beside it; with nothing
    else the outcome is `expired`, and with nothing at all `silent`.
    """
    icmp_source: str | None = None
    reset: WirePacket | None = None
    fin: WirePacket | None = None
    answers: list[WirePacket] = []
    for packet in packets:
        if packet.t < sent_at:
            continue
        quoted = packet.quoted
        if quoted is not None:
            if packet.icmp_type == ICMP_TIME_EXCEEDED and quoted.sport == local_port:
                icmp_source = icmp_source or packet.src
            continue
        if packet.proto != TCP or packet.src != server or packet.dport != local_port:
            continue
        if "S" in packet.flags:
            continue  # a SYN-ACK retransmission
        if "R" in packet.flags:
            reset = reset or packet
        elif "F" in packet.flags and not any(p.payload_bytes for p in answers):
            fin = fin or packet
        elif packet.payload_bytes > 0 or _acknowledges(packet.ack, request_end):
            answers.append(packet)
    blocking = reset or fin
    if reset is not None:
        outcome = ProbeOutcome.RESET
    elif fin is not None:
        outcome = ProbeOutcome.FIN
    elif answers:
        outcome = ProbeOutcome.DATA
    elif icmp_source is not None:
        outcome = ProbeOutcome.EXPIRED
    else:
        outcome = ProbeOutcome.SILENT
    first = blocking or (answers[0] if answers else None)
    return TtlProbe(
        outcome=outcome,
        icmp_source=icmp_source,
        response_ttl=first.ttl if first is not None else None,
        has_server_answer=blocking is not None and bool(answers),
    )


def _acknowledges(ack: int, request_end: int) -> bool:
    """Return whether `ack` covers the request (modulo 2^32)."""
    return (ack - request_end) % (1 << 32) < (1 << 31)


def vote(probes: Sequence[TtlProbe]) -> ProbeOutcome:
    """Return the most common outcome; ties go to the earlier one in PRECEDENCE."""
    counts = Counter(p.outcome for p in probes)
    if not counts:
        return ProbeOutcome.SILENT
    return max(PRECEDENCE, key=lambda o: (counts[o], -PRECEDENCE.index(o)))


def is_blocked(trigger: ProbeOutcome, control: ProbeOutcome) -> bool:
    """Return whether the trigger fared differently from the control at the same TTL.

    Blocked: the trigger was reset or closed while the control was not; the trigger got an
    answer while the control's packet expired or went unanswered (an injected response before
    the server); the trigger went silent while the control expired or reached the server.
    """
    if trigger in TERMINATING:
        return control not in TERMINATING
    if trigger is ProbeOutcome.DATA:
        return control in QUIET
    if trigger is ProbeOutcome.SILENT:
        return control is not ProbeOutcome.SILENT
    return False


def _median_ttl(probes: Sequence[TtlProbe], outcome: ProbeOutcome) -> int | None:
    ttls = sorted(p.response_ttl for p in probes if p.outcome is outcome and p.response_ttl)
    return ttls[len(ttls) // 2] if ttls else None


def hop_votes(ttl: int, trigger: Sequence[TtlProbe], control: Sequence[TtlProbe]) -> HopVotes:
    """Return one TTL's repetitions with their votes and whether the trigger was blocked.

    When both got data, the trigger counts as blocked if its answer came with another IP TTL
    than the control's (an injected page racing the server's).
    """
    trigger_vote, control_vote = vote(trigger), vote(control)
    blocked = is_blocked(trigger_vote, control_vote)
    if trigger_vote is ProbeOutcome.DATA and control_vote is ProbeOutcome.DATA:
        theirs = _median_ttl(trigger, ProbeOutcome.DATA)
        ours = _median_ttl(control, ProbeOutcome.DATA)
        blocked = theirs is not None and ours is not None and theirs != ours
    return HopVotes(
        ttl=ttl,
        trigger=list(trigger),
        control=list(control),
        trigger_vote=trigger_vote,
        control_vote=control_vote,
        is_blocked=blocked,
    )


def icmp_source_at(hop: HopVotes) -> str | None:
    """Return the most common time-exceeded source among a hop's repetitions."""
    sources = Counter(p.icmp_source for p in [*hop.control, *hop.trigger] if p.icmp_source)
    return sources.most_common(1)[0][0] if sources else None


@dataclass(frozen=True)
class Conclusion:
    """What the votes say: where blocking starts, the censor's hop and whether it is in-path."""

    blocking_ttl: int | None = None
    censor_hop: int | None = None
    censor_address: str | None = None
    icmp_sources: tuple[str, ...] = ()
    path: CensorPath | None = None
    is_ttl_copying: bool = False
    note: str | None = None


def _ttl_copying_hop(hops: Sequence[HopVotes]) -> int | None:
    """Return the censor's hop if the blocking packets' TTL grows one for one with the
    trigger's (the censor copies it), from TTL - arrival = 2 * (hop - 1); else None."""
    pairs: list[tuple[int, int]] = []
    for hop in hops:
        ttls = sorted(
            p.response_ttl
            for p in hop.trigger
            if p.outcome in ANSWERED and p.response_ttl is not None
        )
        if ttls:
            pairs.append((hop.ttl, ttls[len(ttls) // 2]))
    if len(pairs) < 2:
        return None
    gaps = {ttl - arrived for ttl, arrived in pairs}
    steps = [b[0] - a[0] for a, b in itertools.pairwise(pairs)]
    if len(gaps) != 1 or any(step != 1 for step in steps):
        return None
    (gap,) = gaps
    if gap < 0 or gap % 2:
        return None
    return gap // 2 + 1


def conclude(hops: Sequence[HopVotes], server_ttl: int | None) -> Conclusion:
    """Return where blocking starts and what that says about the censor.

    The blocking TTL is the lowest from which every tried TTL is blocked. The censor is at that
    hop when the trigger's own time-exceeded came back with the blocking response there (it
    saw the packet before its TTL ran out), else at the hop before (it stopped the packet after
    that router's TTL check; a transparent in-path box right after it looks the same). When the
    blocking packets copy the trigger's TTL, the hop follows from their arrival TTLs instead.
    On-path when the trigger still travelled past the censor (time-exceeded from farther hops)
    or the server still acknowledged or answered it; in-path when nothing came from
    beyond it; unknown when there is no hop between the censor and the server.
    """
    blocking_ttl = next(
        (hop.ttl for i, hop in enumerate(hops) if all(h.is_blocked for h in hops[i:])), None
    )
    if blocking_ttl is None:
        blocked = [h.ttl for h in hops if h.is_blocked]
        note = (
            f"blocked at TTL {', '.join(map(str, blocked))} but not at every TTL after"
            if blocked
            else "the trigger fared like the control at every TTL"
        )
        return Conclusion(note=note)
    if server_ttl is not None and blocking_ttl >= server_ttl:
        return Conclusion(
            blocking_ttl=blocking_ttl,
            note="blocked only from the server's own distance on: the server itself, or a "
            "device right in front of it",
        )
    at = next(h for h in hops if h.ttl == blocking_ttl)
    with_icmp = sum(1 for p in at.trigger if p.icmp_source is not None)
    censor_hop = blocking_ttl if with_icmp * 2 > len(at.trigger) else max(1, blocking_ttl - 1)
    blocking_hops = [h for h in hops if h.ttl >= blocking_ttl]
    copying_hop = _ttl_copying_hop(blocking_hops)
    if copying_hop is not None and copying_hop <= blocking_ttl:
        censor_hop = copying_hop
    by_ttl = {h.ttl: h for h in hops}
    sources = tuple(
        icmp_source_at(by_ttl[t]) or "*" if t in by_ttl else "*" for t in range(1, censor_hop + 1)
    )
    beyond = [h for h in hops if h.ttl > censor_hop and (server_ttl is None or h.ttl < server_ttl)]
    passed = any(
        p.icmp_source is not None and p.outcome in ANSWERED for h in beyond for p in h.trigger
    ) or any(p.has_server_answer for h in blocking_hops for p in h.trigger)
    if passed:
        path = CensorPath.ON_PATH
    elif beyond:
        path = CensorPath.IN_PATH
    else:
        path = CensorPath.UNKNOWN
    address = icmp_source_at(by_ttl[censor_hop]) if censor_hop in by_ttl else None
    return Conclusion(
        blocking_ttl=blocking_ttl,
        censor_hop=censor_hop,
        censor_address=address,
        icmp_sources=sources,
        path=path,
        is_ttl_copying=copying_hop is not None,
    )
