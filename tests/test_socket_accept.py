"""Tests for trioproto._socket_accept over real listening sockets: batches without schedule
points, the peer's address, waiting, a closed listener, and errors of one connection."""

from __future__ import annotations

import errno
import socket as stdlib_socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import trio
import trio.testing

from trioproto._socket_accept import BATCH, BatchAcceptor


@asynccontextmanager
async def _listening() -> AsyncIterator[tuple[trio.socket.SocketType, BatchAcceptor]]:
    listener = trio.socket.socket()
    await listener.bind(("127.0.0.1", 0))
    listener.listen(BATCH * 2)
    acceptor = BatchAcceptor(listener)
    try:
        yield listener, acceptor
    finally:
        acceptor.close()
        listener.close()


def _connect(listener: trio.socket.SocketType, count: int) -> list[stdlib_socket.socket]:
    """``count`` clients, connected (the kernel completes the handshake before accept)."""
    return [stdlib_socket.create_connection(listener.getsockname()) for _ in range(count)]


async def test_a_batch_is_accepted_without_a_schedule_point() -> None:
    async with _listening() as (listener, acceptor):
        clients = _connect(listener, 10)
        await trio.lowlevel.wait_readable(listener)
        with trio.testing.assert_no_checkpoints():
            accepted = [await acceptor.accept() for _ in clients]
        addresses = {address for _sock, address in accepted}
        assert addresses == {client.getsockname() for client in clients}
        for sock, _address in accepted:
            assert sock.getpeername() in addresses
            sock.close()
        for client in clients:
            client.close()


async def test_a_schedule_point_after_every_batch() -> None:
    async with _listening() as (listener, acceptor):
        clients = _connect(listener, BATCH + 1)
        await trio.lowlevel.wait_readable(listener)
        with trio.testing.assert_no_checkpoints():
            accepted = [await acceptor.accept() for _ in range(BATCH)]
        with trio.testing.assert_checkpoints():
            accepted.append(await acceptor.accept())
        for sock, _address in accepted:
            sock.close()
        for client in clients:
            client.close()


async def test_it_waits_for_a_connection(nursery: trio.Nursery) -> None:
    async with _listening() as (listener, acceptor):
        got: list[object] = []
        done = trio.Event()

        async def accept() -> None:
            sock, address = await acceptor.accept()
            got.append(address)
            sock.close()
            done.set()

        nursery.start_soon(accept)
        await trio.testing.wait_all_tasks_blocked()
        assert got == []
        (client,) = _connect(listener, 1)
        with trio.fail_after(5):
            await done.wait()
        assert got == [client.getsockname()]
        client.close()


async def test_a_listener_closed_while_waiting_wakes_it(nursery: trio.Nursery) -> None:
    async with _listening() as (listener, acceptor):
        raised: list[BaseException] = []

        async def accept() -> None:
            try:
                await acceptor.accept()
            except trio.ClosedResourceError as exc:
                raised.append(exc)

        nursery.start_soon(accept)
        await trio.testing.wait_all_tasks_blocked()
        listener.close()
        await trio.testing.wait_all_tasks_blocked()
        assert len(raised) == 1


async def test_a_closed_listener_is_never_accepted_from_again() -> None:
    """Its descriptor number goes to the next socket opened: the acceptor must not touch it."""
    async with _listening() as (listener, acceptor):
        number = listener.fileno()
        listener.close()
        other = trio.socket.socket()
        await other.bind(("127.0.0.1", 0))
        other.listen()
        assert other.fileno() == number  # the number was reused
        (client,) = _connect(other, 1)
        with pytest.raises(trio.ClosedResourceError):
            await acceptor.accept()
        accepted, _ = await other.accept()  # the pending connection is still there
        accepted.close()
        client.close()
        other.close()


async def test_closing_the_acceptor_leaves_the_listener_open() -> None:
    async with _listening() as (listener, acceptor):
        acceptor.close()
        (client,) = _connect(listener, 1)
        sock, _address = await listener.accept()
        sock.close()
        client.close()


class _FailingOnce:
    """The acceptor's socket, failing its next ``accept()`` with ``error`` (an error only a
    network fault in the middle of accepting would give)."""

    def __init__(self, raw: stdlib_socket.socket, error: OSError) -> None:
        self._raw = raw
        self._error: OSError | None = error

    def accept(self) -> tuple[stdlib_socket.socket, object]:
        if self._error is not None:
            error, self._error = self._error, None
            raise error
        return self._raw.accept()

    def fileno(self) -> int:
        return self._raw.fileno()

    def detach(self) -> int:
        return self._raw.detach()


async def test_an_error_of_one_connection_skips_it() -> None:
    """accept(2): Linux passes pending network errors of the new connection to accept()."""
    async with _listening() as (listener, acceptor):
        (client,) = _connect(listener, 1)
        acceptor._raw = _FailingOnce(acceptor._raw, ConnectionAbortedError(errno.ECONNABORTED, ""))  # type: ignore[assignment]
        sock, address = await acceptor.accept()
        assert address == client.getsockname()
        sock.close()
        client.close()


async def test_an_error_of_the_listener_is_raised() -> None:
    async with _listening() as (_listener, acceptor):
        acceptor._raw = _FailingOnce(acceptor._raw, OSError(errno.EMFILE, "Too many open files"))  # type: ignore[assignment]
        with pytest.raises(OSError, match="Too many open files") as raised:
            await acceptor.accept()
        assert raised.value.errno == errno.EMFILE
