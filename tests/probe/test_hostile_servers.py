"""`crenel-probe measure` against hostile web servers on loopback: every measurement ends within
its budget, the command exits 0, nothing prints a traceback and memory stays bounded.

The control helper faces the same servers (it fetches the same URLs), so it is exercised too.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import os
import random
import sys
import zlib
from collections.abc import Awaitable, Callable
from pathlib import Path

import msgspec
import psutil
import pytest
import trio

from probe.model import Measurement
from tests.probe.loopback import start_internet

Handler = Callable[[trio.SocketStream], Awaitable[None]]

HOSTS = ("www.example.test", "news.example.test", "redirect.example.test", "loop.example.test")
DNS_S, TCP_S, TLS_S, HTTP_S, CONTROL_S, CAPTURE_S = 1.0, 2.0, 2.0, 3.0, 6.0, 0.05
MAX_REDIRECTS = 10
BUDGET_S = (
    DNS_S + CAPTURE_S + max(CONTROL_S, TCP_S + TLS_S + (MAX_REDIRECTS + 1) * (DNS_S + HTTP_S))
)
"""The longest a measurement may take: the control runs beside the fetch, and each of the up
to 11 hops of a redirect chain has its own DNS and HTTP budget."""
HOP_SLACK_S = 1.0
"""What a hop may overrun its HTTP budget by (scheduling on a busy machine)."""
CHUNK = 64 * 1024
PEAK_RSS_MIB = 400
"""Generous: the probe keeps at most a 1 MiB prefix per response and streams the rest."""


async def _request(stream: trio.SocketStream) -> bytes:
    """Return the first bytes the client sends."""
    return await stream.receive_some(65536)


async def endless_body(stream: trio.SocketStream) -> None:
    """200 without a length, then 64 KiB of page after page (up to 1 GiB)."""
    await _request(stream)
    await stream.send_all(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nConnection: close\r\n\r\n"
    )
    page = b"<html>" + b"a" * (CHUNK - 6)
    for _ in range(16384):
        await stream.send_all(page)


async def endless_chunks(stream: trio.SocketStream) -> None:
    """A chunked body of one-byte chunks that never ends (each write holds thousands)."""
    await _request(stream)
    await stream.send_all(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
    chunks = b"1\r\na\r\n" * (CHUNK // 6)
    for _ in range(16384):
        await stream.send_all(chunks)


async def slow_drip(stream: trio.SocketStream) -> None:
    """A head promising 1 MB, then a byte every 0.2 s."""
    await _request(stream)
    await stream.send_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n<html>")
    for _ in range(1000):
        await trio.sleep(0.2)
        await stream.send_all(b"a")


async def slow_headers(stream: trio.SocketStream) -> None:
    """A status line, then one header line every 0.2 s, never the end of the head."""
    await _request(stream)
    await stream.send_all(b"HTTP/1.1 200 OK\r\n")
    for n in range(1000):
        await trio.sleep(0.2)
        await stream.send_all(b"X-Slow-%d: a\r\n" % n)


async def huge_headers(stream: trio.SocketStream) -> None:
    """20,000 header lines (2 MB of head) before a tiny body."""
    await _request(stream)
    lines = b"".join(b"X-Big-%05d: %s\r\n" % (n, b"b" * 80) for n in range(20000))
    await stream.send_all(b"HTTP/1.1 200 OK\r\n" + lines + b"Content-Length: 2\r\n\r\nok")


async def redirect_forever(stream: trio.SocketStream) -> None:
    """Redirect every request to a new path on the same server (by address: no DNS per hop)."""
    request = await _request(stream)
    path = request.split(b" ", 2)[1] if request.count(b" ") >= 2 else b"/"
    port = stream.socket.getsockname()[1]
    target = b"http://127.0.0.1:%d/r%d%s" % (port, len(path), path.replace(b"/", b"_")[:100])
    await stream.send_all(
        b"HTTP/1.1 302 Found\r\nLocation: " + target + b"\r\nContent-Length: 0\r\n\r\n"
    )


async def garbage(stream: trio.SocketStream) -> None:
    """Answer with 1 MiB of random bytes, then close."""
    await _request(stream)
    await stream.send_all(random.Random(13).randbytes(1 << 20))


async def accept_and_hang(stream: trio.SocketStream) -> None:
    """Accept the connection, never read, never answer."""
    await trio.sleep(60)


async def gzip_bomb(stream: trio.SocketStream) -> None:
    """A gzip-encoded page that would inflate to 128 MiB of zeros (twice the probe's limit)."""
    await _request(stream)
    body = _bomb()
    await stream.send_all(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Encoding: gzip\r\n"
        + b"Content-Length: %d\r\n\r\n" % len(body)
        + body
    )


@functools.cache
def _bomb() -> bytes:
    packer = zlib.compressobj(1, zlib.DEFLATED, 31)
    zeros = bytes(1 << 20)
    return b"".join(packer.compress(zeros) for _ in range(128)) + packer.flush()


async def tls_drip(stream: trio.SocketStream) -> None:
    """Read the ClientHello, then a TLS record header promising 16 KB, then a byte every 0.2 s."""
    await _request(stream)
    await stream.send_all(b"\x16\x03\x03\x40\x00\x02")
    for _ in range(1000):
        await trio.sleep(0.2)
        await stream.send_all(b"\x00")


HOSTILE: dict[str, tuple[Handler, bool]] = {
    "endless-body": (endless_body, False),
    "endless-chunks": (endless_chunks, False),
    "slow-drip": (slow_drip, False),
    "slow-headers": (slow_headers, False),
    "huge-headers": (huge_headers, False),
    "redirect-forever": (redirect_forever, False),
    "garbage": (garbage, False),
    "accept-and-hang": (accept_and_hang, False),
    "gzip-bomb": (gzip_bomb, False),
    "tls-drip": (tls_drip, True),
    "tls-accept-and-hang": (accept_and_hang, True),
}


async def serve_hostile(nursery: trio.Nursery, handler: Handler) -> int:
    """Serve `handler` on a loopback port; return the port."""

    async def guarded(stream: trio.SocketStream) -> None:
        try:
            await handler(stream)
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
            pass  # the client gave up first: that is the point
        finally:
            stream.socket.close()

    listeners = await nursery.start(functools.partial(trio.serve_tcp, guarded, 0, host="127.0.0.1"))
    port: int = listeners[0].socket.getsockname()[1]
    return port


async def run_measure(args: list[str], home: Path) -> tuple[int, str, str, float]:
    """Run `crenel-probe measure` in its own process; return its exit code, stdout, stderr and
    peak RSS in MiB (sampled every 50 ms)."""
    env = {
        **os.environ,
        "CRENEL_CONFIG": str(home / "probe.toml"),
        "CRENEL_DATA_DIR": str(home / "data"),
    }
    command = [sys.executable, "-c", "from probe.cli.main import console_script; console_script()"]
    out, err = home / "stdout.txt", home / "stderr.txt"
    peak = 0
    with out.open("wb") as stdout, err.open("wb") as stderr:
        process = await trio.lowlevel.open_process(
            [*command, "measure", *args], stdout=stdout, stderr=stderr, env=env
        )
    try:
        watched = psutil.Process(process.pid)
        with trio.fail_after(BUDGET_S + 30):
            while process.poll() is None:
                with contextlib.suppress(psutil.Error):
                    peak = max(peak, watched.memory_info().rss)
                await trio.sleep(0.05)
    finally:
        if process.returncode is None:
            process.kill()
        with trio.move_on_after(10, shield=True):
            await process.wait()
    assert process.returncode is not None
    return process.returncode, out.read_text(), err.read_text(), peak / (1 << 20)


@pytest.mark.slow
# The in-process control helper's HTTP client (httpcore 1.0) leaves a socket to the garbage
# collector when a budget cancels it mid-connect or mid-handshake (encode/httpcore#443): no
# traceback and no budget overrun, but the socket closes late. Collected below, on purpose.
@pytest.mark.filterwarnings(
    "ignore:Exception ignored in. <socket.socket:pytest.PytestUnraisableExceptionWarning"
)
async def test_every_hostile_server_ends_within_the_budget_without_a_traceback(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    internet = await start_internet(nursery, tmp_path)
    urls: dict[str, str] = {}
    for n, (name, (handler, tls)) in enumerate(HOSTILE.items()):
        port = await serve_hostile(nursery, handler)
        scheme = "https" if tls else "http"
        urls[f"{scheme}://{HOSTS[n % len(HOSTS)]}:{port}/"] = name
    flags = [
        *("--yes", "--json", "--no-system-resolver"),
        *("--resolver", f"127.0.0.1:{internet.isp_dns}"),
        *("--doh", f"https://127.0.0.1:{internet.https}/dns-query"),
        *("--control", f"http://127.0.0.1:{internet.control}/api/v1/control"),
        *("--ca-bundle", str(internet.ca_file), "--public-network", "127.0.0.0/8"),
        *("--dns-timeout", str(DNS_S), "--tcp-timeout", str(TCP_S)),
        *("--tls-timeout", str(TLS_S), "--http-timeout", str(HTTP_S)),
        *("--control-timeout", str(CONTROL_S), "--capture-window-ms", str(int(CAPTURE_S * 1000))),
    ]
    code, out, err, peak_mib = await run_measure([*flags, *urls], tmp_path)
    assert code == 0, err
    assert "Traceback" not in err + out
    assert peak_mib < PEAK_RSS_MIB
    measured = [msgspec.json.decode(line, type=Measurement) for line in out.splitlines()]
    assert sorted(m.input for m in measured) == sorted(urls)
    for m in measured:
        name = urls[m.input]
        assert m.runtime_ms <= BUDGET_S * 1000, (name, m.runtime_ms)
        for tx in m.http:
            assert tx.t_ms - tx.t0_ms <= (HTTP_S + HOP_SLACK_S) * 1000, (name, tx)
        assert len(m.http) <= MAX_REDIRECTS + 1, name
        if name == "redirect-forever":
            assert m.http[-1].failure == "http_too_many_redirects", m.http[-1]
    gc.collect()
