"""The volunteer's workflow around measuring: everything `probe.cli` asks for, nothing it prints.

Modules:
- `preparation`: the measuring session from the settings (reference data, network identity,
  packet evidence), the collector's HTTP client, and the geolookup (`locate`).
- `evidence`: whether packet evidence and censor localisation can run here (`packet_recorder`).
- `campaign`: `crenel-probe run`: plan (geolookup, list or check-in), then measure, store and
  upload in the background.
"""

from probe.volunteer.campaign import (
    CampaignOutcome,
    CampaignPlan,
    CampaignRequest,
    plan_campaign,
    run_campaign,
)
from probe.volunteer.evidence import off_line, packet_recorder
from probe.volunteer.preparation import collector_client, local_network, locate, open_session

__all__ = [
    "CampaignOutcome",
    "CampaignPlan",
    "CampaignRequest",
    "collector_client",
    "local_network",
    "locate",
    "off_line",
    "open_session",
    "packet_recorder",
    "plan_campaign",
    "run_campaign",
]
