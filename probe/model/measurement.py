"""The measurement envelope: identity, time, software, network, input, observations, analysis.

Pure: no I/O. One `Measurement` is what a probe stores, uploads and a collector keeps.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec

from probe.model.base import Record
from probe.model.control import ControlExchange
from probe.model.observations import DnsQuery, HttpTransaction, TcpConnect, TlsHandshake
from probe.model.packets import PacketEvidence
from probe.model.verdict import Analysis

Doc = msgspec.Meta

FORMAT_VERSION = "1.3"
"""Major.minor of the measurement format; a new field bumps the minor version."""

UID_PATTERN = "^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"
ASN_PATTERN = "^AS[0-9]{1,10}$"
CC_PATTERN = "^[A-Z]{2}$"


class ProbeNetwork(Record, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Where the probe measured from, without its address."""

    cc: Annotated[
        str, Doc(pattern=CC_PATTERN, description="ISO 3166 alpha-2 country; ZZ if unknown.")
    ] = "ZZ"
    asn: Annotated[str, Doc(pattern=ASN_PATTERN, description="Probe's AS; AS0 if unknown.")] = "AS0"
    network_name: Annotated[str, Doc(description="Name of the probe's AS; empty if unknown.")] = ""
    resolver_asn: Annotated[
        str, Doc(pattern=ASN_PATTERN, description="AS of the probe's resolver; AS0 if unknown.")
    ] = "AS0"
    resolver_network_name: Annotated[
        str, Doc(description="Name of the resolver's AS; empty if unknown.")
    ] = ""
    region: Annotated[
        str | None, Doc(description="Sub-national region, where the GeoIP data gives one.")
    ] = None


class MeasurementOptions(Record, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The settings that shaped this measurement, so results can be compared fairly."""

    system_resolver: Annotated[bool, Doc(description="getaddrinfo was used.")] = True
    udp_resolver: Annotated[
        str | None, Doc(description="ip:port of the DNS-over-UDP resolver used.")
    ] = None
    doh_url: Annotated[str | None, Doc(description="DNS-over-HTTPS resolver used.")] = None
    dns_capture_window_ms: Annotated[
        float, Doc(ge=0, description="How long the UDP socket listened after the first answer.")
    ] = 500.0
    body_cap_bytes: Annotated[int, Doc(ge=0, description="Largest body prefix stored.")] = 1 << 20
    dns_timeout_s: Annotated[float, Doc(description="Budget of each DNS lookup, seconds.")] = 4.0
    tcp_timeout_s: Annotated[float, Doc(description="Budget of each TCP connect, seconds.")] = 10.0
    tls_timeout_s: Annotated[float, Doc(description="Budget of each TLS handshake, seconds.")] = (
        10.0
    )
    http_timeout_s: Annotated[
        float, Doc(description="Budget of each HTTP hop (all its attempts), seconds.")
    ] = 15.0
    control_timeout_s: Annotated[
        float, Doc(description="Budget of the control request, seconds.")
    ] = 30.0
    custom_ca: Annotated[
        bool, Doc(description="A CA bundle was trusted besides the system store.")
    ] = False
    public_networks: Annotated[
        list[str], Doc(description="Networks treated as public although they are bogons.")
    ] = []
    packet_evidence: Annotated[
        bool, Doc(description="Packet capture was on (CAP_NET_RAW) for this measurement (1.1).")
    ] = False
    locate_censor: Annotated[
        bool, Doc(description="Censor localisation was allowed for this measurement (1.1).")
    ] = False
    dns_bait: Annotated[
        str | None, Doc(description="Address without a DNS server that bait queries went to (1.1).")
    ] = None


class Origin(Record, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Where a measurement made by another platform came from, as that platform named it (1.2)."""

    platform: Annotated[str, Doc(description="The platform that measured: `ooni`.")]
    measurement_uid: Annotated[
        str | None, Doc(description="The platform's own id of the measurement, where it has one.")
    ] = None
    report_id: Annotated[
        str | None, Doc(description="The platform's report (run) the measurement belongs to.")
    ] = None
    test_name: Annotated[str, Doc(description="The platform's test, e.g. web_connectivity.")]
    test_version: Annotated[str, Doc(description="Version of that test.")] = ""


class Measurement(Record, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One URL measured by one probe at one time, with its analysis."""

    format_version: Annotated[
        str, Doc(pattern=r"^1\.[0-9]+$", description="Version of this format.")
    ] = FORMAT_VERSION
    uid: Annotated[
        str,
        Doc(pattern=UID_PATTERN, description="Measurement id made by the probe (UUIDv7)."),
    ]
    software_name: Annotated[
        str, Doc(description="Name of the program that measured, e.g. crenel-probe.")
    ]
    software_version: Annotated[str, Doc(description="Version of that program.")]
    input: Annotated[str, Doc(description="The URL as given to the probe.")]
    url: Annotated[str, Doc(description="The URL measured, normalised, host IDNA-encoded.")]
    category_code: Annotated[
        str | None, Doc(description="Test-list category of the input, e.g. NEWS.")
    ] = None
    start_time: Annotated[datetime, Doc(description="When measuring began, RFC 3339 UTC.")]
    runtime_ms: Annotated[float, Doc(ge=0, description="How long the whole measurement took.")]
    probe: ProbeNetwork
    probe_id: Annotated[
        str | None, Doc(description="Pseudonymous id the probe generated for itself.")
    ] = None
    options: MeasurementOptions
    dns: list[DnsQuery] = []
    tcp: list[TcpConnect] = []
    tls: list[TlsHandshake] = []
    http: list[HttpTransaction] = []
    control: Annotated[
        ControlExchange | None,
        Doc(
            description="The exchange with the control (test helper); null if none was configured."
        ),
    ] = None
    packets: Annotated[
        PacketEvidence | None,
        Doc(
            description="Packet-level evidence, when packet capture or DNS bait was on and "
            "something failed (1.1); null otherwise."
        ),
    ] = None
    analysis: Analysis
    annotations: Annotated[
        dict[str, str], Doc(description="Free-form facts such as platform and python version.")
    ] = {}
    origin: Annotated[
        Origin | None,
        Doc(
            description="Set when another platform made the measurement and Crenel imported it "
            "(1.2); null for Crenel's own."
        ),
    ] = None
