"""The HTTP step of a measurement: fetch the URL pinned to its addresses and follow redirects
hop by hop, each hop with its own DNS, under the HTTP budget per hop.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec
import trio

from probe.measure.resolve import resolve_host
from probe.measure.run import Run
from probe.model import Failure, HttpTransaction
from probe.net import HttpProgress, fetch_http, parse_web_url, redirect_target

if TYPE_CHECKING:
    from probe.measure.session import MeasureSession

MAX_FETCH_ATTEMPTS = 4
"""Addresses tried for one hop when connecting fails (a browser would try the next one too)."""


async def fetch_chain(session: MeasureSession, run: Run, addresses: list[str]) -> None:
    """Fetch the URL and follow redirects hop by hop, each hop with its own DNS."""
    url, depth = run.target.url, 0
    if not addresses and session.config.control_url is not None:
        await run.control_done.wait()
        reply = run.records.control.reply if run.records.control else None
        if reply is not None:
            addresses = [a for a in reply.dns.addresses if session.may_dial(a)]
    for _hop in range(session.config.max_redirects + 1):
        if not addresses:
            return
        tx = await _fetch_hop(session, run, url, addresses, depth)
        if tx.failure is not None or tx.response is None:
            return
        target = redirect_target(tx)
        if target is None:
            return
        failure: str | None = None
        if target.failure is not None:
            failure = target.failure.value
        elif depth >= session.config.max_redirects:
            failure = Failure.HTTP_TOO_MANY_REDIRECTS.value
        if failure is not None:
            run.records.http[run.records.http.index(tx)] = msgspec.structs.replace(
                tx, failure=failure
            )
            return
        assert target.url is not None
        url, depth = target.url, depth + 1
        hop = parse_web_url(url)
        addresses = (
            [hop.host]
            if hop.is_host_ip
            else await resolve_host(session, run, hop.host, depth=depth)
        )


async def _fetch_hop(
    session: MeasureSession, run: Run, url: str, addresses: list[str], depth: int
) -> HttpTransaction:
    """Return the transaction of one hop, trying further addresses while connecting fails."""
    deadline = trio.current_time() + session.config.budgets.http_s
    tx: HttpTransaction | None = None
    for address in addresses[:MAX_FETCH_ATTEMPTS]:
        session.watch(run, address)
        progress = HttpProgress()
        attempt: HttpTransaction | None = None
        with trio.move_on_at(deadline):
            attempt = await fetch_http(
                url,
                address,
                client=session.fetch_client,
                clock=run.clock,
                txid=run.next_id(),
                depth=depth,
                headers=_request_headers(session),
                body_cap_bytes=session.config.body_cap_bytes,
                max_body_bytes=session.config.max_body_bytes,
                progress=progress,
            )
        tx = attempt if attempt is not None else progress.timed_out(run.clock)
        run.records.http.append(tx)
        if tx.connect_ms is not None or trio.current_time() >= deadline:
            break
    assert tx is not None
    return tx


def _request_headers(session: MeasureSession) -> list[tuple[str, str]]:
    return [
        ("User-Agent", session.config.user_agent),
        ("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
        ("Accept-Language", "en-US,en;q=0.9"),
    ]
