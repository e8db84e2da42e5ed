"""Two connected :class:`~trioproto.WebSocket` objects over in-memory streams, no sockets."""

from __future__ import annotations

from contextlib import asynccontextmanager
from collections.abc import AsyncIterator

import trio
import trio.testing

from .._config import DEFAULT_LIMITS, DEFAULT_TIMEOUTS, Limits, Timeouts
from .._connection import WebSocket
from .._sansio._codec import Codec, Role

__all__ = ["memory_websocket_pair"]


@asynccontextmanager
async def memory_websocket_pair(
    *,
    limits: Limits = DEFAULT_LIMITS,
    timeouts: Timeouts = DEFAULT_TIMEOUTS,
    client_subprotocol: str | None = None,
) -> AsyncIterator[tuple[WebSocket, WebSocket]]:
    """Yield ``(client, server)``: two open connections joined by
    :func:`trio.testing.memory_stream_pair`, both activated, as if a handshake had happened.

    Both are closed (1000) when the block exits.
    """
    client_stream, server_stream = trio.testing.memory_stream_pair()
    async with trio.open_nursery() as nursery:
        client = WebSocket(
            client_stream,
            Codec(Role.CLIENT, limits=limits),
            nursery=nursery,
            subprotocol=client_subprotocol,
            limits=limits,
            timeouts=timeouts,
        )
        server = WebSocket(
            server_stream,
            Codec(Role.SERVER, limits=limits),
            nursery=nursery,
            subprotocol=client_subprotocol,
            limits=limits,
            timeouts=timeouts,
        )
        client.activate()
        server.activate()
        # An error from the block is re-raised as itself, not inside an ExceptionGroup.
        body_error: BaseException | None = None
        try:
            yield client, server
        except BaseException as exc:
            body_error = exc
        finally:
            with trio.move_on_after(1, shield=True):
                await client.close()
                await server.close()
            nursery.cancel_scope.cancel()
    if body_error is not None:
        raise body_error
