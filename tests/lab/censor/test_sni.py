"""The ClientHello SNI parser, fed real ClientHellos from Python's ssl module."""

from __future__ import annotations

import ssl
import struct

import pytest

from lab.censor.sni import ClientHello, parse_client_hello


def client_hello(server_name: str | None) -> bytes:
    """Return the first flight of an ssl client (its ClientHello record) via MemoryBIO."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if server_name is None:
        context.check_hostname = False
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(incoming, outgoing, server_hostname=server_name)
    with pytest.raises(ssl.SSLWantReadError):
        tls.do_handshake()
    return outgoing.read()


def refragment(record: bytes, first: int) -> bytes:
    """Return the handshake of one record split over two records, `first` bytes in the first."""
    header, body = record[:5], record[5:]
    part1, part2 = body[:first], body[first:]
    return (
        header[:3] + struct.pack("!H", len(part1)) + part1
        + header[:3] + struct.pack("!H", len(part2)) + part2
    )  # fmt: skip


def test_a_real_client_hello_yields_its_server_name() -> None:
    assert parse_client_hello(client_hello("news.example.test")) == ClientHello("news.example.test")


def test_a_client_hello_without_sni_yields_none() -> None:
    assert parse_client_hello(client_hello(None)) == ClientHello(server_name=None)


def test_every_proper_prefix_is_incomplete() -> None:
    hello = client_hello("news.example.test")
    assert all(parse_client_hello(hello[:size]) is None for size in range(len(hello)))


def test_bytes_after_the_hello_do_not_matter() -> None:
    hello = client_hello("news.example.test")
    assert parse_client_hello(hello + b"\x17\x03\x03garbage") == ClientHello("news.example.test")


@pytest.mark.parametrize("first", [1, 3, 4, 40, 200])
def test_a_hello_split_over_two_records_is_reassembled(first: int) -> None:
    hello = refragment(client_hello("news.example.test"), first)
    assert parse_client_hello(hello) == ClientHello("news.example.test")
    assert parse_client_hello(hello[:-1]) is None


def test_names_are_lower_cased_without_the_final_dot() -> None:
    hello = client_hello("news.example.test").replace(b"news.example.test", b"NEWS.example.tes.")
    assert parse_client_hello(hello) == ClientHello("news.example.tes")


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"GET / HTTP/1.1\r\nHost: news.example.test\r\n\r\n", id="http"),
        pytest.param(b"\x16\x02\x00\x00\x10" + bytes(16), id="not-tls-3"),
        pytest.param(b"\x16\x03\x01\x00\x00", id="empty-record"),
        pytest.param(b"\x16\x03\x01\x00\x08\x02\x00\x00\x04" + bytes(4), id="server-hello"),
        pytest.param(b"\x16\x03\x01\x00\x08\x01\x01\x00\x00" + bytes(4), id="huge-hello"),
        pytest.param(b"\x16\x03\x01\x00\x08\x01\x00\x00\x04" + bytes(4), id="truncated-fields"),
    ],
)
def test_bytes_that_are_not_a_client_hello_are_refused(data: bytes) -> None:
    with pytest.raises(ValueError):
        parse_client_hello(data)


def test_a_hello_interrupted_by_another_record_type_is_refused() -> None:
    hello = refragment(client_hello("news.example.test"), 40)
    second = 5 + 40  # the second record's header; the random bytes may hold 16 03 too
    assert hello[second : second + 2] == b"\x16\x03"
    broken = hello[:second] + b"\x17" + hello[second + 1 :]
    with pytest.raises(ValueError, match="handshake record"):
        parse_client_hello(broken)
