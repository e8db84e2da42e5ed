"""Tests for trioproto._transport over real socket pairs: the stream contract, the
non-waiting write the connection uses right after a receive, and closing without a scope."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from conftest import transport_pair
from trioproto._transport import close_now


async def test_round_trip_and_end_of_file() -> None:
    left, right = transport_pair()
    await left.send_all(b"hello")
    assert await right.receive_some(100) == b"hello"
    await left.send_eof()
    assert await right.receive_some() == b""
    await left.aclose()
    await right.aclose()


async def test_send_nowait_writes_what_fits_and_never_waits() -> None:
    left, right = transport_pair()
    chunk = b"x" * 65536
    written = 0
    with trio.testing.assert_no_checkpoints():
        while (sent := left.send_nowait(chunk)) == len(chunk):
            written += sent
        written += sent
        # The socket buffer is full now: nothing more is taken, and nothing blocks.
        assert left.send_nowait(chunk) == 0
    received = 0
    while received < written:
        received += len(await right.receive_some())
    assert received == written
    assert left.send_nowait(b"more") == 4
    await left.aclose()
    await right.aclose()


async def test_send_nowait_errors() -> None:
    left, right = transport_pair()
    await right.aclose()
    with pytest.raises(trio.BrokenResourceError):
        left.send_nowait(b"x")  # EPIPE: a Unix socket knows its peer is gone
    await left.aclose()
    with pytest.raises(trio.ClosedResourceError):
        left.send_nowait(b"x")


async def test_send_nowait_refuses_while_another_task_sends() -> None:
    left, right = transport_pair()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(left.send_all, b"x" * (16 * 1024 * 1024))  # blocks: nobody reads
        await trio.testing.wait_all_tasks_blocked()
        with pytest.raises(trio.BusyResourceError):
            left.send_nowait(b"y")
        nursery.cancel_scope.cancel()
    await left.aclose()
    await right.aclose()


async def test_close_now_works_in_a_cancelled_scope() -> None:
    left, right = transport_pair()
    memory, _peer = trio.testing.memory_stream_pair()
    with trio.CancelScope() as scope:
        scope.cancel()
        await close_now(left)  # no checkpoint at all for a socket
        await close_now(memory)  # any other stream: trio.aclose_forcefully
    assert left.socket.fileno() == -1
    with pytest.raises(trio.ClosedResourceError):
        await memory.send_all(b"x")
    assert await right.receive_some() == b""
    await right.aclose()
