"""Tests for trioproto._transport over real socket pairs: the stream contract, the
non-waiting write the connection uses right after a receive, and closing without a scope."""

from __future__ import annotations

import gc
import socket as stdlib_socket

import pytest
import trio
import trio.testing

from helpers import reset_tcp_socket, transport_pair
from trioproto._transport import SocketTransport, close_now


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


async def test_receive_nowait_reads_what_has_arrived_and_never_waits() -> None:
    left, right = transport_pair()
    with trio.testing.assert_no_checkpoints():
        assert right.receive_nowait(100) is None  # nothing yet
        left.send_nowait(b"hello")
        assert right.receive_nowait(3) == b"hel"
        assert right.receive_nowait(100) == b"lo"
    await left.send_eof()
    assert right.receive_nowait(100) == b""
    await left.aclose()
    await right.aclose()


async def test_receive_nowait_errors() -> None:
    left, right = transport_pair()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(right.receive_some)  # waits: nothing was sent
        await trio.testing.wait_all_tasks_blocked()
        with pytest.raises(trio.BusyResourceError):
            right.receive_nowait(100)
        nursery.cancel_scope.cancel()
    right.close()
    with pytest.raises(trio.ClosedResourceError):
        right.receive_nowait(100)
    await left.aclose()


async def test_receive_nowait_turns_a_reset_into_broken() -> None:
    transport = SocketTransport(await reset_tcp_socket())
    with pytest.raises(trio.BrokenResourceError):
        transport.receive_nowait(100)
    await transport.aclose()


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


# --- no system call on a descriptor number after its socket was closed (issue 17, defect 1)
#
# The interleaving: a task waits for readability (or writability), is woken, and before it
# resumes another task closes the socket and the next accept() gets the same descriptor number.
# The hook below closes the transport at exactly that moment and opens a new socket pair, whose
# lower end takes the freed number, with bytes waiting on it.


def _close_and_reuse_number(
    transport: SocketTransport, monkeypatch: pytest.MonkeyPatch, name: str
) -> list[stdlib_socket.socket]:
    number = transport.socket.fileno()
    real_wait = getattr(trio.lowlevel, name)
    reused: list[stdlib_socket.socket] = []

    async def wait_then_lose_the_race(sock: object) -> None:
        await real_wait(sock)
        if not reused:
            transport.close()
            a, b = stdlib_socket.socketpair()
            assert a.fileno() == number, "the freed descriptor number was not reused"
            b.sendall(b"GET /another-client HTTP/1.1\r\n\r\n")
            reused.extend((a, b))

    monkeypatch.setattr(trio.lowlevel, name, wait_then_lose_the_race)
    return reused


async def test_a_read_never_touches_a_reused_descriptor(monkeypatch: pytest.MonkeyPatch) -> None:
    left, right = transport_pair()
    reused = _close_and_reuse_number(left, monkeypatch, "wait_readable")
    async with trio.open_nursery() as nursery:

        async def read() -> None:
            with pytest.raises(trio.ClosedResourceError):
                await left.receive_some()

        nursery.start_soon(read)
        await trio.testing.wait_all_tasks_blocked()
        await right.send_all(b"wakes the reader")
    new_connection, new_client = reused
    # The new connection's request is still there, unread by the dead connection's reader.
    new_connection.setblocking(False)
    assert new_connection.recv(100) == b"GET /another-client HTTP/1.1\r\n\r\n"
    new_connection.close()
    new_client.close()
    await right.aclose()


async def test_a_write_never_touches_a_reused_descriptor(monkeypatch: pytest.MonkeyPatch) -> None:
    left, right = transport_pair()
    while left.send_nowait(b"x" * 65536):  # fill the socket buffer: the next send waits
        pass
    reused = _close_and_reuse_number(left, monkeypatch, "wait_writable")
    async with trio.open_nursery() as nursery:

        async def write() -> None:
            with pytest.raises(trio.ClosedResourceError):
                await left.send_all(b"secret for the old peer")

        nursery.start_soon(write)
        await trio.testing.wait_all_tasks_blocked()
        while await right.receive_some():  # drain: the writer becomes writable again
            if reused:
                break
    new_connection, new_client = reused
    new_client.setblocking(False)
    with pytest.raises(BlockingIOError):  # nothing was written to the new connection
        new_client.recv(100)
    new_connection.close()
    new_client.close()
    await right.aclose()


async def test_every_operation_after_close_raises_closed() -> None:
    left, right = transport_pair()
    left.close()
    with pytest.raises(trio.ClosedResourceError):
        await left.receive_some()
    with pytest.raises(trio.ClosedResourceError):
        await left.send_all(b"x")
    with pytest.raises(trio.ClosedResourceError):
        left.send_nowait(b"x")
    with pytest.raises(trio.ClosedResourceError):
        await left.send_eof()
    with pytest.raises(trio.ClosedResourceError):
        await left.wait_send_all_might_not_block()
    await right.aclose()


