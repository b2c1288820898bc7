"""Measure one URL: DNS, control, TCP, TLS and HTTP steps under per-step budgets -> Measurement.

Modules:
- `session`: `MeasureSession`, what measuring needs across many URLs; runs the steps of one URL.
- `context`: `StepContext`, what the steps need from the session (settings, clients, policies).
- `state`: `MeasurementState` and `Records`, what one measurement's tasks share and observed.
- `resolve`: the DNS step: every configured resolver (and the DNS bait) -> addresses to dial.
- `control_exchange`: asking the control (test helper); checking the addresses it adds.
- `endpoints`: TCP connects and TLS handshakes to each address.
- `fetch`: the HTTP fetch, following redirects hop by hop.
- `assemble`: the analysed `Measurement`, with packet evidence and localisation when on.
- `budget`: `fit_budget`, body prefixes cut so every measurement fits the collector's limit.
The steps live in `probe.net`; this package decides what to run, in which order, with which
budget, and assembles the records.
"""

from probe.measure.session import MeasureSession

__all__ = ["MeasureSession"]
