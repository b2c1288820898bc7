"""Packet-level evidence (CAP_NET_RAW): captured flows, DNS packet traits, censor localisation.

The only probe package that uses scapy, always imported lazily (it costs 0.2-0.8 s), so
importing this package is cheap and works without scapy.

Modules:
- `capability`: whether this process can capture and localise, and if not, why (one line).
- `wire`: pure reader of captured IPv4 packets (TCP, UDP, ICMP errors with their quote).
- `capture`: the capture thread (AF_PACKET, BPF by libpcap) filing packets by flow.
- `records`: pure: packets -> `TcpFlow` records; DNS responses with IP ID and UDP checksum.
- `triggers`: the trigger and control payloads, and which failed flow to localise.
- `votes`: pure: one TTL-limited probe's outcome, majority votes, the censor's hop.
- `guard`: the temporary nftables rule dropping the kernel's RSTs on raw flows.
- `locate`: localisation itself: raw handshakes, payloads with growing TTL (scapy).
- `recorder`: `PacketRecorder`, what `probe.measure` uses.
"""

from probe.packet.capability import PacketCapability, packet_capability
from probe.packet.capture import CaptureError
from probe.packet.locate import LocateLimits
from probe.packet.recorder import FailedFlow, PacketRecorder

__all__ = [
    "CaptureError",
    "FailedFlow",
    "LocateLimits",
    "PacketCapability",
    "PacketRecorder",
    "packet_capability",
]
