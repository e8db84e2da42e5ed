"""The receiving half of one connection: the reader task.

:class:`ConnectionReader` reads the stream, feeds the codec and acts on its events: messages go
to the :class:`~trioproto._inbound.InboundQueue` (where a full queue stops the reading: TCP
pushes back), pongs to the :class:`~trioproto._pings.PingTracker`, the peer's close stops the
queue. Replies the codec queues (pongs, the close reply) are written through the connection's
write lock. Nothing is read before ``WebSocket.activate()`` starts the reader task.

Pull mode: activation lends the reading duty to the receivers when nothing from the handshake
waits to be handled, and the reader task, when it is about to wait for the socket while a
receiver already waits on the empty queue, lends it and ends; the receiver reads in its own
task (:class:`~trioproto._pull.PullReader`), and gives the duty back -- the reader task starts
again -- for anything but data messages and pongs, or when it goes elsewhere. The peer's close
frame that ends the closing handshake is finished in the receiver's task
(:meth:`ConnectionReader.finish_here`), with the code the reader task would run.

The end (RFC 6455 §7): after the peer's close, a failure or end of file, the close frame we owe
goes out *before* the end is announced (whoever learns of it may close the transport, §5.5.1).
The server closes TCP first (§7.1.1); after failing the connection the reader first drains what
the peer still sends, so the kernel does not reset our close frame away.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

import trio

from ._closed import ConnectionClosed
from ._config import seconds_or_forever
from ._inbound import InboundQueue
from ._pings import PingTracker
from ._pull import RECEIVE_SIZE, PullReader
from ._sansio._codec import Codec, State
from ._sansio._events import CloseReceived, Event, Message, Pong
from ._tls_transport import TLSTransport
from ._transport import SocketTransport
from ._writer import flush_within

if TYPE_CHECKING:
    from ._ending import ConnectionEnd
    from ._writer import Writer

__all__ = ["ConnectionReader"]


class ConnectionReader:
    """Reads one connection until it ends.

    Args:
        stream: the connection's transport.
        codec: the connection's codec.
        inbound: where received messages go.
        pings: the pings waiting for a pong.
        nursery: where the reader task runs.
        close_timeout: bounds the catch-up before a failure, the last write and the drain.
        writer: its ``flush()`` writes what the codec has queued, under the write lock; with
            ``only_if_idle`` it returns at once when another task holds the lock (that task
            writes the codec's output too).
        end: the connection's end: announced to every waiter, and it closes the transport.

    The parts are kept as objects, their methods looked up when called: a bound method kept
    would be one object more per connection.

    Attributes:
        puller: reads in the receivers' tasks while the duty is lent (``None`` on a transport
            whose cancelled ``receive_some`` may lose bytes: there the reader task keeps it).
    """

    __slots__ = (
        "_backlog",
        "_bytes",
        "_close_timeout",
        "_codec",
        "_done",
        "_done_event",
        "_end",
        "_inbound",
        "_messages",
        "_nursery",
        "_pings",
        "_stream",
        "_writer",
        "puller",
    )

    def __init__(
        self,
        stream: trio.abc.Stream,
        codec: Codec,
        inbound: InboundQueue,
        pings: PingTracker,
        *,
        nursery: trio.Nursery,
        close_timeout: float | None,
        writer: Writer,
        end: ConnectionEnd,
    ) -> None:
        self._stream = stream
        self._codec = codec
        self._inbound = inbound
        self._pings = pings
        self._nursery = nursery
        self._close_timeout = seconds_or_forever(close_timeout)
        self._writer = writer
        self._end = end
        self._messages = self._bytes = 0
        self._done = False
        self._done_event: trio.Event | None = None  # made only for a waiter (it is rare)
        # Receivers may read only where a cancelled receive_some loses nothing.
        self.puller = (
            PullReader(stream, codec, inbound, pings, self)
            if isinstance(stream, SocketTransport | TLSTransport)
            else None
        )
        # Events a receiver parsed beyond the queue's room, for the reader task to queue.
        self._backlog: list[Event] | None = None

    @property
    def messages_received(self) -> int:
        """Whole data messages received so far, by the reader task and by receivers."""
        puller = self.puller
        return self._messages + (0 if puller is None else puller.messages_received)

    @property
    def bytes_received(self) -> int:
        """Their payload bytes."""
        puller = self.puller
        return self._bytes + (0 if puller is None else puller.bytes_received)

    def start(self) -> None:
        """Start reading (``WebSocket.activate()``): lend the duty to the receivers at once
        when nothing waits to be handled (pull mode, see :mod:`trioproto._pull`), else start
        the reader task."""
        puller = self.puller
        codec = self._codec
        if (
            puller is not None
            and codec.state is State.OPEN
            and not codec.paused
            and not codec.has_data_to_send
        ):
            # Frames that came with the handshake (trailing data) are parsed already.
            events = codec.events()
            if not events:
                puller.lend_at_activation()
                return
            self._backlog = events
        self._nursery.start_soon(self.run)

    @property
    def done(self) -> bool:
        """Whether the reading has finished the connection (the reader task, or a receiver in
        pull mode, wrote our close frame and closed what it had to)."""
        return self._done

    async def wait_done(self) -> None:
        """Wait until :meth:`run` has returned; at once, with no schedule point, if it has
        (the caller, ``WebSocket.close()``, has just passed one)."""
        if self._done:
            return
        if self._done_event is None:
            self._done_event = trio.Event()
        await self._done_event.wait()

    async def run(self) -> None:
        """Read until the connection ends, then finish it (see the module docstring).

        It returns early, without finishing, when it lends the reading duty to a waiting
        receiver (see the module docstring).

        One coroutine, not a wrapper around another: a connection's reader is parked here while
        its handler is elsewhere, and every frame of its stack is memory held per connection.
        """
        lent = False
        try:
            codec = self._codec
            stream = self._stream
            try:
                while True:
                    # Events first: the codec may hold frames from the handshake's trailing
                    # data.
                    events = self._backlog
                    if events is None:
                        events = codec.events()
                    else:  # what a receiver parsed and the queue had no room for
                        self._backlog = None
                    for event in events:
                        if type(event) is Message:
                            await self._enqueue(event.data)
                        elif type(event) is Pong:
                            self._pings.acknowledge(event.payload)
                        elif type(event) is CloseReceived:
                            self._inbound.stop()
                    if codec.state is State.FAILING:
                        # Let the handler take and answer the messages before the violation
                        # (RFC 6455 §7.1.7): at most the close timeout; none if it is already
                        # waiting.
                        await self._inbound.wait_caught_up(self._close_timeout)
                        codec.fail_for_violation()
                    if codec.state is State.CLOSED:
                        break
                    if codec.has_data_to_send:
                        await self._writer.flush(True)
                    if codec.paused:  # more frames are buffered; the queue had room for them
                        codec.receive_data(b"")
                        continue
                    if (
                        (puller := self.puller) is not None
                        and codec.state is State.OPEN
                        and self._inbound.receiver_waiting
                    ):
                        lent = True
                        puller.lend()
                        return
                    try:
                        data = await stream.receive_some(RECEIVE_SIZE)
                    except (trio.BrokenResourceError, trio.ClosedResourceError):
                        data = b""
                    if data:
                        codec.receive_data(data)
                    else:
                        codec.receive_eof()
            except ConnectionClosed:
                pass
            except BaseException:
                self._end.announce()
                raise
            await self._finish()
        finally:
            if not lent:
                self._set_done()

    async def finish_here(self) -> None:
        """Finish the connection in a receiver's task that read the peer's close frame (pull
        mode, see :mod:`trioproto._pull`), as :meth:`run` would finish it."""
        try:
            await self._finish()
        finally:
            self._end.announce()  # if cancelled before: the write was lost, so is the connection
            self._set_done()

    async def _finish(self) -> None:
        codec = self._codec
        # The close frame we owe goes out before anyone learns that the connection ended
        # (RFC 6455 §5.5.1): whoever learns it may close the transport.
        if codec.has_data_to_send:
            with contextlib.suppress(ConnectionClosed):
                await flush_within(self._writer, self._close_timeout)
        self._end.announce()
        # The server closes TCP first (RFC 6455 §7.1.1); after a failure, either side does.
        if codec.should_close_transport:
            if codec.close_received is None:
                await drain_until_peer_closes(self._stream, self._close_timeout)
            await self._end.close_transport()

    def _set_done(self) -> None:
        self._done = True
        if self._done_event is not None:
            self._done_event.set()

    def take_back(self, backlog: list[Event] | None) -> None:
        """The reading duty comes back from the receivers: start the reader task again, first
        with the events a receiver parsed beyond the queue's room (``backlog``)."""
        if backlog is not None:
            self._backlog = backlog
        # RuntimeError: the connection's nursery has closed; its handler is gone, and with it
        # every reason to read.
        with contextlib.suppress(RuntimeError):
            self._nursery.start_soon(self.run)

    async def _enqueue(self, message: str | bytes) -> None:
        self._messages += 1
        self._bytes += len(message)
        # Once we sent a close frame nobody has to read: never stall the closing handshake.
        await self._inbound.put(message, push_back=self._codec.close_sent is None)


async def drain_until_peer_closes(stream: trio.abc.Stream, timeout: float) -> None:
    """After failing the connection, half-close it, then read and discard what the peer still
    sends until it closes, at most ``timeout`` seconds in all. Closing a socket with unread
    bytes makes the kernel send a reset, which can destroy our close frame before the peer
    reads it; the half-close (a TCP FIN, or TLS close_notify then FIN) tells the peer to close
    now rather than wait for us."""
    with trio.move_on_after(timeout):  # TLS's send_eof waits while the socket is full
        if isinstance(stream, trio.abc.HalfCloseableStream):
            # BusyResourceError: a send of another task is under way (it fails on its own);
            # the stream refuses before doing anything, and the drain below still helps.
            with contextlib.suppress(
                trio.BrokenResourceError, trio.ClosedResourceError, trio.BusyResourceError
            ):
                await stream.send_eof()
        try:
            while await stream.receive_some(RECEIVE_SIZE):
                pass
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass
