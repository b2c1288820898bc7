"""The probe's resolved settings: the frozen `ProbeConfig`, its step `Budgets` and their defaults.

Pure: no I/O. Built once by `probe.config.sources.load_config` and passed down.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

DEFAULT_DOH_URL = "https://dns.google/dns-query"
DEFAULT_USER_AGENT = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
PacketMode = Literal["off", "on", "required"]
"""Packet evidence and localisation: off, on where privileges allow, or required (exit 4)."""
PACKET_MODES: tuple[PacketMode, ...] = ("off", "on", "required")


@dataclass(frozen=True)
class Budgets:
    """Time allowed for each step, in seconds (OONI's Web Connectivity uses similar ones)."""

    dns_s: float = 4.0
    tcp_s: float = 10.0
    tls_s: float = 10.0
    http_s: float = 15.0
    control_s: float = 30.0


@dataclass(frozen=True)
class ProbeConfig:
    """Everything that shapes how the probe measures, stores and reports."""

    data_dir: Path
    config_path: Path
    control_url: str | None = None
    collector_url: str | None = None
    system_resolver: bool = True
    udp_resolver: tuple[str, int] | None = None
    doh_url: str | None = DEFAULT_DOH_URL
    ca_bundle: Path | None = None
    fingerprint_paths: tuple[Path, ...] = ()
    geoip_paths: tuple[Path, ...] = ()
    public_networks: tuple[str, ...] = ()
    budgets: Budgets = field(default_factory=Budgets)
    capture_window_s: float = 0.5
    body_cap_bytes: int = 1 << 20
    max_body_bytes: int = 64 << 20
    max_redirects: int = 10
    concurrency: int = 16
    per_host: int = 2
    user_agent: str = DEFAULT_USER_AGENT
    throttle_kbps: float = 256.0
    max_runtime_s: float | None = None
    packet_evidence: PacketMode = "off"
    locate_censor: PacketMode = "off"
    dns_bait: str | None = None

    @property
    def store_path(self) -> Path:
        """Return the path of the local measurement store."""
        return self.data_dir / "measurements.sqlite3"


def with_overrides(config: ProbeConfig, **changes: Any) -> ProbeConfig:
    """Return a copy of `config` with some fields replaced."""
    return replace(config, **changes)
