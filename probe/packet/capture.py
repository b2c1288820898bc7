"""A packet capture over every interface, keeping only packets exchanged with watched addresses.

One thread reads an AF_PACKET socket (CAP_NET_RAW) behind a BPF filter compiled by libpcap through
scapy (imported lazily); TCP payloads are never stored, unwatched traffic never reaches Python.
"""

from __future__ import annotations

import ctypes
import logging
import socket
import struct
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Container, Iterable
from dataclasses import dataclass, field

import trio

from probe.packet.wire import TCP, UDP, WirePacket, parse_ipv4

logger = logging.getLogger(__name__)

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)
SO_ATTACH_FILTER = 26
DLT_RAW = 12  # libpcap's link type for packets that start at the IP header (Linux value)
RECEIVE_BYTES = 65535
POLL_S = 0.2
"""How often the reading thread checks whether it should stop."""
STOP_TIMEOUT_S = 2.0
HEAD_PACKETS = 32
TAIL_PACKETS = 32
MAX_FLOWS = 4096
MAX_WATCHED = 64
"""Beyond this many watched addresses the kernel filter passes all TCP/UDP (filtered here)."""

FlowKey = tuple[int, str, int, int]
"""(protocol, remote address, remote port, local port)."""


class CaptureError(Exception):
    """The packet capture could not start."""


@dataclass
class _Flow:
    head: list[WirePacket] = field(default_factory=list)
    tail: deque[WirePacket] = field(default_factory=lambda: deque(maxlen=TAIL_PACKETS))
    seen: int = 0

    def add(self, packet: WirePacket) -> None:
        self.seen += 1
        if len(self.head) < HEAD_PACKETS:
            self.head.append(packet)
        else:
            self.tail.append(packet)

    def packets(self) -> list[WirePacket]:
        return [*self.head, *self.tail]


def filter_expression(addresses: Iterable[str]) -> str:
    """Return the BPF filter for these watched addresses (IPv4 literals), plus ICMP errors."""
    icmp = "(icmp and (icmp[0] == 3 or icmp[0] == 11))"
    hosts = sorted(set(addresses))
    if not hosts:
        return icmp
    if len(hosts) > MAX_WATCHED:
        return f"ip and (tcp or udp or {icmp})"
    listed = " or ".join(f"host {h}" for h in hosts)
    return f"ip and ((({listed}) and (tcp or udp)) or {icmp})"


def flow_key(packet: WirePacket, watched: Container[str]) -> FlowKey | None:
    """Return the flow a captured packet belongs to, seen from the probe, or None if unwatched.

    An ICMP error belongs to the flow of the packet it quotes (one the probe sent).
    """
    quoted = packet.quoted
    if quoted is not None:
        if quoted.dst in watched:
            return (quoted.proto, quoted.dst, quoted.dport, quoted.sport)
        return None
    if packet.proto not in (TCP, UDP):
        return None
    if packet.src in watched:
        return (packet.proto, packet.src, packet.sport, packet.dport)
    if packet.dst in watched:
        return (packet.proto, packet.dst, packet.dport, packet.sport)
    return None


