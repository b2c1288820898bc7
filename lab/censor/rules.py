"""What a censor does, as data: one frozen record per kind of interference.

Pure: no I/O. The scenario loader builds these (names resolved to addresses); `nft` renders the
packet-filter part; `injector` and `interceptor` processes act out the rest.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

IpAction = Literal["drop", "reject", "unreachable"]
FlowAction = Literal["reset", "drop", "close"]
TtlMode = Literal["fixed", "copy"]
IpIdMode = Literal["random", "zero"]


@dataclass(frozen=True)
class DnsInject:
    """Answer UDP queries for `name` (to any resolver) with a forged reply, racing the real one.

    `answers` are the forged A addresses; `rcode` other than NOERROR sends that rcode with no
    answers. `ttl_mode` sets the IP TTL of the forged packet: "fixed" uses `ip_ttl`, "copy"
    copies the query's TTL (defeats naive TTL checks). `copies` > 1 models several injectors.
    `ip_id` "zero" sends IP ID 0 (else random); `udp_checksum` False leaves the checksum 0.
    """

    name: str
    answers: tuple[str, ...] = ()
    rcode: str = "NOERROR"
    ip_ttl: int = 64
    ttl_mode: TtlMode = "fixed"
    copies: int = 1
    ip_id: IpIdMode = "random"
    udp_checksum: bool = True


@dataclass(frozen=True)
class DnsDrop:
    """Drop UDP DNS queries whose question carries `name`."""

    name: str


@dataclass(frozen=True)
class IpBlock:
    """Interfere with packets to `address` (and `port`, TCP, when given).

    drop: silently; reject: answer SYNs with RST (TCP) or ICMP port-unreachable (UDP);
    unreachable: answer with ICMP host-unreachable.
    """

    address: str
    action: IpAction
    port: int | None = None


@dataclass(frozen=True)
class ForgedTraits:
    """How the injector forges a reset: the IP TTL ("copy": the trigger's own TTL as it reached
    the censor), the IP ID ("random" or "zero"), and whether the trigger is dropped too
    (`in_path`) or still reaches the server (on-path, as the Great Firewall does)."""

    ip_ttl: int = 64
    ttl_mode: TtlMode = "fixed"
    ip_id: IpIdMode = "random"
    in_path: bool = False


@dataclass(frozen=True)
class TlsBlock:
    """After a ClientHello with SNI `sni` (any port): reset, drop the flow, or close it (FIN).

    A reset is the packet filter's REJECT, unless `forged` says how the injector forges it.
    """

    sni: str
    action: FlowAction
    forged: ForgedTraits | None = None


@dataclass(frozen=True)
class HttpBlock:
    """After an HTTP request with Host `host` or a path containing `path_keyword` (any port):
    reset, drop the flow, or close it (FIN). Exactly one of `host`, `path_keyword` is set.
    A reset is the packet filter's REJECT, unless `forged` says how the injector forges it."""

    action: FlowAction
    host: str | None = None
    path_keyword: str | None = None
    forged: ForgedTraits | None = None


@dataclass(frozen=True)
class HttpInject:
    """Answer an HTTP request with Host `host` (or path containing `path_keyword`) with a forged
    response that wins the race, then end the flow with `end` ("fin" or "rst")."""

    status: int
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()
    host: str | None = None
    path_keyword: str | None = None
    end: Literal["fin", "rst"] = "fin"


@dataclass(frozen=True)
class TlsIntercept:
    """Terminate TLS for ClientHellos with SNI `sni` using a certificate from the censor's own CA,
    relaying to the real server; other TLS flows pass untouched."""

    sni: str


@dataclass(frozen=True)
class Throttle:
    """Limit traffic from `address` towards the client to `rate_kbit` kilobits per second."""

    address: str
    rate_kbit: int


CensorRule = (
    DnsInject | DnsDrop | IpBlock | TlsBlock | HttpBlock | HttpInject | TlsIntercept | Throttle
)


@dataclass(frozen=True)
class CensorPlan:
    """Everything one censor namespace must do, with the interface names it sits between."""

    rules: tuple[CensorRule, ...] = ()
    lan_interface: str = "lan"
    wan_interface: str = "wan"
    client_networks: tuple[str, ...] = field(default_factory=tuple)
