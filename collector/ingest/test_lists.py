"""Read a checkout of Citizen Lab's test lists: `lists/global.csv` plus `lists/<cc>.csv`.

`parse_list` is pure (text in, URLs out); `read_checkout` finds the files. Legend files
(`00-LEGEND-*.csv`) and anything not named `global` or a two-letter country are skipped.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import date
from pathlib import Path

from collector.core.errors import ConfigInvalid
from collector.storage import TestListUrl

_COUNTRY_FILE = re.compile(r"^[a-z]{2}\.csv$")
_NEEDED = {"url", "category_code"}


def parse_list(text: str, cc: str, source_name: str) -> list[TestListUrl]:
    """Return the URLs of one list file; `cc` is "" for the global list.

    Raises:
        ConfigInvalid: not a test-list CSV (no url / category_code header) or a row without url.
    """
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    if reader.fieldnames is None or not {f.strip() for f in reader.fieldnames} >= _NEEDED:
        raise ConfigInvalid(f"{source_name}: not a test list (needs url and category_code)")
    out: list[TestListUrl] = []
    for number, row in enumerate(reader, start=2):
        url = (row.get("url") or "").strip()
        if not url:
            raise ConfigInvalid(f"{source_name}:{number}: row has no url")
        added: date | None = None
        text_date = (row.get("date_added") or "").strip()
        if text_date:
            try:
                added = date.fromisoformat(text_date)
            except ValueError:
                added = None
        out.append(
            TestListUrl(
                url=url,
                category_code=(row.get("category_code") or "").strip() or None,
                cc=cc,
                date_added=added,
                source=(row.get("source") or "").strip() or None,
            )
        )
    return out


def lists_directory(path: Path) -> Path:
    """Return the directory holding global.csv: `path` itself or its `lists/`.

    Raises:
        ConfigInvalid: neither holds a global.csv.
    """
    for candidate in (path / "lists", path):
        if (candidate / "global.csv").is_file():
            return candidate
    raise ConfigInvalid(f"{path}: no global.csv here or in lists/ (a test-lists checkout?)")


def read_checkout(path: Path) -> list[TestListUrl]:
    """Return every URL of the global and country lists under `path`.

    Raises:
        ConfigInvalid: no lists there, or a file cannot be read or parsed.
    """
    directory = lists_directory(path)
    out: list[TestListUrl] = []
    for file in sorted(directory.iterdir()):
        name = file.name.lower()
        if name == "global.csv":
            cc = ""
        elif _COUNTRY_FILE.match(name):
            cc = name[:2].upper()
        else:
            continue
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigInvalid(f"cannot read {file}: {exc}") from exc
        out.extend(parse_list(text, cc, file.name))
    return out
