"""Turn a country's `[[censor]]` specs into `lab.censor` rules, resolving their @host references.

Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping

from lab.censor.rules import (
    CensorRule,
    DnsDrop,
    DnsInject,
    ForgedTraits,
    HttpBlock,
    HttpInject,
    IpBlock,
    Throttle,
    TlsBlock,
    TlsIntercept,
)
from lab.plan.addresses import addresses_of, name_key, resolve_reference
from lab.scenario import (
    CensorSpec,
    DnsDropSpec,
    DnsInjectSpec,
    DropSpec,
    HttpCloseSpec,
    HttpDropSpec,
    HttpInjectSpec,
    HttpResetSpec,
    RejectSpec,
    ThrottleSpec,
    TlsCloseSpec,
    TlsDropSpec,
    TlsInterceptSpec,
    TlsResetSpec,
    UnreachableSpec,
)
from lab.servers.sites import html_page


def _forged(spec: TlsResetSpec | HttpResetSpec) -> ForgedTraits | None:
    """Return the injector's traits for a reset it forges, or None for the filter's REJECT."""
    if not spec.injector:
        return None
    return ForgedTraits(
        ip_ttl=spec.ip_ttl, ttl_mode=spec.ttl_mode, ip_id=spec.ip_id, in_path=spec.in_path
    )


def censor_rule(spec: CensorSpec, addresses: Mapping[str, str], where: str) -> CensorRule:
    """Return the censor rule for one spec, with names normalised and references resolved.

    Raises:
        ScenarioError: a reference names no lab host, or a name is invalid.
    """
    if isinstance(spec, DnsInjectSpec):
        answers = tuple(addresses_of(spec.answer, addresses, where)) if spec.answer else ()
        return DnsInject(
            name=name_key(spec.name),
            answers=answers,
            rcode=spec.rcode,
            ip_ttl=spec.ip_ttl,
            ttl_mode=spec.ttl_mode,
            copies=spec.copies,
            ip_id=spec.ip_id,
            udp_checksum=spec.udp_checksum,
        )
    if isinstance(spec, DnsDropSpec):
        return DnsDrop(name=name_key(spec.name))
    if isinstance(spec, DropSpec | RejectSpec | UnreachableSpec):
        [address] = resolve_reference(spec.address, addresses, where)[:1]
        action = {DropSpec: "drop", RejectSpec: "reject", UnreachableSpec: "unreachable"}[
            type(spec)
        ]
        return IpBlock(address=address, action=action, port=spec.port)  # type: ignore[arg-type]
    if isinstance(spec, TlsInterceptSpec):
        return TlsIntercept(sni=name_key(spec.sni))
    if isinstance(spec, TlsResetSpec):
        return TlsBlock(sni=name_key(spec.sni), action="reset", forged=_forged(spec))
    if isinstance(spec, HttpResetSpec):
        return HttpBlock(
            action="reset",
            host=name_key(spec.host) if spec.host else None,
            path_keyword=spec.path_keyword,
            forged=_forged(spec),
        )
    if isinstance(spec, TlsDropSpec | TlsCloseSpec):
        action = {TlsDropSpec: "drop", TlsCloseSpec: "close"}[type(spec)]
        return TlsBlock(sni=name_key(spec.sni), action=action)  # type: ignore[arg-type]
    if isinstance(spec, HttpInjectSpec):
        headers: tuple[tuple[str, str], ...] = (("Content-Type", "text/html"),)
        body = html_page(spec.title, spec.text)
        if spec.location is not None:
            headers = (("Location", spec.location), ("Content-Type", "text/html"))
        return HttpInject(
            status=spec.status,
            body=body,
            headers=headers,
            host=name_key(spec.host) if spec.host else None,
            path_keyword=spec.path_keyword,
            end=spec.end,
        )
    if isinstance(spec, HttpDropSpec | HttpCloseSpec):
        action = {HttpDropSpec: "drop", HttpCloseSpec: "close"}[type(spec)]
        return HttpBlock(
            action=action,  # type: ignore[arg-type]
            host=name_key(spec.host) if spec.host else None,
            path_keyword=spec.path_keyword,
        )
    assert isinstance(spec, ThrottleSpec)
    [address] = resolve_reference(spec.address, addresses, where)[:1]
    return Throttle(address=address, rate_kbit=spec.rate_kbit)
