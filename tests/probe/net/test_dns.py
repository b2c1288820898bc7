"""Tests of the DNS steps against the lab's DNS server on loopback."""

from __future__ import annotations

import idna
import pytest
import trio

from probe.model.failures import UNKNOWN_PREFIX, Failure
from probe.model.observations import DnsAnswer, ResolverKind
from probe.net import (
    StepClock,
    UdpLookup,
    dns_timed_out,
    encode_hostname,
    resolve_system,
    resolve_tcp,
    resolve_udp,
)
from tests.probe.net.conftest import FORGED_ADDRESS, IDN_HOST, REAL_ADDRESS, REAL_DELAY_MS

SHORT_WINDOW_S = 0.05
LOOPBACK_TTL = 64
INVALID_IDN = "\u200d.example.test"  # a lone ZERO WIDTH JOINER fails IDNA's CONTEXTJ rule


async def test_forged_answer_first_and_real_one_later_are_both_recorded_in_arrival_order(
    dns_port: int, clock: StepClock
) -> None:
    lookup = UdpLookup(
        "injected.example.test",
        "A",
        ("127.0.0.1", dns_port),
        clock=clock,
        txid=7,
        capture_window_s=0.3,
    )
    async with trio.open_nursery() as nursery:
        first = await nursery.start(lookup.run)
        assert [a.address for a in first.answers] == [FORGED_ADDRESS]
        assert len(first.responses) == 1
    final = lookup.result()
    forged, real = final.responses
    assert [r.answers[0].address for r in final.responses] == [FORGED_ADDRESS, REAL_ADDRESS]
    assert forged.delay_ms < REAL_DELAY_MS <= real.delay_ms
    assert forged.t_ms < real.t_ms
    assert [r.ip_ttl for r in final.responses] == [LOOPBACK_TTL, LOOPBACK_TTL]
    assert {r.source for r in final.responses} == {f"127.0.0.1:{dns_port}"}
    assert final.answers == first.answers
    assert final.failure is None
    assert final.rcode == "NOERROR"
    assert final.t_ms == forged.t_ms
    assert final.id == 7
    assert final.resolver_kind is ResolverKind.UDP
    assert final.resolver_address == f"127.0.0.1:{dns_port}"
    assert lookup.local_port is not None and lookup.local_port != dns_port


async def test_duplicate_identical_answers_are_both_recorded(
    dns_port: int, clock: StepClock
) -> None:
    query = await resolve_udp(
        "duplicated.example.test",
        "A",
        ("127.0.0.1", dns_port),
        clock=clock,
        txid=1,
        capture_window_s=0.2,
    )
    assert len(query.responses) == 2
    assert query.responses[0].answers[0].address == query.responses[1].answers[0].address


async def test_udp_answer_holds_address_and_dns_ttl(dns_port: int, clock: StepClock) -> None:
    query = await resolve_udp(
        "www.example.test",
        "A",
        ("127.0.0.1", dns_port),
        clock=clock,
        txid=3,
        depth=1,
        capture_window_s=SHORT_WINDOW_S,
    )
    assert query.failure is None
    assert query.answers == [DnsAnswer(answer_type="A", address="198.51.100.80", ttl=300)]
    assert query.depth == 1
    assert query.query_type == "A"
    assert query.t0_ms <= query.responses[0].t_ms == query.t_ms


async def test_cname_chain_is_followed_and_recorded(dns_port: int, clock: StepClock) -> None:
    query = await resolve_udp(
        "alias.example.test",
        "AAAA",
        ("127.0.0.1", dns_port),
        clock=clock,
        txid=1,
        capture_window_s=SHORT_WINDOW_S,
    )
    assert query.failure is None
    assert [(a.answer_type, a.hostname or a.address) for a in query.answers] == [
        ("CNAME", "www.example.test"),
        ("AAAA", "2001:db8::80"),
    ]


