"""The probe's own errors: a base class and one subclass per way a run can stop, with exit codes.

`probe.cli.main` turns them into one stderr line and the exit code; network failures are never
errors (they are data in the measurement).
"""

from __future__ import annotations


class ProbeError(Exception):
    """The probe could not do what was asked."""

    exit_code = 70

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or (self.__doc__ or "").strip().splitlines()[0])

    @property
    def message(self) -> str:
        """Return the one-line message shown to the user."""
        return str(self)


class BadInputError(ProbeError):
    """The input is not something the probe can measure."""

    exit_code = 2


class ConfigError(BadInputError):
    """A setting is invalid."""


class ConsentRequired(BadInputError):
    """Informed consent is needed before the first run: run interactively, or pass --yes."""


class CollectorUnreachable(ProbeError):
    """The collector could not be reached."""

    exit_code = 3


class FingerprintSetRefused(ProbeError):
    """The collector's fingerprint set was refused; the probe keeps the set it has."""


class PrivilegeMissing(ProbeError):
    """A required privilege is missing."""

    exit_code = 4


class StoreError(ProbeError):
    """The local measurement store could not be used."""

    exit_code = 74


def first_leaf(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """Return the innermost first exception of a (nested) exception group, preferring ours."""
    leaves: list[BaseException] = []
    pending: list[BaseException] = [group]
    while pending:
        item = pending.pop(0)
        if isinstance(item, BaseExceptionGroup):
            pending[:0] = list(item.exceptions)
        else:
            leaves.append(item)
    return leaves[0] if leaves else group
