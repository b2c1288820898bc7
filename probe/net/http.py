"""One HTTP GET pinned to a chosen address (Host and SNI kept), returning an `HttpTransaction`.

Streams and hashes the body under a size limit and records its arrival over time. Failures are
recorded; when the caller's deadline cuts a fetch, `HttpProgress` still holds what arrived.
"""

from __future__ import annotations

import base64
import codecs
import contextlib
import hashlib
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import trio

from probe.model.failures import Failure
from probe.model.observations import ByteSample, HttpResponse, HttpTransaction
from probe.net.classify import NETWORK_ERRORS, classify
from probe.net.http_responses import extract_title
from probe.net.names import is_ip_literal, parse_web_url
from probe.net.tcp import local_port_of
from probe.net.timing import StepClock

MAX_SAMPLES = 64
FIRST_SAMPLE_SPACING_MS = 5.0
"""Minimum time between two byte samples; doubles each time the sample list is thinned."""
CLOSE_BUDGET_S = 1.0
MAX_DRAINED_CHUNKS = 64


def make_http_client(context: ssl.SSLContext) -> httpx.AsyncClient:
    """Return an HTTP/1.1 client for `fetch_http` that verifies TLS with `context`.

    It ignores proxy settings from the environment, never follows redirects, never reuses a
    connection and has no timeouts of its own (the caller owns the deadline). httpcore sets the
    context's ALPN to http/1.1 on use, so this is done here at once: do not share `context` with
    `handshake_tls`, whose ALPN result is recorded.
    """
    context.set_alpn_protocols(["http/1.1"])
    return httpx.AsyncClient(
        verify=context,
        trust_env=False,
        follow_redirects=False,
        http1=True,
        http2=False,
        limits=httpx.Limits(max_keepalive_connections=0),
        timeout=None,
    )


@dataclass(frozen=True, slots=True)
class _Request:
    """The identity of one fetch, fixed when it starts."""

    url: str
    address: str
    port: int
    txid: int
    depth: int
    t0_ms: float
    headers: list[tuple[str, str]]


@dataclass(frozen=True, slots=True)
class _Head:
    """A response's status line and headers."""

    status_code: int
    http_version: str
    headers: list[tuple[str, str]]


class _Body:
    """Hashes and counts body bytes, keeps a prefix, and samples cumulative bytes over time."""

    def __init__(self, *, cap_bytes: int, max_bytes: int) -> None:
        self.cap_bytes = cap_bytes
        self.max_bytes = max_bytes
        self.hasher = hashlib.sha256()
        self.length = 0
        self.prefix = bytearray()
        self.is_complete = False
        self.samples: list[ByteSample] = []
        self.spacing_ms = FIRST_SAMPLE_SPACING_MS
        self.last_ms: float | None = None

    def add(self, chunk: bytes, t_ms: float) -> bool:
        """Record a chunk received at `t_ms`; return False once `max_bytes` is reached."""
        room = self.max_bytes - self.length
        is_within_limit = len(chunk) <= room
        if not is_within_limit:
            chunk = chunk[:room]
        self.hasher.update(chunk)
        self.length += len(chunk)
        if len(self.prefix) < self.cap_bytes:
            self.prefix += chunk[: self.cap_bytes - len(self.prefix)]
        self.last_ms = t_ms
        if not self.samples or t_ms - self.samples[-1].t_ms >= self.spacing_ms:
            self._append_sample(t_ms)
        return is_within_limit

    def final_samples(self) -> list[ByteSample]:
        """Return the samples, ending with one for the last bytes received."""
        if self.last_ms is not None and (not self.samples or self.samples[-1].bytes != self.length):
            self._append_sample(self.last_ms)
        return list(self.samples)

    def _append_sample(self, t_ms: float) -> None:
        """Append a sample, first halving the list (and doubling the spacing) when it is full."""
        if len(self.samples) >= MAX_SAMPLES:
            self.samples = self.samples[::2]
            self.spacing_ms *= 2
        self.samples.append(ByteSample(t_ms=t_ms, bytes=self.length))


