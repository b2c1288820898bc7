"""The on-path injector: `python -m lab.censor.injector PLAN.json`, run in the censor namespace.

Sniffs client packets on the LAN interface (scapy AsyncSniffer with a BPF filter) and sends what
`forgery` decides through one persistent layer-2 socket. Prints READY once sniffing; exits
within a second of SIGTERM. Scapy is imported here only, lazily (it costs ~0.3 s).
"""

from __future__ import annotations

import argparse
import logging
import random
import signal
import struct
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

from lab.censor.forgery import TcpSegment, forge_dns, forge_tcp, needs_dns, needs_tcp
from lab.censor.plan_file import decode_plan
from lab.censor.rules import CensorPlan, CensorRule

log = logging.getLogger(__name__)

READY_LINE = "READY"
START_TIMEOUT_S = 5.0
STOP_TIMEOUT_S = 0.8  # SIGTERM to exit stays under a second
WATCH_INTERVAL_S = 0.5  # how often the main thread checks that the sniffer still runs
FORGED_IP_TTL = 64  # forged TCP segments; DNS replies take the rule's TTL
FORGED_TCP_WINDOW = 64240
# Only TCP segments that carry data can be a trigger (RFC 9293 header lengths, in BPF).
_TCP_WITH_DATA = "(ip[2:2] - ((ip[0] & 0xf) << 2) - ((tcp[12] & 0xf0) >> 2)) > 0"
# What one malformed or unexpected packet may raise while it is parsed or answered.
_PACKET_ERRORS = (OSError, ValueError, IndexError, struct.error, TypeError)


def bpf_filter(lan_mac: str, rules: tuple[CensorRule, ...]) -> str | None:
    """Return the BPF filter for the packets the rules act on, or None if there are none.

    `ether dst` keeps only frames sent to the censor by a client: never forwarded replies nor
    the injector's own forgeries, which leave through the same interface.
    """
    parts: list[str] = []
    if needs_dns(rules):
        parts.append("(udp and dst port 53)")
    if needs_tcp(rules):
        parts.append(f"(tcp and {_TCP_WITH_DATA})")
    if not parts:
        return None
    return f"ether dst {lan_mac.lower()} and ip and ({' or '.join(parts)})"


class Injector:
    """Answers sniffed client packets with forgeries through a persistent layer-2 socket."""

    def __init__(self, plan: CensorPlan, socket: Any, lan_mac: str) -> None:
        from scapy.layers.inet import IP, TCP, UDP
        from scapy.layers.l2 import Ether

        self.rules = plan.rules
        self.socket = socket
        self.lan_mac = lan_mac
        self.layers = (Ether, IP, UDP, TCP)
        self.random = random.Random()
        self.sent = 0

    def handle(self, packet: Any) -> None:
        """Send the forgeries for one sniffed frame (none if no rule matches it)."""
        try:
            self._handle(packet)
        except _PACKET_ERRORS as exc:
            log.warning("packet skipped: %r", exc)

    def _handle(self, packet: Any) -> None:
        ether_cls, ip_cls, udp_cls, tcp_cls = self.layers
        if ip_cls not in packet:
            return
        ip = packet[ip_cls]
        header_bytes = ip.ihl * 4
        if udp_cls in ip and ip[udp_cls].dport == 53:
            udp = ip[udp_cls]
            data = bytes(udp.payload)[: max(0, udp.len - 8)]
            dns = forge_dns(data, self.rules, query_ip_ttl=ip.ttl)
            if dns is None:
                return
            for ttl in dns.ip_ttls:
                ip_id = 0 if dns.zero_ip_id else self._ip_id()
                checksum = None if dns.udp_checksum else 0  # None: scapy computes it
                frame = (
                    ether_cls(src=self.lan_mac, dst=packet.src)
                    / ip_cls(src=ip.dst, dst=ip.src, ttl=ttl, id=ip_id)
                    / udp_cls(sport=udp.dport, dport=udp.sport, chksum=checksum)
                    / dns.payload
                )
                self._send(frame)
        elif tcp_cls in ip:
            tcp = ip[tcp_cls]
            data = bytes(tcp.payload)[: max(0, ip.len - header_bytes - tcp.dataofs * 4)]
            trigger = TcpSegment(seq=tcp.seq, ack=tcp.ack, payload=data, ip_ttl=ip.ttl)
            for segment in forge_tcp(trigger, self.rules):
                ttl = FORGED_IP_TTL if segment.ip_ttl is None else segment.ip_ttl
                ip_id = 0 if segment.zero_ip_id else self._ip_id()
                frame = (
                    ether_cls(src=self.lan_mac, dst=packet.src)
                    / ip_cls(src=ip.dst, dst=ip.src, ttl=ttl, id=ip_id)
                    / tcp_cls(
                        sport=tcp.dport,
                        dport=tcp.sport,
                        flags=segment.flags,
                        seq=segment.seq,
                        ack=segment.ack,
                        window=FORGED_TCP_WINDOW,
                    )
                    / segment.payload
                )
                self._send(frame)

    def _ip_id(self) -> int:
        """Return a random IP ID (a real injector's IDs follow no counter)."""
        return self.random.randrange(1, 1 << 16)

    def _send(self, frame: Any) -> None:
        self.socket.send(frame)
        self.sent += 1


