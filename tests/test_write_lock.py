"""Tests for trioproto._write_lock: the FIFO lock over a connection's stream and the writes made
holding it, over a Unix socket pair (the server's own socket transport)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import trio
import trio.testing

import trioproto
from helpers import transport_pair
from trioproto._sansio._codec import Codec, Role, State
from trioproto._transport import SocketTransport
from trioproto._write_lock import WriteLock

Pair = tuple[SocketTransport, SocketTransport]


@pytest.fixture
async def pair() -> AsyncIterator[Pair]:
    """A peer and the server's end of a socket pair, both closed after the test."""
    peer, stream = transport_pair()
    async with peer, stream:
        yield peer, stream


class Lost:
    """Counts how often a lock tells its ``lost`` that the stream is lost."""

    def __init__(self) -> None:
        self.calls = 0
        self.ended = False

    def announce(self) -> None:
        self.calls += 1
        self.ended = True


async def test_the_lock_passes_to_waiters_in_order_and_is_freed_by_the_last(pair: Pair) -> None:
    _peer, stream = pair
    lock = WriteLock(stream, Codec(Role.SERVER), Lost())
    order: list[int] = []
    done = trio.Event()

    async def writer(number: int) -> None:
        if lock.writing:
            await lock.wait()
        else:
            lock.writing = True
        order.append(number)
        if number == 0:
            await done.wait()  # holds the lock while the others come
        lock.release()

    async with trio.open_nursery() as nursery:
        for number in range(3):
            nursery.start_soon(writer, number)
            await trio.testing.wait_all_tasks_blocked()
        assert order == [0] and lock.writing
        done.set()
    assert order == [0, 1, 2]
    assert not lock.writing


async def test_a_handed_over_lock_stays_taken_for_a_task_that_comes_meanwhile(pair: Pair) -> None:
    """Ownership passes in release(): nobody can barge in between the holder and the waiter."""
    _peer, stream = pair
    lock = WriteLock(stream, Codec(Role.SERVER), Lost())
    lock.writing = True
    resumed = trio.Event()

    async def waiter() -> None:
        await lock.wait()
        resumed.set()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(waiter)
        await trio.testing.wait_all_tasks_blocked()
        lock.release()
        assert lock.writing  # the waiter holds it, although it has not run yet
        await resumed.wait()
        lock.release()
    assert not lock.writing


async def test_send_writes_the_bytes(pair: Pair) -> None:
    peer, stream = pair
    lock = WriteLock(stream, Codec(Role.SERVER), Lost())
    lock.writing = True
    await lock.send(b"hello")
    await lock.send(memoryview(b"hello world")[6:], nowait_first=True)
    assert await peer.receive_some() == b"helloworld"


async def test_a_send_on_a_lost_stream_ends_the_connection(pair: Pair) -> None:
    peer, stream = pair
    codec, lost = Codec(Role.SERVER), Lost()
    lock = WriteLock(stream, codec, lost)
    await peer.aclose()
    with pytest.raises(trioproto.ConnectionClosed) as raised:
        await lock.send(b"x" * 1_000_000)
    assert raised.value.code == 1006  # the transport was lost (RFC 6455 §7.1.5)
    assert lost.calls == 1
    assert codec.state is State.CLOSED


async def test_a_send_cancelled_midway_ends_the_connection(
    pair: Pair, autojump_clock: trio.testing.MockClock
) -> None:
    """A frame may be half written: the stream is unusable, the connection over."""
    _peer, stream = pair  # nobody reads: the socket fills up
    codec, lost = Codec(Role.SERVER), Lost()
    lock = WriteLock(stream, codec, lost)
    with trio.move_on_after(1) as scope:
        await lock.send(b"x" * 10_000_000)
    assert scope.cancelled_caught
    assert lost.calls == 1
    assert codec.state is State.CLOSED


async def test_send_nowait_only_on_the_plain_socket_transport(pair: Pair) -> None:
    _peer, stream = pair
    assert WriteLock(stream, Codec(Role.SERVER), Lost()).send_nowait is not None
    memory, _other = trio.testing.memory_stream_pair()
    assert WriteLock(memory, Codec(Role.SERVER), Lost()).send_nowait is None


async def test_stream_lost_ends_the_connection(pair: Pair) -> None:
    _peer, stream = pair
    codec, lost = Codec(Role.SERVER), Lost()
    WriteLock(stream, codec, lost).stream_lost()
    assert lost.calls == 1
    assert codec.state is State.CLOSED
