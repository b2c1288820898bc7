"""crenel-lab, a simulated censored internet.

Modules: `launcher`, the console script's entry (says which extra to install when it is missing);
`server_process`, the lab internet's servers for one world plan (`python -m lab.server_process`).

Subpackages:
- `servers`: the lab's real DNS, DNS-over-HTTPS and HTTP/HTTPS servers (trio), with emulated
  latency, per-name DNS behaviours (delay, drop, forced rcode, injection) and per-host certificates.
"""
