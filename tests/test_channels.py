"""Tests for trioproto._channels: the stream view keeps trio's own stream contract, checked
with trio.testing over in-memory streams and over a real socket pair."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import trio
import trio.testing

import trioproto
from helpers import plain_request, transport_pair
from trioproto._sansio._codec import Codec, Role


def _memory_streams() -> tuple[trio.abc.Stream, trio.abc.Stream]:
    return trio.testing.memory_stream_pair()


@pytest.mark.parametrize("transports", [_memory_streams, transport_pair], ids=["memory", "socket"])
async def test_stream_view_passes_trios_two_way_stream_checks(
    nursery: trio.Nursery,
    transports: Callable[[], tuple[trio.abc.Stream, trio.abc.Stream]],
) -> None:
    async def stream_maker() -> tuple[trioproto.WebSocketStream, trioproto.WebSocketStream]:
        client_stream, server_stream = transports()
        client = trioproto.WebSocket(
            client_stream, Codec(Role.CLIENT), nursery=nursery, request=plain_request()
        )
        server = trioproto.WebSocket(
            server_stream, Codec(Role.SERVER), nursery=nursery, request=plain_request()
        )
        client.activate()
        server.activate()
        return client.stream_view(), server.stream_view()

    with trio.fail_after(30):
        await trio.testing.check_two_way_stream(stream_maker, None)


def test_stream_view_is_not_half_closeable() -> None:
    """A WebSocket cannot close one direction alone (RFC 6455 §7), so the view does not claim
    trio.abc.HalfCloseableStream."""
    assert issubclass(trioproto.WebSocketStream, trio.abc.Stream)
    assert not issubclass(trioproto.WebSocketStream, trio.abc.HalfCloseableStream)
