"""The end of one connection: announced once to every waiter, the transport closed once.

A connection ends when its closing handshake is done (RFC 6455 §7.1.2), when it is failed
(§7.1.7), or when the transport is lost (§7.1.5: code 1006). Whoever learns of it first (the
reader, a failed write, ``close()``, ``abort()``) calls :meth:`ConnectionEnd.announce` or
:meth:`ConnectionEnd.close_transport`; the second and later calls do nothing. The announcement
finishes the inbound queue (receivers get the end once the queue is drained), releases every
ping waiting for a pong and stops the writer (its send buffer is freed).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import trio

from ._closed import ConnectionClosed, end_of_inbound
from ._sansio._codec import Codec, State
from ._transport import close_now

if TYPE_CHECKING:
    from ._inbound import InboundQueue
    from ._pings import PingTracker
    from ._writer import Writer

__all__ = ["ConnectionEnd"]


class ConnectionEnd:
    """The end of one connection (see the module docstring).

    Args:
        stream: the connection's transport, closed by :meth:`close_transport`.
        codec: the connection's codec: it says how the connection ended.

    Attributes:
        ended: the end is announced.
        inbound, pings, writer: told of the end; the connection sets them once it has built
            them (they are built after this object, and some of them from it).
    """

    __slots__ = (
        "_codec",
        "_event",
        "_stream",
        "_transport_closed",
        "ended",
        "inbound",
        "pings",
        "writer",
    )

    def __init__(self, stream: trio.abc.Stream, codec: Codec) -> None:
        self._stream = stream
        self._codec = codec
        self._transport_closed = False
        self.ended = False
        self._event: trio.Event | None = None  # made only for a waiter (idle connections have none)
        self.inbound: InboundQueue | None = None
        self.pings: PingTracker | None = None
        self.writer: Writer | None = None

    @property
    def closed(self) -> ConnectionClosed | None:
        """``None`` before the end; afterwards, a :class:`ConnectionClosed` describing it."""
        return self.error() if self.ended else None

    def error(self) -> ConnectionClosed:
        """The :class:`ConnectionClosed` an operation raises now that the connection is (or
        is about to be) closed."""
        return ConnectionClosed(self._codec.close_sent, self._codec.close_received)

    def end_of_inbound(self) -> BaseException:
        """What a receive raises once the queue is drained after the end: see
        :func:`~trioproto._closed.end_of_inbound`."""
        return end_of_inbound(self._codec.close_sent, self._codec.close_received)

    async def wait(self) -> None:
        """Wait until the end is announced (a checkpoint if it was)."""
        if self.ended:
            await trio.lowlevel.checkpoint()
            return
        if self._event is None:
            self._event = trio.Event()
        await self._event.wait()

    def announce(self) -> None:
        """Tell every waiter that the connection has ended (once)."""
        if self.ended:
            return
        self.ended = True
        if self._event is not None:
            self._event.set()
        if self.inbound is not None:
            self.inbound.finish()
        if self.pings is not None:
            self.pings.release_all()
        if self.writer is not None:
            self.writer.stop()

    async def close_transport(self) -> None:
        """Close the transport (once), announcing the end if nobody has yet."""
        if self._transport_closed:
            return
        self._transport_closed = True
        if self._codec.state is not State.CLOSED:
            self._codec.receive_eof()
        self.announce()
        await close_now(self._stream)
