"""Tests for trioproto._statistics: what ``ws.statistics()`` returns, over a socket pair."""

from __future__ import annotations

import dataclasses

import pytest
import trio

import trioproto
from helpers import transport_pair
from trioproto.testing._pair import websocket_pair


async def test_statistics_are_a_frozen_value_of_the_connection() -> None:
    async with websocket_pair(*transport_pair()) as (client, server):
        await client.send("hello")
        with trio.fail_after(2):
            assert await server.receive() == "hello"
        stats = server.statistics()
        assert isinstance(stats, trioproto.ConnectionStatistics)
        assert (stats.messages_received, stats.bytes_received, stats.state) == (1, 5, "open")
        with pytest.raises(dataclasses.FrozenInstanceError):
            stats.messages_received = 2  # type: ignore[misc]
        with trio.fail_after(2):
            await client.close()
    assert server.statistics().state == "closed"
    assert stats.state == "open"  # a snapshot: it does not follow the connection
