"""A plain round-robin TCP balancer on loopback for tests: each new connection goes to the next
backend port; a backend that refuses the connection is skipped (as nginx's
`proxy_next_upstream error` does), and bytes are piped both ways until either side closes."""

from __future__ import annotations

import itertools

import trio

LOOPBACK = "127.0.0.1"


class RoundRobin:
    """Hands connections to `ports` in turn; `connections` counts those handed to each port."""

    def __init__(self, ports: list[int]) -> None:
        self.ports = ports
        self.connections = dict.fromkeys(ports, 0)
        self._turn = itertools.count()

    async def serve(self, *, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED) -> None:
        """Listen on a free loopback port, report it, and balance until cancelled."""
        listeners = await trio.open_tcp_listeners(0, host=LOOPBACK)
        port = int(listeners[0].socket.getsockname()[1])
        async with trio.open_nursery() as nursery:
            task_status.started(port)
            await trio.serve_listeners(self._handle, listeners, handler_nursery=nursery)

    async def _upstream(self) -> trio.SocketStream | None:
        for _ in range(len(self.ports)):
            port = self.ports[next(self._turn) % len(self.ports)]
            try:
                with trio.fail_after(5):
                    stream = await trio.open_tcp_stream(LOOPBACK, port)
            except (OSError, trio.TooSlowError):
                continue
            self.connections[port] += 1
            return stream
        return None

    async def _handle(self, client: trio.SocketStream) -> None:
        upstream = await self._upstream()
        async with client:
            if upstream is None:
                return
            async with upstream, trio.open_nursery() as nursery:

                async def pipe(source: trio.SocketStream, sink: trio.SocketStream) -> None:
                    try:
                        while data := await source.receive_some(65536):
                            await sink.send_all(data)
                    except (trio.BrokenResourceError, trio.ClosedResourceError):
                        pass
                    finally:
                        nursery.cancel_scope.cancel()

                nursery.start_soon(pipe, client, upstream)
                nursery.start_soon(pipe, upstream, client)
