"""A temporary nftables rule that stops the kernel resetting the localisation's raw flows.

Drops plain RSTs (what the kernel answers a raw handshake's SYN-ACK with) from reserved ports, in
a table of its own deleted on exit; libnftables runs in-process, so setcap'd capabilities suffice.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import socket
from collections.abc import Sequence
from types import TracebackType

logger = logging.getLogger(__name__)

TABLE_PREFIX = "crenel_probe_"


class GuardError(Exception):
    """The temporary nftables rule could not be added."""


def table_name(serial: int) -> str:
    """Return the name of this process's guard table number `serial`."""
    return f"{TABLE_PREFIX}{os.getpid()}_{serial}"


def render_guard(table: str, ports: Sequence[int]) -> str:
    """Return the nft script that adds the guard table for `ports`.

    Raises:
        ValueError: no ports, or a port out of range.
    """
    if not ports or not all(0 < p < 65536 for p in ports):
        raise ValueError("the guard needs local ports 1-65535")
    listed = ", ".join(str(p) for p in sorted(set(ports)))
    return (
        f"table inet {table} {{\n"
        "  chain output {\n"
        "    type filter hook output priority filter; policy accept;\n"
        f"    tcp sport {{ {listed} }} tcp flags & (rst | ack) == rst drop\n"
        "  }\n"
        "}\n"
    )


class _Nft:
    """A libnftables context (loaded with ctypes), freed on close."""

    def __init__(self) -> None:
        name = ctypes.util.find_library("nftables")
        if name is None:
            raise GuardError("libnftables is missing (apt-get install libnftables1)")
        lib = ctypes.CDLL(name, use_errno=True)
        lib.nft_ctx_new.restype = ctypes.c_void_p
        lib.nft_ctx_new.argtypes = [ctypes.c_uint32]
        lib.nft_ctx_free.argtypes = [ctypes.c_void_p]
        lib.nft_ctx_buffer_error.argtypes = [ctypes.c_void_p]
        lib.nft_ctx_get_error_buffer.restype = ctypes.c_char_p
        lib.nft_ctx_get_error_buffer.argtypes = [ctypes.c_void_p]
        lib.nft_run_cmd_from_buffer.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
        lib.nft_run_cmd_from_buffer.restype = ctypes.c_int
        self.lib = lib
        self.ctx = lib.nft_ctx_new(0)
        if not self.ctx:
            raise GuardError("libnftables could not make a context")
        lib.nft_ctx_buffer_error(self.ctx)

    def run(self, script: str) -> None:
        """Run an nft script.

        Raises:
            GuardError: nft refused it (the message says why, e.g. Operation not permitted).
        """
        if self.lib.nft_run_cmd_from_buffer(self.ctx, script.encode()) != 0:
            error = (self.lib.nft_ctx_get_error_buffer(self.ctx) or b"").decode(errors="replace")
            raise GuardError(" ".join(error.split()) or "nft failed")

    def close(self) -> None:
        if self.ctx:
            self.lib.nft_ctx_free(self.ctx)
            self.ctx = None


class ResetGuard:
    """Reserved local TCP ports plus the rule that drops the kernel's RSTs from them (CenTrace's
    README asks users to add such an iptables rule by hand; the localisation's own RSTs carry ACK
    and pass).

    A context manager: entering binds `count` TCP sockets to free ports (so nothing else takes
    them) and adds the rule; leaving deletes the rule and closes the sockets, even on error.
    """

    _serial = 0

    def __init__(self, count: int) -> None:
        if count < 1:
            raise ValueError("reserve at least one port")
        self.count = count
        self.ports: list[int] = []
        self._sockets: list[socket.socket] = []
        self._nft: _Nft | None = None
        ResetGuard._serial += 1
        self.table = table_name(ResetGuard._serial)

    def __enter__(self) -> ResetGuard:
        try:
            for _ in range(self.count):
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                self._sockets.append(sock)
                sock.bind(("0.0.0.0", 0))
                self.ports.append(sock.getsockname()[1])
            self._nft = _Nft()
            self._nft.run(render_guard(self.table, self.ports))
        except (OSError, GuardError) as exc:
            self._release(remove_rule=False)
            raise GuardError(f"cannot guard the localisation's flows: {exc}") from exc
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._release(remove_rule=True)

    def _release(self, *, remove_rule: bool) -> None:
        if self._nft is not None:
            if remove_rule:
                try:
                    self._nft.run(f"delete table inet {self.table}\n")
                except GuardError as exc:
                    logger.warning("could not delete nft table %s: %s", self.table, exc)
            self._nft.close()
            self._nft = None
        for sock in self._sockets:
            sock.close()
        self._sockets.clear()
