"""Tests for trioproto._pull: pull-mode reading (a receiver waiting on the empty queue reads in
its own task, and gives the reading back), over a Unix socket pair (the server's own socket
transport), with a raw peer where the bytes on the wire matter."""

from __future__ import annotations

import pytest
import trio
import trio.testing

import trioproto
from helpers import plain_request, transport_pair
from reading_helpers import (
    NO_KEEPALIVE,
    RESERVED_OPCODE_FRAME,
    client_frames,
    echo_frames,
    engage_pull,
    raw_peer_and_server,
    reader_tasks,
    reader_tasks_once_settled,
)
from trioproto._connection import WebSocket
from trioproto._nursery import open_task_nursery
from trioproto._sansio._codec import Codec, Role
from trioproto._transport import SocketTransport
from trioproto.testing._pair import websocket_pair

# ------------------------------------------------------------ who reads


class _ReaderTaskSpawns(trio.abc.Instrument):
    """Counts the reader tasks started while it is installed."""

    def __init__(self) -> None:
        self.count = 0

    def task_spawned(self, task: trio.lowlevel.Task) -> None:
        self.count += task.name.endswith("ConnectionReader.run")


async def test_a_waiting_receiver_reads_in_its_own_task() -> None:
    """While a receiver waits on the empty queue, the reader task is gone: one task per
    connection wakes per message, and an idle connection holds one task. Activation lends the
    reading when nothing is buffered: no reader task is ever started for this receiver."""
    spawns = _ReaderTaskSpawns()
    async with (
        raw_peer_and_server(activate=False) as (peer, server),
        trio.open_nursery() as nursery,
    ):
        trio.lowlevel.add_instrument(spawns)

        async def echo() -> None:
            async for message in server.inbound:
                await server.send(message)

        nursery.start_soon(echo)
        await trio.testing.wait_all_tasks_blocked()
        server.activate()  # as the server does: the handler already waits
        assert await reader_tasks_once_settled() == 0
        codec = Codec(Role.CLIENT)
        for index in range(20):
            assert await echo_frames(peer, codec, f"message {index}") == f"message {index}"
            assert reader_tasks() == 0
        assert server.statistics().messages_received == 20
        assert spawns.count == 0
        trio.lowlevel.remove_instrument(spawns)  # the receiver leaves: the reader task may run
        nursery.cancel_scope.cancel()


async def test_a_receiver_that_comes_while_the_reader_task_waits_takes_over() -> None:
    """The reader task, waiting for the socket when a receiver arrives, hands the reading
    over once a read leaves the queue empty (here a pong, RFC 6455 §5.5.3)."""
    async with raw_peer_and_server() as (peer, server):
        await trio.testing.wait_all_tasks_blocked()  # nobody receives: the reader task waits
        assert reader_tasks() == 1
        async with trio.open_nursery() as nursery:

            async def echo() -> None:
                async for message in server.inbound:
                    await server.send(message)

            nursery.start_soon(echo)
            await trio.testing.wait_all_tasks_blocked()
            assert reader_tasks() == 1
            codec = Codec(Role.CLIENT)
            codec.send_pong(b"unsolicited")
            await peer.send_all(codec.data_to_send())
            assert await reader_tasks_once_settled() == 0
            assert await echo_frames(peer, codec, "pulled") == "pulled"
            assert reader_tasks() == 0
            nursery.cancel_scope.cancel()


async def test_the_reader_task_returns_when_the_receiver_goes_elsewhere() -> None:
    """A handler busy elsewhere still answers pings and sees the peer's close: the reader
    task takes the reading back once the receiver has left ``receive()``."""
    async with websocket_pair(*transport_pair(), timeouts=NO_KEEPALIVE) as (client, server):
        await client.send("one")
        with trio.fail_after(2):
            assert await server.receive() == "one"
        # The server's handler now does something else than receiving.
        assert await reader_tasks_once_settled() == 2
        with trio.fail_after(2):
            await client.ping(b"still there?")
        await client.send("queued meanwhile")
        await trio.testing.wait_all_tasks_blocked()
        assert server.statistics().queued_messages == 1
        assert await server.receive() == "queued meanwhile"


