"""End-to-end measurements on loopback: probe, resolvers, web servers and the control helper."""

from __future__ import annotations

import hashlib
from pathlib import Path

import msgspec
import trio

from lab.servers import Injection, NameBehaviour, filler_bytes
from probe.analysis import BogonPolicy, ReferenceData
from probe.measure import MeasureSession
from probe.model import Measurement, Method, ResolverKind, Verdict

from .loopback import HUGE_BYTES, LOOPBACK, Internet, start_internet


def reference() -> ReferenceData:
    return ReferenceData(bogons=BogonPolicy(public_networks=("127.0.0.0/8",)))


async def measure(internet: Internet, url: str, **changes: object) -> Measurement:
    async with MeasureSession(internet.probe_config(**changes), reference()) as session:
        m = await session.measure(url)
    # What is stored and uploaded must survive a JSON round trip unchanged.
    assert msgspec.json.decode(msgspec.json.encode(m), type=Measurement) == m
    return m


async def test_healthy_http_site_is_ok_with_every_step_recorded(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    internet = await start_internet(nursery, tmp_path)
    m = await measure(internet, internet.url("www.example.test"))
    assert m.analysis.verdict is Verdict.OK, m.analysis
    kinds = {(q.resolver_kind, q.query_type) for q in m.dns}
    assert (ResolverKind.UDP, "A") in kinds and (ResolverKind.DOH, "A") in kinds
    udp = next(q for q in m.dns if q.resolver_kind is ResolverKind.UDP and q.query_type == "A")
    assert udp.responses and udp.responses[0].ip_ttl == 64
    assert [a.address for a in udp.answers] == [LOOPBACK]
    assert any(t.port == internet.http and t.failure is None for t in m.tcp)
    assert m.http[0].response is not None and m.http[0].response.status_code == 200
    assert m.http[0].response.title == "Example News Today"
    assert m.control is not None and m.control.reply is not None
    assert m.control.reply.http.status_code == 200
    assert m.analysis.http is not None and m.analysis.http.body_length_match is True
    assert m.uid[14] == "7"


async def test_healthy_https_site_is_ok_with_the_chain_recorded(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    internet = await start_internet(nursery, tmp_path)
    m = await measure(internet, internet.url("news.example.test", https=True))
    assert m.analysis.verdict is Verdict.OK
    tls = [t for t in m.tls if t.failure is None]
    assert tls and tls[0].is_verified and tls[0].tls_version in ("TLSv1.2", "TLSv1.3")
    assert tls[0].peer_certificates[0].dns_names == ["news.example.test"]
    assert m.http[0].tls_version is not None
    assert m.analysis.confidence >= 0.9


async def test_isp_nxdomain_is_dns_blocking(nursery: trio.Nursery, tmp_path: Path) -> None:
    internet = await start_internet(
        nursery, tmp_path, isp_behaviours={"news.example.test": NameBehaviour(rcode="NXDOMAIN")}
    )
    m = await measure(internet, internet.url("news.example.test", https=True))
    assert m.analysis.verdict is Verdict.BLOCKED
    assert Method.DNS_NXDOMAIN in m.analysis.methods
    # The page was still fetched through the addresses DoH gave.
    assert any(t.response is not None for t in m.http)


async def test_injected_duplicate_answer_is_recorded_and_called_injection(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    behaviour = NameBehaviour(delay_ms=50, inject=(Injection(("127.0.0.66",), delay_ms=0),))
    internet = await start_internet(
        nursery, tmp_path, isp_behaviours={"news.example.test": behaviour}
    )
    m = await measure(internet, internet.url("news.example.test", https=True), capture_window_s=0.3)
    udp = next(q for q in m.dns if q.resolver_kind is ResolverKind.UDP and q.query_type == "A")
    assert [r.answers[0].address for r in udp.responses] == ["127.0.0.66", LOOPBACK]
    assert udp.responses[0].delay_ms < udp.responses[1].delay_ms
    assert udp.responses[1].delay_ms >= 45
    assert m.analysis.verdict is Verdict.BLOCKED
    assert Method.DNS_INJECTED in m.analysis.methods


async def test_redirects_are_followed_hop_by_hop_with_their_own_dns(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    internet = await start_internet(nursery, tmp_path)
    m = await measure(internet, internet.url("redirect.example.test"))
    assert [t.depth for t in m.http] == [0, 1]
    assert m.http[1].url.startswith("https://news.example.test:")
    assert any(q.depth == 1 and q.hostname == "news.example.test" for q in m.dns)
    assert m.analysis.verdict is Verdict.OK, m.analysis


async def test_redirect_loop_for_everyone_is_down(nursery: trio.Nursery, tmp_path: Path) -> None:
    internet = await start_internet(nursery, tmp_path)
    m = await measure(internet, internet.url("loop.example.test"))
    assert len(m.http) == 11
    assert m.http[-1].failure == "http_too_many_redirects"
    assert m.analysis.verdict is Verdict.DOWN, m.analysis


async def test_huge_body_keeps_a_bounded_prefix_and_counts_everything(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    internet = await start_internet(nursery, tmp_path)
    m = await measure(
        internet,
        internet.url("files.example.test", "/huge", https=True),
        budgets=internet.probe_config().budgets.__class__(http_s=30.0),
    )
    response = m.http[0].response
    assert response is not None and response.body_is_complete
    assert response.body_length == HUGE_BYTES
    assert response.body_prefix is not None and len(response.body_prefix) == 1 << 20
    assert response.body_sha256 == hashlib.sha256(filler_bytes(HUGE_BYTES)).hexdigest()
    assert m.analysis.verdict is Verdict.OK


async def test_internationalised_name_is_measured_in_punycode(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    internet = await start_internet(nursery, tmp_path)
    m = await measure(internet, internet.url("яндекс.example.test"))
    assert m.url.startswith("http://xn--d1acpjx3f.example.test:")
    assert m.input.startswith("http://яндекс")
    assert m.analysis.verdict is Verdict.OK, m.analysis


async def test_name_that_exists_nowhere_is_down(nursery: trio.Nursery, tmp_path: Path) -> None:
    internet = await start_internet(nursery, tmp_path)
    m = await measure(internet, internet.url("nonexistent.example.test"))
    assert m.analysis.verdict is Verdict.DOWN, m.analysis
    assert m.http == []


async def test_unreachable_control_is_recorded_and_https_success_still_counts(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    internet = await start_internet(nursery, tmp_path, with_control=False)
    m = await measure(
        internet,
        internet.url("news.example.test", https=True),
        control_url=f"http://{LOOPBACK}:9/api/v1/control",
    )
    assert m.control is not None and m.control.failure == "connection_refused"
    assert m.analysis.verdict is Verdict.OK


async def test_own_addresses_are_scrubbed_from_the_measurement(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    internet = await start_internet(nursery, tmp_path)
    config = internet.probe_config()
    async with MeasureSession(config, reference(), own_addresses=["127.0.0.1", "192.0.2.77"]) as s:
        m = await s.measure(internet.url("www.example.test") + "?me=192.0.2.77")
    text = msgspec.json.encode(m).decode()
    assert "192.0.2.77" not in text and "[scrubbed]" in text
    assert LOOPBACK in text  # loopback identifies nobody and is kept
