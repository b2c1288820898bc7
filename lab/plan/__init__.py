"""The world plan: turn a scenario into concrete namespaces, links, addresses, routes, DNS zones,
censors and servers. Pure: no I/O. The world builder and the server host process both call
`plan_world` with the same scenario and prefix, so they agree on every address without passing
them around.

Modules:
- `addresses`: the address plan (documentation ranges only), fixed service addresses and ports,
  host address assignment, and @host references.
- `model`: the plan's data types (`Link`, `RoutePlan`, `ClientPlan`, `CountryPlan`,
  `WebServerPlan`, `ProxyPlan`, `WorldPlan`).
- `topology`: each country's namespaces, links, bridge ports, addresses and routes.
- `zones`: the public DNS zone and each country's ISP resolver zone.
- `censor_rules`: a country's `[[censor]]` specs as `lab.censor` rules.
- `web_servers`: sites, pages and block pages as web servers; the DoH resolver; ISP proxies.
- `world`: `plan_world`, which assembles all of the above.
"""

from lab.plan.addresses import (
    CLIENT_NETWORK,
    COLLECTOR_ADDRESS,
    COLLECTOR_PORT,
    CONTROL_ADDRESS,
    CONTROL_PORT,
    DNS_BAIT_ADDRESS,
    FIRST_ISP_RESOLVER,
    FIRST_SITE,
    LAB_NETWORKS,
    PUBLIC_RESOLVER_ADDRESS,
    PUBLIC_RESOLVER_NAME,
    SERVICE_NETWORK,
    TRANSIT_NETWORK,
)
from lab.plan.model import (
    ClientPlan,
    CountryPlan,
    Link,
    ProxyPlan,
    RoutePlan,
    WebServerPlan,
    WorldPlan,
)
from lab.plan.web_servers import DEFAULT_PAGE_BYTES
from lab.plan.world import plan_world

__all__ = [
    "CLIENT_NETWORK",
    "COLLECTOR_ADDRESS",
    "COLLECTOR_PORT",
    "CONTROL_ADDRESS",
    "CONTROL_PORT",
    "DEFAULT_PAGE_BYTES",
    "DNS_BAIT_ADDRESS",
    "FIRST_ISP_RESOLVER",
    "FIRST_SITE",
    "LAB_NETWORKS",
    "PUBLIC_RESOLVER_ADDRESS",
    "PUBLIC_RESOLVER_NAME",
    "SERVICE_NETWORK",
    "TRANSIT_NETWORK",
    "ClientPlan",
    "CountryPlan",
    "Link",
    "ProxyPlan",
    "RoutePlan",
    "WebServerPlan",
    "WorldPlan",
    "plan_world",
]
