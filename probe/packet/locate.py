"""Locate the censor: resend the trigger with growing IP TTL over fresh raw handshakes.

Bounded in TTLs, packets and time; needs CAP_NET_RAW and CAP_NET_ADMIN (`guard`). Scapy builds the
packets (imported lazily, in a thread); `votes` decides what they mean.
"""

from __future__ import annotations

import importlib
import logging
import random
import socket
import time
from dataclasses import dataclass
from typing import Any

import trio

from probe.model import HopVotes, Localisation, ProbeOutcome, TtlProbe
from probe.net.timing import StepClock
from probe.packet.capture import PacketCapture
from probe.packet.guard import GuardError, ResetGuard
from probe.packet.triggers import CONTROL_NAME, TriggerTarget, payloads
from probe.packet.votes import classify_probe, conclude, hop_votes
from probe.packet.wire import TCP, WirePacket

logger = logging.getLogger(__name__)

PACKETS_PER_FLOW = 5
"""SYN, ACK, the payload, and two RST+ACKs (one for each sequence number the server may expect)."""
FULL_TTL = 64
WINDOW_BYTES = 64240


@dataclass(frozen=True)
class LocateLimits:
    """Bounds of one localisation (defaults follow CenTrace's order of magnitude, smaller)."""

    max_ttl: int = 16
    repetitions: int = 3
    max_packets: int = 600
    max_duration_s: float = 60.0
    handshake_timeout_s: float = 1.0
    min_window_s: float = 0.15
    max_window_s: float = 2.0

    def __post_init__(self) -> None:
        if not 1 <= self.max_ttl <= 64 or self.repetitions < 1 or self.max_packets < 1:
            raise ValueError("max_ttl must be 1-64, repetitions and max_packets at least 1")


def window_s(rtt_s: float, limits: LocateLimits) -> float:
    """Return how long to listen after a payload: three handshake round trips plus 50 ms."""
    return min(limits.max_window_s, max(limits.min_window_s, 3 * rtt_s + 0.05))


class _Sender:
    """A raw IPv4 socket and scapy's IP/TCP layers, sending crafted segments to one server."""

    def __init__(self, address: str, port: int, layers: tuple[Any, Any, Any]) -> None:
        self.address = address
        self.port = port
        self.ip_cls, self.tcp_cls, self.raw_cls = layers
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect((address, port))  # no packet: only asks the kernel for the route
            self.source = probe.getsockname()[0]
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
        self.ip_id = random.randrange(1, 1 << 16)
        self.sent = 0

    def send(
        self, sport: int, flags: str, seq: int, ack: int, *, ttl: int = FULL_TTL, data: bytes = b""
    ) -> None:
        self.ip_id = self.ip_id % 65535 + 1
        options = [("MSS", 1460)] if flags == "S" else []
        segment = self.tcp_cls(
            sport=sport,
            dport=self.port,
            flags=flags,
            seq=seq % (1 << 32),
            ack=ack % (1 << 32),
            window=WINDOW_BYTES,
            options=options,
        )
        packet = self.ip_cls(src=self.source, dst=self.address, ttl=ttl, id=self.ip_id, flags="DF")
        wire = bytes(packet / segment / self.raw_cls(data)) if data else bytes(packet / segment)
        self.socket.sendto(wire, (self.address, 0))
        self.sent += 1

    def close(self) -> None:
        self.socket.close()


async def _load_layers() -> tuple[Any, Any, Any]:
    """Return scapy's IP, TCP and Raw classes, imported in a thread (it takes ~0.2 s)."""
    inet = await trio.to_thread.run_sync(importlib.import_module, "scapy.layers.inet")
    packet = await trio.to_thread.run_sync(importlib.import_module, "scapy.packet")
    return inet.IP, inet.TCP, packet.Raw


@dataclass
class _Run:
    capture: PacketCapture
    sender: _Sender
    target: TriggerTarget
    limits: LocateLimits


async def _one_flow(run: _Run, sport: int, ttl: int, payload: bytes) -> TtlProbe | None:
    """Return what came back for `payload` sent with `ttl` on a fresh handshake; None if the
    handshake did not complete.

    SYN and ACK at full TTL, the payload at `ttl`, a listening window, then RST+ACKs at full TTL
    for both sequence numbers the server may expect, to free its state.
    """
    target, sender = run.target, run.sender
    key = (TCP, target.address, target.port, sport)
    isn = random.randrange(1 << 32)
    started = time.time()
    sender.send(sport, "S", isn, 0)

    def is_synack(packet: WirePacket) -> bool:
        return (
            packet.src == target.address
            and "S" in packet.flags
            and "A" in packet.flags
            and packet.ack == (isn + 1) % (1 << 32)
        )

    synack = await run.capture.wait_for(key, is_synack, run.limits.handshake_timeout_s)
    if synack is None:
        sender.send(sport, "RA", isn + 1, 0)
        return None
    rtt_s = max(0.0, synack.t - started)
    server_seq = synack.seq + 1
    sender.send(sport, "A", isn + 1, server_seq)
    sent_at = time.time()
    sender.send(sport, "PA", isn + 1, server_seq, ttl=ttl, data=payload)
    # Listening for a fixed window is the measurement itself: silence is an outcome.
    await trio.sleep(window_s(rtt_s, run.limits))
    packets, _seen = run.capture.packets(key)
    request_end = (isn + 1 + len(payload)) % (1 << 32)
    sender.send(sport, "RA", request_end, server_seq)
    sender.send(sport, "RA", isn + 1, server_seq)
    return classify_probe(
        packets,
        server=target.address,
        local_port=sport,
        sent_at=sent_at,
        request_end=request_end,
    )


