"""A lean byte stream over a connected TCP or Unix socket, for the server's hot path.

:class:`trio.SocketStream` is general: each call goes through a conflict detector, an error
translating context manager and trio's socket wrapper, which profiling showed to be about 45 %
of the CPU time of a small-message echo. :class:`SocketTransport` is the same contract (a
:class:`trio.abc.HalfCloseableStream`) with the shortest path trio allows: the non-blocking
system call, and only when it would block a wait with :func:`trio.lowlevel.wait_readable` or
:func:`trio.lowlevel.wait_writable`. Every call still checkpoints, as trio requires.

A receive passes its schedule point *before* it reads, a send after it writes. A server that
has just written an answer and goes back to read would otherwise find the socket empty (the
peer has not had the time to send its next message), and wait for it through the I/O manager:
one more failed read, one more ``epoll_ctl`` and a wake-up through ``epoll_wait``, per message.
Yielding first lets every other runnable task run meanwhile, and by then the next message is
usually there: under load, one read per message and no wait at all (measured on an echo of
32 B messages on 100 connections: 2.0 reads and 1 wait per message before, 1.01 reads after).

The trio socket keeps owning the file descriptor (closing, ``getpeername``); this class only
reads and writes it, under one rule: **no system call on the descriptor number after the socket
was closed.** A descriptor number is reused by the very next ``accept()``, so a read or write
on a stale number would touch another client's connection. trio runs one task at a time, and
another task can close the socket only while this one waits (in ``wait_readable`` /
``wait_writable``, or runnable but not yet resumed after them). So every system call is preceded,
with no checkpoint in between, by a check of the closed flag, and every wait is followed by that
check again before the next call. A task parked in a wait when the socket closes is woken by
trio's ``notify_closing`` with :class:`trio.ClosedResourceError`.
"""

from __future__ import annotations

import errno
import operator
import os
import socket as stdlib_socket

import trio

__all__ = ["SocketTransport", "close_now"]

_DEFAULT_RECEIVE_SIZE = 64 * 1024
#: The most one read asks of the kernel, whatever ``max_bytes`` allows (``os.read()`` allocates
#: its whole buffer before the call). 64 KiB was tried: in a fresh process glibc maps a buffer
#: past its 128 KiB mmap threshold anew on each read (18.7 us instead of 1.3), but a running
#: server raises that threshold after its first large free, and the benchmark harness measured
#: 256 KiB reads ahead in one interleaved run (4 rounds): 32 B x 100 1.39x msg/s, 64 KiB x 10
#: 1.27x, 1 MiB 1.16x MB/s, fewer reads per large message and no cost on small ones.
_READ_CHUNK = 256 * 1024
_BROKEN_ERRNOS = {errno.EPIPE, errno.ECONNRESET, errno.ENOTCONN, errno.ETIMEDOUT, errno.EBADF}