class HttpProgress:
    """What one `fetch_http` call has seen so far; pass a new one to each call.

    When the caller's deadline cancels the fetch, `timed_out` still returns the response head,
    the body bytes received and their timing, which is what throttling detection needs.
    """

    def __init__(self) -> None:
        self._request: _Request | None = None
        self._head: _Head | None = None
        self._body: _Body | None = None
        self.connect_ms: float | None = None
        self.local_port: int | None = None
        self.tls_ms: float | None = None
        self.request_sent_ms: float | None = None
        self.headers_ms: float | None = None
        self.tls_version: str | None = None
        self.negotiated_protocol: str | None = None

    def timed_out(self, clock: StepClock) -> HttpTransaction:
        """Return the transaction so far with failure `generic_timeout_error`.

        Raises:
            RuntimeError: no `fetch_http` call has used this progress yet.
        """
        return self._transaction(t_ms=clock.ms(), failure=Failure.GENERIC_TIMEOUT.value)

    def _begin(self, request: _Request, body: _Body) -> None:
        """Start recording one fetch."""
        if self._request is not None:
            raise RuntimeError("an HttpProgress records one fetch")
        self._request = request
        self._body = body

    def _transaction(self, *, t_ms: float, failure: str | None) -> HttpTransaction:
        """Return the transaction as recorded so far."""
        request, body = self._request, self._body
        if request is None or body is None:
            raise RuntimeError("HttpProgress used before fetch_http started")
        return HttpTransaction(
            id=request.txid,
            depth=request.depth,
            url=request.url,
            address=request.address,
            port=request.port,
            local_port=self.local_port,
            request_headers=request.headers,
            t0_ms=request.t0_ms,
            t_ms=t_ms,
            connect_ms=self.connect_ms,
            tls_ms=self.tls_ms,
            request_sent_ms=self.request_sent_ms,
            headers_ms=self.headers_ms,
            tls_version=self.tls_version,
            negotiated_protocol=self.negotiated_protocol,
            response=self._response(body),
            received=body.final_samples() if self._head is not None else [],
            failure=failure,
        )

    def _response(self, body: _Body) -> HttpResponse | None:
        """Return the response record, or None when no head arrived."""
        head = self._head
        if head is None:
            return None
        prefix = bytes(body.prefix)
        text = _prefix_text(prefix, is_whole_body=body.is_complete and body.length == len(prefix))
        content_type = next((v for k, v in head.headers if k.lower() == "content-type"), None)
        return HttpResponse(
            status_code=head.status_code,
            http_version=head.http_version,
            headers=head.headers,
            body_prefix=text,
            body_prefix_base64=None if text is not None else base64.b64encode(prefix).decode(),
            body_length=body.length,
            body_is_complete=body.is_complete,
            body_sha256=body.hasher.hexdigest(),
            title=extract_title(prefix, content_type),
        )


async def fetch_http(
    url: str,
    address: str,
    *,
    client: httpx.AsyncClient,
    clock: StepClock,
    txid: int,
    depth: int = 0,
    headers: Sequence[tuple[str, str]],
    body_cap_bytes: int,
    max_body_bytes: int,
    progress: HttpProgress,
) -> HttpTransaction:
    """Return the record of one GET of `url` sent to `address`, never following redirects.

    The Host header and SNI name the URL's host; the connection goes to `address`. The body is
    decoded (Content-Encoding), hashed and counted up to `max_body_bytes`; its first
    `body_cap_bytes` are kept. Owns and closes the response (close bounded to 1 s).

    Raises:
        ValueError: `url` is not an absolute http(s) URL with a valid host, `address` is not an
            IP address, or a byte limit is negative.
    """
    target = parse_web_url(url)
    if not is_ip_literal(address):
        raise ValueError(f"not an IP address: {address!r}")
    if body_cap_bytes < 0 or max_body_bytes < 0:
        raise ValueError("byte limits must not be negative")
    sent_headers = [(k, v) for k, v in headers if k.lower() != "host"]
    sent_headers.append(("Host", target.host_header))
    extensions: dict[str, Any] = {"trace": _tracer(progress, clock)}
    if target.scheme == "https" and not target.is_host_ip:
        extensions["sni_hostname"] = target.host
    request = client.build_request(
        "GET", target.pinned_url(address), headers=sent_headers, extensions=extensions
    )
    body = _Body(cap_bytes=min(body_cap_bytes, max_body_bytes), max_bytes=max_body_bytes)
    progress._begin(
        _Request(
            url=target.url,
            address=address,
            port=target.port,
            txid=txid,
            depth=depth,
            t0_ms=clock.ms(),
            headers=_text_pairs(request.headers.raw),
        ),
        body,
    )
    try:
        response = await client.send(request, stream=True)
        try:
            progress._head = _Head(
                status_code=response.status_code,
                http_version=response.http_version,
                headers=_text_pairs(response.headers.raw),
            )
            if progress.headers_ms is None:
                progress.headers_ms = clock.ms()
            await _read_body(response, body, clock)
        finally:
            with (
                trio.move_on_after(CLOSE_BUDGET_S, shield=True),
                contextlib.suppress(*NETWORK_ERRORS),
            ):
                await response.aclose()
    except NETWORK_ERRORS as exc:
        return progress._transaction(t_ms=clock.ms(), failure=classify(exc))
    return progress._transaction(t_ms=clock.ms(), failure=None)


