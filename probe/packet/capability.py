"""Whether this process can capture packets and locate censors, and if not, why (one line).

Reads /proc/self/status and tries to open a packet socket; imports no scapy. Packet capture
needs Linux, scapy, libpcap (to compile capture filters) and CAP_NET_RAW; localisation also
needs CAP_NET_ADMIN and libnftables (a temporary rule drops the kernel's resets on its flows).
"""

from __future__ import annotations

import ctypes.util
import importlib.util
import socket
import sys
from dataclasses import dataclass
from pathlib import Path

CAP_NET_ADMIN = 12
CAP_NET_RAW = 13
PROC_STATUS = Path("/proc/self/status")

NO_NET_RAW = (
    "this process lacks CAP_NET_RAW (run as root, or setcap cap_net_raw+ep on the Python "
    "interpreter)"
)
NO_NET_ADMIN = (
    "this process lacks CAP_NET_ADMIN for a temporary nftables rule (run as root, or setcap "
    "cap_net_raw,cap_net_admin+ep on the Python interpreter)"
)


@dataclass(frozen=True)
class PacketCapability:
    """What packet-level work this process can do, with the reason for what it cannot."""

    capture_problem: str | None = None
    locate_problem: str | None = None

    @property
    def can_capture(self) -> bool:
        """Return whether packet capture (and so packet evidence) works here."""
        return self.capture_problem is None

    @property
    def can_locate(self) -> bool:
        """Return whether censor localisation works here."""
        return self.capture_problem is None and self.locate_problem is None


def effective_capabilities(status_text: str) -> int | None:
    """Return the CapEff bit mask from /proc/PID/status text, or None if it is absent."""
    for line in status_text.splitlines():
        if line.startswith("CapEff:"):
            try:
                return int(line.split(":", 1)[1].strip(), 16)
            except ValueError:
                return None
    return None


def _has_capability(bit: int) -> bool | None:
    """Return whether the effective set holds capability `bit`; None when it cannot be read."""
    try:
        mask = effective_capabilities(PROC_STATUS.read_text(encoding="ascii", errors="replace"))
    except OSError:
        return None
    return None if mask is None else bool(mask >> bit & 1)


def _can_open_packet_socket() -> bool:
    """Return whether an AF_PACKET socket opens (the real test of CAP_NET_RAW here)."""
    try:
        probe = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, 0)
    except PermissionError:
        return False
    except OSError:
        return False
    probe.close()
    return True


def capture_problem() -> str | None:
    """Return why packet capture cannot run in this process, or None when it can."""
    if sys.platform != "linux":
        return "packet capture is implemented for Linux only"
    if importlib.util.find_spec("scapy") is None:
        return "scapy is not installed (pip install scapy)"
    if ctypes.util.find_library("pcap") is None:
        return "libpcap is missing (apt-get install libpcap0.8); it compiles the capture filters"
    if not _can_open_packet_socket():
        return NO_NET_RAW
    return None


def locate_problem() -> str | None:
    """Return why censor localisation cannot run (besides capture), or None when it can."""
    if ctypes.util.find_library("nftables") is None:
        return "libnftables is missing (apt-get install libnftables1)"
    if _has_capability(CAP_NET_ADMIN) is False:
        return NO_NET_ADMIN
    return None


def packet_capability(*, want_locate: bool = False) -> PacketCapability:
    """Return what this process can do: capture always checked, localisation if `want_locate`."""
    capture = capture_problem()
    locate = locate_problem() if want_locate else None
    return PacketCapability(capture_problem=capture, locate_problem=locate)