async def test_passes_trios_half_closeable_stream_checks() -> None:
    """SocketTransport stands in for trio.SocketStream: it keeps the same contract."""

    async def stream_maker() -> tuple[SocketTransport, SocketTransport]:
        return transport_pair()

    with trio.fail_after(30):
        await trio.testing.check_half_closeable_stream(stream_maker, None)


async def test_send_all_after_yield_yields_only_when_the_socket_is_full() -> None:
    """The write path's variant of send_all: a cancellation point, but no schedule point
    unless it has to wait; other tasks run meanwhile only then."""
    left, right = transport_pair()
    others_ran = False

    async def other() -> None:
        nonlocal others_ran
        others_ran = True

    async with trio.open_nursery() as nursery:
        nursery.start_soon(other)
        await left.send_all_after_yield(b"hello")
        assert not others_ran  # not yet scheduled: send_all_after_yield did not yield
    assert await right.receive_some() == b"hello"
    with trio.CancelScope() as scope:
        scope.cancel()
        with pytest.raises(trio.Cancelled):
            await left.send_all_after_yield(b"never written")
    big = b"x" * (4 * 1024 * 1024)  # more than the socket takes: it waits, then finishes
    async with trio.open_nursery() as nursery:
        nursery.start_soon(left.send_all_after_yield, big)
        received = 0
        with trio.fail_after(10):
            while received < len(big):
                received += len(await right.receive_some())
    assert received == len(big)
    await left.aclose()
    await right.aclose()


class _SendOnceYielded(trio.abc.Instrument):
    """Writes ``data`` to ``stream`` as soon as the task that added it has yielded: before the
    scheduler looks for I/O or runs that task again, whichever comes first."""

    def __init__(self, stream: SocketTransport, data: bytes) -> None:
        self.task = trio.lowlevel.current_task()
        self.stream, self.data = stream, data

    def before_io_wait(self, timeout: float) -> None:
        if self.data:
            self.stream.send_nowait(self.data)
            self.data = b""

    def before_task_step(self, task: trio.lowlevel.Task) -> None:
        if task is self.task:
            self.before_io_wait(0)


async def test_a_read_yields_before_it_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    """The schedule point comes first: what the peer sends while the reader yields is read at
    once, with no wait for the socket (an echo server's next message usually arrives then); an
    empty socket is still waited for, and a cancelled read consumes nothing."""
    left, right = transport_pair()
    waits: list[object] = []
    real_wait = trio.lowlevel.wait_readable

    async def counting_wait(sock: object) -> None:
        waits.append(sock)
        await real_wait(sock)

    monkeypatch.setattr(trio.lowlevel, "wait_readable", counting_wait)
    instrument = _SendOnceYielded(left, b"sent while it yielded")
    trio.lowlevel.add_instrument(instrument)
    try:
        # The socket is empty when the read is called.
        assert await right.receive_some() == b"sent while it yielded"
    finally:
        trio.lowlevel.remove_instrument(instrument)
    assert waits == []

    async def send_once_all_wait(data: bytes) -> None:
        await trio.testing.wait_all_tasks_blocked()
        await left.send_all(data)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(send_once_all_wait, b"later")
        assert await right.receive_some() == b"later"
    assert waits == [right.socket]
    await left.send_all(b"kept")
    with trio.CancelScope() as scope:
        scope.cancel()
        with pytest.raises(trio.Cancelled):
            await right.receive_some()
    assert await right.receive_some() == b"kept"
    await left.aclose()
    await right.aclose()


async def test_a_read_takes_at_most_256_kib_whatever_it_may_take() -> None:
    """One read allocates its whole buffer first: it is bounded (see _READ_CHUNK)."""
    left, right = transport_pair()
    payload = bytes(range(256)) * 4096  # 1 MiB
    async with trio.open_nursery() as nursery:
        nursery.start_soon(left.send_all, payload)
        received = bytearray()
        while len(received) < len(payload):
            chunk = await right.receive_some(4 * 1024 * 1024)
            assert 0 < len(chunk) <= 256 * 1024
            received += chunk
    assert received == payload
    await left.aclose()
    await right.aclose()


async def test_a_waiting_receive_holds_no_exception() -> None:
    """An idle connection waits in receive_some: the would-block error of its first read is
    not kept alive (with its traceback) for as long as it waits."""
    left, right = transport_pair()
    async with left, right, trio.open_nursery() as nursery:
        got: list[bytes] = []

        async def receive() -> None:
            got.append(await right.receive_some())

        nursery.start_soon(receive)
        await trio.testing.wait_all_tasks_blocked()
        gc.collect()
        assert not [obj for obj in gc.get_objects() if isinstance(obj, BlockingIOError)]
        await left.send_all(b"x")
    assert got == [b"x"]
