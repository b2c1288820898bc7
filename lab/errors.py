"""The lab's own errors: one base class; the CLI turns them into one line and an exit code."""

from __future__ import annotations


class LabError(Exception):
    """The lab could not do what was asked."""

    exit_code = 1

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or (self.__doc__ or "").strip().splitlines()[0])


class ScenarioError(LabError):
    """A scenario file is invalid."""

    exit_code = 2


class PrivilegeMissing(LabError):
    """The lab needs root (or CAP_NET_ADMIN and CAP_SYS_ADMIN) to create network namespaces."""

    exit_code = 4


class SoftwareMissing(LabError):
    """The lab needs software this host lacks (a command, libpcap or a kernel feature)."""

    exit_code = 69  # EX_UNAVAILABLE (sysexits.h): a support program or file does not exist


class CommandFailed(LabError):
    """A system command (ip, nft, iptables, tc) failed."""

    def __init__(self, command: list[str], returncode: int, stderr: str) -> None:
        detail = stderr.strip().splitlines()[-1] if stderr.strip() else "no error output"
        super().__init__(f"`{' '.join(command)}` failed ({returncode}): {detail}")
        self.command = command
        self.returncode = returncode
        self.stderr = stderr


def first_leaf(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """Return the first innermost exception of a (nested) exception group."""
    pending: list[BaseException] = [group]
    while pending:
        item = pending.pop(0)
        if isinstance(item, BaseExceptionGroup):
            pending[:0] = list(item.exceptions)
        else:
            return item
    return group
