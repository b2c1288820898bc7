"""`ControlClient`: keep-alive HTTP/1.1 connections to the control, driven by h11 over trio streams.

The control exchange is one small JSON POST per measured URL. Through httpx and httpcore it cost
about 0.6 ms of CPU a request (URL and header models, the pool's bookkeeping); this client sends
the same bytes (httpx's header set, in its order) over the same kind of connection (trio TCP,
TLS with the caller's context and ALPN http/1.1, TCP_NODELAY), keeps idle connections as httpx's
default limits do, and raises the exceptions `probe.net.classify` already maps. It owns no
deadline: the caller cancels it. A connection whose exchange did not end cleanly is closed, never
reused. Not for the measured fetch, whose behaviour is evidence (`probe.net.http`).
"""

from __future__ import annotations

import ssl
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Self

import h11
import httpx
import trio

MAX_CONNECTIONS = 100
MAX_IDLE_CONNECTIONS = 20
IDLE_EXPIRY_S = 5.0
"""httpx's default `Limits`: connections in use, idle connections kept, and how long they are."""
READ_BYTES = 64 * 1024

ACCEPT_ENCODING = b"gzip, deflate"
"""What httpx offers without the optional zstandard and brotli packages (the probe installs
neither): the codings decoded here."""
USER_AGENT = f"python-httpx/{httpx.__version__}".encode()
"""What httpx sent as the control's client: kept, so the control sees the same requests."""


@dataclass(frozen=True, slots=True)
class ControlResponse:
    """What the control answered: status code and body, or that the body passed the limit."""

    status_code: int
    body: bytes
    is_too_large: bool = False


@dataclass(frozen=True, slots=True)
class _Origin:
    """Where an endpoint is and what its request line and Host header say."""

    scheme: str
    host: str
    port: int
    host_header: bytes
    target: bytes


@dataclass(slots=True)
class _Connection:
    """One open connection and its HTTP/1.1 state."""

    stream: trio.SocketStream | trio.SSLStream[trio.SocketStream]
    socket_stream: trio.SocketStream
    state: h11.Connection = field(default_factory=lambda: h11.Connection(h11.CLIENT))
    idle_since: float = 0.0


