"""Reach a service inside a world from the host: a TCP forwarder from 127.0.0.1 into a namespace.

Each accepted connection gets a socket created inside the target namespace (setns(2) on the
worker thread, then back), so no route, address or rule is added to the host's own namespace.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import logging
import os
import socket

import trio

from lab.errors import LabError

log = logging.getLogger(__name__)

CLONE_NEWNET = 0x40000000
MAX_CONNECTIONS = 64
IDLE_TIMEOUT_S = 120.0
CHUNK_BYTES = 65536

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def _setns(fd: int) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def socket_in_namespace(namespace: str) -> socket.socket:
    """Return a new TCP socket that lives in network namespace `namespace`.

    Must run in a worker thread: it switches that thread's namespace and switches it back.

    Raises:
        OSError: the namespace does not exist or setns is not permitted.
    """
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        target = os.open(f"/run/netns/{namespace}", os.O_RDONLY)
        try:
            _setns(target)
            try:
                return socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            finally:
                _setns(own)
        finally:
            os.close(target)
    finally:
        os.close(own)


async def _pipe(source: trio.SocketStream, sink: trio.SocketStream) -> None:
    while True:
        with trio.move_on_after(IDLE_TIMEOUT_S) as idle:
            data = await source.receive_some(CHUNK_BYTES)
        if idle.cancelled_caught or not data:
            break
        await sink.send_all(data)
    with trio.move_on_after(1, shield=True):
        await sink.send_eof()


async def _serve_one(
    client: trio.SocketStream, namespace: str, host: str, port: int, limiter: trio.CapacityLimiter
) -> None:
    async with client, limiter:
        try:
            raw = await trio.to_thread.run_sync(socket_in_namespace, namespace)
            upstream_socket = trio.socket.from_stdlib_socket(raw)
            await upstream_socket.connect((host, port))
        except OSError as exc:
            log.info("forward to %s:%d in %s failed: %s", host, port, namespace, exc)
            return
        async with trio.SocketStream(upstream_socket) as upstream:
            try:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(_pipe, client, upstream)
                    nursery.start_soon(_pipe, upstream, client)
            except* (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
                pass


async def serve_forward(
    namespace: str,
    host: str,
    port: int,
    *,
    listen_port: int,
    listen_host: str = "127.0.0.1",
    task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Forward 127.0.0.1:`listen_port` to `host`:`port` inside `namespace` until cancelled.

    Raises:
        LabError: the listening port is taken.
    """
    try:
        listeners = await trio.open_tcp_listeners(listen_port, host=listen_host)
    except OSError as exc:
        raise LabError(f"cannot listen on {listen_host}:{listen_port}: {exc.strerror}") from exc
    limiter = trio.CapacityLimiter(MAX_CONNECTIONS)
    bound = listeners[0].socket.getsockname()[1]
    handler = functools.partial(
        _serve_one, namespace=namespace, host=host, port=port, limiter=limiter
    )
    async with trio.open_nursery() as nursery:
        task_status.started(bound)
        await trio.serve_listeners(handler, listeners, handler_nursery=nursery)
