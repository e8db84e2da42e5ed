"""The receiving half of one connection: the reader task.

:class:`ConnectionReader` runs once per connection (from ``WebSocket.activate()``). It reads the
stream, feeds the codec and acts on its events: messages go to the
:class:`~trioproto._inbound.InboundQueue` (where a full queue stops the reading: TCP pushes back),
pongs to the :class:`~trioproto._pings.PingTracker`, the peer's close stops the queue. Replies the
codec queues (pongs, the close reply) are written through the connection's write lock.

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
from ._inbound import InboundQueue
from ._pings import PingTracker
from ._sansio._codec import Codec, State
from ._sansio._events import CloseReceived, Message, Pong

__all__ = ["RECEIVE_SIZE", "ConnectionReader"]

#: Bytes asked of the stream per read: a TLS stream returns that much plaintext at once, so
#: large messages take few reads. The plain socket transport takes at most 64 KiB per system
#: call whatever is asked (a larger buffer costs more than the extra reads save).
RECEIVE_SIZE = 256 * 1024


class ConnectionReader:
    """Reads one connection until it ends.

    Args:
        stream: the connection's transport.
        codec: the connection's codec.
        inbound: where received messages go.
        pings: the pings waiting for a pong.
        close_timeout: bounds the catch-up before a failure, the last write and the drain.
        flush: writes what the codec has queued, under the write lock; with
            ``only_if_idle`` it returns at once when another task holds the lock (that task
            writes the codec's output too).
        mark_closed: announces the end to every waiter.
        close_transport: closes the transport.

    Attributes:
        messages_received: whole data messages queued so far.
        bytes_received: their payload bytes.
    """

    __slots__ = (
        "_close_timeout",
        "_close_transport",
        "_codec",
        "_done",
        "_done_event",
        "_flush",
        "_inbound",
        "_mark_closed",
        "_pings",
        "_stream",
        "bytes_received",
        "messages_received",
    )

    def __init__(
        self,
        stream: trio.abc.Stream,
        codec: Codec,
        inbound: InboundQueue,
        pings: PingTracker,
        *,
        close_timeout: float | None,
        flush: Callable[[bool], Awaitable[None]],
        mark_closed: Callable[[], None],
        close_transport: Callable[[], Awaitable[None]],
    ) -> None:
        self._stream = stream
        self._codec = codec
        self._inbound = inbound
        self._pings = pings
        self._close_timeout = seconds_or_forever(close_timeout)
        self._flush = flush
        self._mark_closed = mark_closed
        self._close_transport = close_transport
        self.messages_received = self.bytes_received = 0
        self._done = False
        self._done_event: trio.Event | None = None  # made only for a waiter (it is rare)

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

        One coroutine, not a wrapper around another: an idle connection's reader is parked
        here, and every frame of its stack is memory held per connection.
        """
        try:
            codec = self._codec
            stream = self._stream
            try:
                while True:
                    # Events first: the codec may hold frames from the handshake's trailing
                    # data.
                    for event in codec.events():
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
            self._done = True
            if self._done_event is not None:
                self._done_event.set()

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
