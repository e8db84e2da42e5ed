"""Keepalive for many connections with one task (RFC 6455 §5.5.2 pings).

A task and a timer per connection cost memory and a spawn per handshake. The server instead
runs one :class:`KeepaliveMonitor`: every ``interval / 4`` seconds it looks for connections
whose ping is due and starts a short-lived task per ping, which ends when the pong arrives.
A pong later than ``timeout`` fails the connection with 1011. Pings go out between ``interval``
and ``1.25 * interval`` after the previous one.
"""

from __future__ import annotations

import trio

from ._connection import WebSocket, ping_or_fail

__all__ = ["KeepaliveMonitor"]


class KeepaliveMonitor:
    """Pings registered connections every ``interval`` seconds.

    Args:
        interval: seconds between pings of one connection.
        timeout: seconds to wait for the pong; ``None`` waits for ever.
    """

    def __init__(self, interval: float, timeout: float | None) -> None:
        self.interval = interval
        self.timeout = timeout
        self._due: dict[WebSocket, float] = {}

    def add(self, websocket: WebSocket) -> None:
        """Start pinging ``websocket``, first ``interval`` seconds from now."""
        self._due[websocket] = trio.current_time() + self.interval

    def discard(self, websocket: WebSocket) -> None:
        """Stop pinging ``websocket`` (it closed)."""
        self._due.pop(websocket, None)

    async def run(self) -> None:
        """Ping due connections until cancelled."""
        async with trio.open_nursery() as nursery:
            while True:
                await trio.sleep(self.interval / 4)
                now = trio.current_time()
                for websocket, due in list(self._due.items()):
                    if due <= now:
                        self._due[websocket] = now + self.interval
                        nursery.start_soon(self._ping, websocket)

    async def _ping(self, websocket: WebSocket) -> None:
        if not await ping_or_fail(websocket, self.timeout):
            self.discard(websocket)