async def test_a_cancelled_receiver_gives_the_reading_back() -> None:
    async with websocket_pair(*transport_pair(), timeouts=NO_KEEPALIVE) as (client, server):
        with trio.move_on_after(0.05):
            await server.receive()
        assert await reader_tasks_once_settled() == 2
        with trio.fail_after(2):
            await client.ping()


async def test_a_ping_during_pull_is_answered_and_reading_goes_on() -> None:
    async with websocket_pair(*transport_pair(), timeouts=NO_KEEPALIVE) as (client, server):
        async with trio.open_nursery() as nursery:
            got: list[str | bytes] = []

            async def receive_all() -> None:
                async for message in server.inbound:
                    got.append(message)

            nursery.start_soon(receive_all)
            await engage_pull(client)
            with trio.fail_after(2):
                await client.ping(b"while pulling")
            await client.send("after the ping")
            await trio.testing.wait_all_tasks_blocked()
            assert await reader_tasks_once_settled() == 1  # the receiver took the reading back
            nursery.cancel_scope.cancel()
        assert got == ["after the ping"]


async def test_concurrent_receivers_over_a_socket_each_get_distinct_messages() -> None:
    async with websocket_pair(*transport_pair(), timeouts=NO_KEEPALIVE) as (client, server):
        got: list[str | bytes] = []

        async def take() -> None:
            got.append(await server.receive())

        with trio.fail_after(2):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(take)
                nursery.start_soon(take)
                await trio.testing.wait_all_tasks_blocked()
                await client.send("one")
                await trio.testing.wait_all_tasks_blocked()
                await client.send("two")
        assert sorted(got) == ["one", "two"]  # type: ignore[type-var,unused-ignore]


# --------------------------------------------------------- the guarantees


async def test_a_cancelled_pull_keeps_a_partly_received_frame() -> None:
    frame = client_frames("split across two writes")
    async with raw_peer_and_server() as (peer, server):
        await peer.send_all(frame[:7])
        with trio.move_on_after(0.05) as scope:
            await server.receive()
        assert scope.cancelled_caught
        await peer.send_all(frame[7:])
        with trio.fail_after(2):
            assert await server.receive() == "split across two writes"


async def test_a_burst_is_returned_in_order_and_the_queue_stays_bounded() -> None:
    """One read may carry many messages: the receiver keeps the first, queues what fits,
    and the reader task queues the rest with backpressure."""
    limits = trioproto.Limits(max_queued_messages=4)
    messages = [f"message {index}" for index in range(30)]
    async with raw_peer_and_server(activate=False, limits=limits) as (peer, server):
        async with trio.open_nursery() as nursery:
            first: list[str | bytes] = []

            async def receive_one() -> None:
                first.append(await server.receive())

            nursery.start_soon(receive_one)
            await trio.testing.wait_all_tasks_blocked()
            server.activate()
            assert await reader_tasks_once_settled() == 0  # the receiver pulls
            await peer.send_all(client_frames(*messages))
        await trio.testing.wait_all_tasks_blocked()
        stats = server.statistics()
        assert first == ["message 0"]
        assert stats.queued_messages == 4
        assert stats.messages_received == 5  # as many as a reader task alone reads
        with trio.fail_after(2):
            rest = [await server.receive() for _ in messages[1:]]
        assert first + rest == messages


async def test_messages_before_a_violation_are_delivered_then_the_connection_fails() -> None:
    """RFC 6455 §7.1.7: the receiver that parsed the violation gets the messages before it,
    then the connection fails with 1002 and the peer gets that close frame."""
    async with raw_peer_and_server(activate=False) as (peer, server):
        async with trio.open_nursery() as nursery:
            got: list[str | bytes] = []
            ended: list[int] = []

            async def receive_all() -> None:
                try:
                    while True:
                        got.append(await server.receive())
                except trioproto.ConnectionClosed as exc:
                    ended.append(exc.code)

            nursery.start_soon(receive_all)
            await trio.testing.wait_all_tasks_blocked()
            server.activate()
            assert await reader_tasks_once_settled() == 0
            await peer.send_all(client_frames("a", "b") + RESERVED_OPCODE_FRAME)
            peer_codec = Codec(Role.CLIENT)
            with trio.fail_after(2):
                while peer_codec.close_received is None:
                    data = await peer.receive_some()
                    assert data, "the server closed TCP before its close frame arrived"
                    peer_codec.receive_data(data)
        assert got == ["a", "b"]
        assert ended == [1002]
        assert peer_codec.close_received is not None
        assert peer_codec.close_received[0] == 1002


