"""Hostname normalisation shared by the DNS zone and the web sites.

Pure: no I/O. Unicode or IDNA, any case, with or without the trailing dot, become one form.
"""

from __future__ import annotations

import idna

WILDCARD_PREFIX = "*."


def normalise_name(name: str) -> str:
    """Return `name` as lowercase IDNA A-labels without a trailing dot.

    A leading "*." (wildcard) is kept. IP literals come back unchanged apart from case.

    Raises:
        ValueError: the name is empty, has an empty label or is not valid IDNA.
    """
    text = name.strip()
    if text.startswith(WILDCARD_PREFIX):
        return WILDCARD_PREFIX + normalise_name(text[len(WILDCARD_PREFIX) :])
    if not text.isascii():
        try:
            # UTS 46 maps case and the ideographic full stop before we split labels.
            text = idna.uts46_remap(text, std3_rules=False, transitional=False)
        except idna.IDNAError as exc:
            raise ValueError(f"not a valid IDNA name: {name!r}") from exc
    if text.endswith("."):
        text = text[:-1]
    if not text:
        raise ValueError("empty DNS name")
    labels: list[str] = []
    for label in text.split("."):
        if not label:
            raise ValueError(f"empty label in DNS name {name!r}")
        if label.isascii():
            labels.append(label.lower())
            continue
        try:
            labels.append(idna.alabel(label).decode("ascii"))
        except idna.IDNAError as exc:
            raise ValueError(f"not a valid IDNA label {label!r} in {name!r}") from exc
    return ".".join(labels)


def wildcard_parents(name: str) -> list[str]:
    """Return the wildcard names that could cover normalised `name`, closest first.

    For "a.b.test" that is ["*.b.test", "*.test"].
    """
    labels = name.split(".")
    return [WILDCARD_PREFIX + ".".join(labels[i:]) for i in range(1, len(labels))]
