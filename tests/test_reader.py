"""Tests for trioproto._reader: the reader task (started by activation, lending the reading to a
waiting receiver only on the library's own transports), over a Unix socket pair."""

from __future__ import annotations

import trio
import trio.testing

from helpers import transport_pair
from reading_helpers import (
    NO_KEEPALIVE,
    client_frames,
    engage_pull,
    raw_peer_and_server,
    reader_tasks,
    reader_tasks_once_settled,
)
from trioproto.testing._pair import websocket_pair


async def test_nothing_is_read_before_activation_even_with_a_receiver_waiting() -> None:
    async with raw_peer_and_server(activate=False) as (peer, server):
        async with trio.open_nursery() as nursery:
            got: list[str | bytes] = []

            async def receive_one() -> None:
                got.append(await server.receive())

            nursery.start_soon(receive_one)
            await peer.send_all(client_frames("early"))
            await trio.testing.wait_all_tasks_blocked()
            assert server.statistics().messages_received == 0
            server.activate()
        assert got == ["early"]


async def test_the_reader_task_keeps_the_reading_where_a_cancelled_read_may_lose_bytes() -> None:
    """On a stream other than the library's own transports the reader task never lends: a
    receiver waits on the queue while the reader task reads."""
    async with websocket_pair(*trio.testing.memory_stream_pair(), timeouts=NO_KEEPALIVE) as (
        client,
        server,
    ):
        assert server._parts.reader.puller is None
        async with trio.open_nursery() as nursery:

            async def echo() -> None:
                async for message in server.inbound:
                    await server.send(message)

            nursery.start_soon(echo)
            assert await reader_tasks_once_settled() == 2  # the client's and the server's
            for index in range(3):
                await client.send(f"message {index}")
                with trio.fail_after(2):
                    assert await client.receive() == f"message {index}"
                assert reader_tasks() == 2
            nursery.cancel_scope.cancel()
        assert server.statistics().messages_received == 3


async def test_messages_are_counted_whichever_task_reads_them() -> None:
    """A message the reader task reads and one a receiver pulls both count."""
    async with websocket_pair(*transport_pair(), timeouts=NO_KEEPALIVE) as (client, server):
        await client.send("read by the reader task")  # nobody receives yet
        await trio.testing.wait_all_tasks_blocked()
        assert server.statistics().queued_messages == 1
        got = [await server.receive()]
        async with trio.open_nursery() as nursery:

            async def receive_one() -> None:
                got.append(await server.receive())

            nursery.start_soon(receive_one)
            await engage_pull(client)
            await client.send("pulled")
        assert got == ["read by the reader task", "pulled"]
        puller = server._parts.reader.puller
        assert puller is not None and puller.messages_received == 1
        statistics = server.statistics()
        assert (statistics.messages_received, statistics.bytes_received) == (2, 29)
