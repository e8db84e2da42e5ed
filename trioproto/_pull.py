"""Pull-mode reading: a receiver waiting on the empty inbound queue reads the socket itself.

Two tasks per connection (the reader putting, the handler getting) would wake twice per message.
So when the reader task (:class:`~trioproto._reader.ConnectionReader`) is about to wait for the
socket while a receiver already waits on the empty queue, it *lends* the reading duty to the
receivers (:meth:`PullReader.lend`) and ends; the receiver's ``InboundQueue.get()`` then reads
and parses in its own task (:meth:`PullReader.pull`): one task wakes per message, and an idle
connection waiting in ``receive()`` holds one task, not two.

The receiver keeps only the happy path: data messages (it returns the first, queues the rest
while the queue has room) and pongs. Anything else -- a ping to answer, the peer's close, a
violation (the codec's FAILING state), the end of the stream, messages beyond the queue's room
-- and the receiver hands the duty back: the reader task starts again and handles it with its
own code, as it always has. The peer's close that completes the closing handshake is the one
exception: the receiver finishes the connection itself with that same code
(``ConnectionReader.finish_here``), as nothing is left to read. Activation lends the duty too
(:meth:`PullReader.lend_at_activation`) when the handshake left nothing to handle. A receiver
that leaves ``get()`` (with a message, or cancelled) is noted with :mod:`trioproto._handback`:
if it has not come back once the scheduler has run, the duty goes back to the reader task too.

Only one task reads at a time (two waits on one socket would raise ``BusyResourceError``): a
receiver pulls only while the duty is lent, and only one receiver at a time. Receivers read
only when the queue is empty, so the queue's bound and TCP backpressure hold; and only on the
library's own transports, whose ``receive_some`` loses nothing when cancelled (a partly
received frame stays in the codec's buffer).
"""

from __future__ import annotations

from typing import Protocol

import trio

from ._handback import note_receiver_left
from ._inbound import InboundQueue
from ._pings import PingTracker
from ._sansio._codec import Codec, State
from ._sansio._events import CloseReceived, Event, Message, Pong

__all__ = ["RECEIVE_SIZE", "PullReader", "ReaderTask"]

#: Bytes asked of the stream per read: large messages take few reads (a TLS stream returns
#: that much plaintext at once too).
RECEIVE_SIZE = 256 * 1024


class ReaderTask(Protocol):
    """The connection's reader task, as the receivers give the duty back to it."""

    def take_back(self, backlog: list[Event] | None) -> None:
        """Start the reader task again, first with ``backlog``: the events a receiver parsed
        beyond the queue's room (``None`` if none)."""

    async def finish_here(self) -> None:
        """Finish the connection in the calling receiver's task, as the reader task would
        after the closing handshake: our close frame, the end announced, the transport
        closed."""


class PullReader:
    """Reads one connection in its receivers' tasks while the reading duty is lent to them.

    Args:
        stream: the connection's transport (one whose cancelled ``receive_some`` loses
            nothing).
        codec: the connection's codec.
        inbound: the connection's inbound queue; its ``get()`` pulls through this object.
        pings: the pings waiting for a pong.
        reader: the reader task, which takes the duty back.

    Attributes:
        lent: the reading duty is lent to receivers: the reader task is not running.
        pulling: a receiver is reading (in :meth:`pull`).
        messages_received: whole data messages received by receivers so far.
        bytes_received: their payload bytes.
    """

    __slots__ = (
        "_codec",
        "_inbound",
        "_pings",
        "_reader",
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
        reader: ReaderTask,
    ) -> None:
        self._stream = stream
        self._codec = codec
        self._inbound = inbound
        self._pings = pings
        self._reader = reader  # a reference, not a bound method: one object less per connection
        self.lent = self.pulling = False
        self.messages_received = self.bytes_received = 0
        inbound.puller = self

    def lend(self) -> None:
        """The reader task hands the reading duty to a receiver waiting on the empty queue,
        and ends. The receiver woken pulls once it runs: a task woken from its parking lot
        runs before it can be cancelled, and ``get()`` pulls whenever the duty is lent."""
        self.lent = True
        self._inbound.wake_receiver()

    def lend_at_activation(self) -> None:
        """Lend the duty before any reader task runs (``WebSocket.activate()``): a receiver
        already waiting is woken to pull, a handler that goes straight to ``receive()`` reads
        its first message without a second task, and one that does not is covered by
        :mod:`trioproto._handback`, which starts the reader task once the scheduler has run
        and nobody pulls."""
        self.lent = True
        if self._inbound.receiver_waiting:  # delayed activation: a receiver came first
            self._inbound.wake_receiver()
        else:
            note_receiver_left(self)

    @property
    def unattended(self) -> bool:
        """Whether the duty is lent and nobody is reading."""
        return self.lent and not self.pulling

    def reclaim_if_unattended(self) -> None:
        """Start the reader task again if the duty is lent and nobody is reading."""
        if self.lent and not self.pulling:
            self._reclaim(None)

    def _reclaim(self, backlog: list[Event] | None) -> None:
        self.lent = False
        self._reader.take_back(backlog)

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
                backlog = None
                events = codec.events()
                for index, event in enumerate(events):
                    if type(event) is Message:
                        if message is not None and not self._inbound.has_room:
                            # The reader task queues the rest, pushing back as it does.
                            backlog = events[index:]
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
                    if (
                        message is None
                        and codec.state is State.CLOSED
                        and codec.close_received is not None
                    ):
                        # The closing handshake is over (RFC 6455 §7.1.2): all that is left is
                        # our close frame and the transport, which this task does at once
                        # rather than start the reader task for them.
                        self.lent = False
                        self._inbound.mark_just_yielded()  # receive_some was the schedule point
                        await self._reader.finish_here()
                        return None
                    self._reclaim(backlog)
                    return message
                if message is not None:
                    return message
        finally:
            if self.pulling:
                self.pulling = False
                note_receiver_left(self)
