"""Remove the probe's own addresses, in every spelling, from everything it stores or uploads.

Modules:
- `spellings`: one regular expression per address matching all its spellings. Pure.
- `scrub`: `scrub_text` and `scrub_measurement` (bodies, headers, URLs, names). Pure.
- `interfaces`: `own_addresses`, the host's interface addresses (psutil).
The collector may tell the probe its public address (geolookup), which is then scrubbed as well;
the collector also scrubs the uploader's address at ingest with the same code.
"""

from probe.privacy.interfaces import own_addresses
from probe.privacy.scrub import SCRUBBED, Scrubber, scrub_measurement, scrub_text, scrubbable

__all__ = ["SCRUBBED", "Scrubber", "own_addresses", "scrub_measurement", "scrub_text", "scrubbable"]
