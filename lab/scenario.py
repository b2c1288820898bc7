"""Scenario files: the world (sites, hosts, resolvers, countries), the censor, and what to expect.

Pure: `parse_scenario` takes TOML text; `load_scenario` reads a file. Validation errors name the
file and the field. The format is documented in docs/lab.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import msgspec

from lab.errors import ScenarioError

Cert = Literal["valid", "expired", "wrong_host", "untrusted"]
ResolverValue = str | list[str]
TtlMode = Literal["fixed", "copy"]
IpIdMode = Literal["random", "zero"]
Hops = Annotated[int, msgspec.Meta(ge=0, le=8)]


class _Spec(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Base of every scenario record: immutable, keyword-only, unknown keys rejected."""


class Page(_Spec, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """What one path of a site answers."""

    status: int = 200
    title: str | None = None
    text: str | None = None
    body: str | None = None
    size: Annotated[int, msgspec.Meta(ge=0)] | None = None
    body_size: Annotated[int, msgspec.Meta(ge=0)] | None = None
    redirect: str | None = None
    headers: dict[str, str] = {}
    latency_ms: Annotated[float, msgspec.Meta(ge=0)] | None = None
    reset: bool = False
    """The server itself resets the connection (RST) after reading the request."""


class ClientPage(Page, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """What a site serves instead on `path` to clients of the probe's own network."""

    path: str = "/"


class SiteSpec(_Spec, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A web site on the lab internet (HTTP on 80, HTTPS on 443 unless turned off)."""

    host: str
    address: str | None = None
    aliases: list[str] = []
    certificate: Cert = "valid"
    latency_ms: Annotated[float, msgspec.Meta(ge=0)] | None = None
    pages: dict[str, Page] = {}
    client_pages: list[ClientPage] = []
    http: bool = True
    https: bool = True


class HostSpec(_Spec, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Another lab host: an ISP blockpage server (answers every Host with its page) or an ISP
    transparent proxy (fetches the real site for the Host asked)."""

    name: str
    kind: Literal["blockpage", "proxy"]
    address: str | None = None
    title: str = "Access denied"
    text: str = "This site is blocked."


class _Rule(_Spec, frozen=True, kw_only=True, forbid_unknown_fields=True, tag_field="action"):
    """Base of censor rule specs; `action` selects the kind."""


class DnsInjectSpec(_Rule, frozen=True, kw_only=True, forbid_unknown_fields=True, tag="dns_inject"):
    """Inject a forged answer to UDP queries for `name`, to any resolver."""

    name: str
    answer: ResolverValue = []
    rcode: str = "NOERROR"
    ip_ttl: Annotated[int, msgspec.Meta(ge=1, le=255)] = 64
    ttl_mode: TtlMode = "fixed"
    copies: Annotated[int, msgspec.Meta(ge=1, le=8)] = 1
    ip_id: IpIdMode = "random"
    udp_checksum: bool = True


class DnsDropSpec(_Rule, frozen=True, kw_only=True, forbid_unknown_fields=True, tag="dns_drop"):
    """Drop UDP queries that carry `name`."""

    name: str


class _IpSpec(_Rule, frozen=True, kw_only=True, forbid_unknown_fields=True):
    address: str
    port: Annotated[int, msgspec.Meta(ge=1, le=65535)] | None = None


class DropSpec(_IpSpec, frozen=True, kw_only=True, forbid_unknown_fields=True, tag="drop"):
    """Drop every packet to an address (and port)."""


class RejectSpec(_IpSpec, frozen=True, kw_only=True, forbid_unknown_fields=True, tag="reject"):
    """Answer SYNs to an address (and port) with RST."""


class UnreachableSpec(
    _IpSpec, frozen=True, kw_only=True, forbid_unknown_fields=True, tag="unreachable"
):
    """Answer packets to an address with ICMP host-unreachable."""


class _TlsSpec(_Rule, frozen=True, kw_only=True, forbid_unknown_fields=True):
    sni: str


class _InjectedReset(_Rule, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Traits of a reset forged by the injector instead of the packet filter's REJECT."""

    injector: bool = False
    ip_ttl: Annotated[int, msgspec.Meta(ge=1, le=255)] = 64
    ttl_mode: TtlMode = "fixed"
    ip_id: IpIdMode = "random"
    in_path: bool = False
    """The trigger is dropped too (else it reaches the server, as with the GFW)."""


class TlsResetSpec(
    _InjectedReset, frozen=True, kw_only=True, forbid_unknown_fields=True, tag="tls_reset"
):
    """Reset the flow after a ClientHello with this SNI."""

    sni: str


class TlsDropSpec(_TlsSpec, frozen=True, kw_only=True, forbid_unknown_fields=True, tag="tls_drop"):
    """Drop the flow after a ClientHello with this SNI."""


class TlsCloseSpec(
    _TlsSpec, frozen=True, kw_only=True, forbid_unknown_fields=True, tag="tls_close"
):
    """Close the flow (FIN) after a ClientHello with this SNI."""


class TlsInterceptSpec(
    _TlsSpec, frozen=True, kw_only=True, forbid_unknown_fields=True, tag="tls_intercept"
):
    """Intercept TLS for this SNI with the censor's own (untrusted) CA."""


class _HttpMatch(_Rule, frozen=True, kw_only=True, forbid_unknown_fields=True):
    host: str | None = None
    path_keyword: str | None = None


class HttpResetSpec(
    _InjectedReset, frozen=True, kw_only=True, forbid_unknown_fields=True, tag="http_reset"
):
    """Reset the flow after a matching HTTP request."""

    host: str | None = None
    path_keyword: str | None = None


class HttpDropSpec(
    _HttpMatch, frozen=True, kw_only=True, forbid_unknown_fields=True, tag="http_drop"
):
    """Drop the flow after a matching HTTP request."""


class HttpCloseSpec(
    _HttpMatch, frozen=True, kw_only=True, forbid_unknown_fields=True, tag="http_close"
):
    """Close the flow (FIN) after a matching HTTP request."""


class HttpInjectSpec(
    _HttpMatch, frozen=True, kw_only=True, forbid_unknown_fields=True, tag="http_inject"
):
    """Answer a matching HTTP request first with a forged response (a page or a redirect)."""

    status: int = 200
    title: str = "Access denied"
    text: str = "This site is blocked."
    location: str | None = None
    end: Literal["fin", "rst"] = "fin"


class ThrottleSpec(_Rule, frozen=True, kw_only=True, forbid_unknown_fields=True, tag="throttle"):
    """Limit traffic from an address towards the client."""

    address: str
    rate_kbit: Annotated[int, msgspec.Meta(ge=1)]


CensorSpec = (
    DnsInjectSpec
    | DnsDropSpec
    | DropSpec
    | RejectSpec
    | UnreachableSpec
    | TlsResetSpec
    | TlsDropSpec
    | TlsCloseSpec
    | TlsInterceptSpec
    | HttpResetSpec
    | HttpDropSpec
    | HttpCloseSpec
    | HttpInjectSpec
    | ThrottleSpec
)


class NetworkSpec(_Spec, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One client network (an ISP) inside a country; a probe runs in each."""

    name: str = "isp"
    asn: Annotated[int, msgspec.Meta(ge=0)] = 64500
    region: str | None = None


class CountrySpec(_Spec, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A censored country: its networks, its ISP resolver's lies and its censor's rules."""

    cc: Annotated[str, msgspec.Meta(pattern="^[A-Z]{2}$")] = "ZZ"
    name: str = ""
    networks: list[NetworkSpec] = msgspec.field(default_factory=lambda: [NetworkSpec()])
    resolver: dict[str, ResolverValue] = {}
    resolver_delay_ms: dict[str, Annotated[float, msgspec.Meta(ge=0)]] = {}
    censor: list[CensorSpec] = []
    hops_before: Hops = 0
    hops_after: Hops = 0


class Expectation(_Spec, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The verdict the probe must reach for one URL."""

    url: str
    verdict: Literal["ok", "blocked", "down", "inconclusive"]
    methods: list[str] = []
    any_of: list[str] = []
    allow_extra: list[str] = []
    checks: list[Literal["dns-injection-recorded"]] = []
    country: str | None = None
    note: str = ""
    rules: list[str] = []
    """Rule ids that must fire (e.g. tcp-rst-injected)."""
    absent_rules: list[str] = []
    """Rule ids that must not fire."""
    notes: list[str] = []
    """Text each of which some analysis note must contain."""
    censor_hop: Annotated[int, msgspec.Meta(ge=1, le=64)] | None = None
    """The hop localisation must report (needs `locate_censor`)."""
    censor_path: Literal["in-path", "on-path"] | None = None


class Options(_Spec, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Timeouts and latencies for the whole scenario."""

    dns_timeout_s: Annotated[float, msgspec.Meta(gt=0)] = 2.0
    tcp_timeout_s: Annotated[float, msgspec.Meta(gt=0)] = 2.0
    tls_timeout_s: Annotated[float, msgspec.Meta(gt=0)] = 2.0
    http_timeout_s: Annotated[float, msgspec.Meta(gt=0)] = 4.0
    control_timeout_s: Annotated[float, msgspec.Meta(gt=0)] = 15.0
    capture_window_ms: Annotated[float, msgspec.Meta(ge=0)] = 300.0
    latency_ms: Annotated[float, msgspec.Meta(ge=0)] = 0.0
    tls_latency_ms: Annotated[float, msgspec.Meta(ge=0)] = 0.0
    """Sites wait this long before answering a ClientHello (a far server, for races)."""
    system_resolver: bool = True
    packet_evidence: bool = False
    locate_censor: bool = False
    dns_bait: bool = False
    """Probes also query the lab's DNS bait, an address that runs no DNS server."""


class Scenario(_Spec, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One scenario file."""

    id: str
    title: str
    description: str = ""
    options: Options = Options()
    sites: list[SiteSpec] = msgspec.field(default_factory=list, name="site")
    hosts: list[HostSpec] = msgspec.field(default_factory=list, name="host")
    resolver: dict[str, ResolverValue] = {}
    resolver_delay_ms: dict[str, Annotated[float, msgspec.Meta(ge=0)]] = {}
    censor: list[CensorSpec] = []
    hops_before: Hops = 0
    hops_after: Hops = 0
    countries: list[CountrySpec] = msgspec.field(default_factory=list, name="country")
    expect: list[Expectation] = []

    def country_specs(self) -> list[CountrySpec]:
        """Return the countries; a file without [[country]] has one built from top-level keys."""
        if self.countries:
            return list(self.countries)
        return [
            CountrySpec(
                resolver=dict(self.resolver),
                resolver_delay_ms=dict(self.resolver_delay_ms),
                censor=list(self.censor),
                hops_before=self.hops_before,
                hops_after=self.hops_after,
            )
        ]


def parse_scenario(text: bytes | str, source: str) -> Scenario:
    """Return the scenario in TOML `text`.

    Raises:
        ScenarioError: not TOML, or a field is missing, unknown or of the wrong type/value; the
            message names `source` and the field.
    """
    try:
        scenario = msgspec.toml.decode(text, type=Scenario)
    except msgspec.ValidationError as exc:
        raise ScenarioError(f"{source}: {exc}") from exc
    except msgspec.DecodeError as exc:
        raise ScenarioError(f"{source}: not valid TOML: {exc}") from exc
    _check_consistency(scenario, source)
    return scenario


def _check_consistency(scenario: Scenario, source: str) -> None:
    hosts = [s.host for s in scenario.sites] + [h.name for h in scenario.hosts]
    duplicates = {h for h in hosts if hosts.count(h) > 1}
    if duplicates:
        raise ScenarioError(f"{source}: hosts defined twice: {', '.join(sorted(duplicates))}")
    if scenario.countries and (
        scenario.censor or scenario.resolver or scenario.hops_before or scenario.hops_after
    ):
        raise ScenarioError(
            f"{source}: put censor, resolver and hops under each [[country]] when countries are "
            "given"
        )
    if not scenario.expect:
        raise ScenarioError(f"{source}: a scenario needs at least one [[expect]]")
    codes = {c.cc for c in scenario.country_specs()}
    for expectation in scenario.expect:
        if expectation.country is not None and expectation.country not in codes:
            raise ScenarioError(
                f"{source}: expect for {expectation.url} names unknown country "
                f"{expectation.country}"
            )
    for expectation in scenario.expect:
        if expectation.censor_hop is not None and not scenario.options.locate_censor:
            raise ScenarioError(
                f"{source}: expect censor_hop for {expectation.url} needs options.locate_censor"
            )
    for country in scenario.country_specs():
        for rule in country.censor:
            if not isinstance(rule, _HttpMatch | HttpResetSpec):
                continue
            if (rule.host is None) == (rule.path_keyword is None):
                raise ScenarioError(
                    f"{source}: censor action {type(rule).__name__} needs exactly one of host, "
                    "path_keyword"
                )


def load_scenario(path: Path) -> Scenario:
    """Return the scenario in the file at `path`.

    Raises:
        ScenarioError: unreadable or invalid file.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ScenarioError(f"cannot read scenario {path}: {exc.strerror}") from exc
    return parse_scenario(data, str(path))
