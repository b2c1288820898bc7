"""Asking the control (test helper) to measure a URL from outside the probe's network.

Modules: `exchange` (one request: the `ControlExchange` record, failures recorded, never raised),
`connections` (`ControlClient`: kept-alive HTTP/1.1 connections to the control, driven by h11).
"""

from probe.control.connections import ControlClient, ControlResponse
from probe.control.exchange import MAX_REPLY_BYTES, ask_control, control_timed_out

__all__ = [
    "MAX_REPLY_BYTES",
    "ControlClient",
    "ControlResponse",
    "ask_control",
    "control_timed_out",
]
