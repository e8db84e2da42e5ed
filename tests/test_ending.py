"""Tests for trioproto._ending: the end of a connection, announced once."""

from __future__ import annotations

import trio
import trio.testing

import trioproto
from trioproto._ending import ConnectionEnd
from trioproto._inbound import InboundQueue
from trioproto._pings import PingTracker
from trioproto._sansio._codec import Codec, Role


async def test_the_end_is_announced_once_and_the_transport_closed_once() -> None:
    stream, peer = trio.testing.memory_stream_pair()
    codec = Codec(Role.SERVER)
    end = ConnectionEnd(stream, codec)
    inbound = end.inbound = InboundQueue(4, end.end_of_inbound)
    pings = end.pings = PingTracker()
    pending, _ = pings.expect(b"ping")
    assert end.closed is None

    await end.close_transport()
    await end.close_transport()  # a second call does nothing
    end.announce()

    assert end.ended
    closed = end.closed
    assert isinstance(closed, trioproto.ConnectionClosed)
    assert closed.code == 1006  # lost without a close frame (RFC 6455 §7.1.5)
    with trio.fail_after(5):
        assert not await pings.wait(pending)  # released, not answered
    try:
        with trio.fail_after(5):
            await inbound.get()
    except trioproto.ConnectionClosed as exc:
        assert exc.code == 1006
    else:  # pragma: no cover
        raise AssertionError("the inbound queue did not end")
    assert await peer.receive_some() == b""  # the transport is closed


async def test_after_the_peers_normal_close_receivers_see_end_of_channel() -> None:
    stream, _peer = trio.testing.memory_stream_pair()
    codec = Codec(Role.SERVER)
    end = ConnectionEnd(stream, codec)
    client = Codec(Role.CLIENT)
    client.send_close(1000, "bye")
    codec.receive_data(client.data_to_send())
    list(codec.events())
    assert isinstance(end.end_of_inbound(), trio.EndOfChannel)
    assert end.error().code == 1000


async def test_wait_returns_once_the_end_is_announced_and_at_once_after() -> None:
    stream, _peer = trio.testing.memory_stream_pair()
    end = ConnectionEnd(stream, Codec(Role.SERVER))
    woken: list[bool] = []

    async def waiter() -> None:
        await end.wait()
        woken.append(end.ended)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(waiter)
        await trio.testing.wait_all_tasks_blocked()
        assert woken == []  # parked until the end
        end.announce()
    assert woken == [True]
    with trio.fail_after(5):
        await end.wait()  # ended already: only a checkpoint
