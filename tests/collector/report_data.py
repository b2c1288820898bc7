"""Measurements whose facts make the collector's own analysis say blocked or ok, for reports."""

from __future__ import annotations

import os
from datetime import datetime

import msgspec

from probe.identity import new_uid
from probe.model import Failure, Measurement, ProbeNetwork, ResolverKind
from tests.probe.analysis.build import SITE, World, healthy


def _stamp(m: Measurement, *, cc: str, asn: int, probe: str, at: datetime) -> Measurement:
    return msgspec.structs.replace(
        m,
        uid=new_uid(int(at.timestamp() * 1e9), os.urandom(10)),
        start_time=at,
        probe=ProbeNetwork(cc=cc, asn=f"AS{asn}", network_name=f"Net {asn}"),
        probe_id=probe,
        category_code="NEWS",
    )


def sni_blocked(host: str, *, cc: str, asn: int, probe: str, at: datetime) -> Measurement:
    """Return a measurement of https://host/ whose TLS handshake was reset (control fine)."""
    w = World(url=f"https://{host}/")
    w.lookup(ResolverKind.SYSTEM, SITE).lookup(ResolverKind.DOH, SITE).connect(SITE)
    w.handshake(SITE, Failure.CONNECTION_RESET).fetch(
        SITE, failure=Failure.CONNECTION_RESET, stage="tls"
    )
    return _stamp(w.with_control().build(), cc=cc, asn=asn, probe=probe, at=at)


def reachable(host: str, *, cc: str, asn: int, probe: str, at: datetime) -> Measurement:
    """Return a measurement of https://host/ that worked."""
    return _stamp(healthy(f"https://{host}/").build(), cc=cc, asn=asn, probe=probe, at=at)