class PacketCapture:
    """The capture thread and the flows it files packets under.

    `start` and `close` are called from trio (the thread wakes `wait_for` callers through the
    trio token taken at `start`); every other method may be called from any thread.
    """

    def __init__(self, *, max_flows: int = MAX_FLOWS) -> None:
        self.max_flows = max_flows
        self._lock = threading.Lock()
        self._flows: OrderedDict[FlowKey, _Flow] = OrderedDict()
        self._watched: dict[str, int] = {}
        self._waiters: dict[FlowKey, list[Callable[[], None]]] = {}
        self._socket: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._token: trio.lowlevel.TrioToken | None = None
        self.dropped = 0

    def start(self) -> None:
        """Open the socket, attach the filter and start the reading thread.

        Raises:
            CaptureError: no CAP_NET_RAW, no libpcap, or the filter does not compile.
        """
        if self._thread is not None:
            return
        self._token = trio.lowlevel.current_trio_token()
        try:
            sock = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(ETH_P_ALL))
        except OSError as exc:
            raise CaptureError(f"cannot open a packet socket: {exc.strerror}") from exc
        try:
            sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
            sock.settimeout(POLL_S)
            self._socket = sock
            self._attach(filter_expression(()))
        except (OSError, CaptureError):
            sock.close()
            self._socket = None
            raise
        self._thread = threading.Thread(target=self._read, name="crenel-capture", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop the thread, close the socket and forget every packet."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(STOP_TIMEOUT_S)
            self._thread = None
        if self._socket is not None:
            self._socket.close()
            self._socket = None
        with self._lock:
            self._flows.clear()
            self._waiters.clear()

    def watch(self, address: str) -> None:
        """Capture traffic with `address` (counted: each `watch` needs an `unwatch`)."""
        if ":" in address:
            return  # IPv4 only
        with self._lock:
            count = self._watched.get(address, 0)
            self._watched[address] = count + 1
            changed = count == 0
            expression = filter_expression(self._watched)
        if changed:
            self._attach(expression)

    def unwatch(self, address: str) -> None:
        """Stop capturing traffic with `address` once nobody watches it; forget its flows."""
        with self._lock:
            count = self._watched.get(address, 0)
            if count > 1:
                self._watched[address] = count - 1
                return
            self._watched.pop(address, None)
            for key in [k for k in self._flows if k[1] == address]:
                del self._flows[key]
            expression = filter_expression(self._watched)
        if count:
            self._attach(expression)

    def packets(self, key: FlowKey) -> tuple[list[WirePacket], int]:
        """Return the packets kept for a flow (first and last ones) and how many were seen."""
        with self._lock:
            found = self._flows.get(key)
            return (found.packets(), found.seen) if found is not None else ([], 0)

    async def wait_for(
        self, key: FlowKey, accept: Callable[[WirePacket], bool], timeout_s: float
    ) -> WirePacket | None:
        """Return the first packet of flow `key` that `accept`s (already kept, or arriving
        within `timeout_s`), or None."""
        event = trio.Event()
        with self._lock:
            self._waiters.setdefault(key, []).append(event.set)
        try:
            with trio.move_on_after(timeout_s):
                while True:  # bounded by the deadline; each pass waits for a new packet
                    for packet in self.packets(key)[0]:
                        if accept(packet):
                            return packet
                    await event.wait()
                    event = trio.Event()
                    with self._lock:
                        self._waiters.setdefault(key, []).append(event.set)
            return None
        finally:
            with self._lock:
                self._waiters.pop(key, None)

    def _attach(self, expression: str) -> None:
        """Compile `expression` for raw IP and attach it to the socket (replacing the old one)."""
        sock = self._socket
        if sock is None:
            return
        try:
            from scapy.arch.common import compile_filter, free_filter
        except ImportError as exc:
            raise CaptureError(f"scapy cannot compile capture filters: {exc}") from exc
        try:
            program = compile_filter(expression, linktype=DLT_RAW)
        except ImportError as exc:  # scapy raises ImportError when libpcap is missing
            raise CaptureError(f"libpcap is not available: {exc}") from exc
        try:
            pointer = ctypes.cast(program.bf_insns, ctypes.c_void_p).value or 0
            fprog = struct.pack("HL", program.bf_len, pointer)
            sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)
        finally:
            free_filter(program)

    def _read(self) -> None:
        """Read packets until stopped, filing the watched ones (runs in the capture thread)."""
        sock = self._socket
        assert sock is not None
        ancillary = socket.CMSG_SPACE(16)
        while not self._stop.is_set():
            try:
                data, cmsgs, _flags, address = sock.recvmsg(RECEIVE_BYTES, ancillary)
            except TimeoutError:
                continue
            except OSError as exc:
                if not self._stop.is_set():
                    logger.warning("packet capture stopped: %s", exc)
                return
            if address[0] == "lo" and address[2] == PACKET_OUTGOING:
                continue  # loopback shows each packet twice
            try:
                packet = parse_ipv4(data, _timestamp(cmsgs))
            except (ValueError, struct.error, IndexError) as exc:  # a malformed packet
                logger.debug("packet skipped: %r", exc)
                continue
            if packet is not None:
                self._file(packet)

    def _file(self, packet: WirePacket) -> None:
        wake: list[Callable[[], None]] = []
        with self._lock:
            key = flow_key(packet, self._watched)
            if key is None:
                return
            flow = self._flows.get(key)
            if flow is None:
                flow = self._flows[key] = _Flow()
                while len(self._flows) > self.max_flows:
                    self._flows.popitem(last=False)
                    self.dropped += 1
            else:
                self._flows.move_to_end(key)
            flow.add(packet)
            wake = self._waiters.pop(key, [])
        token = self._token
        for callback in wake:
            if token is not None:
                try:
                    token.run_sync_soon(callback)
                except trio.RunFinishedError:
                    return


def _timestamp(cmsgs: list[tuple[int, int, bytes]]) -> float:
    """Return the kernel's receive time from SO_TIMESTAMPNS ancillary data, else the clock."""
    for level, kind, data in cmsgs:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(data) >= 16:
            seconds, nanoseconds = struct.unpack("qq", data[:16])
            stamp: float = seconds + nanoseconds / 1e9
            return stamp
    return time.time()