def run(plan: CensorPlan, *, stop: threading.Event, on_ready: Callable[[], None]) -> int:
    """Sniff and inject until `stop` is set; return the exit status (1 if the sniffer died).

    Owns and closes the sniffer and the sending socket.
    """
    from scapy.arch import get_if_hwaddr
    from scapy.config import conf
    from scapy.layers import l2  # noqa: F401  (registers Ethernet, for the sockets' link type)
    from scapy.sendrecv import AsyncSniffer

    lan = plan.lan_interface
    lan_mac = str(get_if_hwaddr(lan))
    bpf = bpf_filter(lan_mac, plan.rules)
    if bpf is None:
        on_ready()  # nothing to inject: idle until stopped
        stop.wait()
        return 0
    # Protocol 0: the socket only sends, so no copy of every frame queues up unread.
    socket = conf.L2socket(iface=lan, type=0, promisc=False, nofilter=True)
    try:
        injector = Injector(plan, socket, lan_mac)
        started = threading.Event()
        sniffer = AsyncSniffer(
            iface=lan,
            filter=bpf,
            prn=injector.handle,
            store=False,
            promisc=False,
            started_callback=started.set,
        )
        sniffer.start()
        try:
            if not started.wait(START_TIMEOUT_S):
                log.error("the sniffer did not start: %r", sniffer.exception)
                return 1
            on_ready()
            while not stop.wait(WATCH_INTERVAL_S):  # runs until SIGTERM
                if not sniffer.thread or not sniffer.thread.is_alive():
                    log.error("the sniffer stopped: %r", sniffer.exception)
                    return 1
        finally:
            if sniffer.running:
                sniffer.stop(join=False)
            sniffer.join(timeout=STOP_TIMEOUT_S)
        log.info("stopping after %d forged packets", injector.sent)
        return 0
    finally:
        socket.close()


def main(argv: list[str] | None = None) -> int:
    """Run the injector for the plan file named on the command line; return the exit status."""
    parser = argparse.ArgumentParser(prog="python -m lab.censor.injector")
    parser.add_argument("plan", type=Path, help="censor plan JSON (lab.censor.plan_file)")
    parser.add_argument("--debug", action="store_true", help="log every forged packet")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.INFO,
        stream=sys.stderr,
        format="injector: %(message)s",
    )
    try:
        plan = decode_plan(args.plan.read_bytes())
    except (OSError, ValueError) as exc:
        print(f"injector: cannot read the plan: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    def ready() -> None:
        print(READY_LINE, flush=True)

    return run(plan, stop=stop, on_ready=ready)


if __name__ == "__main__":
    sys.exit(main())
