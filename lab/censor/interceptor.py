"""The TLS interceptor: `python -m lab.censor.interceptor PLAN.json --port N --ca-dir DIR`.

Takes the clients' port-443 flows that nft redirects to it, reads each ClientHello's SNI and
either terminates TLS with a certificate from the censor's own CA, relaying the plaintext to the
real server over TLS, or splices the bytes through untouched. Prints READY; stops on SIGTERM.
"""

from __future__ import annotations

import argparse
import functools
import logging
import signal
import socket
import ssl
import struct
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import trio

from lab.censor.plan_file import decode_plan
from lab.censor.rules import CensorPlan, TlsIntercept
from lab.censor.sni import parse_client_hello
from lab.servers.certs import CertificateAuthority, server_context
from lab.servers.listeners import accept_connections, bind_tcp
from lab.servers.names import normalise_name

log = logging.getLogger(__name__)

READY_LINE = "READY"
CA_FILE = "censor-ca.pem"
CA_NAME = "Crenel censor interception CA"
SO_ORIGINAL_DST = 80  # linux/netfilter_ipv4.h: the destination before NAT (REDIRECT)
SOCKADDR_IN_BYTES = 16
RECEIVE_BYTES = 64 * 1024
CLOSE_TIMEOUT_S = 2.0
_CONNECTION_ERRORS = (trio.BrokenResourceError, trio.ClosedResourceError, OSError, ssl.SSLError)


@dataclass(frozen=True)
class InterceptorLimits:
    """Bounds on the interceptor's work."""

    max_connections: int = 256  # flows handled at once; more wait in the kernel's backlog
    hello_timeout_s: float = 10.0  # to receive a ClientHello, or finish a TLS handshake
    connect_timeout_s: float = 10.0  # to reach the original destination
    idle_timeout_s: float = 30.0  # a flow with no byte in either direction for this long ends
    max_hello_bytes: int = 32 * 1024


def parse_sockaddr_in(raw: bytes) -> tuple[str, int]:
    """Return (address, port) of a `struct sockaddr_in` as SO_ORIGINAL_DST gives it.

    Raises:
        ValueError: not an AF_INET address of the right size.
    """
    if len(raw) < 8:
        raise ValueError("sockaddr_in too short")
    (family,) = struct.unpack_from("=H", raw, 0)  # host byte order, unlike port and address
    if family != socket.AF_INET:
        raise ValueError(f"not an AF_INET address (family {family})")
    (port,) = struct.unpack_from("!H", raw, 2)
    return socket.inet_ntoa(raw[4:8]), port


def original_destination(stream: trio.SocketStream) -> tuple[str, int]:
    """Return where the client meant to connect before nft redirected the flow here.

    Raises:
        OSError: the connection was not redirected (no NAT entry).
    """
    raw = stream.socket.getsockopt(socket.SOL_IP, SO_ORIGINAL_DST, SOCKADDR_IN_BYTES)
    return parse_sockaddr_in(raw)


class ReplayStream(trio.abc.Stream):
    """A stream that first yields bytes already read from `inner`, then reads `inner` itself."""

    def __init__(self, prefix: bytes, inner: trio.abc.Stream) -> None:
        self._prefix = prefix
        self._inner = inner

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        """Return buffered bytes first, then what `inner` receives."""
        if self._prefix:
            size = len(self._prefix) if max_bytes is None else max_bytes
            chunk, self._prefix = self._prefix[:size], self._prefix[size:]
            return chunk
        return bytes(await self._inner.receive_some(max_bytes))

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        """Send `data` on `inner`."""
        await self._inner.send_all(data)

    async def wait_send_all_might_not_block(self) -> None:
        """Wait as `inner` does."""
        await self._inner.wait_send_all_might_not_block()

    async def aclose(self) -> None:
        """Close `inner`."""
        await self._inner.aclose()


@dataclass(frozen=True)
class Interception:
    """The censor's CA, a server context per intercepted name, and its client contexts."""

    ca: CertificateAuthority
    server_contexts: Mapping[str, ssl.SSLContext]
    upstream_contexts: Mapping[str | None, ssl.SSLContext]

    @classmethod
    def create(cls, plan: CensorPlan, ca: CertificateAuthority) -> Interception:
        """Return contexts with a leaf from `ca` for each name the plan intercepts."""
        names = {normalise_name(r.sni) for r in plan.rules if isinstance(r, TlsIntercept)}
        return cls(
            ca=ca,
            server_contexts={name: server_context(ca.issue([name])) for name in names},
            upstream_contexts={alpn: _upstream_context(alpn) for alpn in (None, "http/1.1")},
        )


