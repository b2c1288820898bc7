"""HTTP/1.1 over h11, shared by the lab's web server and its ISP proxy: reading one complete
request within the server's limits, and writing an event within a deadline.
"""

from __future__ import annotations

from dataclasses import dataclass

import h11
import trio

from lab.servers.listeners import ServerLimits

RECEIVE_BYTES = 64 * 1024


@dataclass(frozen=True)
class RawRequest:
    """One complete client request: the h11 head and its body."""

    head: h11.Request
    body: bytes


async def receive_request(
    stream: trio.abc.Stream, conn: h11.Connection, limits: ServerLimits
) -> RawRequest | int | None:
    """Return the next complete request, an error status to answer (400, 413, 431, ...), or
    None when the client closed. Answers `Expect: 100-continue` before reading the body."""
    head: h11.Request | None = None
    body = bytearray()
    while True:  # bounded by the caller's idle deadline and the body size limit
        try:
            event = conn.next_event()
        except h11.RemoteProtocolError as exc:
            return exc.error_status_hint
        if event is h11.NEED_DATA:
            if conn.they_are_waiting_for_100_continue:
                continue_response = h11.InformationalResponse(status_code=100, headers=[])
                await send_event(stream, conn, continue_response, timeout_s=limits.idle_timeout_s)
            conn.receive_data(bytes(await stream.receive_some(RECEIVE_BYTES)))
        elif isinstance(event, h11.Request):
            head = event
        elif isinstance(event, h11.Data):
            body += event.data
            if len(body) > limits.max_request_body_bytes:
                return 413
        elif isinstance(event, h11.EndOfMessage) and head is not None:
            return RawRequest(head=head, body=bytes(body))
        else:  # ConnectionClosed or PAUSED
            return None


async def send_event(
    stream: trio.abc.Stream, conn: h11.Connection, event: h11.Event, *, timeout_s: float
) -> None:
    """Serialise `event` with `conn` and write it to `stream` within `timeout_s`.

    Raises:
        trio.TooSlowError: the peer did not take the data in time.
    """
    data = conn.send(event)
    if data:
        with trio.fail_after(timeout_s):
            await stream.send_all(data)