async def _read_body(response: httpx.Response, body: _Body, clock: StepClock) -> None:
    """Feed the decoded body to `body` until it ends (complete) or reaches its byte limit."""
    chunks = response.aiter_bytes()
    async for chunk in chunks:
        if not body.add(chunk, clock.ms()):
            await abandon_body(response, chunks)
            return
    body.is_complete = True


async def abandon_body(response: httpx.Response, chunks: AsyncIterator[bytes]) -> None:
    """Close `response` mid-body, then resume its `chunks` so httpx's generators unwind now.

    Leaving the loop early would leave every layer suspended for the garbage collector, which
    trio reports as a ResourceWarning (encode/httpx#3686). Once the connection is closed the
    next read fails at the bottom layer and each generator exits; the count bounds the chunks
    already buffered above it.
    """
    drained = 0
    with contextlib.suppress(*NETWORK_ERRORS):
        await response.aclose()
        async for _chunk in chunks:
            drained += 1
            if drained >= MAX_DRAINED_CHUNKS:
                return


def _tracer(
    progress: HttpProgress, clock: StepClock
) -> Callable[[str, Mapping[str, Any]], Awaitable[None]]:
    """Return an httpcore trace callback that records step times and TLS facts in `progress`."""

    async def trace(event: str, info: Mapping[str, Any]) -> None:
        if event == "connection.connect_tcp.complete":
            progress.connect_ms = clock.ms()
            sock = info["return_value"].get_extra_info("socket")
            if isinstance(sock, trio.socket.SocketType):
                progress.local_port = local_port_of(sock)
        elif event == "connection.start_tls.complete":
            progress.tls_ms = clock.ms()
            ssl_object = info["return_value"].get_extra_info("ssl_object")
            if isinstance(ssl_object, ssl.SSLObject):
                progress.tls_version = ssl_object.version()
                progress.negotiated_protocol = ssl_object.selected_alpn_protocol()
        elif event == "http11.send_request_body.complete":
            progress.request_sent_ms = clock.ms()
        elif event == "http11.receive_response_headers.complete":
            progress.headers_ms = clock.ms()

    return trace


def _text_pairs(raw: Sequence[tuple[bytes, bytes]]) -> list[tuple[str, str]]:
    """Return header pairs as text: UTF-8 where valid, else Latin-1 (which always decodes)."""
    return [(_header_text(name), _header_text(value)) for name, value in raw]


def _header_text(data: bytes) -> str:
    """Return header bytes as text: UTF-8 where valid, else Latin-1."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _prefix_text(prefix: bytes, *, is_whole_body: bool) -> str | None:
    """Return the prefix as UTF-8 text, or None when it is not valid UTF-8.

    A prefix cut inside a multi-byte character still counts as text; the partial character is
    dropped.
    """
    decoder = codecs.getincrementaldecoder("utf-8")(errors="strict")
    try:
        return decoder.decode(prefix, final=is_whole_body)
    except UnicodeDecodeError:
        return None
