"""The test helper (control): measures a URL from outside on a probe's behalf with the probe's
own network steps (`probe.net`); also runs alone (`crenel-collector helper`).

Modules: `helper` (the measurements, bounded), `guard` (refuses private and loopback targets).

Must not: import the rest of the collector beyond `collector.core` (it runs alone).
"""
