"""The base class every record of the measurement format derives from, and shared field types.

Pure: no I/O.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from probe.model.failures import FAILURE_PATTERN


class Record(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """An immutable, keyword-only record that rejects unknown fields when decoded."""


FailureText = Annotated[
    str,
    msgspec.Meta(
        pattern=FAILURE_PATTERN,
        description="A failure string from the taxonomy in docs/failures.md; null on success.",
    ),
]
Ms = Annotated[float, msgspec.Meta(ge=0, description="Milliseconds since the measurement started.")]
Port = Annotated[int, msgspec.Meta(ge=0, le=65535)]
Sha256Hex = Annotated[str, msgspec.Meta(pattern="^[0-9a-f]{64}$")]
