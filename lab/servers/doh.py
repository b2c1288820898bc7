"""DNS-over-HTTPS requests (RFC 8484): extract the DNS query, pick the reply to send.

Pure: no I/O. `lab.servers.web` reads the HTTP request and sends what this module decides.
"""

from __future__ import annotations

import base64
import binascii
import urllib.parse
from dataclasses import dataclass

from lab.servers.zone import STREAM_LIMIT_BYTES, PlannedReply, Zone, plan_replies

DOH_PATH = "/dns-query"
DNS_MESSAGE_TYPE = "application/dns-message"
DNS_HEADER_BYTES = 12


@dataclass(frozen=True)
class DohRejection:
    """Why a DoH request carries no usable query: the HTTP status and a short reason."""

    status: int
    reason: str


def doh_query_wire(
    method: str, query_string: str, content_type: str | None, body: bytes
) -> bytes | DohRejection:
    """Return the DNS query carried by a DoH request, or why it is rejected.

    GET takes the base64url `dns` parameter (padding optional); POST takes a body of type
    application/dns-message.
    """
    if method in ("GET", "HEAD"):
        values = urllib.parse.parse_qs(query_string).get("dns")
        if not values:
            return DohRejection(400, "missing dns parameter")
        text = values[0]
        try:
            wire = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        except (binascii.Error, ValueError):
            return DohRejection(400, "dns parameter is not base64url")
    elif method == "POST":
        media_type = (content_type or "").split(";", 1)[0].strip().lower()
        if media_type != DNS_MESSAGE_TYPE:
            return DohRejection(415, f"content type must be {DNS_MESSAGE_TYPE}")
        wire = body
    else:
        return DohRejection(405, "DoH takes GET or POST")
    if not wire or len(wire) > STREAM_LIMIT_BYTES:
        return DohRejection(400, "empty or oversized DNS query")
    return wire


def doh_reply(query_wire: bytes, zone: Zone) -> PlannedReply | DohRejection | None:
    """Return the zone's real reply to `query_wire` (with its delay), a rejection, or None.

    Forged replies are left out: they model on-path injection, which cannot reach inside
    HTTPS. A query without a whole header, or a response, is rejected with 400; None means
    the zone drops this name, so the server never answers.
    """
    if len(query_wire) < DNS_HEADER_BYTES or query_wire[2] & 0x80:  # short, or QR set
        return DohRejection(400, "not a DNS query")
    for reply in plan_replies(query_wire, zone, udp=False):
        if not reply.is_forged:
            return reply
    return None