class SocketTransport(trio.abc.HalfCloseableStream):
    """A connected, non-blocking trio socket as a stream.

    Args:
        sock: a connected stream socket (TCP or Unix).

    Error handling: a reset or broken connection raises :class:`trio.BrokenResourceError`;
    using the stream after :meth:`aclose` raises :class:`trio.ClosedResourceError`; two tasks
    sending (or receiving) at once raise :class:`trio.BusyResourceError`.
    """

    __slots__ = ("_closed", "_eof_sent", "_fd", "_receiving", "_sending", "socket")

    def __init__(self, sock: trio.socket.SocketType) -> None:
        self.socket = sock
        self._fd = sock.fileno()
        self._sending = False
        self._receiving = False
        self._closed = False
        self._eof_sent = False
        if sock.family in (stdlib_socket.AF_INET, stdlib_socket.AF_INET6):
            sock.setsockopt(stdlib_socket.IPPROTO_TCP, stdlib_socket.TCP_NODELAY, 1)

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        """Return the bytes available (at most ``max_bytes``, and at most 256 KiB per call),
        waiting for some; ``b""`` at end of file. Cancelling it is safe: nothing is consumed
        unless it returns.

        It yields first, then reads (see the module docstring): the schedule point comes before
        the system call, so a read that finds bytes returns without yielding again."""
        if max_bytes is None:
            size = _DEFAULT_RECEIVE_SIZE
        else:
            size = operator.index(max_bytes)  # TypeError for a non-integer, as trio's streams
            if size < 1:
                raise ValueError("max_bytes must be >= 1")
            size = min(size, _READ_CHUNK)  # returning less than asked is always allowed
        if self._receiving:
            raise trio.BusyResourceError("another task is receiving on this stream")
        self._receiving = True
        try:
            await trio.lowlevel.checkpoint()  # the schedule point, before the read
            # Read again after every wait (_read_now checks first that nobody closed it).
            while (data := self._read_now(size)) is None:
                await trio.lowlevel.wait_readable(self.socket)
            return data
        finally:
            self._receiving = False

    def receive_nowait(self, max_bytes: int) -> bytes | None:
        """The bytes that have arrived (at most ``max_bytes``), ``b""`` at end of file, or
        ``None`` when none has: without waiting or yielding.

        For a caller that has just passed a schedule point and would only yield again (the
        server's first read of a connection, see ``OpeningHandshake.answer_at_once``).
        """
        if self._receiving:
            raise trio.BusyResourceError("another task is receiving on this stream")
        return self._read_now(min(max_bytes, _READ_CHUNK))

    def _read_now(self, size: int) -> bytes | None:
        """``os.read()`` if the socket is still open, or ``None`` when nothing has arrived
        (``EAGAIN``); errors translated.

        ``EAGAIN`` is caught here, in a frame that ends at once. Raised in
        :meth:`receive_some`, its traceback would give that coroutine a frame object (about
        200 bytes) for the rest of the wait that follows: memory held per idle connection.
        """
        self._check_open()
        try:
            return os.read(self._fd, size)
        except BlockingIOError:
            return None
        except OSError as exc:
            raise self._translate(exc) from exc

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        """Write all of ``data``. If cancelled midway, part of it may have been written, and
        the stream is then unusable (as for any trio stream)."""
        if self._sending:
            raise trio.BusyResourceError("another task is sending on this stream")
        self._sending = True
        try:
            await trio.lowlevel.checkpoint_if_cancelled()
            self._check_can_send()  # even for b"": a closed stream refuses every send
            view = memoryview(data)
            while view:
                self._check_open()  # again after every wait: another task may have closed it
                try:
                    sent = os.write(self._fd, view)
                except BlockingIOError:
                    await trio.lowlevel.wait_writable(self.socket)
                    continue
                except OSError as exc:
                    raise self._translate(exc) from exc
                view = view[sent:]
            await trio.lowlevel.cancel_shielded_checkpoint()
        finally:
            self._sending = False

    def send_nowait(self, data: bytes | bytearray | memoryview) -> int:
        """Write what the socket takes now, without waiting or yielding; return the count.

        For a caller that has just passed a schedule point and would only yield again (see
        ``WebSocket._write``); the caller must check for cancellation itself.
        """
        if self._sending:
            raise trio.BusyResourceError("another task is sending on this stream")
        self._check_can_send()
        try:
            return os.write(self._fd, data)
        except BlockingIOError:
            return 0
        except OSError as exc:
            raise self._translate(exc) from exc

    async def send_all_after_yield(self, data: bytes | bytearray | memoryview) -> None:
        """:meth:`send_all` for a caller that has just passed a schedule point: it checks for
        cancellation, and yields only if the socket cannot take everything now."""
        await trio.lowlevel.checkpoint_if_cancelled()
        sent = self.send_nowait(data)
        if sent < len(data):
            await self.send_all(memoryview(data)[sent:])

    async def wait_send_all_might_not_block(self) -> None:
        """Wait until the socket is writable."""
        self._check_open()
        await trio.lowlevel.wait_writable(self.socket)

    async def send_eof(self) -> None:
        """Shut down the sending direction (TCP FIN); receiving still works."""
        await trio.lowlevel.checkpoint()
        self._check_open()  # after the checkpoint: it may have been closed meanwhile
        try:
            self.socket.shutdown(stdlib_socket.SHUT_WR)
        except OSError as exc:
            raise self._translate(exc) from exc
        self._eof_sent = True

    async def aclose(self) -> None:
        """Close the socket; idempotent."""
        self.close()
        await trio.lowlevel.checkpoint()

    def close(self) -> None:
        """Close the socket now, without a checkpoint: closing a socket never blocks."""
        self._closed = True
        self.socket.close()

    def _check_open(self) -> None:
        """Raise if the socket was closed: its descriptor number may belong to another
        connection by now. Callers make the system call with no checkpoint after this."""
        if self._closed:
            raise trio.ClosedResourceError("the stream was closed")

    def _check_can_send(self) -> None:
        self._check_open()
        if self._eof_sent:
            raise trio.ClosedResourceError("can't send data after sending EOF")

    def _translate(self, exc: OSError) -> Exception:
        if self._closed or exc.errno == errno.EBADF:
            return trio.ClosedResourceError("the stream was closed")
        return trio.BrokenResourceError(f"socket connection broken: {exc}")


async def close_now(stream: trio.abc.Stream) -> None:
    """Close ``stream`` at once, even in a cancelled scope.

    :func:`trio.aclose_forcefully` needs a cancel scope to do that for any stream, which showed
    up as a large share of a short connection's cost; a :class:`SocketTransport` closes without
    waiting, so it skips the scope.
    """
    if isinstance(stream, SocketTransport):
        stream.close()
    else:
        await trio.aclose_forcefully(stream)