FAILURES = [
    ("nxdomain", "nx.example.test", "A", Failure.DNS_NXDOMAIN, "NXDOMAIN"),
    ("no-answer", "v4only.example.test", "AAAA", Failure.DNS_NO_ANSWER, "NOERROR"),
    (
        "no-answer-after-cname",
        "alias-v4only.example.test",
        "AAAA",
        Failure.DNS_NO_ANSWER,
        "NOERROR",
    ),
    ("empty-answer", "empty.example.test", "A", Failure.DNS_NO_ANSWER, "NOERROR"),
    ("servfail", "servfail.example.test", "A", Failure.DNS_SERVER_FAILURE, "SERVFAIL"),
    ("refused", "refused.example.test", "A", Failure.DNS_REFUSED, "REFUSED"),
    ("other-rcode", "notimp.example.test", "A", Failure.DNS_BAD_RESPONSE, "NOTIMP"),
]


@pytest.mark.parametrize(
    ("name", "query_type", "expected", "rcode"),
    [case[1:] for case in FAILURES],
    ids=[case[0] for case in FAILURES],
)
async def test_udp_response_rcode_becomes_the_failure(
    dns_port: int, clock: StepClock, name: str, query_type: str, expected: Failure, rcode: str
) -> None:
    query = await resolve_udp(
        name,
        query_type,
        ("127.0.0.1", dns_port),
        clock=clock,
        txid=1,
        capture_window_s=SHORT_WINDOW_S,
    )
    assert query.failure == expected.value
    assert query.rcode == rcode
    assert len(query.responses) == 1


@pytest.mark.parametrize(
    ("name", "query_type", "expected", "rcode"),
    [case[1:] for case in FAILURES],
    ids=[case[0] for case in FAILURES],
)
async def test_tcp_response_rcode_becomes_the_failure(
    dns_port: int, clock: StepClock, name: str, query_type: str, expected: Failure, rcode: str
) -> None:
    query = await resolve_tcp(name, query_type, ("127.0.0.1", dns_port), clock=clock, txid=1)
    assert query.failure == expected.value
    assert query.rcode == rcode
    assert query.resolver_kind is ResolverKind.TCP


async def test_udp_timeout_comes_from_the_callers_deadline(dns_port: int, clock: StepClock) -> None:
    server = ("127.0.0.1", dns_port)
    budget_s = 0.2
    query = dns_timed_out(
        "dropped.example.test",
        "A",
        ResolverKind.UDP,
        f"127.0.0.1:{dns_port}",
        clock=clock,
        txid=4,
        budget_s=budget_s,
    )
    with trio.move_on_after(budget_s) as scope:
        query = await resolve_udp("dropped.example.test", "A", server, clock=clock, txid=4)
    assert scope.cancelled_caught
    assert query.failure == Failure.GENERIC_TIMEOUT.value
    assert query.t_ms - query.t0_ms == pytest.approx(budget_s * 1000, abs=1)
    assert query.responses == []


async def test_udp_lookup_result_is_a_timeout_when_cancelled_before_any_answer(
    dns_port: int, clock: StepClock
) -> None:
    lookup = UdpLookup("dropped.example.test", "A", ("127.0.0.1", dns_port), clock=clock, txid=5)
    async with trio.open_nursery() as nursery:
        with trio.move_on_after(0.1):
            await nursery.start(lookup.run)
    assert lookup.first is None
    result = lookup.result()
    assert result.failure == Failure.GENERIC_TIMEOUT.value
    assert result.t_ms >= result.t0_ms + 90  # the deadline was set just before t0


async def test_tcp_timeout_comes_from_the_callers_deadline(dns_port: int, clock: StepClock) -> None:
    query = dns_timed_out(
        "dropped.example.test", "A", ResolverKind.TCP, "x", clock=clock, txid=1, budget_s=0.2
    )
    with trio.move_on_after(0.2) as scope:
        query = await resolve_tcp(
            "dropped.example.test", "A", ("127.0.0.1", dns_port), clock=clock, txid=1
        )
    assert scope.cancelled_caught
    assert query.failure == Failure.GENERIC_TIMEOUT.value


