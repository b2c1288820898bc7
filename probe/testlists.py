"""Parse URL lists in the Citizen Lab test-list format (url,category_code,...) or one URL per line.

Pure: takes text, returns entries; bad rows are reported with their line numbers.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from probe.errors import BadInputError


@dataclass(frozen=True)
class ListEntry:
    """One URL to measure, with its test-list category if the list gives one."""

    url: str
    category_code: str | None = None


def parse_url_list(text: str, source: str) -> list[ListEntry]:
    """Return the entries of a Citizen Lab CSV (with a `url` header) or a plain list of URLs.

    Blank lines and lines starting with `#` are skipped in plain lists; duplicates are dropped.

    Raises:
        BadInputError: the list has no URL, or a row has none.
    """
    text = text.lstrip("\ufeff")
    first = next((line for line in text.splitlines() if line.strip()), "")
    entries: list[ListEntry] = []
    if first.split(",")[0].strip().lower() == "url":
        reader = csv.DictReader(io.StringIO(text))
        for line_no, row in enumerate(reader, start=2):
            url = (row.get("url") or "").strip()
            if not url:
                raise BadInputError(f"{source}:{line_no}: row has no url")
            category = (row.get("category_code") or "").strip() or None
            entries.append(ListEntry(url=url, category_code=category))
    else:
        for raw in text.splitlines():
            line = raw.strip()
            if line and not line.startswith("#"):
                entries.append(ListEntry(url=line.split(",")[0].strip()))
    seen: set[str] = set()
    unique: list[ListEntry] = []
    for entry in entries:
        if entry.url not in seen:
            seen.add(entry.url)
            unique.append(entry)
    if not unique:
        raise BadInputError(f"{source}: no URLs in the list")
    return unique
