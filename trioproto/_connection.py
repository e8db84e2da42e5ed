"""One WebSocket connection: drives the sans-IO codec over a ``trio.abc.Stream``.

Theory of operation
-------------------
A :class:`WebSocket` is the handler's view; the parts underneath it (the reader, the inbound
queue, the writer, the end) are built and wired by :class:`~trioproto._parts.ConnectionParts`,
which also runs activation and the closing handshake.

Each connection has one *reader* task (:class:`~trioproto._reader.ConnectionReader`), started
by :meth:`WebSocket.activate` (at once, unless the handler asked for delayed activation). It
reads the stream, feeds the codec, and puts whole messages on the bounded
:class:`~trioproto._inbound.InboundQueue` that :attr:`WebSocket.inbound` drains. When the queue
is full the reader waits before reading again: nothing more is read from the socket, pings
included, so TCP pushes back on the peer and memory stays bounded. While the handler waits in
``receive()`` on the empty queue, the reader task lends it the reading and ends (pull mode, see
:mod:`trioproto._pull`).

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

import os
import uuid
from typing import TYPE_CHECKING, Any

import trio

from ._channels import MessageReceiveChannel, MessageSendChannel, WebSocketStream
from ._closed import ConnectionClosed
from ._config import DEFAULT_LIMITS, DEFAULT_TIMEOUTS, Limits, Timeouts
from ._outbox import BackpressurePolicy, Outbox
from ._parts import ConnectionParts
from ._prepared import PreparedMessage
from ._request import WebSocketRequest
from ._sansio._codec import Codec
from ._statistics import ConnectionStatistics

if TYPE_CHECKING:
    from ._hub_core import BaseHub

__all__ = ["WebSocket"]


class WebSocket:
    """A WebSocket connection as a handler sees it.

    Created by the server (or :func:`trioproto.open_websocket`), never by users.

    Attributes:
        inbound: a :class:`trio.abc.ReceiveChannel` of received messages (``str`` | ``bytes``).
        request: the opening handshake request: the one received on a server connection, the
            one sent on a client connection (never ``None``).
        subprotocol: the negotiated ``Sec-WebSocket-Protocol``, or ``None``.
        id: a UUID naming the connection in logs and in :meth:`Hub.send_to`.
        remote: the peer's address.
        hub: the server's :class:`~trioproto.Hub` (``None`` on client connections).
        state: the application's own data for this connection (what the handshake hook's
            :class:`~trioproto.Accept` put there, a session, a room); trioproto never reads
            it. A typed handler reads a value with no cast: ``s: Session = ws.state["s"]``.
    """

    # Slots: an idle server holds one of these per connection, and every byte counts there.
    __slots__ = (
        "_bytes_out",
        "_codec",
        "_id",
        "_messages_out",
        "_outbound",
        "_parts",
        "_writer",
        "hub",
        "inbound",
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
        self._codec = codec
        self.request = request
        self.subprotocol = subprotocol
        self.remote = remote
        self._id: uuid.UUID | None = None  # made when first read
        self.state: dict[str, Any] = {}
        self.hub = hub
        if outbox is not None:
            outbox.owner = self
        parts = self._parts = ConnectionParts(
            stream,
            codec,
            nursery=nursery,
            limits=limits,
            close_timeout=timeouts.close,
            outbox=outbox,
        )
        # The write path's own reference: every send goes through it.
        self._writer = parts.writer
        self._messages_out = self._bytes_out = 0
        self.inbound = MessageReceiveChannel(parts.inbound, self)
        self._outbound: MessageSendChannel | None = None  # made on first use (see outbound)

    @property
    def id(self) -> uuid.UUID:
        """A UUID naming the connection in logs and in :meth:`Hub.send_to` (made when read)."""
        if self._id is None:
            self._id = uuid.uuid4()
            if self.hub is not None:
                self.hub._named(self)
        return self._id

    @property
    def outbound(self) -> MessageSendChannel:
        """A :class:`trio.abc.SendChannel` of messages to send (the same object each time)."""
        outbound = self._outbound
        if outbound is None:
            # Made on first use: an idle connection, and a handler that only calls send(),
            # hold no channel (nor the two bound methods in it).
            outbound = self._outbound = MessageSendChannel(self.send, self.close)
        return outbound

    # ------------------------------------------------------------ public API

    def activate(self) -> None:
        """Start reading frames (delayed activation, RESTinio's ``activation_t::delayed``).

        Until this is called no byte after the handshake is read, so nothing is lost and TCP
        applies backpressure. Calling it again does nothing.
        """
        self._parts.activate()

    @property
    def activated(self) -> bool:
        """Whether :meth:`activate` has been called."""
        return self._parts.activated

    async def wait_activated(self) -> None:
        """Wait until :meth:`activate` is called."""
        await self._parts.wait_activated()

    @property
    def closed(self) -> ConnectionClosed | None:
        """``None`` while open; afterwards, a :class:`ConnectionClosed` describing the end."""
        return self._parts.end.closed

    async def wait_closed(self) -> None:
        """Wait until the connection has ended (close handshake done or transport lost)."""
        await self._parts.end.wait()

    async def send(self, message: str | bytes | bytearray | memoryview) -> None:
        """Send one message: ``str`` as text, bytes-like as binary (RFC 6455 §5.6).

        Returns once the frame is handed to the transport; or, answering one of several
        received messages already queued, once it is held (at most 64 KiB in all) to go out
        with the next write, the burst's answers in one system call ("Bursts" in the
        backpressure topic). A failed write of a held frame ends the connection: the next call
        raises :class:`ConnectionClosed`. Cancelling a send under way aborts the connection (a
        frame may be partly written; a compressed one has advanced the shared context): put
        deadlines around whole conversations. It is a schedule point except right after this
        task's own :meth:`receive`, so an echo costs one trip through the scheduler.

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
        writer = self._writer
        await writer.write(self._codec.send_message, message, hub_mark=writer.mark(), may_hold=True)
        self._messages_out += 1
        self._bytes_out += len(message)

    async def receive(self) -> str | bytes:
        """Receive the next message; see :meth:`MessageReceiveChannel.receive`."""
        return await self.inbound.receive()

    async def send_fragment(self, data: str | bytes, *, final: bool) -> None:
        """Send one fragment of a message too large to hold at once (RFC 6455 §5.4)."""
        writer = self._writer
        await writer.write(self._codec.send_fragment, data, final, hub_mark=writer.mark())
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
        pings = self._parts.pings
        pending, unsent = pings.expect(payload)
        if unsent:
            await self._writer.write(self._codec.send_ping, payload)
        if not await pings.wait(pending):
            raise self._parts.end.error()

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
        await self._parts.close(code, reason)

    async def aclose(self) -> None:
        """Close with 1000 (normal closure); the same as ``close()``."""
        await self.close()

    async def abort(self) -> None:
        """Drop the transport now, without a closing handshake (close code 1006)."""
        await self._parts.end.close_transport()

    async def fail(self, code: int, reason: str = "") -> None:
        """_Fail the WebSocket Connection_ (RFC 6455 §7.1.7): send a close frame with ``code``
        (if none was sent yet) without waiting for the answer, then drop the transport."""
        await self._parts.fail(code, reason)

    def statistics(self) -> ConnectionStatistics:
        """Counters and state of this connection."""
        return self._parts.statistics(self._messages_out, self._bytes_out)

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
