"""Packet-level evidence: per-flow TCP packets, DNS bait queries and censor localisation.

Pure: no I/O. Facts as captured by `probe.packet` with CAP_NET_RAW (format 1.1); only
`probe.analysis` says what they mean. No record holds the probe's own address: flows name the
remote end and the local port only.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import msgspec

from probe.model.base import Ms, Port, Record
from probe.model.observations import DnsQuery

Doc = msgspec.Meta

MAX_FLOW_PACKETS = 64
"""Packets kept per flow: the first and the last 32 when a flow has more."""

TcpFlags = Annotated[
    str,
    Doc(
        pattern="^[FSRPAUEC]*$",
        description="TCP flags as letters: F FIN, S SYN, R RST, P PSH, A ACK, U URG, E ECE, C CWR.",
    ),
]


class TcpPacket(Record, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One IPv4 TCP packet of a flow, as the probe's host saw it on the wire."""

    t_ms: Annotated[Ms, Doc(description="When it was captured, ms since the measurement started.")]
    is_inbound: Annotated[
        bool, Doc(description="It came from the remote end (true) or was sent by the probe.")
    ]
    flags: TcpFlags
    ip_ttl: Annotated[int, Doc(ge=0, le=255, description="IP TTL on arrival (or on departure).")]
    ip_id: Annotated[int, Doc(ge=0, le=65535, description="IP identification field.")]
    seq: Annotated[int, Doc(ge=0, description="TCP sequence number.")]
    ack: Annotated[int, Doc(ge=0, description="TCP acknowledgement number.")]
    window: Annotated[int, Doc(ge=0, le=65535, description="TCP window field.")]
    payload_bytes: Annotated[int, Doc(ge=0, description="TCP payload length (content not kept).")]


class TcpFlow(Record, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The packets of one TCP connection that failed (a connect, handshake or HTTP attempt)."""

    transaction: Annotated[
        int, Doc(ge=1, description="`id` of the tcp, tls or http record this flow carried.")
    ]
    address: Annotated[str, Doc(description="Remote address.")]
    port: Annotated[Port, Doc(description="Remote port.")]
    local_port: Annotated[Port, Doc(description="The probe's local port (never its address).")]
    packets: Annotated[
        list[TcpPacket],
        Doc(description=f"In capture order; at most {MAX_FLOW_PACKETS} (first and last 32)."),
    ] = []
    packets_seen: Annotated[
        int, Doc(ge=0, description="Packets captured in total, including any left out.")
    ] = 0


class TriggerKind(StrEnum):
    """What a localisation resent with increasing TTL."""

    TLS = "tls"
    HTTP = "http"


class ProbeOutcome(StrEnum):
    """What came back for one TTL-limited payload: a RST outranks data, data a FIN (a server
    closing after its answer), any of them time-exceeded alone."""

    RESET = "reset"
    FIN = "fin"
    DATA = "data"
    EXPIRED = "expired"
    SILENT = "silent"


class CensorPath(StrEnum):
    """Whether the censor stops the triggering packet or only sees a copy of it."""

    IN_PATH = "in-path"
    ON_PATH = "on-path"
    UNKNOWN = "unknown"


class TtlProbe(Record, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One repetition at one TTL: a fresh handshake, then the payload sent with that TTL."""

    outcome: ProbeOutcome
    icmp_source: Annotated[
        str | None, Doc(description="Router that sent ICMP time-exceeded for the payload, if any.")
    ] = None
    response_ttl: Annotated[
        int | None, Doc(description="IP TTL of the first RST, FIN or data that came back.")
    ] = None
    has_server_answer: Annotated[
        bool,
        Doc(
            description="Besides the RST or FIN, the server acknowledged or answered the "
            "payload: it reached the server."
        ),
    ] = False


class HopVotes(Record, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The trigger and control repetitions at one TTL, and their majority votes."""

    ttl: Annotated[int, Doc(ge=1, le=255, description="IP TTL of the payload packets.")]
    trigger: Annotated[list[TtlProbe], Doc(description="Repetitions carrying the trigger.")] = []
    control: Annotated[
        list[TtlProbe], Doc(description="Repetitions carrying the harmless control payload.")
    ] = []
    trigger_vote: ProbeOutcome
    control_vote: ProbeOutcome
    is_blocked: Annotated[
        bool, Doc(description="At this TTL the trigger fared differently from the control.")
    ]


class Localisation(Record, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Where on the path blocking starts, found by resending the trigger with growing IP TTL."""

    address: Annotated[str, Doc(description="Server address the flows went to.")]
    port: Annotated[Port, Doc(description="Server port.")]
    trigger: TriggerKind
    server_name: Annotated[str, Doc(description="The SNI or Host the trigger carried.")]
    control_name: Annotated[str, Doc(description="The harmless name of the control payload.")]
    t0_ms: Ms
    t_ms: Ms
    max_ttl: Annotated[int, Doc(ge=1, le=255, description="Highest TTL it would try.")]
    repetitions: Annotated[int, Doc(ge=1, description="Flows per TTL and payload.")]
    hops: Annotated[list[HopVotes], Doc(description="One entry per TTL tried, in order.")] = []
    server_ttl: Annotated[
        int | None, Doc(description="Lowest TTL at which the control reached the server.")
    ] = None
    blocking_ttl: Annotated[
        int | None,
        Doc(description="Lowest TTL from which on every tried TTL was blocked; null if none."),
    ] = None
    censor_hop: Annotated[
        int | None,
        Doc(
            description="Hop at which (or right after which) the censor sits; see "
            "docs/packet-evidence.md for how it follows from the votes."
        ),
    ] = None
    censor_address: Annotated[
        str | None, Doc(description="ICMP source seen at the censor's hop, if any.")
    ] = None
    icmp_sources: Annotated[
        list[str], Doc(description="Time-exceeded sources of hops 1 to the censor's, in order.")
    ] = []
    path: Annotated[
        CensorPath | None, Doc(description="In-path or on-path; null when nothing was blocked.")
    ] = None
    is_ttl_copying: Annotated[
        bool,
        Doc(description="The blocking packets' TTL grew with the trigger's: the censor copies it."),
    ] = False
    packets_sent: Annotated[int, Doc(ge=0, description="Packets the localisation sent.")] = 0
    note: Annotated[
        str | None, Doc(description="Why it stopped early or could not decide, if it did.")
    ] = None


class PacketEvidence(Record, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Packet-level evidence attached to a measurement in which something failed."""

    is_captured: Annotated[
        bool, Doc(description="A packet capture ran during the measurement (CAP_NET_RAW).")
    ] = False
    flows: Annotated[
        list[TcpFlow], Doc(description="Captured packets of each failed TCP, TLS or HTTP attempt.")
    ] = []
    bait: Annotated[
        list[DnsQuery],
        Doc(
            description="Queries sent to an address that runs no DNS server (`dns_bait`): the "
            "URL's host and a harmless name; any answer to them is forged."
        ),
    ] = []
    localisation: Annotated[
        Localisation | None, Doc(description="Where the censor sits, with --locate-censor.")
    ] = None
