"""Shared by tests/test_reader.py and tests/test_pull.py: a server WebSocket over a Unix socket
pair (the server's own socket transport) with a raw peer, and who reads."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import trio
import trio.testing

import trioproto
from helpers import transport_pair
from trioproto._connection import WebSocket
from trioproto._nursery import open_task_nursery
from trioproto._request import WebSocketRequest
from trioproto._sansio._codec import Codec, Role
from trioproto._sansio._events import Message
from trioproto._sansio._handshake import client_handshake, generate_key
from trioproto._transport import SocketTransport

NO_KEEPALIVE = trioproto.Timeouts(close=2, ping_interval=None)
# A masked, empty, final frame with the reserved opcode 3: a violation (RFC 6455 §5.2).
RESERVED_OPCODE_FRAME = bytes([0x83, 0x80, 0, 0, 0, 0])


def reader_tasks() -> int:
    """How many connection reader tasks run now, in the whole task tree."""

    def count(task: trio.lowlevel.Task) -> int:
        own = int(task.name.endswith("ConnectionReader.run"))
        return own + sum(
            count(child) for nursery in task.child_nurseries for child in nursery.child_tasks
        )

    return count(trio.lowlevel.current_root_task())  # type: ignore[arg-type]


def client_frames(*messages: str) -> bytes:
    """The masked frames a client sends for ``messages`` (RFC 6455 §5.3)."""
    codec = Codec(Role.CLIENT)
    for message in messages:
        codec.send_message(message)
    return codec.data_to_send()


@asynccontextmanager
async def raw_peer_and_server(
    *, activate: bool = True, limits: trioproto.Limits = trioproto.DEFAULT_LIMITS
) -> AsyncIterator[tuple[SocketTransport, WebSocket]]:
    """A server WebSocket on one end of a socket pair, and the bare other end."""
    peer, server_end = transport_pair()
    async with open_task_nursery() as nursery:
        server = WebSocket(
            server_end,
            Codec(Role.SERVER),
            nursery=nursery,
            request=WebSocketRequest.from_handshake(
                client_handshake(host="localhost", resource="/", key=generate_key(bytes(16)))
            ),
            limits=limits,
            timeouts=NO_KEEPALIVE,
        )
        if activate:
            server.activate()
        try:
            yield peer, server
        finally:
            await server.abort()
            await peer.aclose()


async def reader_tasks_once_settled() -> int:
    """:func:`reader_tasks` once every task waits (hand-overs done, bytes in flight read)."""
    await trio.testing.wait_all_tasks_blocked()
    return reader_tasks()


async def engage_pull(client: WebSocket) -> None:
    """Make sure the server's waiting receiver reads: a reader task waiting for the socket
    when the receiver arrived hands over after its next read that leaves the queue empty."""
    await trio.testing.wait_all_tasks_blocked()
    with trio.fail_after(2):
        await client.ping()
    # The client's reader task is the one left: nobody receives there.
    assert await reader_tasks_once_settled() == 1


async def echo_frames(peer: SocketTransport, codec: Codec, message: str) -> str | bytes:
    """Send ``message`` from the raw peer and return the server's answer."""
    codec.send_message(message)
    await peer.send_all(codec.data_to_send())
    with trio.fail_after(2):
        while True:
            for event in codec.events():
                assert isinstance(event, Message)
                return event.data
            data = await peer.receive_some()
            assert data, "the server closed the connection"
            codec.receive_data(data)