async def _round(
    run: _Run, ttl: int, payloads: tuple[bytes, bytes], ports: list[int]
) -> tuple[list[TtlProbe], list[TtlProbe]]:
    """Return the completed trigger and control flows of one TTL, all run at once; takes two
    ports per repetition from `ports`."""
    found: tuple[list[TtlProbe | None], list[TtlProbe | None]] = ([], [])

    async def flow(index: int, sport: int) -> None:
        found[index].append(await _one_flow(run, sport, ttl, payloads[index]))

    async with trio.open_nursery() as nursery:
        for _ in range(run.limits.repetitions):
            nursery.start_soon(flow, 0, ports.pop())
            nursery.start_soon(flow, 1, ports.pop())
    trigger, control = ([p for p in probes if p is not None] for probes in found)
    return trigger, control


async def locate_censor(
    capture: PacketCapture,
    target: TriggerTarget,
    *,
    user_agent: str,
    clock: StepClock,
    limits: LocateLimits | None = None,
) -> Localisation:
    """Return the localisation of the censor that blocks `target`'s trigger.

    Owns its raw socket, reserved ports and nftables table and removes them before returning.
    Stops at the TTL where the control reached the server, at `max_ttl`, or when the packet or
    time budget would be exceeded; a missing privilege ends it early with a note.
    """
    limits = limits or LocateLimits()
    t0_ms = clock.ms()
    trigger, control = payloads(target, user_agent)
    reps = limits.repetitions
    per_ttl = 2 * reps * PACKETS_PER_FLOW
    max_flows = max(1, min(limits.max_ttl * 2 * reps, limits.max_packets // PACKETS_PER_FLOW))
    hops: list[HopVotes] = []
    server_ttl: int | None = None
    note: str | None = None
    sent = 0
    capture.watch(target.address)
    try:
        layers = await _load_layers()
        with ResetGuard(max_flows) as guard:
            sender = _Sender(target.address, target.port, layers)
            run = _Run(capture, sender, target, limits)
            ports = list(guard.ports)
            try:
                with trio.move_on_after(limits.max_duration_s) as budget:
                    for ttl in range(1, limits.max_ttl + 1):
                        if sender.sent + per_ttl > limits.max_packets or len(ports) < 2 * reps:
                            note = f"stopped at TTL {ttl}: packet budget {limits.max_packets}"
                            break
                        trigger_probes, control_probes = await _round(
                            run, ttl, (trigger, control), ports
                        )
                        if not trigger_probes or not control_probes:
                            note = f"handshakes stopped completing at TTL {ttl}"
                            break
                        hop = hop_votes(ttl, trigger_probes, control_probes)
                        hops.append(hop)
                        if hop.control_vote is ProbeOutcome.DATA:
                            server_ttl = ttl
                            break
                if budget.cancelled_caught:
                    note = f"stopped after {limits.max_duration_s:.0f} s (time budget)"
            finally:
                sent = sender.sent
                sender.close()
    except (GuardError, OSError) as exc:
        note = f"localisation impossible here: {exc}"
    finally:
        capture.unwatch(target.address)
    if server_ttl is None and note is None:
        note = f"the control never reached the server within TTL {limits.max_ttl}"
    conclusion = conclude(hops, server_ttl)
    return Localisation(
        address=target.address,
        port=target.port,
        trigger=target.kind,
        server_name=target.server_name,
        control_name=CONTROL_NAME,
        t0_ms=t0_ms,
        t_ms=clock.ms(),
        max_ttl=limits.max_ttl,
        repetitions=reps,
        hops=hops,
        server_ttl=server_ttl,
        blocking_ttl=conclusion.blocking_ttl,
        censor_hop=conclusion.censor_hop,
        censor_address=conclusion.censor_address,
        icmp_sources=list(conclusion.icmp_sources),
        path=conclusion.path,
        is_ttl_copying=conclusion.is_ttl_copying,
        packets_sent=sent,
        note=note or conclusion.note,
    )
