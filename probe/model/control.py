"""The control (test helper) request and reply, and how the probe records the exchange.

Pure: no I/O. The helper repeats the probe's DNS, TCP, TLS and HTTP steps from an uncensored
vantage point; its reply is compact, in the spirit of OONI's test-helper protocol.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from probe.model.base import FailureText, Ms, Port, Record

Doc = msgspec.Meta


class ControlRequest(Record, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """What the probe asks the helper to measure."""

    url: Annotated[str, Doc(description="The URL to measure.")]
    addresses: Annotated[
        list[str], Doc(description="Addresses the probe resolved, to be tested too.")
    ] = []
    ports: Annotated[
        list[Port], Doc(description="Ports to test on every address; empty for the URL's defaults.")
    ] = []
    user_agent: str | None = None


class ControlDns(Record, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The helper's own resolution of the URL's host."""

    addresses: Annotated[
        list[str], Doc(description="Addresses the helper's trusted resolver returned.")
    ] = []
    failure: FailureText | None = None


class ControlTcp(Record, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The helper's TCP connect to one address and port."""

    address: Annotated[str, Doc(description="Address connected to.")]
    port: Annotated[Port, Doc(description="Port connected to.")]
    failure: FailureText | None = None


class ControlTls(Record, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The helper's TLS handshake to one address with the URL's host as SNI."""

    address: Annotated[str, Doc(description="Address connected to.")]
    port: Annotated[Port, Doc(description="Port connected to.")]
    server_name: Annotated[str, Doc(description="SNI sent (the URL's host).")]
    tls_version: Annotated[str | None, Doc(description="Negotiated TLS version.")] = None
    leaf_sha256: Annotated[str | None, Doc(description="SHA-256 of the leaf certificate.")] = None
    leaf_issuer: Annotated[
        str | None, Doc(description="Issuer of the leaf certificate, RFC 4514.")
    ] = None
    failure: FailureText | None = None


class ControlHttp(Record, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The helper's fetch of the URL, following redirects."""

    status_code: Annotated[int | None, Doc(description="Status of the final response.")] = None
    body_length: Annotated[int | None, Doc(description="Bytes of the final body.")] = None
    body_is_complete: Annotated[bool, Doc(description="The final body was read to its end.")] = True
    title: Annotated[str | None, Doc(description="Title of the final page.")] = None
    headers: Annotated[
        list[tuple[str, str]], Doc(description="Headers of the final response.")
    ] = []
    final_url: Annotated[
        str | None, Doc(description="URL of the final response (after redirects).")
    ] = None
    redirects: Annotated[
        list[str], Doc(description="URLs visited before the final one, in order.")
    ] = []
    failure: FailureText | None = None


class ControlAddressInfo(Record, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """What the helper knows of one address."""

    address: Annotated[str, Doc(description="An address the probe or the helper found.")]
    asn: Annotated[int | None, Doc(description="Its AS number, if the helper knows it.")] = None
    is_bogon: Annotated[bool, Doc(description="The address is in a special-purpose range.")] = False
    is_tls_valid: Annotated[
        bool, Doc(description="The helper completed a verified TLS handshake for the host here.")
    ] = False


class ControlReply(Record, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The helper's answer."""

    software_name: Annotated[str, Doc(description="Name of the helper program.")]
    software_version: Annotated[str, Doc(description="Version of the helper program.")]
    dns: ControlDns
    tcp: list[ControlTcp] = []
    tls: list[ControlTls] = []
    http: ControlHttp
    addresses: list[ControlAddressInfo] = []
    runtime_ms: Annotated[float, Doc(description="How long the helper took.")] = 0.0


class ControlExchange(Record, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The probe's record of asking the helper: where, when, and what came back."""

    endpoint: Annotated[str, Doc(description="The helper's URL.")]
    t0_ms: Ms
    t_ms: Ms
    reply: Annotated[
        ControlReply | None, Doc(description="The helper's reply, if one arrived and parsed.")
    ] = None
    failure: Annotated[
        FailureText | None, Doc(description="Why no usable reply arrived, if none did.")
    ] = None