async def test_the_peer_closing_while_a_receiver_pulls_ends_the_channel() -> None:
    async with websocket_pair(*transport_pair(), timeouts=NO_KEEPALIVE) as (client, server):
        async with trio.open_nursery() as nursery:
            seen: list[str | bytes] = []

            async def receive_until_end() -> None:
                async for message in server.inbound:  # ends at trio.EndOfChannel
                    seen.append(message)
                seen.append("end")

            nursery.start_soon(receive_until_end)
            await client.send("first")
            await engage_pull(client)
            with trio.fail_after(2):
                await client.close()
        assert seen == ["first", "end"]
        assert client.closed is not None and client.closed.code == 1000
        assert server.closed is not None and server.closed.code == 1000


async def test_the_transport_ending_while_a_receiver_pulls_is_abnormal() -> None:
    async with raw_peer_and_server(activate=False) as (peer, server):
        async with trio.open_nursery() as nursery:
            codes: list[int] = []

            async def receive_until_end() -> None:
                with pytest.raises(trioproto.ConnectionClosed) as info:
                    await server.receive()
                codes.append(info.value.code)

            nursery.start_soon(receive_until_end)
            await trio.testing.wait_all_tasks_blocked()
            server.activate()
            assert await reader_tasks_once_settled() == 0
            await peer.send_all(client_frames("partial")[:5])
            await peer.aclose()
        assert codes == [1006]


# ------------------------------------------------------------ fewer tasks


async def test_activation_with_frames_from_the_handshake_starts_the_reader_task() -> None:
    """Frames that came in the same segment as the request are parsed already: the reader
    task queues them before anyone reads the socket (RFC 6455 §4.1 allows them)."""
    peer, server_end = transport_pair()
    async with open_task_nursery() as nursery:
        server = WebSocket(
            server_end,
            Codec(Role.SERVER, trailing_data=client_frames("early", "also early")),
            nursery=nursery,
            request=plain_request(),
            timeouts=NO_KEEPALIVE,
        )
        server.activate()
        assert await reader_tasks_once_settled() in (0, 1)  # queued, then lent or waiting
        with trio.fail_after(2):
            assert [await server.receive(), await server.receive()] == ["early", "also early"]
        codec = Codec(Role.CLIENT)
        assert await echo_frames_after(peer, server, codec, "later") == "later"
        await server.abort()
        await peer.aclose()


async def echo_frames_after(
    peer: SocketTransport, server: WebSocket, codec: Codec, message: str
) -> str | bytes:
    """Send ``message`` from the raw peer, echo it once on the server, return the answer."""
    async with trio.open_nursery() as nursery:

        async def echo_once() -> None:
            await server.send(await server.receive())

        nursery.start_soon(echo_once)
        return await echo_frames(peer, codec, message)


async def test_the_peers_close_read_by_a_receiver_is_finished_in_its_task() -> None:
    """The peer's close frame, read by a pulling receiver: our close frame goes out, the
    receiver sees the end, the server closes TCP first (RFC 6455 §7.1.1), and no reader task
    is started for any of it."""
    spawns = _ReaderTaskSpawns()
    async with raw_peer_and_server(activate=False) as (peer, server):
        ended: list[BaseException] = []

        async def receive_until_end() -> None:
            try:
                await server.receive()
            except (trio.EndOfChannel, trioproto.ConnectionClosed) as exc:
                ended.append(exc)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(receive_until_end)
            await trio.testing.wait_all_tasks_blocked()
            server.activate()
            await trio.testing.wait_all_tasks_blocked()
            trio.lowlevel.add_instrument(spawns)
            codec = Codec(Role.CLIENT)
            codec.send_close(1000, "bye")
            await peer.send_all(codec.data_to_send())
        trio.lowlevel.remove_instrument(spawns)
        received = b""
        with trio.fail_after(2):
            while data := await peer.receive_some():
                received += data
        codec.receive_data(received)
        codec.receive_eof()
        assert spawns.count == 0
        assert len(ended) == 1 and isinstance(ended[0], trio.EndOfChannel)
        assert codec.close_received == (1000, "")  # our answer echoes the code (§5.5.1)
        assert server.closed is not None and server.closed.code == 1000
