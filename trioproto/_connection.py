"""One WebSocket connection: drives the sans-IO codec over a ``trio.abc.Stream``.

Theory of operation
-------------------
Each connection has one *reader* task (:class:`~trioproto._reader.ConnectionReader`), started
by :meth:`WebSocket.activate` (at once, unless the handler asked for delayed activation). It
reads the stream, feeds the codec, and puts whole messages on the bounded
:class:`~trioproto._inbound.InboundQueue` that :attr:`WebSocket.inbound` drains. When the queue
is full the reader waits before reading again: nothing more is read from the socket, pings
included, so TCP pushes back on the peer and memory stays bounded. While the handler waits in
``receive()`` on the empty queue, the reader task lends it the reading and ends (pull mode, see
:mod:`trioproto._reader`).

Writes, the handler's and the hub's, go through the connection's
:class:`~trioproto._writer.Writer`: one FIFO lock, control frames never behind queued data,
hub messages written at once or queued in a bounded send buffer, in the order issued.

Closing (RFC 6455 §7): :meth:`WebSocket.close` sends a close frame and waits, bounded by
``Timeouts.close``, for the peer's close frame, then closes the transport (the server closes TCP
first, §7.1.1). :meth:`WebSocket.abort` drops the transport at once. Either is idempotent, and
the end is reported to every waiter exactly once through :class:`ConnectionClosed` or, after a
normal close by the peer, :class:`trio.EndOfChannel` on ``inbound``.
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from typing import TYPE_CHECKING, Any

import trio

from ._channels import MessageReceiveChannel, MessageSendChannel, WebSocketStream
from ._closed import ConnectionClosed, end_of_inbound
from ._config import DEFAULT_LIMITS, DEFAULT_TIMEOUTS, Limits, Timeouts, seconds_or_forever
from ._inbound import InboundQueue
from ._outbox import BackpressurePolicy, Outbox
from ._pings import PingTracker
from ._prepared import PreparedMessage
from ._reader import ConnectionReader
from ._request import WebSocketRequest
from ._sansio._codec import Codec, State
from ._statistics import ConnectionStatistics
from ._transport import close_now
from ._writer import Writer

if TYPE_CHECKING:
    from ._hub_core import BaseHub

__all__ = ["WebSocket"]


class WebSocket:
    """A WebSocket connection as a handler sees it.

    Created by the server (or :func:`trioproto.open_websocket`), never by users.

    Attributes:
        inbound: a :class:`trio.abc.ReceiveChannel` of received messages (``str`` | ``bytes``).
        outbound: a :class:`trio.abc.SendChannel` of messages to send.
        request: the opening handshake request: the one received on a server connection, the
            one sent on a client connection (never ``None``).
        subprotocol: the negotiated ``Sec-WebSocket-Protocol``, or ``None``.
        id: a UUID naming the connection in logs and in :meth:`Hub.send_to`.
        remote: the peer's address.
        hub: the server's :class:`~trioproto.Hub` (``None`` on client connections).
        state: the application's own data for this connection, an empty ``dict`` at first
            (the user a hook authenticated, a session, a room): trioproto never reads it.
            A ``dict[str, Any]`` rather than a namespace because it says what it holds
            (keys you can test with ``in``, ``get`` with a default) and a typed handler
            reads a value into an annotated name with no cast:
            ``session: Session = ws.state["session"]``.
    """

    # Slots: an idle server holds one of these per connection, and every byte counts there.
    __slots__ = (
        "_activated",
        "_activated_event",
        "_bytes_out",
        "_closed_event",
        "_codec",
        "_inbound",
        "_messages_out",
        "_opened_at",
        "_pings",
        "_reader",
        "_reader_started",
        "_stream",
        "_timeouts",
        "_transport_closed",
        "_writer",
        "hub",
        "id",
        "inbound",
        "outbound",
        "remote",
        "request",
        "state",
        "subprotocol",
    )

    def __init__(
        self,
        stream: trio.abc.Stream,
        codec: Codec,
        *,
        nursery: trio.Nursery,
        request: WebSocketRequest,
        subprotocol: str | None = None,
        remote: object = None,
        limits: Limits = DEFAULT_LIMITS,
        timeouts: Timeouts = DEFAULT_TIMEOUTS,
        hub: BaseHub[WebSocket] | None = None,
        outbox: Outbox | None = None,
    ) -> None:
        self._stream = stream
        self._codec = codec
        self.request = request
        self.subprotocol = subprotocol
        self.remote = remote
        self.id = uuid.uuid4()
        self.state: dict[str, Any] = {}
        self._timeouts = timeouts
        self._inbound = InboundQueue(limits.max_queued_messages, self._end_of_inbound)
        self._pings = PingTracker()
        self._activated = False
        self._activated_event: trio.Event | None = None  # made only for wait_activated()
        self._closed_event = trio.Event()
        self.hub = hub
        if outbox is not None:
            outbox.name = self.id
        self._writer = Writer(
            stream,
            codec,
            nursery=nursery,
            outbox=outbox,
            inbound=self._inbound,
            lost=self._mark_closed,
            fail=self.fail,
            closed=self._closed_event,
        )
        self._inbound.before_park = self._writer.flush_held_nowait
        self._reader = ConnectionReader(
            stream,
            codec,
            self._inbound,
            self._pings,
            nursery=nursery,
            close_timeout=timeouts.close,
            flush=self._flush,
            mark_closed=self._mark_closed,
            close_transport=self._close_transport,
        )
        self._reader_started = False
        self._transport_closed = False
        self._messages_out = self._bytes_out = 0
        self._opened_at = time.time()
        self.inbound = MessageReceiveChannel(self._inbound, self.close)
        self.outbound = MessageSendChannel(self.send, self.close)

    # ------------------------------------------------------------ public API

    def activate(self) -> None:
        """Start reading frames (delayed activation, RESTinio's ``activation_t::delayed``).

        Until this is called no byte after the handshake is read, so nothing is lost and TCP
        applies backpressure. Calling it again does nothing.
        """
        if self._activated:
            return
        self._activated = True
        if self._activated_event is not None:
            self._activated_event.set()
        if not self._closed_event.is_set():
            self._reader_started = True
            self._reader.start()

    @property
    def activated(self) -> bool:
        """Whether :meth:`activate` has been called."""
        return self._activated

    async def wait_activated(self) -> None:
        """Wait until :meth:`activate` is called."""
        if self._activated:
            await trio.lowlevel.checkpoint()
            return
        if self._activated_event is None:
            self._activated_event = trio.Event()
        await self._activated_event.wait()

    @property
    def closed(self) -> ConnectionClosed | None:
        """``None`` while open; afterwards, a :class:`ConnectionClosed` describing the end."""
        if not self._closed_event.is_set():
            return None
        return ConnectionClosed(self._codec.close_sent, self._codec.close_received)

    async def wait_closed(self) -> None:
        """Wait until the connection has ended (close handshake done or transport lost)."""
        await self._closed_event.wait()

    async def send(self, message: str | bytes | bytearray | memoryview) -> None:
        """Send one message: ``str`` as text, bytes-like as binary (RFC 6455 §5.6).

        Returns once the frame is handed to the transport, or held for the next write when
        more received messages wait in :attr:`inbound` (this task has just taken one of them):
        the send that finds the queue empty then writes every held frame with its own in one
        system call. Held frames go out, in order, with the next write on the connection, when
        :meth:`receive` finds the queue empty, or as soon as this task yields anywhere else;
        at most 64 KiB are held, so a peer that does not read still pushes back (see
        docs/topics/backpressure.md). A failure to write a held frame ends the connection: the
        next call raises :class:`ConnectionClosed`.

        Cancelling a send that is under way aborts the connection: the frame may be partly
        written, and with compression even an unwritten frame has advanced the shared
        compression context. Put deadlines around whole conversations, not single sends.

        Like every trio call it is a cancellation point. It is a schedule point too, except
        right after this task's own :meth:`receive` (which has just yielded): an echo then
        costs one trip through the scheduler, not two.

        Raises:
            ConnectionClosed: the connection is closing or closed (a
                :class:`trio.BrokenResourceError`; ``.code`` and ``.reason`` say how).
            LocalProtocolError: a fragmented message (:meth:`send_fragment`) is unfinished.
            TypeError: ``message`` is neither ``str`` nor bytes-like; nothing is sent.
        """
        if not isinstance(message, str | bytes | bytearray | memoryview):
            # bytes(5) would send five NUL bytes: refuse before anything is queued.
            await trio.lowlevel.checkpoint()  # type: ignore[unreachable]  # untyped callers
            raise TypeError(f"a message is str or bytes-like, not {type(message).__name__}")
        await self._write(
            self._codec.send_message, message, hub_mark=self._writer.mark(), may_hold=True
        )
        self._messages_out += 1
        self._bytes_out += len(message)

    async def receive(self) -> str | bytes:
        """Receive the next message; see :meth:`MessageReceiveChannel.receive`."""
        return await self.inbound.receive()

    async def send_fragment(self, data: str | bytes, *, final: bool) -> None:
        """Send one fragment of a message too large to hold at once (RFC 6455 §5.4)."""
        await self._write(self._codec.send_fragment, data, final, hub_mark=self._writer.mark())
        if final:
            self._messages_out += 1
            self._writer.fragmented_message_sent()
        self._bytes_out += len(data)

    async def ping(self, payload: bytes | None = None) -> None:
        """Send a ping and wait for the matching pong (RFC 6455 §5.5.2).

        Args:
            payload: up to 125 bytes; a random 4-byte payload when omitted.

        Raises:
            ConnectionClosed: the connection closed before the pong arrived.
        """
        if payload is None:
            payload = os.urandom(4)
        pending, unsent = self._pings.expect(payload)
        if unsent:
            await self._write(self._codec.send_ping, payload)
        if not await self._pings.wait(pending):
            raise ConnectionClosed(self._codec.close_sent, self._codec.close_received)

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Orderly shutdown: the closing handshake of RFC 6455 §7.1.2.

        Sends a close frame and waits for the peer's, then closes the transport. The whole of it
        (waiting for a send of the handler's that is blocked on a peer that does not read,
        writing our close frame, waiting for the peer's) takes at most ``Timeouts.close``.
        Idempotent: later calls wait for the first one's outcome.

        Args:
            code: the status code (RFC 6455 §7.4); 1000 means a normal end.
            reason: at most 123 bytes of UTF-8.

        Raises:
            LocalProtocolError: the code may not be sent or the reason is too long.
        """
        # One bound for the whole close (sending ours, then waiting for theirs): a send blocked
        # on a peer that does not read holds the write lock, and must not double the wait.
        with trio.move_on_after(seconds_or_forever(self._timeouts.close)):
            if self._codec.state is State.OPEN or self._codec.state is State.FAILING:
                self._codec.send_close(code, reason)  # validates before anything is written
                self._writer.discard_queued()
                self._inbound.stop()
                with contextlib.suppress(ConnectionClosed):
                    await self._write(None)
                self.activate()  # the peer's close frame must be read
            await self._closed_event.wait()
            if self._reader_started:
                await self._reader.wait_done()  # it may still be sending the close frame
        await self._close_transport()

    async def aclose(self) -> None:
        """Close with 1000 (normal closure); the same as ``close()``."""
        await self.close()

    async def abort(self) -> None:
        """Drop the transport now, without a closing handshake (close code 1006)."""
        await self._close_transport()

    async def fail(self, code: int, reason: str = "") -> None:
        """_Fail the WebSocket Connection_ (RFC 6455 §7.1.7): send a close frame with ``code``
        (if none was sent yet) without waiting for the answer, then drop the transport."""
        self._codec.fail(code, reason)
        self._writer.discard_queued()
        try:
            with trio.move_on_after(seconds_or_forever(self._timeouts.close)):
                await self._write(None)
        except ConnectionClosed:
            pass
        await self._close_transport()

    def statistics(self) -> ConnectionStatistics:
        """Counters and state of this connection."""
        outbox = self._writer.outbox
        return ConnectionStatistics(
            messages_received=self._reader.messages_received,
            messages_sent=self._messages_out,
            bytes_received=self._reader.bytes_received,
            bytes_sent=self._bytes_out,
            opened_at=self._opened_at,
            queued_messages=len(self._inbound),
            state=self._codec.state.value,
            hub_messages=self._writer.hub_messages,
            send_buffer_bytes=0 if outbox is None else outbox.size,
            messages_dropped=0 if outbox is None else outbox.dropped,
            closed_by_backpressure=outbox is not None and outbox.closed_for_limit,
        )

    def stream_view(self) -> WebSocketStream:
        """A :class:`trio.abc.Stream` over binary messages of this connection."""
        return WebSocketStream(self.inbound, self.send, self.close, self.abort)

    # --------------------------------------------------------------- hub

    async def subscribe(
        self, topic: str, *, policy: BackpressurePolicy | str | None = None
    ) -> None:
        """Receive the hub's messages for ``topic`` until :meth:`unsubscribe` or the end of
        the connection.

        Args:
            topic: a non-empty str of at most 256 characters.
            policy: what to do with this topic's messages when the send buffer is full
                (``"close"``, ``"drop_oldest"``, ``"drop_newest"`` or a
                :class:`~trioproto.BackpressurePolicy`); the server's policy when omitted.

        Raises:
            ValueError: an invalid topic or policy.
            RuntimeError: a client connection (it has no hub), or one that has ended.
        """
        self._require_hub().subscribe(self, topic, policy)
        await trio.lowlevel.checkpoint()

    async def unsubscribe(self, topic: str) -> None:
        """Stop receiving ``topic``; nothing happens if this connection was not subscribed."""
        self._require_hub().unsubscribe(self, topic)
        await trio.lowlevel.checkpoint()

    def _require_hub(self) -> BaseHub[WebSocket]:
        if self.hub is None:
            raise RuntimeError("only server connections have a hub to subscribe to")
        return self.hub

    def _deliver(self, message: PreparedMessage, policy: BackpressurePolicy | None) -> bool:
        """Take a hub message without waiting (see :meth:`Writer.deliver`); ``policy`` is the
        subscription's, ``None`` for the server's. Whether it was written or queued."""
        return self._writer.deliver(message.frame_for(self._codec.compression), policy)

    # ------------------------------------------------------------ the end

    def _end_of_inbound(self) -> BaseException:
        """What ``inbound`` raises once drained after the end (see :func:`end_of_inbound`)."""
        return end_of_inbound(self._codec.close_sent, self._codec.close_received)

    def _mark_closed(self) -> None:
        if self._closed_event.is_set():
            return
        self._closed_event.set()
        self._inbound.finish()
        self._pings.release_all()
        self._writer.stop()

    # -------------------------------------------------------------- writes

    async def _flush(self, only_if_idle: bool) -> None:
        """Write what the codec has queued; with ``only_if_idle``, leave it to the task that
        holds the write lock (it writes until the codec has nothing left)."""
        if only_if_idle and self._writer.busy:
            return
        await self._write(None)

    async def _write(
        self, queue_frame: object, *args: object, hub_mark: int = 0, may_hold: bool = False
    ) -> None:
        """Queue a frame with ``queue_frame(*args)`` and write it (see :meth:`Writer.write`).
        With ``may_hold``, a send answering one of several queued messages may be held."""
        just_yielded = self._inbound.claim_just_got()
        await self._writer.write(
            queue_frame,
            *args,
            hub_mark=hub_mark,
            just_yielded=just_yielded,
            in_burst=may_hold and just_yielded and len(self._inbound) > 0,
        )

    async def _close_transport(self) -> None:
        if self._transport_closed:
            return
        self._transport_closed = True
        if self._codec.state is not State.CLOSED:
            self._codec.receive_eof()
        self._mark_closed()
        await close_now(self._stream)
