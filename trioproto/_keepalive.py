"""Keepalive (RFC 6455 §5.5.2 pings): one mechanism, for one connection or many.

A :class:`KeepaliveMonitor` pings the connections registered with it from one task. It sleeps
until the earliest ping is due, then pings every connection due within the next
``interval / 4`` at once, so a server with many connections wakes about four times per interval
rather than once per connection. A ping goes out between ``0.75 * interval`` and ``interval``
after the previous one; a pong later than ``timeout`` fails the connection with 1011 (an
unanswered ping means the peer is gone or stuck).

A server runs one monitor for all its connections; a client, or a connection served without a
server (``upgrade_stream()``, ``ConnectionHandler`` used alone), runs one with
:func:`keep_alive`.
"""

from __future__ import annotations

import logging

import trio

from ._closed import ConnectionClosed
from ._config import seconds_or_forever
from ._connection import WebSocket

__all__ = ["KeepaliveMonitor", "keep_alive", "ping_or_fail"]

logger = logging.getLogger("trioproto")


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
        self._woken = trio.Event()

    def add(self, websocket: WebSocket) -> None:
        """Start pinging ``websocket``, first ``interval`` seconds from now."""
        self._due[websocket] = trio.current_time() + self.interval
        self._woken.set()

    def discard(self, websocket: WebSocket) -> None:
        """Stop pinging ``websocket`` (it closed)."""
        self._due.pop(websocket, None)

    async def run(self) -> None:
        """Ping due connections until cancelled."""
        async with trio.open_nursery() as nursery:
            while True:
                if not self._due:
                    # A connection added later is due after every earlier one, so only an
                    # empty monitor needs waking.
                    self._woken = trio.Event()
                    await self._woken.wait()
                await trio.sleep_until(min(self._due.values(), default=trio.current_time()))
                now = trio.current_time()
                horizon = now + self.interval / 4
                for websocket, due in list(self._due.items()):
                    if due <= horizon:
                        self._due[websocket] = now + self.interval
                        nursery.start_soon(self._ping, websocket)

    async def _ping(self, websocket: WebSocket) -> None:
        if not await ping_or_fail(websocket, self.timeout):
            self.discard(websocket)


async def keep_alive(websocket: WebSocket, interval: float, timeout: float | None) -> None:
    """Keep one connection alive with a monitor of its own; returns once it has closed, so it
    never holds its nursery open."""
    monitor = KeepaliveMonitor(interval, timeout)
    monitor.add(websocket)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(monitor.run)
        await websocket.wait_closed()
        nursery.cancel_scope.cancel()


async def ping_or_fail(websocket: WebSocket, timeout: float | None) -> bool:
    """Ping once; fail the connection with 1011 if the pong takes longer than ``timeout``.

    Returns whether the connection is still open.
    """
    with trio.move_on_after(seconds_or_forever(timeout)) as scope:
        try:
            await websocket.ping()
        except ConnectionClosed:
            return False
    if scope.cancelled_caught:
        logger.debug("connection %s: keepalive pong not received in time", websocket.id)
        await websocket.fail(1011, "keepalive ping timeout")
        return False
    return True
