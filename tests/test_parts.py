"""Tests for trioproto._parts: a connection's parts built and wired, activation, the closing
handshake and failing, over a Unix socket pair with a raw peer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import trio
import trio.testing

import trioproto
from helpers import transport_pair
from reading_helpers import client_frames, reader_tasks
from trioproto._parts import ConnectionParts
from trioproto._sansio._codec import Codec, Role
from trioproto._transport import SocketTransport


@asynccontextmanager
async def parts_and_peer(
    close_timeout: float = 2,
) -> AsyncIterator[tuple[ConnectionParts, SocketTransport]]:
    peer, server_end = transport_pair()
    async with peer, server_end, trio.open_nursery() as nursery:
        parts = ConnectionParts(
            server_end,
            Codec(Role.SERVER),
            nursery=nursery,
            limits=trioproto.DEFAULT_LIMITS,
            close_timeout=close_timeout,
            outbox=None,
        )
        yield parts, peer
        await parts.end.close_transport()


async def close_frame_of(peer: SocketTransport) -> tuple[int, str]:
    """Read until the server's close frame; its code and reason."""
    codec = Codec(Role.CLIENT)
    while codec.close_received is None:
        data = await peer.receive_some()
        assert data, "the server closed TCP before its close frame"
        codec.receive_data(data)
    return codec.close_received


async def test_the_parts_are_told_of_each_other() -> None:
    async with parts_and_peer() as (parts, _peer):
        assert parts.end.inbound is parts.inbound
        assert parts.end.pings is parts.pings
        assert parts.end.writer is parts.writer
        assert parts.inbound.puller is parts.reader.puller is not None


async def test_activation_starts_the_reader_task_once() -> None:
    async with parts_and_peer() as (parts, peer):
        assert not parts.activated
        await peer.send_all(client_frames("early"))
        await trio.testing.wait_all_tasks_blocked()
        assert len(parts.inbound) == 0  # nothing is read before activation
        async with trio.open_nursery() as nursery:
            nursery.start_soon(parts.wait_activated)
            await trio.testing.wait_all_tasks_blocked()
            parts.activate()
            parts.activate()
        await trio.testing.wait_all_tasks_blocked()
        assert parts.activated and reader_tasks() == 1
        assert len(parts.inbound) == 1
        with trio.testing.assert_checkpoints():
            await parts.wait_activated()


async def test_no_reader_task_starts_after_the_end() -> None:
    async with parts_and_peer() as (parts, _peer):
        await parts.end.close_transport()
        parts.activate()
        await trio.testing.wait_all_tasks_blocked()
        assert parts.activated and reader_tasks() == 0


async def test_close_reads_the_peers_close_frame_even_before_activation() -> None:
    async with parts_and_peer() as (parts, peer):

        async def peer_answers() -> None:
            code, reason = await close_frame_of(peer)
            answer = Codec(Role.CLIENT)
            answer.send_close(code, reason)
            await peer.send_all(answer.data_to_send())

        with trio.fail_after(2):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(peer_answers)
                await parts.close(4000, "done")
        closed = parts.end.closed
        assert closed is not None and (closed.code, closed.reason) == (4000, "done")
        assert parts.activated  # the peer's close frame had to be read


async def test_closing_a_connection_already_over_is_a_schedule_point_unless_told_not() -> None:
    async with parts_and_peer() as (parts, _peer):
        await parts.end.close_transport()  # over before activation: nothing left to read
        with trio.testing.assert_checkpoints():
            await parts.close(1000, "")
        with trio.testing.assert_no_checkpoints():
            await parts.close(1000, "", schedule_point=False)
        assert parts.end.closed is not None


async def test_close_takes_at_most_the_close_timeout(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with parts_and_peer(close_timeout=3) as (parts, _peer):  # the peer never answers
        start = trio.current_time()
        await parts.close(1000, "")
        assert trio.current_time() - start == 3
        assert parts.end.closed is not None


async def test_fail_sends_the_close_frame_and_drops_the_transport() -> None:
    async with parts_and_peer() as (parts, peer):
        await parts.fail(1008, "policy")
        with trio.fail_after(2):
            assert await close_frame_of(peer) == (1008, "policy")
        assert parts.end.closed is not None


async def test_statistics_take_what_the_websocket_sent() -> None:
    async with parts_and_peer() as (parts, peer):
        parts.activate()
        await peer.send_all(client_frames("one", "two"))
        await trio.testing.wait_all_tasks_blocked()
        statistics = parts.statistics(messages_sent=5, bytes_sent=50)
        assert (statistics.messages_received, statistics.bytes_received) == (2, 6)
        assert (statistics.messages_sent, statistics.bytes_sent) == (5, 50)
        assert statistics.queued_messages == 2
        assert statistics.state == "open"
