"""The forwarder reaches a service inside a namespace from the host's loopback."""

from __future__ import annotations

import functools
import secrets
import subprocess
import sys

import pytest
import trio

from lab import netns
from lab.forward import serve_forward

ECHO = (
    "import socket,sys\n"
    "s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
    "s.bind(('127.0.0.1', 0)); s.listen(4); print(s.getsockname()[1], flush=True)\n"
    "s.settimeout(30)\n"
    "c,_=s.accept(); c.settimeout(30); c.sendall(b'hello from ' + c.recv(100)); c.close()\n"
)


@pytest.mark.netns
async def test_a_connection_on_loopback_reaches_a_server_inside_the_namespace() -> None:
    name = f"crlf{secrets.token_hex(2)}-fwd"
    await netns.add_namespace(name)
    server = subprocess.Popen(  # noqa: ASYNC220 - starting it does not block
        ["ip", "netns", "exec", name, sys.executable, "-c", ECHO], stdout=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None
        port = int(await trio.to_thread.run_sync(server.stdout.readline))
        async with trio.open_nursery() as nursery:
            bound = await nursery.start(
                functools.partial(serve_forward, name, "127.0.0.1", port, listen_port=0)
            )
            stream = await trio.open_tcp_stream("127.0.0.1", bound)
            async with stream:
                await stream.send_all(b"the host")
                with trio.fail_after(10):
                    reply = await stream.receive_some(100)
            assert reply == b"hello from the host"
            nursery.cancel_scope.cancel()
    finally:
        server.kill()
        server.wait(timeout=10)
        if server.stdout:
            server.stdout.close()
        await netns.delete_namespace(name)
