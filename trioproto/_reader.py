"""The receiving half of one connection: the reader task, and pull-mode reading.

:class:`ConnectionReader` reads the stream, feeds the codec and acts on its events: messages go
to the :class:`~trioproto._inbound.InboundQueue` (where a full queue stops the reading: TCP
pushes back), pongs to the :class:`~trioproto._pings.PingTracker`, the peer's close stops the
queue. Replies the codec queues (pongs, the close reply) are written through the connection's
write lock. Nothing is read before ``WebSocket.activate()`` starts the reader task.

Pull mode: two tasks per connection (the reader putting, the handler getting) would wake twice
per message. So when the reader task is about to wait for the socket while a receiver already
waits on the empty queue, it *lends* the reading duty to that receiver and ends; the receiver's
``get()`` then reads and parses in its own task (:meth:`ConnectionReader.pull`): one task wakes
per message, and an idle connection waiting in ``receive()`` holds one task, not two. The
receiver keeps only the happy path: data messages (it returns the first, queues the rest) and
pongs. Anything else -- a ping to answer, the peer's close, a violation (the codec's FAILING
state), the end of the stream -- and the receiver starts the reader task again, which handles it
with the code below as before. A receiver that leaves ``get()`` (with a message, or cancelled) is
noted with :mod:`trioproto._handback`: if it has not come back once the scheduler has run, the
reader task starts again. Only one task reads at a time (two waits on one socket would raise
``BusyResourceError``), only when the queue is empty (so the queue's bound and TCP backpressure
hold), and only on the library's own transports, whose ``receive_some`` loses nothing when
cancelled (a partly received frame stays in the codec's buffer).

The end (RFC 6455 §7): after the peer's close, a failure or end of file, the close frame we owe
goes out *before* the end is announced (whoever learns of it may close the transport, §5.5.1).
The server closes TCP first (§7.1.1); after failing the connection the reader first drains what
the peer still sends, so the kernel does not reset our close frame away.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable

import trio

from ._closed import ConnectionClosed
from ._config import seconds_or_forever
from ._handback import note_receiver_left
from ._inbound import InboundQueue
from ._pings import PingTracker
from ._sansio._codec import Codec, State
from ._sansio._events import CloseReceived, Event, Message, Pong
from ._tls_transport import TLSTransport
from ._transport import SocketTransport

__all__ = ["RECEIVE_SIZE", "ConnectionReader"]

#: Bytes asked of the stream per read: large messages take few reads (a TLS stream returns
#: that much plaintext at once too).
RECEIVE_SIZE = 256 * 1024


class ConnectionReader:
    """Reads one connection until it ends.

    Args:
        stream: the connection's transport.
        codec: the connection's codec.
        inbound: where received messages go; its ``get()`` pulls through this reader.
        pings: the pings waiting for a pong.
        nursery: where the reader task runs.
        close_timeout: bounds the catch-up before a failure, the last write and the drain.
        flush: writes what the codec has queued, under the write lock; with
            ``only_if_idle`` it returns at once when another task holds the lock (that task
            writes the codec's output too).
        mark_closed: announces the end to every waiter.
        close_transport: closes the transport.

    Attributes:
        messages_received: whole data messages received so far.
        bytes_received: their payload bytes.
        lent: the reading duty is lent to receivers: the reader task is not running.
        pulling: a receiver is reading (in :meth:`pull`).
    """

    __slots__ = (
        "_backlog",
        "_close_timeout",
        "_close_transport",
        "_codec",
        "_done",
        "_done_event",
        "_flush",
        "_inbound",
        "_lendable",
        "_mark_closed",
        "_nursery",
        "_pings",
        "_stream",
        "bytes_received",
        "lent",
        "messages_received",
        "pulling",
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
        flush: Callable[[bool], Awaitable[None]],
        mark_closed: Callable[[], None],
        close_transport: Callable[[], Awaitable[None]],
    ) -> None:
        self._stream = stream
        self._codec = codec
        self._inbound = inbound
        self._pings = pings
        self._nursery = nursery
        self._close_timeout = seconds_or_forever(close_timeout)
        self._flush = flush
        self._mark_closed = mark_closed
        self._close_transport = close_transport
        self.messages_received = self.bytes_received = 0
        self._done = False
        self._done_event: trio.Event | None = None  # made only for a waiter (it is rare)
        # Receivers may read only where a cancelled receive_some loses nothing.
        self._lendable = isinstance(stream, SocketTransport | TLSTransport)
        self.lent = self.pulling = False
        # Events a receiver parsed beyond the queue's room, for the reader task to queue.
        self._backlog: list[Event] | None = None
        inbound.reader = self

    def start(self) -> None:
        """Start the reader task (``WebSocket.activate()``)."""
        self._nursery.start_soon(self.run)

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
                        await self._flush(True)
                    if codec.paused:  # more frames are buffered; the queue had room for them
                        codec.receive_data(b"")
                        continue
                    if (
                        self._lendable
                        and codec.state is State.OPEN
                        and self._inbound.receiver_waiting
                    ):
                        self._lend()
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
                self._mark_closed()
                raise
            # The close frame we owe goes out before anyone learns that the connection ended
            # (RFC 6455 §5.5.1): whoever learns it may close the transport.
            if codec.has_data_to_send:
                try:
                    with trio.move_on_after(self._close_timeout):
                        await self._flush(False)
                except ConnectionClosed:
                    pass
            self._mark_closed()
            # The server closes TCP first (RFC 6455 §7.1.1); after a failure, either side
            # does.
            if codec.should_close_transport:
                if codec.close_received is None:
                    await self._drain_until_peer_closes()
                await self._close_transport()
        finally:
            if not self.lent:
                self._done = True
                if self._done_event is not None:
                    self._done_event.set()

    # ------------------------------------------------------------------- pull mode

    def _lend(self) -> None:
        """Hand the reading duty to the receivers; the reader task ends."""
        self.lent = True
        self._inbound.wake_receiver()
        # Covered until a receiver pulls: if the one woken is cancelled first, this takes over.
        note_receiver_left(self)

    @property
    def unattended(self) -> bool:
        """Whether the duty is lent and nobody is reading."""
        return self.lent and not self.pulling

    def reclaim_if_unattended(self) -> None:
        """Start the reader task again if the duty is lent and nobody is reading."""
        if self.lent and not self.pulling:
            self._reclaim()

    def _reclaim(self) -> None:
        self.lent = False
        # RuntimeError: the connection's nursery has closed; its handler is gone, and with it
        # every reason to read.
        with contextlib.suppress(RuntimeError):
            self._nursery.start_soon(self.run)

    async def pull(self) -> str | bytes | None:
        """Read and parse in the calling receiver's task until a message arrives; return it.

        Called by ``InboundQueue.get()`` on an empty queue while the duty is lent and nobody
        else pulls. Messages parsed after the first are queued while the queue has room; the
        reader task queues the rest (pushing back as usual). Return ``None`` when the duty went
        back to the reader task with no message (see the module docstring). Cancelling it
        is safe: ``receive_some`` consumes nothing unless it returns, and the parsing after it
        has no checkpoint.
        """
        codec = self._codec
        self.pulling = True
        try:
            while True:
                if codec.paused:  # frames left buffered after a compressed message
                    await trio.lowlevel.checkpoint()
                    codec.receive_data(b"")
                else:
                    try:
                        data = await self._stream.receive_some(RECEIVE_SIZE)
                    except (trio.BrokenResourceError, trio.ClosedResourceError):
                        data = b""
                    if data:
                        codec.receive_data(data)
                    else:
                        codec.receive_eof()
                message: str | bytes | None = None
                # Anything but the happy path goes back to the reader task's code.
                hand_back = codec.state is not State.OPEN
                events = codec.events()
                for index, event in enumerate(events):
                    if type(event) is Message:
                        if message is not None and not self._inbound.has_room:
                            # The reader task queues the rest, pushing back as it does.
                            self._backlog = events[index:]
                            hand_back = True
                            break
                        self.messages_received += 1
                        self.bytes_received += len(event.data)
                        if message is None:
                            message = event.data
                        else:
                            self._inbound.put_nowait(event.data)
                    elif type(event) is Pong:
                        self._pings.acknowledge(event.payload)
                    elif type(event) is CloseReceived:
                        self._inbound.stop()
                    else:  # a ping: the codec queued its pong, the reader task writes it
                        hand_back = True
                if hand_back:
                    self.pulling = False
                    self._reclaim()
                    return message
                if message is not None:
                    return message
        finally:
            if self.pulling:
                self.pulling = False
                note_receiver_left(self)

    async def _enqueue(self, message: str | bytes) -> None:
        self.messages_received += 1
        self.bytes_received += len(message)
        # Once we sent a close frame nobody has to read: never stall the closing handshake.
        await self._inbound.put(message, push_back=self._codec.close_sent is None)

    async def _drain_until_peer_closes(self) -> None:
        """After failing the connection, read and discard what the peer still sends until it
        closes, bounded by the close timeout. Closing a socket with unread bytes makes the
        kernel send a reset, which can destroy our close frame before the peer reads it."""
        stream = self._stream
        if isinstance(stream, trio.abc.HalfCloseableStream):
            # BusyResourceError: a send of another task is under way (it fails on its own);
            # the stream refuses before doing anything, and the drain below still helps.
            with contextlib.suppress(
                trio.BrokenResourceError, trio.ClosedResourceError, trio.BusyResourceError
            ):
                await stream.send_eof()
        with trio.move_on_after(self._close_timeout):
            try:
                while await stream.receive_some(RECEIVE_SIZE):
                    pass
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                pass
