"""Ask the control (test helper) to measure a URL from outside the probe's network.

Returns a `ControlExchange` record; a helper that cannot be reached or answers nonsense is a
recorded failure, never an exception.
"""

from __future__ import annotations

import msgspec

from probe.control.connections import ControlClient
from probe.model import ControlExchange, ControlReply, ControlRequest, Failure, unknown_failure
from probe.net import NETWORK_ERRORS, StepClock, classify

MAX_REPLY_BYTES = 4 << 20
_decoder = msgspec.json.Decoder(ControlReply)


def control_timed_out(endpoint: str, *, clock: StepClock, budget_s: float) -> ControlExchange:
    """Return the record of a control request whose budget ran out: build it before starting."""
    t0_ms = clock.ms()
    return ControlExchange(
        endpoint=endpoint,
        t0_ms=t0_ms,
        t_ms=clock.ms_after(t0_ms, budget_s),
        failure=Failure.GENERIC_TIMEOUT.value,
    )


async def ask_control(
    endpoint: str, request: ControlRequest, *, client: ControlClient, clock: StepClock
) -> ControlExchange:
    """Return the helper's reply to `request` posted to `endpoint`, or why there is none."""
    t0_ms = clock.ms()
    failure: str | None = None
    reply: ControlReply | None = None
    try:
        response = await client.post_json(
            endpoint, msgspec.json.encode(request), max_body_bytes=MAX_REPLY_BYTES
        )
        if response.is_too_large:
            failure = unknown_failure("control reply too large")
        elif response.status_code != 200:
            failure = unknown_failure(f"control answered HTTP {response.status_code}")
        else:
            reply = _decoder.decode(response.body)
    except NETWORK_ERRORS as exc:
        failure = classify(exc)
    except msgspec.DecodeError as exc:
        failure = unknown_failure(f"control reply is not valid: {exc}")
    return ControlExchange(
        endpoint=endpoint,
        t0_ms=t0_ms,
        t_ms=clock.ms(),
        reply=reply,
        failure=None if reply is not None else failure,
    )
