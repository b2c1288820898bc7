"""Localisation logic on crafted packets and votes: outcomes, majorities, the censor's hop."""

from __future__ import annotations

import pytest

from probe.model import CensorPath, ProbeOutcome, TtlProbe
from probe.packet.votes import classify_probe, conclude, hop_votes, is_blocked, vote
from probe.packet.wire import ICMP, ICMP_TIME_EXCEEDED, TCP, Quoted, WirePacket

SERVER = "203.0.113.100"
PORT = 41000
END = 1518  # the request's last sequence number + 1


def tcp(t: float, flags: str, *, ttl: int = 59, ack: int = END, payload: int = 0) -> WirePacket:
    return WirePacket(
        t, SERVER, "192.0.2.2", TCP, ttl, 7, True, sport=443, dport=PORT, flags=flags,
        seq=5000, ack=ack, payload_bytes=payload,
    )  # fmt: skip


def expired(t: float, router: str, *, sport: int = PORT) -> WirePacket:
    quote = Quoted("192.0.2.2", SERVER, TCP, sport, 443, 1, 1001)
    return WirePacket(t, router, "192.0.2.2", ICMP, 64, 1, False, icmp_type=ICMP_TIME_EXCEEDED, quoted=quote)  # fmt: skip


def classify(*packets: WirePacket) -> TtlProbe:
    return classify_probe(packets, server=SERVER, local_port=PORT, sent_at=1.0, request_end=END)


@pytest.mark.parametrize(
    ("packets", "outcome", "icmp", "answered"),
    [
        pytest.param([expired(1.1, "198.51.100.2")], ProbeOutcome.EXPIRED, "198.51.100.2", False, id="expired"),
        pytest.param([], ProbeOutcome.SILENT, None, False, id="silent"),
        pytest.param([tcp(1.1, "RA", ttl=63)], ProbeOutcome.RESET, None, False, id="in-path-reset"),
        pytest.param([tcp(1.05, "A"), tcp(1.1, "RA", ttl=63), tcp(1.2, "PA", payload=800)], ProbeOutcome.RESET, None, True, id="on-path-reset-races-the-server"),
        pytest.param([tcp(1.1, "RA"), expired(1.1, "198.51.100.6")], ProbeOutcome.RESET, "198.51.100.6", False, id="reset-beside-time-exceeded"),
        pytest.param([tcp(1.1, "PA", payload=900), tcp(1.2, "FA")], ProbeOutcome.DATA, None, False, id="server-answers-then-closes"),
        pytest.param([tcp(1.1, "A"), tcp(1.2, "FA")], ProbeOutcome.FIN, None, True, id="fin-without-data"),
        pytest.param([tcp(1.1, "A", ack=1001)], ProbeOutcome.SILENT, None, False, id="ack-not-covering-the-request"),
        pytest.param([tcp(0.5, "RA"), tcp(1.1, "SA")], ProbeOutcome.SILENT, None, False, id="before-the-payload-or-a-syn-ack"),
        pytest.param([expired(1.1, "198.51.100.2", sport=PORT + 1)], ProbeOutcome.SILENT, None, False, id="another-flows-icmp"),
    ],
)  # fmt: skip
def test_what_came_back_decides_the_outcome(
    packets: list[WirePacket], outcome: ProbeOutcome, icmp: str | None, answered: bool
) -> None:
    probe = classify(*packets)
    assert (probe.outcome, probe.icmp_source, probe.has_server_answer) == (outcome, icmp, answered)


def test_the_response_ttl_is_the_blocking_packets() -> None:
    assert classify(tcp(1.05, "A", ttl=59), tcp(1.1, "RA", ttl=63)).response_ttl == 63


def probes(
    *outcomes: ProbeOutcome, icmp: str | None = None, ttl: int | None = None
) -> list[TtlProbe]:
    return [TtlProbe(outcome=o, icmp_source=icmp, response_ttl=ttl) for o in outcomes]


def test_votes_take_the_majority_and_break_ties_towards_blocking() -> None:
    R, E, S = ProbeOutcome.RESET, ProbeOutcome.EXPIRED, ProbeOutcome.SILENT
    assert vote(probes(R, E, E)) is E
    assert vote(probes(R, E)) is R
    assert vote(probes(S, E)) is E
    assert vote([]) is S


