"""The write lock of one connection: one FIFO lock over its stream, and the writes made holding it.

Every writer of a connection (the handler, the reader's pongs and close reply, the keepalive
pings, the hub's flusher, the rest of held frames) writes holding this lock, so frames never
interleave on the wire. A task that finds it taken parks; the holder hands it straight to the
first one parked when it is done (ownership passes in :meth:`WriteLock.release`, so no task can
barge in between), and frees it only when nobody waits.

A write that fails ends the connection: a broken or closed stream is the transport lost
(RFC 6455 §7.1.5: the codec sees an end of file, the end is announced, the write raises
:class:`~trioproto.ConnectionClosed`); a write cancelled midway may have left half a frame on
the wire, so the stream is unusable from then on, and the connection ends the same way before
the cancellation goes on.
"""

from __future__ import annotations

from typing import Protocol

import trio

from ._closed import ConnectionClosed
from ._sansio._codec import Codec
from ._tls_transport import send_after_yield_of
from ._transport import SocketTransport

__all__ = ["Ending", "WriteLock"]


class Ending(Protocol):
    """The connection's end as the write side sees it (a ``ConnectionEnd``)."""

    #: The end is announced.
    ended: bool

    def announce(self) -> None:
        """Tell every waiter that the connection is over (once)."""


class WriteLock:
    """The FIFO lock over one connection's stream (see the module docstring).

    Args:
        stream: the connection's stream.
        codec: the connection's codec (a lost stream is its end of file).
        lost: told (``lost.announce()``) when the stream breaks or a write is cancelled
            midway (the connection is over). An object, not a bound method: one object less
            per connection.

    Attributes:
        writing: a task holds the lock.
        writers: the tasks waiting for it; made by the first one (most connections have none).
        send_nowait: the stream's non-waiting write (plain sockets), ``None`` on any other
            stream: it returns how many bytes the socket took at once.
    """

    __slots__ = (
        "_codec",
        "_lost",
        "_send_after_yield",
        "_stream",
        "send_nowait",
        "writers",
        "writing",
    )

    def __init__(self, stream: trio.abc.Stream, codec: Codec, lost: Ending) -> None:
        self._stream = stream
        self._codec = codec
        self._lost = lost
        self.writing = False
        self.writers: trio.lowlevel.ParkingLot | None = None
        # The fast paths of our own transports, decided once: a non-waiting write (plain
        # sockets) for hub messages and held frames, and a write that skips the second yield
        # after receive().
        self.send_nowait = stream.send_nowait if type(stream) is SocketTransport else None
        self._send_after_yield = send_after_yield_of(stream)

    async def wait(self) -> None:
        """Park until the holder hands the lock over (ownership passes in :meth:`release`)."""
        writers = self.writers
        if writers is None:
            writers = self.writers = trio.lowlevel.ParkingLot()
        await writers.park()

    def release(self) -> None:
        """Hand the lock to the first task waiting for it, or free it."""
        if self.writers:
            self.writers.unpark()
        else:
            self.writing = False

    async def send(self, data: bytes | memoryview, *, nowait_first: bool = False) -> None:
        """Holding the lock, write ``data`` to the stream; a failure ends the connection.

        With ``nowait_first`` (the calling task has just passed a schedule point in
        ``receive()``), the first chunk goes out without yielding again, on the transports
        that can.
        """
        codec = self._codec
        send_after_yield = self._send_after_yield
        try:
            if nowait_first and send_after_yield is not None:
                await send_after_yield(data)
            else:
                await self._stream.send_all(data)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            self.stream_lost()
            raise ConnectionClosed(codec.close_sent, codec.close_received) from None
        except trio.Cancelled:
            # A frame may be half written: the stream is unusable from here on.
            self.stream_lost()
            raise

    def stream_lost(self) -> None:
        """A write failed (here or through :attr:`send_nowait`): the connection is over."""
        self._codec.receive_eof()
        self._lost.announce()
