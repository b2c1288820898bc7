"""Packet evidence for one probe run: the capture, what a measurement's failed flows looked like,
DNS responses with their IP traits, and (when allowed) censor localisation.

`probe.measure` owns one `PacketRecorder` per `MeasureSession`; it watches the addresses each
measurement talks to, and asks for the records once the measurement's steps are done.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

import trio

from probe.model import DnsQuery, Localisation, Measurement, PacketEvidence, TcpFlow
from probe.net.timing import StepClock
from probe.packet.capture import PacketCapture
from probe.packet.locate import LocateLimits, locate_censor
from probe.packet.records import tcp_flow_record, with_packet_traits
from probe.packet.triggers import choose_target
from probe.packet.wire import TCP, UDP

logger = logging.getLogger(__name__)

GRACE_S = 0.25
"""Listening after the last failure before reading its flow: a server answering after an
injected RST needs about a round trip more (three handshake round trips are added)."""
MAX_GRACE_S = 1.5
MAX_LOCALISATIONS = 32
"""Localisations per run: each sends hundreds of packets carrying the trigger."""


@dataclass(frozen=True)
class FailedFlow:
    """A failed TCP, TLS or HTTP attempt whose packets are wanted."""

    transaction: int
    address: str
    port: int
    local_port: int
    failed_ms: float


class PacketRecorder:
    """The capture for a run, and localisation when `locate` is set.

    `start` and `close` run in trio; `start` raises `CaptureError` when capture is impossible.
    """

    def __init__(
        self,
        *,
        locate: bool = False,
        user_agent: str = "",
        limits: LocateLimits | None = None,
        max_localisations: int = MAX_LOCALISATIONS,
    ) -> None:
        self.capture = PacketCapture()
        self.locate = locate
        self.user_agent = user_agent
        self.limits = limits or LocateLimits()
        self.localisations_left = max_localisations
        self._locating = trio.CapacityLimiter(1)

    def start(self) -> None:
        """Start capturing.

        Raises:
            CaptureError: no CAP_NET_RAW or no libpcap.
        """
        self.capture.start()

    def close(self) -> None:
        """Stop capturing and forget every packet."""
        self.capture.close()

    def watch(self, address: str) -> None:
        """Capture traffic with `address` until `unwatch`."""
        self.capture.watch(address)

    def unwatch(self, address: str) -> None:
        """Stop capturing traffic with `address` (once every `watch` is matched)."""
        self.capture.unwatch(address)

    def grace_s(self, flows: Sequence[FailedFlow]) -> float:
        """Return how long to keep listening after the failures: GRACE_S plus three round trips
        of the slowest handshake seen, at most MAX_GRACE_S."""
        rtt_s = 0.0
        for failed in flows:
            packets, _seen = self.capture.packets(
                (TCP, failed.address, failed.port, failed.local_port)
            )
            syn = next((p for p in packets if p.dst == failed.address and p.flags == "S"), None)
            synack = next((p for p in packets if p.src == failed.address and "S" in p.flags), None)
            if syn is not None and synack is not None:
                rtt_s = max(rtt_s, synack.t - syn.t)
        return min(MAX_GRACE_S, GRACE_S + 3 * rtt_s)

    def flows(self, failed: Sequence[FailedFlow], clock: StepClock) -> list[TcpFlow]:
        """Return the captured packets of each failed attempt as flow records."""
        zero = wall_zero(clock)
        records = []
        for item in failed:
            packets, seen = self.capture.packets((TCP, item.address, item.port, item.local_port))
            if not packets:
                continue
            records.append(
                tcp_flow_record(
                    transaction=item.transaction,
                    address=item.address,
                    port=item.port,
                    local_port=item.local_port,
                    packets=packets,
                    seen=seen,
                    wall_zero=zero,
                )
            )
        return records

    async def evidence(
        self, failed: Sequence[FailedFlow], bait: Sequence[DnsQuery], clock: StepClock
    ) -> PacketEvidence | None:
        """Return the evidence record of a measurement: the packets of its failed attempts (read
        after `grace_s` more of listening) and its bait queries; None when it has neither."""
        if failed:
            last_ms = max(f.failed_ms for f in failed)
            wait_s = last_ms / 1000.0 + self.grace_s(failed) - clock.ms() / 1000.0
            if wait_s > 0:
                await trio.sleep(wait_s)  # late packets are the evidence; nothing signals them
        flows = self.flows(failed, clock)
        if not flows and not bait:
            return None
        return PacketEvidence(is_captured=True, flows=flows, bait=list(bait))

    def dns_query(self, query: DnsQuery, server: tuple[str, int], local_port: int) -> DnsQuery:
        """Return the UDP query with IP ID and UDP checksum filled in for each response."""
        packets, _seen = self.capture.packets((UDP, server[0], server[1], local_port))
        return with_packet_traits(query, packets) if packets else query

    async def localise(self, measurement: Measurement, clock: StepClock) -> Localisation | None:
        """Return where the censor that blocked `measurement` sits, or None when it was not
        blocked by a trigger (or the run's localisations are used up).

        One localisation at a time: concurrent ones would share routers' ICMP rate limits.
        """
        target = choose_target(measurement)
        if target is None or self.localisations_left <= 0:
            return None
        self.localisations_left -= 1
        async with self._locating:
            return await locate_censor(
                self.capture, target, user_agent=self.user_agent, clock=clock, limits=self.limits
            )


def wall_zero(clock: StepClock) -> float:
    """Return the epoch time of the clock's zero (capture timestamps are epoch times)."""
    return time.time() - clock.ms() / 1000.0
