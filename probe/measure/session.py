"""`MeasureSession`: what measuring needs across many URLs, and the measurement of one URL.

It decides what to run, in which order, with which budget; the steps live in `resolve`,
`endpoints`, `control_exchange` and `fetch` (each takes a `StepContext` and the measurement's
`MeasurementState`), and `assemble` builds the record. Everything runs
concurrently where it can: resolvers in parallel, then the control, per-address TCP/TLS checks
and the HTTP fetch side by side, while UDP sockets keep listening for late (injected) answers
in the background. The measurement tells its caller when the active steps end, so a batch can
start the next URL while the capture windows of this one run out.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from types import TracebackType
from typing import Self

import httpx
import msgspec
import trio

from probe.analysis import ReferenceData
from probe.config import ProbeConfig
from probe.control import ControlClient
from probe.measure.assemble import Provenance, assemble
from probe.measure.budget import fit_budget
from probe.measure.context import StepContext
from probe.measure.control_exchange import exchange_with_control
from probe.measure.endpoints import check_endpoints
from probe.measure.fetch import fetch_chain
from probe.measure.resolve import resolve_host
from probe.measure.state import MeasurementState, Records
from probe.model import AddressPolicy, Measurement, MeasurementOptions, ProbeNetwork
from probe.net import FetchRules, StepClock, make_http_client, make_ssl_context, parse_web_url
from probe.packet import CaptureError, PacketRecorder
from probe.privacy import Scrubber

logger = logging.getLogger(__name__)

INLINE_FINISH_CHARS = 16 * 1024
"""Measurements whose body prefixes hold at most this many characters are scrubbed and cut on
the event loop (about 0.5 ms for a 3 KB page): a worker thread cost more than that work (the
hand-off, and the event loop then waiting for the GIL). Larger ones, up to the body cap
(1 MiB), go to a worker thread so the event loop keeps running between GIL switches."""


class MeasureSession:
    """What measuring needs across many URLs: clients, TLS contexts, reference data, identity.

    An async context manager: it owns its HTTP clients and closes them on exit, and the packet
    capture of `packets` (packet evidence, CAP_NET_RAW), which it starts and stops.
    """

    def __init__(
        self,
        config: ProbeConfig,
        reference: ReferenceData,
        *,
        network: ProbeNetwork | None = None,
        probe_id: str | None = None,
        own_addresses: Iterable[str] = (),
        packets: PacketRecorder | None = None,
    ) -> None:
        self.config = config
        self.packets = packets
        self.reference = reference
        self.network = network or ProbeNetwork()
        self.probe_id = probe_id
        self.own_addresses = frozenset(own_addresses)
        self._scrubber = Scrubber(self.own_addresses)
        self._finishing = trio.CapacityLimiter(1)
        """One measurement scrubbed and cut at a time (CPU-bound, and bounds the copies held)."""
        # One context (ALPN http/1.1) for the fetch and the services; the TLS checks need their
        # own, whose ALPN offer (h2, http/1.1) and result are recorded. Each loads the CA store.
        http_context = make_ssl_context(config.ca_bundle)
        self.fetch_client = make_http_client(http_context)
        self.service_client = httpx.AsyncClient(
            verify=http_context,
            trust_env=False,
            timeout=None,
            follow_redirects=False,
        )
        self.control_client = ControlClient(http_context)
        self.steps = StepContext(
            config=config,
            addresses=AddressPolicy(config.public_networks),
            fetch_rules=FetchRules(
                user_agent=config.user_agent, max_redirects=config.max_redirects
            ),
            fetch_client=self.fetch_client,
            service_client=self.service_client,
            control_client=self.control_client,
            tls_context=make_ssl_context(config.ca_bundle),
        )
        self.options = MeasurementOptions(
            system_resolver=config.system_resolver,
            udp_resolver=None if config.udp_resolver is None else _endpoint(*config.udp_resolver),
            doh_url=config.doh_url,
            dns_capture_window_ms=config.capture_window_s * 1000.0,
            body_cap_bytes=config.body_cap_bytes,
            dns_timeout_s=config.budgets.dns_s,
            tcp_timeout_s=config.budgets.tcp_s,
            tls_timeout_s=config.budgets.tls_s,
            http_timeout_s=config.budgets.http_s,
            control_timeout_s=config.budgets.control_s,
            custom_ca=config.ca_bundle is not None,
            public_networks=list(config.public_networks),
            packet_evidence=packets is not None,
            locate_censor=packets is not None and packets.locate,
            dns_bait=config.dns_bait,
        )

    async def __aenter__(self) -> Self:
        if self.packets is not None:
            try:
                self.packets.start()
            except CaptureError as exc:  # the capability check passed, yet capture cannot start
                logger.warning("packet evidence is off: %s", exc)
                self.packets.close()
                self.packets = None
                self.options = msgspec.structs.replace(
                    self.options, packet_evidence=False, locate_censor=False
                )
                return self
            for address in self._fixed_addresses():
                self.packets.watch(address)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.packets is not None:
            self.packets.close()
        with trio.move_on_after(5, shield=True):
            await self.fetch_client.aclose()
            await self.service_client.aclose()
            await self.control_client.aclose()

    def _fixed_addresses(self) -> list[str]:
        """Return the addresses every measurement talks to over UDP: resolver and DNS bait."""
        found = [self.config.udp_resolver[0]] if self.config.udp_resolver is not None else []
        return found + ([self.config.dns_bait] if self.config.dns_bait else [])

    async def measure(
        self,
        url: str,
        *,
        category_code: str | None = None,
        on_steps_done: Callable[[], object] | None = None,
    ) -> Measurement:
        """Return the analysed, scrubbed measurement of one URL.

        `on_steps_done` is called once, when the URL's active steps (DNS, control, TCP, TLS,
        HTTP) have ended: what remains is waiting out the DNS capture windows (late answers
        are still recorded), then assembling, analysing and scrubbing the record. A batch
        frees the URL's concurrency slot there (`probe.batch`).

        Raises:
            ValueError: `url` is not an absolute http(s) URL with a valid host.
        """
        target = parse_web_url(url)
        started = datetime.now(UTC)
        clock = StepClock.starting_now()
        records = Records()
        state: MeasurementState | None = None
        try:
            async with trio.open_nursery() as background:
                state = MeasurementState(
                    target, clock, itertools.count(1), records, background, self.packets
                )
                await self._measure(state)
                if on_steps_done is not None:
                    on_steps_done()
            provenance = Provenance(self.network, self.probe_id, self.options, self.reference)
            measurement = await assemble(provenance, state, url, category_code, started)
        finally:
            if self.packets is not None and state is not None:
                for address in state.watched:
                    self.packets.unwatch(address)
        if _body_prefix_chars(measurement) <= INLINE_FINISH_CHARS:
            return self._finish(measurement)
        return await trio.to_thread.run_sync(self._finish, measurement, limiter=self._finishing)

    def _finish(self, measurement: Measurement) -> Measurement:
        """Return the measurement scrubbed, then cut to the size budget (CPU-bound: a thread)."""
        return fit_budget(self._scrubber.measurement(measurement))

    async def _measure(self, state: MeasurementState) -> None:
        ctx, host = self.steps, state.target.host
        if state.target.is_host_ip:
            addresses = [host]
        else:
            addresses = await resolve_host(ctx, state, host, depth=0)
        async with trio.open_nursery() as steps:
            if self.config.control_url is not None:
                steps.start_soon(exchange_with_control, ctx, state, addresses, steps)
            else:
                state.control_done.set()
            for address in addresses:
                steps.start_soon(check_endpoints, ctx, state, address)
            steps.start_soon(fetch_chain, ctx, state, addresses)


def _body_prefix_chars(measurement: Measurement) -> int:
    """Return how many characters the measurement's body prefixes hold (text or base64)."""
    total = 0
    for transaction in measurement.http:
        response = transaction.response
        if response is not None:
            total += len(response.body_prefix or "") + len(response.body_prefix_base64 or "")
    return total


def _endpoint(address: str, port: int) -> str:
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"
