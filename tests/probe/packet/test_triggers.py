"""What a localisation resends, and which failed flow of a measurement it picks."""

from __future__ import annotations

import msgspec

from lab.censor.sni import parse_client_hello
from probe.model import Analysis, Measurement, Method, TriggerKind, Verdict
from probe.model import Failure as F
from probe.packet.triggers import CONTROL_NAME, TriggerTarget, choose_target, client_hello, payloads
from tests.probe.analysis.build import SITE, World, page_response
from tests.probe.analysis.packet_worlds import sni_reset_world


def server_name(hello: bytes) -> str | None:
    parsed = parse_client_hello(hello)
    assert parsed is not None
    return parsed.server_name


def blocked(world: World, *methods: Method) -> Measurement:
    analysis = Analysis(verdict=Verdict.BLOCKED, methods=list(methods), confidence=0.9,
                        rules_version="2", reference_digest="")  # fmt: skip
    return msgspec.structs.replace(world.build(), analysis=analysis)


def test_a_client_hello_carries_the_sni_and_the_control_a_harmless_one() -> None:
    target = TriggerTarget(TriggerKind.TLS, SITE, 443, "news.example.test")
    trigger, control = payloads(target, "ua")
    assert server_name(trigger) == "news.example.test"
    assert server_name(control) == CONTROL_NAME
    assert trigger[0] == 0x16 and len(trigger) < 1400  # one handshake record, one segment
    assert server_name(client_hello("bücher.test")) == "xn--bcher-kva.test"


def test_an_http_trigger_is_the_probes_request_with_its_path() -> None:
    target = TriggerTarget(TriggerKind.HTTP, SITE, 80, "news.example.test", "/a?b=1")
    trigger, control = payloads(target, "crenel-test")
    assert trigger.startswith(b"GET /a?b=1 HTTP/1.1\r\nHost: news.example.test\r\n")
    assert b"User-Agent: crenel-test\r\n" in trigger and trigger.endswith(b"\r\n\r\n")
    assert control.startswith(b"GET / HTTP/1.1\r\nHost: example.com\r\n")


def test_a_tls_reset_picks_the_failed_handshake() -> None:
    m = blocked(sni_reset_world(), Method.TLS_RESET)
    assert choose_target(m) == TriggerTarget(TriggerKind.TLS, SITE, 443, "news.example.test")


def test_an_http_reset_or_injected_page_picks_the_last_plain_http_request() -> None:
    w = World(url="http://news.example.test/x?y=1")
    w.connect(SITE).fetch(SITE, failure=F.CONNECTION_RESET, stage="http")
    target = choose_target(blocked(w, Method.HTTP_RESET))
    assert target == TriggerTarget(TriggerKind.HTTP, SITE, 80, "news.example.test", "/x?y=1")
    page = World().fetch(SITE, page_response())
    assert choose_target(blocked(page, Method.HTTP_BLOCKPAGE)) is not None


def test_blocking_without_a_trigger_is_not_localised() -> None:
    w = World().connect(SITE, failure=F.GENERIC_TIMEOUT)
    assert choose_target(blocked(w, Method.TCP_TIMEOUT)) is None
    assert choose_target(blocked(World(), Method.DNS_NXDOMAIN)) is None
    ok = msgspec.structs.replace(blocked(sni_reset_world(), Method.TLS_RESET),
                                 analysis=Analysis(verdict=Verdict.DOWN, confidence=0.8,
                                                   rules_version="2", reference_digest=""))  # fmt: skip
    assert choose_target(ok) is None
