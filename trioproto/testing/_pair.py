"""Two connected :class:`~trioproto.WebSocket` objects over in-memory streams, no sockets."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import trio
import trio.testing

from .._config import DEFAULT_LIMITS, DEFAULT_TIMEOUTS, Limits, Timeouts
from .._connection import WebSocket
from .._nursery import open_task_nursery
from .._request import WebSocketRequest
from .._sansio._codec import Codec, Role
from .._sansio._handshake import client_handshake, generate_key

__all__ = ["memory_websocket_pair", "websocket_pair"]


@asynccontextmanager
async def memory_websocket_pair(
    *,
    limits: Limits = DEFAULT_LIMITS,
    timeouts: Timeouts = DEFAULT_TIMEOUTS,
) -> AsyncIterator[tuple[WebSocket, WebSocket]]:
    """Yield ``(client, server)``: two open connections joined by
    :func:`trio.testing.memory_stream_pair`, both activated, as if a handshake had happened.

    Both are closed (1000) when the block exits.
    """
    client_stream, server_stream = trio.testing.memory_stream_pair()
    async with websocket_pair(client_stream, server_stream, limits=limits, timeouts=timeouts) as (
        client,
        server,
    ):
        yield client, server


@asynccontextmanager
async def websocket_pair(
    client_stream: trio.abc.Stream,
    server_stream: trio.abc.Stream,
    *,
    limits: Limits = DEFAULT_LIMITS,
    timeouts: Timeouts = DEFAULT_TIMEOUTS,
) -> AsyncIterator[tuple[WebSocket, WebSocket]]:
    """Like :func:`memory_websocket_pair`, over two given ends of a connected stream."""
    # No handshake happened: both ends see the plainest request a client could have sent.
    request = WebSocketRequest.from_handshake(
        client_handshake(host="localhost", resource="/", key=generate_key(bytes(16)))
    )
    async with open_task_nursery() as nursery:
        client = WebSocket(
            client_stream,
            Codec(
                Role.CLIENT,
                max_message_size=limits.max_message_size,
                max_frame_size=limits.effective_max_frame_size,
            ),
            nursery=nursery,
            request=request,
            limits=limits,
            timeouts=timeouts,
        )
        server = WebSocket(
            server_stream,
            Codec(
                Role.SERVER,
                max_message_size=limits.max_message_size,
                max_frame_size=limits.effective_max_frame_size,
            ),
            nursery=nursery,
            request=request,
            limits=limits,
            timeouts=timeouts,
        )
        client.activate()
        server.activate()
        try:
            yield client, server
        finally:
            with trio.move_on_after(1, shield=True):
                await client.close()
                await server.close()