@pytest.mark.parametrize(
    ("trigger", "control", "blocked"),
    [
        (ProbeOutcome.RESET, ProbeOutcome.EXPIRED, True),
        (ProbeOutcome.RESET, ProbeOutcome.DATA, True),
        (ProbeOutcome.RESET, ProbeOutcome.RESET, False),
        (ProbeOutcome.DATA, ProbeOutcome.EXPIRED, True),
        (ProbeOutcome.SILENT, ProbeOutcome.EXPIRED, True),
        (ProbeOutcome.SILENT, ProbeOutcome.DATA, True),
        (ProbeOutcome.SILENT, ProbeOutcome.SILENT, False),
        (ProbeOutcome.EXPIRED, ProbeOutcome.EXPIRED, False),
    ],
)
def test_blocking_is_faring_worse_than_the_control(
    trigger: ProbeOutcome, control: ProbeOutcome, blocked: bool
) -> None:
    assert is_blocked(trigger, control) is blocked


def test_data_from_another_ttl_than_the_servers_is_an_injected_page() -> None:
    D = ProbeOutcome.DATA
    assert hop_votes(6, probes(D, D, D, ttl=63), probes(D, D, D, ttl=59)).is_blocked
    assert not hop_votes(6, probes(D, D, D, ttl=59), probes(D, D, D, ttl=59)).is_blocked


def router(ttl: int) -> str:
    return f"198.51.100.{ttl}"


def path(
    blocked_from: int, server_ttl: int, *, trigger_icmp_from: int, copying: bool = False
) -> list:  # type: ignore[type-arg]
    """Hops 1..server_ttl; the trigger is reset from `blocked_from` on and carries the
    router's time-exceeded from `trigger_icmp_from` on (before the server)."""
    R, E, D = ProbeOutcome.RESET, ProbeOutcome.EXPIRED, ProbeOutcome.DATA
    hops = []
    for ttl in range(1, server_ttl + 1):
        at_server = ttl == server_ttl
        icmp = None if at_server else router(ttl)
        control = probes(
            D if at_server else E, D if at_server else E, D if at_server else E, icmp=icmp
        )
        if ttl >= blocked_from:
            trigger_icmp = icmp if ttl >= trigger_icmp_from else None
            response_ttl = ttl - 2 if copying else 63
            trigger = probes(R, R, R, icmp=trigger_icmp, ttl=response_ttl)
        else:
            trigger = probes(E, E, E, icmp=icmp)
        hops.append(hop_votes(ttl, trigger, control))
    return hops


def test_an_in_path_filter_stops_the_trigger_one_hop_after_its_own_time_exceeded() -> None:
    found = conclude(path(5, 6, trigger_icmp_from=99), 6)
    assert (found.blocking_ttl, found.censor_hop, found.path) == (5, 4, CensorPath.IN_PATH)
    assert found.censor_address == router(4)
    assert found.icmp_sources == tuple(router(t) for t in range(1, 5))


def test_an_on_path_injector_answers_where_the_trigger_still_expires_beyond_it() -> None:
    found = conclude(path(2, 6, trigger_icmp_from=2), 6)
    assert (found.blocking_ttl, found.censor_hop, found.path) == (2, 2, CensorPath.ON_PATH)
    assert not found.is_ttl_copying


def test_a_ttl_copying_injector_is_placed_by_its_packets_ttl() -> None:
    # It sits at hop 2 but its copied TTL dies on the way back at TTL 2: blocking shows from 3.
    found = conclude(path(3, 6, trigger_icmp_from=3, copying=True), 6)
    assert found.is_ttl_copying
    assert (found.blocking_ttl, found.censor_hop) == (3, 2)


def test_blocking_only_at_the_servers_distance_names_no_hop() -> None:
    found = conclude(path(6, 6, trigger_icmp_from=99), 6)
    assert found.blocking_ttl == 6 and found.censor_hop is None
    assert found.note is not None and "server" in found.note


def test_blocking_that_does_not_last_names_no_hop() -> None:
    hops = path(3, 6, trigger_icmp_from=3)
    hops[5] = hop_votes(6, probes(ProbeOutcome.DATA), probes(ProbeOutcome.DATA))
    found = conclude(hops, 6)
    assert found.censor_hop is None
    assert found.note == "blocked at TTL 3, 4, 5 but not at every TTL after"
    assert conclude(path(99, 6, trigger_icmp_from=99), 6).note == (
        "the trigger fared like the control at every TTL"
    )
