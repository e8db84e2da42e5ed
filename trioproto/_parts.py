"""The parts of one connection, built and wired together, and what takes several of them.

A :class:`~trioproto.WebSocket` is the handler's view of a connection; underneath it, the
connection's data path is made of parts, each with one job: the
:class:`~trioproto._ending.ConnectionEnd` (the end announced once), the
:class:`~trioproto._inbound.InboundQueue`, the :class:`~trioproto._pings.PingTracker`, the
:class:`~trioproto._writer.Writer` (every write, under one lock) and the
:class:`~trioproto._reader.ConnectionReader` (the reader task). :class:`ConnectionParts` builds
them and tells each of the others it needs, in the order they are needed.

It also does what involves several parts at once: the statistics, activation (nothing is
read before the reader task starts), the closing handshake (RFC 6455 §7.1.2: our close frame,
then the peer's, then the transport, the server closing TCP first, §7.1.1) and failing the
connection (§7.1.7: a close frame without waiting for the answer, then the transport).
"""

from __future__ import annotations

import contextlib
import time

import trio

from ._closed import ConnectionClosed
from ._config import Limits, seconds_or_forever
from ._ending import ConnectionEnd
from ._inbound import InboundQueue
from ._outbox import Outbox
from ._pings import PingTracker
from ._reader import ConnectionReader
from ._sansio._codec import Codec, State
from ._statistics import ConnectionStatistics
from ._writer import Writer

__all__ = ["ConnectionParts"]


class ConnectionParts:
    """The parts of one connection (see the module docstring).

    Args:
        stream: the connection's transport.
        codec: the connection's codec.
        nursery: the connection's nursery (the reader task, the hub's flusher).
        limits: the connection's limits (the inbound queue's bound).
        close_timeout: bounds the closing handshake, failing, and the reader's end.
        outbox: the send buffer for hub messages; ``None`` on client connections.

    Attributes:
        end, inbound, pings, writer, reader: the parts.
        activated: :meth:`activate` has been called.
        opened_at: when the connection was opened (``time.time()``).
    """

    __slots__ = (
        "_activated_event",
        "_close_timeout",
        "_codec",
        "_reader_started",
        "activated",
        "end",
        "inbound",
        "opened_at",
        "pings",
        "reader",
        "writer",
    )

    def __init__(
        self,
        stream: trio.abc.Stream,
        codec: Codec,
        *,
        nursery: trio.Nursery,
        limits: Limits,
        close_timeout: float | None,
        outbox: Outbox | None,
    ) -> None:
        self._codec = codec
        self._close_timeout = close_timeout
        end = self.end = ConnectionEnd(stream, codec)
        inbound = self.inbound = end.inbound = InboundQueue(
            limits.max_queued_messages, end.end_of_inbound
        )
        pings = self.pings = end.pings = PingTracker()
        writer = self.writer = end.writer = Writer(
            stream,
            codec,
            nursery=nursery,
            outbox=outbox,
            inbound=inbound,
            end=end,
            failer=self,
        )
        self.reader = ConnectionReader(
            stream,
            codec,
            inbound,
            pings,
            nursery=nursery,
            close_timeout=close_timeout,
            writer=writer,
            end=end,
        )
        self.activated = self._reader_started = False
        self._activated_event: trio.Event | None = None  # made only for wait_activated()
        self.opened_at = time.time()

    def statistics(self, messages_sent: int, bytes_sent: int) -> ConnectionStatistics:
        """The connection's counters and state; what was sent, the WebSocket counts."""
        reader = self.reader
        outbox = self.writer.outbox
        return ConnectionStatistics(
            messages_received=reader.messages_received,
            messages_sent=messages_sent,
            bytes_received=reader.bytes_received,
            bytes_sent=bytes_sent,
            opened_at=self.opened_at,
            queued_messages=len(self.inbound),
            state=self._codec.state.value,
            hub_messages=self.writer.hub_messages,
            send_buffer_bytes=0 if outbox is None else outbox.size,
            messages_dropped=0 if outbox is None else outbox.dropped,
            closed_by_backpressure=outbox is not None and outbox.closed_for_limit,
        )

    def activate(self) -> None:
        """Start the reader task, unless the connection has already ended; once."""
        if self.activated:
            return
        self.activated = True
        if self._activated_event is not None:
            self._activated_event.set()
        if not self.end.ended:
            self._reader_started = True
            self.reader.start()

    async def wait_activated(self) -> None:
        """Wait until :meth:`activate` is called (a checkpoint if it was)."""
        if self.activated:
            await trio.lowlevel.checkpoint()
            return
        if self._activated_event is None:
            self._activated_event = trio.Event()
        await self._activated_event.wait()

    async def close(self, code: int, reason: str, *, schedule_point: bool = True) -> None:
        """The closing handshake (RFC 6455 §7.1.2), at most the close timeout in all; see
        ``WebSocket.close()``.

        Without ``schedule_point`` (the server's close after the handler returned, which
        leaves the connection's nursery at once, a schedule point itself), a connection
        already over is closed with no schedule point of its own.
        """
        if self.end.ended and (not self._reader_started or self.reader.done):
            # Over already, our close frame written: only the transport is left (the usual
            # case after a handler's receive() ended with the peer's close).
            await self.end.close_transport()
            if schedule_point:
                await trio.lowlevel.checkpoint()
            return
        codec = self._codec
        # One bound for the whole close (sending ours, then waiting for theirs): a send blocked
        # on a peer that does not read holds the write lock, and must not double the wait.
        with trio.move_on_after(seconds_or_forever(self._close_timeout)):
            if codec.state is State.OPEN or codec.state is State.FAILING:
                codec.send_close(code, reason)  # validates before anything is written
                self.writer.discard_queued()
                self.inbound.stop()
                with contextlib.suppress(ConnectionClosed):
                    await self.writer.flush()
                self.activate()  # the peer's close frame must be read
            await self.end.wait()
            if self._reader_started:
                await self.reader.wait_done()  # it may still be sending the close frame
        await self.end.close_transport()

    async def fail(self, code: int, reason: str = "") -> None:
        """_Fail the WebSocket Connection_ (RFC 6455 §7.1.7): send a close frame with ``code``
        (if none was sent yet) without waiting for the answer, then drop the transport."""
        self._codec.fail(code, reason)
        self.writer.discard_queued()
        try:
            with trio.move_on_after(seconds_or_forever(self._close_timeout)):
                await self.writer.flush()
        except ConnectionClosed:
            pass
        await self.end.close_transport()
