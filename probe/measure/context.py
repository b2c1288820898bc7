"""`StepContext`: what the steps of a measurement need from the session, and nothing more.

The steps (`resolve`, `endpoints`, `control_exchange`, `fetch`) take this small context and a
`MeasurementState`, never the session itself, so they do not import `session`.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass

import httpx

from probe.config import ProbeConfig
from probe.control import ControlClient
from probe.model import AddressPolicy
from probe.net import FetchRules


@dataclass(frozen=True)
class StepContext:
    """Settings, shared clients and policies every measurement's steps use."""

    config: ProbeConfig
    addresses: AddressPolicy
    """Which addresses the probe may dial (`public_networks` declared public)."""
    fetch_rules: FetchRules
    fetch_client: httpx.AsyncClient
    """Sends the measured requests (pinned to an address, never following redirects)."""
    service_client: httpx.AsyncClient
    """Talks to DoH resolvers."""
    control_client: ControlClient
    """Talks to the control (test helper)."""
    tls_context: ssl.SSLContext
