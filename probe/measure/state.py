"""The state one measurement's tasks share: the target, its clock and transaction ids, the
addresses its packets are captured for, and the records observed so far (`Records`).

No I/O of its own: the steps append records here and `assemble` reads them.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import trio

from probe.model import ControlExchange, DnsQuery, HttpTransaction, TcpConnect, TlsHandshake
from probe.net import StepClock, UdpLookup, WebTarget
from probe.packet import FailedFlow, PacketRecorder


@dataclass
class Records:
    """Everything one measurement observed so far, in the order it happened."""

    dns: list[DnsQuery] = field(default_factory=list)
    udp: list[UdpLookup] = field(default_factory=list)
    tcp: list[TcpConnect] = field(default_factory=list)
    tls: list[TlsHandshake] = field(default_factory=list)
    http: list[HttpTransaction] = field(default_factory=list)
    bait: list[UdpLookup] = field(default_factory=list)
    control: ControlExchange | None = None
    tested: set[tuple[str, int]] = field(default_factory=set)

    def all_dns(self, packets: PacketRecorder | None = None) -> list[DnsQuery]:
        """Return every DNS query so far, UDP lookups included, ordered by depth and id."""
        merged = self.dns + [lookup_result(lookup, packets) for lookup in self.udp]
        return sorted(merged, key=lambda q: (q.depth, q.id))

    def failed_flows(self) -> list[FailedFlow]:
        """Return the failed TCP, TLS and HTTP attempts that have a local port to match."""
        found: list[FailedFlow] = []
        attempts: list[TcpConnect | TlsHandshake | HttpTransaction] = [
            *self.tcp,
            *self.tls,
            *self.http,
        ]
        for record in attempts:
            if record.failure is not None and record.local_port is not None:
                found.append(
                    FailedFlow(
                        record.id, record.address, record.port, record.local_port, record.t_ms
                    )
                )
        return found


@dataclass
class MeasurementState:
    """The state of one `MeasureSession.measure` call shared by its tasks."""

    target: WebTarget
    clock: StepClock
    ids: itertools.count[int]
    records: Records
    background: trio.Nursery
    packets: PacketRecorder | None = None
    control_done: trio.Event = field(default_factory=trio.Event)
    watched: list[str] = field(default_factory=list)

    def next_id(self) -> int:
        """Return the next transaction id of this measurement."""
        return next(self.ids)

    def watch(self, address: str) -> None:
        """Capture this measurement's traffic with `address` (with packet evidence on)."""
        if self.packets is not None and address not in self.watched:
            self.packets.watch(address)
            self.watched.append(address)


def lookup_result(lookup: UdpLookup, packets: PacketRecorder | None) -> DnsQuery:
    """Return a UDP lookup's record, with its responses' IP traits when packets were captured."""
    result = lookup.result()
    if packets is None or lookup.local_port is None or not result.responses:
        return result
    return packets.dns_query(result, lookup.server, lookup.local_port)
