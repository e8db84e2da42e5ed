"""Keepalive (RFC 6455 §5.5.2): one monitor pings many connections, batching those due close
together; a late pong fails the connection with 1011. The clock is virtual."""

from __future__ import annotations

import pytest
import trio
import trio.testing

import trioproto
from trioproto._keepalive import KeepaliveMonitor
from trioproto.testing import memory_websocket_pair


async def _closed_at(websocket: trioproto.WebSocket, times: list[float]) -> None:
    await websocket.wait_closed()
    times.append(trio.current_time())


async def test_monitor_batches_pings_due_within_a_quarter_interval(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with (
        memory_websocket_pair() as (client_a, server_a),
        memory_websocket_pair() as (client_b, server_b),
        memory_websocket_pair() as (client_c, server_c),
    ):
        for client in (client_a, client_b, client_c):
            client._codec.auto_pong = False  # every ping goes unanswered
        monitor = KeepaliveMonitor(20, 5)
        closed: dict[str, list[float]] = {"a": [], "b": [], "c": []}
        async with trio.open_nursery() as nursery:
            nursery.start_soon(monitor.run)
            await trio.sleep(1)  # an empty monitor waits for its first connection
            start = trio.current_time()
            monitor.add(server_a)
            await trio.sleep(4)
            monitor.add(server_b)  # due at 24: within 20 + 20/4, pinged with a
            await trio.sleep(2)
            monitor.add(server_c)  # due at 26: the next batch
            with trio.fail_after(100):
                async with trio.open_nursery() as waiters:
                    for name, websocket in (("a", server_a), ("b", server_b), ("c", server_c)):
                        waiters.start_soon(_closed_at, websocket, closed[name])
            nursery.cancel_scope.cancel()
    assert closed["a"][0] - start == pytest.approx(25)  # ping at 20, 5 s without a pong
    assert closed["b"][0] - start == pytest.approx(25)
    assert closed["c"][0] - start == pytest.approx(31)
    for server in (server_a, server_b, server_c):
        closed_by = server.closed
        assert closed_by is not None
        assert closed_by.sent == (1011, "keepalive ping timeout")


async def test_monitor_keeps_answering_connections_open(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with memory_websocket_pair() as (client, server):
        monitor = KeepaliveMonitor(20, 5)
        monitor.add(server)
        with trio.move_on_after(200):
            await monitor.run()
        assert server.closed is None
        monitor.discard(server)
        await client.send("still open")
        assert await server.receive() == "still open"
