"""Where an uploader's address is, from MaxMind-format databases (GeoLite2 / DB-IP Lite).

The address is looked up and forgotten: only the country and AS it maps to are kept, and only to
flag measurements whose claimed network disagrees and to answer `/geolookup` and check-in.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

from collector.core.errors import ConfigInvalid
from collector.ingest.rows import SourceNetwork
from probe.errors import ConfigError
from probe.geo import GeoDatabases


class SourceLocator:
    """Looks up source addresses in the configured databases; without any, knows nothing."""

    def __init__(self, paths: Sequence[Path]) -> None:
        try:
            self._databases = GeoDatabases(paths) if paths else None
        except ConfigError as exc:
            raise ConfigInvalid(str(exc)) from exc

    @property
    def configured(self) -> bool:
        """Return whether a database is configured."""
        return self._databases is not None

    def locate(self, address: str | None) -> SourceNetwork | None:
        """Return the network of `address`, or None when no database is configured."""
        if self._databases is None:
            return None
        if not address:
            return SourceNetwork()
        info = self._databases.lookup(address.split("%", 1)[0])
        return SourceNetwork(cc=info.cc, asn=info.asn, network_name=info.as_org)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the databases."""
        if self._databases is not None:
            self._databases.close()
