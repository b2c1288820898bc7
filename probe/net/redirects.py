"""Fetch a URL and follow its redirects hop by hop, by the shared `FetchRules`.

The one redirect loop of Crenel: the probe's HTTP step and the control (test helper) both run
it; they differ only in how a hop's host becomes addresses (`HopResolver`: each side's own DNS
and address policy) and in what they do with the transactions. Owns no client; each hop runs
under its own deadline of `Fetcher.budget_s`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import httpx
import msgspec
import trio

from probe.model.failures import Failure
from probe.model.observations import HttpTransaction
from probe.net.fetch_rules import FetchRules
from probe.net.http import HttpProgress, fetch_http
from probe.net.names import WebTarget, parse_web_url
from probe.net.timing import StepClock


@dataclass(frozen=True)
class HopAddresses:
    """The addresses a hop may be fetched from, and why there are none when there are none."""

    addresses: list[str]
    failure: str | None = None


HopResolver = Callable[[WebTarget, int], Awaitable[HopAddresses]]
"""Return the addresses of a redirect hop's target at a depth (the caller's DNS and policy)."""


def _ignore(address: str) -> None:
    """Do nothing before dialling `address` (the default of `Fetcher.before_dial`)."""


@dataclass(frozen=True)
class Fetcher:
    """How each attempt of a hop is sent: the client, clock, ids, body limits and budget."""

    client: httpx.AsyncClient
    clock: StepClock
    next_id: Callable[[], int]
    body_cap_bytes: int
    max_body_bytes: int
    budget_s: float
    """Time for one hop, all its attempts together."""
    before_dial: Callable[[str], None] = _ignore
    """Called with each address before it is dialled (the probe captures its packets)."""


@dataclass
class RedirectChain:
    """What following a URL's redirects gave."""

    transactions: list[HttpTransaction]
    """Every attempt of every hop, in order."""
    final_url: str
    redirects: list[str] = field(default_factory=list)
    """The URLs left by a redirect, in order."""
    final: HttpTransaction | None = None
    """The transaction with the final (non-redirect) response, if the chain got there."""
    failure: str | None = None
    """Why the chain stopped before a final response."""


async def follow_redirects(
    url: str,
    first: HopAddresses,
    *,
    rules: FetchRules,
    fetcher: Fetcher,
    resolve: HopResolver,
    transactions: list[HttpTransaction] | None = None,
) -> RedirectChain:
    """Return the chain of `url` fetched from `first`'s addresses, following redirects.

    Every attempt is appended to `transactions` as it completes (a new list when None), so a
    caller cancelled mid-chain keeps what was observed.
    """
    chain = RedirectChain(transactions=[] if transactions is None else transactions, final_url=url)
    hop = first
    for depth in range(rules.max_redirects + 1):
        chain.final_url = url
        if not hop.addresses:
            chain.failure = hop.failure or Failure.DNS_NO_ANSWER.value
            return chain
        tx = await fetch_hop(url, hop.addresses, depth, rules=rules, fetcher=fetcher, out=chain)
        decision = rules.next_hop(tx, depth)
        if decision.failure is not None:
            if decision.marks_transaction:
                index = chain.transactions.index(tx)
                chain.transactions[index] = msgspec.structs.replace(tx, failure=decision.failure)
            chain.failure = decision.failure
            return chain
        if decision.url is None:
            chain.final = tx
            return chain
        chain.redirects.append(url)
        url = decision.url
        target = parse_web_url(url)
        hop = await resolve(target, depth + 1)
    chain.failure = Failure.HTTP_TOO_MANY_REDIRECTS.value  # unreached: next_hop stops first
    return chain


async def fetch_hop(
    url: str,
    addresses: list[str],
    depth: int,
    *,
    rules: FetchRules,
    fetcher: Fetcher,
    out: RedirectChain,
) -> HttpTransaction:
    """Return the last attempt of one hop, trying further addresses while connecting fails.

    Each attempt is appended to `out.transactions`; the hop stops at the first connection,
    after `rules.max_addresses_per_hop` attempts, or at its deadline.
    """
    deadline = trio.current_time() + fetcher.budget_s
    tx: HttpTransaction | None = None
    for address in addresses[: rules.max_addresses_per_hop]:
        fetcher.before_dial(address)
        progress = HttpProgress()
        attempt: HttpTransaction | None = None
        with trio.move_on_at(deadline):
            attempt = await fetch_http(
                url,
                address,
                client=fetcher.client,
                clock=fetcher.clock,
                txid=fetcher.next_id(),
                depth=depth,
                headers=rules.request_headers(),
                body_cap_bytes=fetcher.body_cap_bytes,
                max_body_bytes=fetcher.max_body_bytes,
                progress=progress,
            )
        tx = attempt if attempt is not None else progress.timed_out(fetcher.clock)
        out.transactions.append(tx)
        if tx.connect_ms is not None or trio.current_time() >= deadline:
            break
    assert tx is not None
    return tx