class ControlClient:
    """Posts JSON to control endpoints over kept-alive connections (HTTP/1.1, h11).

    An async context manager: it closes its idle connections on exit.
    """

    def __init__(self, context: ssl.SSLContext) -> None:
        context.set_alpn_protocols(["http/1.1"])  # as httpcore sets it on use (http2 off)
        self._context = context
        self._origins: dict[str, _Origin] = {}
        self._idle: dict[tuple[str, str, int], list[_Connection]] = {}
        self._in_use = trio.CapacityLimiter(MAX_CONNECTIONS)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close every idle connection (TLS: send close_notify, do not wait for the peer's)."""
        idle, self._idle = self._idle, {}
        for connections in idle.values():
            for connection in connections:
                await _close(connection)

    async def post_json(
        self, endpoint: str, body: bytes, *, max_body_bytes: int
    ) -> ControlResponse:
        """Return the reply to `body` posted as JSON to `endpoint` (decoded, at most
        `max_body_bytes` of it: past that, `is_too_large` and the rest unread).

        Raises:
            httpx.InvalidURL, httpx.UnsupportedProtocol: `endpoint` is not an http(s) URL.
            OSError, trio.BrokenResourceError, EOFError, h11.ProtocolError, httpx.DecodingError:
                the connection or the reply failed (`probe.net.classify` maps each).
        """
        origin = self._origin(endpoint)
        head = [
            (b"Host", origin.host_header),
            (b"Accept-Encoding", ACCEPT_ENCODING),
            (b"Connection", b"keep-alive"),
            (b"User-Agent", USER_AGENT),
            (b"Content-Type", b"application/json"),
            (b"Accept", b"application/json"),
            (b"Content-Length", b"%d" % len(body)),
        ]
        request = h11.Request(method=b"POST", target=origin.target, headers=head)
        async with self._in_use:
            connection = await self._take_idle(origin) or await self._connect(origin)
            try:
                reply = await _exchange(connection, request, body, max_body_bytes)
            except BaseException:
                await trio.aclose_forcefully(connection.stream)
                raise
            await self._give_back(origin, connection, reply)
        return reply

    def _origin(self, endpoint: str) -> _Origin:
        """Return the endpoint's origin and request target (parsed once, by httpx's rules)."""
        origin = self._origins.get(endpoint)
        if origin is not None:
            return origin
        url = httpx.URL(endpoint)
        if url.scheme not in ("http", "https"):
            raise httpx.UnsupportedProtocol(f"Request URL has an unsupported protocol '{url}'.")
        if not url.host:
            raise httpx.UnsupportedProtocol(
                "Request URL is missing an 'http://' or 'https://' protocol."
            )
        host = url.raw_host.decode("ascii")
        port = url.port or (443 if url.scheme == "https" else 80)
        netloc = url.netloc  # host[:port] as httpx writes the Host header
        origin = _Origin(url.scheme, host, port, netloc, url.raw_path)
        self._origins[endpoint] = origin
        return origin

    async def _take_idle(self, origin: _Origin) -> _Connection | None:
        """Return an idle connection to `origin` the server has not closed, or None."""
        idle = self._idle.get((origin.scheme, origin.host, origin.port))
        now = trio.current_time()
        while idle:
            connection = idle.pop()
            expired = now - connection.idle_since > IDLE_EXPIRY_S
            if not expired and not connection.socket_stream.socket.is_readable():
                return connection
            await _close(connection)  # closed by the server, or idle too long
        return None

    async def _connect(self, origin: _Origin) -> _Connection:
        """Return a new connection to `origin` (TLS for https, handshake done)."""
        tcp = await trio.open_tcp_stream(origin.host, origin.port)
        if origin.scheme != "https":
            return _Connection(stream=tcp, socket_stream=tcp)
        tls = trio.SSLStream(tcp, self._context, server_hostname=origin.host, https_compatible=True)
        try:
            await tls.do_handshake()
        except BaseException:
            await trio.aclose_forcefully(tcp)
            raise
        return _Connection(stream=tls, socket_stream=tcp)

    async def _give_back(
        self, origin: _Origin, connection: _Connection, reply: ControlResponse
    ) -> None:
        """Keep the connection for the next request when its exchange ended cleanly."""
        state = connection.state
        key = (origin.scheme, origin.host, origin.port)
        idle = self._idle.setdefault(key, [])
        reusable = (
            not reply.is_too_large
            and state.our_state is h11.DONE
            and state.their_state is h11.DONE
            and len(idle) < MAX_IDLE_CONNECTIONS
        )
        if not reusable:
            await trio.aclose_forcefully(connection.stream)
            return
        state.start_next_cycle()
        connection.idle_since = trio.current_time()
        idle.append(connection)


async def _close(connection: _Connection) -> None:
    """Close an idle connection as httpcore does; a peer already gone is no error."""
    try:
        await connection.stream.aclose()
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        await trio.aclose_forcefully(connection.socket_stream)


async def _exchange(
    connection: _Connection, request: h11.Request, body: bytes, max_body_bytes: int
) -> ControlResponse:
    """Return the reply to one request on `connection` (its state left as the exchange ends)."""
    state = connection.state
    await connection.stream.send_all(
        state.send(request) + state.send(h11.Data(data=body)) + state.send(h11.EndOfMessage())
    )
    status_code = 0
    decode: Callable[[bytes], bytes] = bytes
    received = bytearray()
    while True:
        event = state.next_event()
        if event is h11.NEED_DATA:
            data = await connection.stream.receive_some(READ_BYTES)
            if not data and state.their_state is h11.SEND_RESPONSE:
                raise EOFError("server disconnected without sending a response")
            state.receive_data(bytes(data) if isinstance(data, bytearray) else data)
        elif isinstance(event, h11.Response):
            status_code = event.status_code
            decode = _decoder(event.headers)
        elif isinstance(event, h11.Data):
            received += decode(event.data)
            if len(received) > max_body_bytes:
                return ControlResponse(status_code, b"", is_too_large=True)
        elif isinstance(event, h11.EndOfMessage):
            return ControlResponse(status_code, bytes(received))
        elif isinstance(event, h11.ConnectionClosed):
            raise EOFError("server disconnected without sending a response")
        # h11.InformationalResponse (1xx): the final response follows.


def _decoder(headers: Sequence[tuple[bytes, bytes]]) -> Callable[[bytes], bytes]:
    """Return the function decoding the body's chunks by its Content-Encoding, as httpx does
    (unknown codings are left as they are)."""
    steps: list[Callable[[bytes], bytes]] = []
    for name, value in headers:
        if name != b"content-encoding":
            continue
        for coding in value.decode("latin-1").split(","):
            step = _coding_step(coding.strip().lower())
            if step is not None:
                steps.append(step)
    if not steps:
        return bytes
    # Codings are listed in the order they were applied: undo them from the last.
    steps.reverse()

    def decode(data: bytes) -> bytes:
        for step in steps:
            data = step(data)
        return data

    return decode


def _coding_step(coding: str) -> Callable[[bytes], bytes] | None:
    """Return a streaming decoder for one content coding, or None for identity or one not
    offered (left as it is, as httpx does)."""
    if coding == "gzip":
        return _zlib_step(zlib.MAX_WBITS | 16)
    if coding == "deflate":
        return _deflate_step()
    return None


def _zlib_step(wbits: int) -> Callable[[bytes], bytes]:
    """Return a streaming zlib decoder with `wbits` that raises `httpx.DecodingError`."""
    decompressor = zlib.decompressobj(wbits)

    def step(data: bytes) -> bytes:
        try:
            return decompressor.decompress(data)
        except zlib.error as exc:
            raise httpx.DecodingError(str(exc)) from exc

    return step


def _deflate_step() -> Callable[[bytes], bytes]:
    """Return a deflate decoder: zlib-wrapped, or raw when the first chunk is not (as httpx)."""
    chosen: list[Callable[[bytes], bytes]] = []

    def step(data: bytes) -> bytes:
        if not chosen:
            try:
                wrapped = _zlib_step(zlib.MAX_WBITS)
                out = wrapped(data)
            except httpx.DecodingError:
                raw = _zlib_step(-zlib.MAX_WBITS)
                out = raw(data)
                chosen.append(raw)
            else:
                chosen.append(wrapped)
            return out
        return chosen[0](data)

    return step