async def test_ipv6_server_response_records_the_hop_limit(dns6_port: int, clock: StepClock) -> None:
    query = await resolve_udp(
        "www.example.test",
        "A",
        ("::1", dns6_port),
        clock=clock,
        txid=1,
        capture_window_s=SHORT_WINDOW_S,
    )
    assert query.failure is None
    assert query.resolver_address == f"[::1]:{dns6_port}"
    assert query.responses[0].source == f"[::1]:{dns6_port}"
    assert query.responses[0].ip_ttl == LOOPBACK_TTL


async def test_unicode_hostname_is_queried_and_recorded_in_punycode(
    dns_port: int, clock: StepClock
) -> None:
    query = await resolve_udp(
        IDN_HOST,
        "A",
        ("127.0.0.1", dns_port),
        clock=clock,
        txid=1,
        capture_window_s=SHORT_WINDOW_S,
    )
    assert query.hostname == "xn--d1acpjx3f.example.test"
    assert query.failure is None
    assert query.answers[0].address == "198.51.100.83"


async def test_tcp_lookup_returns_only_the_real_answer(dns_port: int, clock: StepClock) -> None:
    query = await resolve_tcp(
        "injected.example.test", "A", ("127.0.0.1", dns_port), clock=clock, txid=2
    )
    assert query.failure is None
    assert [a.address for a in query.answers] == [REAL_ADDRESS]
    assert len(query.responses) == 1
    assert query.responses[0].ip_ttl is None
    assert query.responses[0].delay_ms >= REAL_DELAY_MS


async def test_tcp_lookup_to_a_closed_port_is_connection_refused(
    closed_port: int, clock: StepClock
) -> None:
    query = await resolve_tcp(
        "www.example.test", "A", ("127.0.0.1", closed_port), clock=clock, txid=1
    )
    assert query.failure == Failure.CONNECTION_REFUSED.value
    assert query.responses == []


async def test_udp_lookup_of_an_unencodable_name_fails_at_once_and_reports_it_as_first(
    dns_port: int, clock: StepClock
) -> None:
    lookup = UdpLookup(INVALID_IDN, "A", ("127.0.0.1", dns_port), clock=clock, txid=1)
    async with trio.open_nursery() as nursery:
        first = await nursery.start(lookup.run)
    assert first.failure is not None
    assert first.failure.startswith(UNKNOWN_PREFIX)
    assert lookup.result() == first
    assert first.hostname == INVALID_IDN


async def test_udp_lookup_runs_only_once(dns_port: int, clock: StepClock) -> None:
    lookup = UdpLookup(
        "www.example.test",
        "A",
        ("127.0.0.1", dns_port),
        clock=clock,
        txid=1,
        capture_window_s=0.0,
    )
    await lookup.run()
    with pytest.raises(RuntimeError):
        await lookup.run()


def test_unknown_query_type_is_a_caller_error() -> None:
    with pytest.raises(ValueError, match="query type"):
        UdpLookup("www.example.test", "NOPE", ("127.0.0.1", 53), clock=StepClock(0.0), txid=1)


async def test_system_resolver_finds_localhost(clock: StepClock) -> None:
    query = await resolve_system("localhost", clock=clock, txid=9)
    assert query.failure is None
    assert "127.0.0.1" in [a.address for a in query.answers]
    addresses = [a.address for a in query.answers]
    assert len(addresses) == len(set(addresses))
    assert {a.answer_type for a in query.answers} <= {"A", "AAAA"}
    assert query.resolver_kind is ResolverKind.SYSTEM
    assert query.resolver_address == "getaddrinfo"
    assert query.query_type == "ANY"


async def test_system_resolver_records_an_unencodable_name_without_resolving(
    clock: StepClock,
) -> None:
    with pytest.raises(idna.IDNAError):  # guard: the name must never reach getaddrinfo
        encode_hostname(INVALID_IDN)
    query = await resolve_system(INVALID_IDN, clock=clock, txid=1)
    assert query.failure is not None
    assert query.failure.startswith(UNKNOWN_PREFIX)
    assert query.answers == []
