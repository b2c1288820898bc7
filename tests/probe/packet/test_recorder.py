"""Packet evidence through a real measurement on loopback (root): flows, DNS traits, the verdict."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest
import trio

from lab.servers import DnsRecord, Route, Site, Zone, serve_dns, serve_web
from probe.analysis import BogonPolicy, ReferenceData
from probe.config import Budgets, ProbeConfig
from probe.measure import MeasureSession
from probe.model import ResolverKind
from probe.packet import PacketRecorder

SERVER = "127.0.0.2"  # the probe's end is 127.0.0.1: a flow's two ends must differ
RESOLVER = "127.0.0.3"


@pytest.mark.netns
async def test_a_server_reset_is_captured_and_attributed_to_the_server(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    sites = [Site("reset.example.test", {"/": Route(reset=True)})]
    web = await nursery.start(functools.partial(serve_web, sites, host=SERVER))
    zone = Zone(records=(DnsRecord("reset.example.test", "A", SERVER),))
    dns = await nursery.start(functools.partial(serve_dns, zone, host=RESOLVER))
    config = ProbeConfig(
        data_dir=tmp_path,
        config_path=tmp_path / "probe.toml",
        system_resolver=False,
        udp_resolver=(RESOLVER, dns),
        doh_url=None,
        public_networks=("127.0.0.0/8",),
        budgets=Budgets(dns_s=2.0, tcp_s=2.0, tls_s=2.0, http_s=3.0),
        capture_window_s=0.1,
    )
    reference = ReferenceData(bogons=BogonPolicy(public_networks=("127.0.0.0/8",)))
    async with MeasureSession(config, reference, packets=PacketRecorder()) as session:
        m = await session.measure(f"http://reset.example.test:{web}/")
    assert m.options.packet_evidence and not m.options.locate_censor
    udp = [q for q in m.dns if q.resolver_kind is ResolverKind.UDP and q.responses]
    assert udp and all(
        r.ip_id is not None and r.udp_checksum is not None for q in udp for r in q.responses
    )
    assert m.packets is not None and m.packets.is_captured
    (failed,) = [tx for tx in m.http if tx.failure == "connection_reset"]
    (flow,) = [f for f in m.packets.flows if f.transaction == failed.id]
    assert flow.local_port == failed.local_port and flow.address == SERVER
    assert [p.flags for p in flow.packets][:2] == ["S", "SA"]
    assert any(p.is_inbound and "R" in p.flags for p in flow.packets)
    assert any("came from the server itself" in note for note in m.analysis.notes), m.analysis