def _upstream_context(alpn: str | None) -> ssl.SSLContext:
    """Return a client context that verifies nothing: the censor does not care who answers."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    if alpn is not None:
        context.set_alpn_protocols([alpn])
    return context


async def _read_hello(
    stream: trio.SocketStream, limits: InterceptorLimits
) -> tuple[bytes, str | None]:
    """Return the bytes read until the ClientHello was complete, and its SNI.

    Stops early (SNI None) at end of stream, on bytes that are not a ClientHello, or past
    `limits.max_hello_bytes`; the caller's deadline bounds the wait.
    """
    buffer = bytearray()
    while len(buffer) < limits.max_hello_bytes:  # each pass adds at least one byte
        chunk = await stream.receive_some(RECEIVE_BYTES)
        if not chunk:
            break
        buffer += chunk
        try:
            hello = parse_client_hello(bytes(buffer))
        except ValueError as exc:
            log.debug("not a ClientHello: %s", exc)
            break
        if hello is not None:
            return bytes(buffer), hello.server_name
    return bytes(buffer), None


async def relay(left: trio.abc.Stream, right: trio.abc.Stream, idle_timeout_s: float) -> None:
    """Copy bytes both ways until both directions end, an error, or `idle_timeout_s` of silence.

    A direction that ends is half-closed on the other side where the stream allows it (TCP);
    otherwise (TLS) the whole relay ends. Closes neither stream.
    """
    with trio.CancelScope() as scope:
        scope.deadline = trio.current_time() + idle_timeout_s

        async def pump(source: trio.abc.Stream, sink: trio.abc.Stream) -> None:
            try:
                while True:  # bounded by the idle deadline, renewed on each chunk
                    data = await source.receive_some(RECEIVE_BYTES)
                    if not data:
                        break
                    await sink.send_all(data)
                    scope.deadline = trio.current_time() + idle_timeout_s
                if isinstance(sink, trio.abc.HalfCloseableStream):
                    await sink.send_eof()
                    return
            except _CONNECTION_ERRORS as exc:
                log.debug("relay direction ended: %r", exc)
            scope.cancel()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(pump, left, right)
            nursery.start_soon(pump, right, left)


async def _close(*streams: trio.abc.Stream) -> None:
    """Close every stream, ignoring connection errors, within CLOSE_TIMEOUT_S."""
    with trio.move_on_after(CLOSE_TIMEOUT_S, shield=True):
        for stream in streams:
            try:
                await stream.aclose()
            except _CONNECTION_ERRORS as exc:
                log.debug("close failed: %r", exc)


async def handle_flow(
    stream: trio.SocketStream, interception: Interception, limits: InterceptorLimits
) -> None:
    """Serve one redirected flow: intercept it if its SNI is listed, else splice it; close it."""
    opened: list[trio.abc.Stream] = [stream]
    try:
        address, port = original_destination(stream)
        prefix, server_name = b"", None
        with trio.move_on_after(limits.hello_timeout_s):
            prefix, server_name = await _read_hello(stream, limits)
        if not prefix:
            return
        context = interception.server_contexts.get(server_name or "")
        with trio.fail_after(limits.connect_timeout_s):
            upstream: trio.abc.Stream = await trio.open_tcp_stream(address, port)
        opened.append(upstream)
        if context is None or server_name is None:
            log.debug("splicing %s to %s:%d", server_name, address, port)
            await upstream.send_all(prefix)
            await relay(stream, upstream, limits.idle_timeout_s)
            return
        client_side = trio.SSLStream(
            ReplayStream(prefix, stream), context, server_side=True, https_compatible=True
        )
        opened.append(client_side)
        with trio.fail_after(limits.hello_timeout_s):
            await client_side.do_handshake()
        alpn = client_side.selected_alpn_protocol()
        server_side = trio.SSLStream(
            upstream,
            interception.upstream_contexts[alpn if alpn == "http/1.1" else None],
            server_hostname=server_name,
            https_compatible=True,
        )
        opened.append(server_side)
        with trio.fail_after(limits.hello_timeout_s):
            await server_side.do_handshake()
        log.debug("intercepting %s to %s:%d", server_name, address, port)
        await relay(client_side, server_side, limits.idle_timeout_s)
    except (*_CONNECTION_ERRORS, trio.TooSlowError) as exc:
        log.debug("flow ended: %r", exc)
    finally:
        await _close(*reversed(opened))


async def serve_interceptor(
    plan: CensorPlan,
    ca: CertificateAuthority,
    *,
    host: str = "0.0.0.0",
    port: int,
    limits: InterceptorLimits = InterceptorLimits(),
    task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Accept redirected flows on (`host`, `port`) until cancelled; owns the listener.

    Calls `task_status.started(port)` once listening.

    Raises:
        OSError: the port cannot be bound.
    """
    interception = Interception.create(plan, ca)
    listener = await bind_tcp(host, port)
    async with listener:
        bound: int = listener.socket.getsockname()[1]
        handler = functools.partial(handle_flow, interception=interception, limits=limits)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(accept_connections, listener, handler, limits.max_connections)
            task_status.started(bound)


async def _run(plan: CensorPlan, ca: CertificateAuthority, host: str, port: int) -> None:
    """Serve until SIGTERM or SIGINT, printing READY once listening."""
    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async with trio.open_nursery() as nursery:
            await nursery.start(
                functools.partial(serve_interceptor, plan, ca, host=host, port=port)
            )
            print(READY_LINE, flush=True)
            async for signum in signals:  # the first signal ends the loop
                log.info("stopping on signal %d", signum)
                nursery.cancel_scope.cancel()
                break


def main(argv: list[str] | None = None) -> int:
    """Run the interceptor for the plan file named on the command line; return the exit status."""
    parser = argparse.ArgumentParser(prog="python -m lab.censor.interceptor")
    parser.add_argument("plan", type=Path, help="censor plan JSON (lab.censor.plan_file)")
    parser.add_argument("--port", type=int, required=True, help="port nft redirects TLS flows to")
    parser.add_argument("--host", default="0.0.0.0", help="address to listen on")
    parser.add_argument("--ca-dir", type=Path, required=True, help=f"where to write {CA_FILE}")
    parser.add_argument("--debug", action="store_true", help="log every flow")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.INFO,
        stream=sys.stderr,
        format="interceptor: %(message)s",
    )
    try:
        plan = decode_plan(args.plan.read_bytes())
        ca = CertificateAuthority.create(CA_NAME)
        args.ca_dir.mkdir(parents=True, exist_ok=True)
        ca.write_pem(args.ca_dir / CA_FILE)
    except (OSError, ValueError) as exc:
        print(f"interceptor: cannot start: {exc}", file=sys.stderr)
        return 2
    try:
        trio.run(_run, plan, ca, args.host, args.port)
    except OSError as exc:
        print(f"interceptor: cannot listen on port {args.port}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
