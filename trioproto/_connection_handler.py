"""Serving one accepted stream: the opening handshake, then the handler, until it ends.

:class:`ConnectionHandler` is the per-stream part of a server. A :class:`WebSocketServer`
runs one for all its listeners; ``upgrade_stream()`` and ``trioproto.testing`` use one
directly, with no listener at all. For each stream it

1. reads and answers the opening handshake (:class:`~trioproto._opening.OpeningHandshake`),
   TLS included, inside ``Timeouts.handshake``, so a client that stalls cannot hold a slot for
   ever (a request answered at once, having waited for nothing, needs no timeout);
2. opens the connection's own nursery for its reader task, registers the connection for
   keepalive, starts the activation watchdog of a delayed-activation handler, and calls the
   handler;
3. ends the connection: 1000 when the handler returns, 1011 (logged once, with the traceback,
   the connection id, path and subprotocol) when it raises. Nothing a handler does, and no
   error in one connection, reaches the server or another connection; only cancellation
   propagates. The stream is closed when :meth:`ConnectionHandler.handle_stream` returns.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from dataclasses import dataclass

import trio

from ._access_log import log_connection, log_rejection
from ._backplane import BackplaneStatistics
from ._closed import ConnectionClosed
from ._config import seconds_or_forever
from ._connection import WebSocket
from ._counters import ServerCounters
from ._hub import Hub
from ._keepalive import KeepaliveMonitor, keep_alive
from ._opening import NOTHING_YET, Accepted, OpeningHandshake, Rejected, Unfinished, Unserved
from ._options import DEFAULT_SERVER_OPTIONS, ServerOptions
from ._outbox import DeliveryCounters, Outbox
from ._registry import Registry
from ._routing import Router
from ._sansio._codec import Codec, Role, State
from ._sansio._http import Request
from ._transport import SocketTransport, close_now

__all__ = ["ConnectionHandler", "ServerStatistics"]

logger = logging.getLogger("trioproto")


@dataclass(frozen=True, slots=True)
class ServerStatistics:
    """Counters of a server, as returned by :meth:`WebSocketServer.statistics`.

    Attributes:
        open_connections: connections past the handshake and not yet closed.
        total_connections: connections that completed the opening handshake so far.
        rejected_handshakes: handshakes answered with an HTTP error status.
        failed_handshakes: connections dropped before a complete handshake (timeout, EOF, TLS).
        handler_errors: handlers that raised (each logged and closed with 1011).
        messages_dropped: hub messages dropped by a drop policy, over all connections.
        backpressure_closes: connections closed by the ``close`` backpressure policy.
        hub_messages: hub messages written or queued for the connections so far (local
            deliveries of publishes, broadcasts and sends, this node's and other nodes').
        send_buffer_bytes: bytes of hub messages queued in the open connections' send
            buffers now, not yet written.
        messages_received: whole data messages received on all connections so far.
        messages_sent: whole data messages sent on all connections so far.
        bytes_received: payload bytes of the messages received (after decompression).
        bytes_sent: payload bytes of the messages sent (before compression).
        node_id: the server's node id (uuid4 hex), telling worker processes apart; empty
            for a :class:`ConnectionHandler` used on its own.
        backplane: the hub's backplane statistics (``connected`` says whether it reaches the
            other nodes now), or ``None`` without a backplane.
    """

    open_connections: int
    total_connections: int
    rejected_handshakes: int
    failed_handshakes: int
    handler_errors: int
    messages_received: int
    messages_sent: int
    bytes_received: int
    bytes_sent: int
    messages_dropped: int = 0
    backpressure_closes: int = 0
    hub_messages: int = 0
    send_buffer_bytes: int = 0
    node_id: str = ""
    backplane: BackplaneStatistics | None = None


class ConnectionHandler:
    """Turns accepted streams into HTTP answers or running handlers, for one app.

    Args:
        app: a :class:`~trioproto.Registry` serving every path, or a
            :class:`~trioproto.Router`.
        options: limits, timeouts, compression, origins, the handshake hook and the
            backpressure policy.
        hub: the :class:`~trioproto.Hub` every connection is registered with; a new one if
            ``None``.

    Attributes:
        hub: the hub of the connections served.
        connections: the connections currently open, as :class:`WebSocket` objects.
        keepalive: the monitor pinging every connection from one task, when the caller runs
            one; otherwise each connection pings from a task of its own.
    """

    def __init__(
        self,
        app: Registry | Router,
        options: ServerOptions = DEFAULT_SERVER_OPTIONS,
        hub: Hub | None = None,
    ) -> None:
        self.options = options
        self.hub = hub if hub is not None else Hub()
        self._delivery = DeliveryCounters()
        self.connections: set[WebSocket] = set()
        self.keepalive: KeepaliveMonitor | None = None
        self._opening = OpeningHandshake(app, options)
        self._counters = ServerCounters()

    @property
    def app(self) -> Registry | Router:
        """The registry or router served."""
        return self._opening.app

    def statistics(self) -> ServerStatistics:
        """Counters of the connections this handler served.

        The message, byte and hub message totals add each open connection's own counters to
        those of the connections already closed: a call takes time in proportion to the open
        connections, and no per-message total is kept apart, so sending and receiving pay
        nothing for these figures.
        """
        counters = self._counters
        messages_in, messages_out = counters.closed_messages_received, counters.closed_messages_sent
        bytes_in, bytes_out = counters.closed_bytes_received, counters.closed_bytes_sent
        hub_messages, send_buffer_bytes = counters.closed_hub_messages, 0
        for websocket in self.connections:
            connection = websocket.statistics()
            messages_in += connection.messages_received
            messages_out += connection.messages_sent
            bytes_in += connection.bytes_received
            bytes_out += connection.bytes_sent
            hub_messages += connection.hub_messages
            send_buffer_bytes += connection.send_buffer_bytes
        return ServerStatistics(
            open_connections=len(self.connections),
            total_connections=counters.total_connections,
            rejected_handshakes=counters.rejected_handshakes,
            failed_handshakes=counters.handshakes_failed,
            handler_errors=counters.handler_errors,
            messages_dropped=self._delivery.dropped,
            backpressure_closes=self._delivery.closes,
            hub_messages=hub_messages,
            send_buffer_bytes=send_buffer_bytes,
            messages_received=messages_in,
            messages_sent=messages_out,
            bytes_received=bytes_in,
            bytes_sent=bytes_out,
        )

    def refuse_new_connections(self) -> None:
        """Answer every handshake from now on with 503 (the server is shutting down)."""
        self._opening.shutting_down = True

    def handle_stream(self, stream: trio.abc.Stream, remote: object = None) -> Awaitable[None]:
        """Serve one connection that is already accepted: the opening handshake (or an HTTP
        route), then the handler, until the connection ends (``await`` it).

        It never raises except for cancellation; the stream is closed when it returns. (Not a
        coroutine itself but the one it returns: a coroutine frame here would stay parked for
        the connection's whole life, memory held per connection for nothing.)
        """
        return self._serve(stream, remote, None)

    async def upgrade(
        self,
        stream: trio.abc.Stream,
        request: Request,
        *,
        trailing_data: bytes = b"",
        remote: object = None,
    ) -> None:
        """Upgrade a request someone else already read (the embedding case), then serve it.

        ``request`` is the parsed head and ``trailing_data`` whatever was read after it, so no
        frame is lost. The request is routed and validated as if this handler had read it; an
        invalid one gets its HTTP error answer. Returns when the connection ends; the stream is
        closed then.
        """
        await self._serve(stream, remote, Unfinished(trailing_data, request))

    async def _serve(
        self, stream: trio.abc.Stream, remote: object, so_far: Unfinished | None
    ) -> None:
        """The opening handshake (``so_far``: a request read already), then the handler; close
        the stream."""
        try:
            outcome = await self._open(stream, remote, so_far)
            # This frame lives as long as the connection: hold nothing the handler does not need.
            del so_far
            if outcome is Unserved.FAILED:
                self._counters.handshakes_failed += 1
            elif isinstance(outcome, Rejected):
                self._counters.handshakes_rejected[outcome.error.http_status] += 1
                if self.options.access_log:
                    log_rejection(remote, outcome.request, outcome.error)
            elif isinstance(outcome, Accepted):
                await self._run_handler(stream, remote, outcome)
        except Exception:
            # A bug in trioproto itself must not take the server down either.
            logger.exception("internal error on a connection; it was dropped")
        finally:
            await close_now(stream)

    async def _open(
        self, stream: trio.abc.Stream, remote: object, so_far: Unfinished | None
    ) -> Accepted | Rejected | Unserved:
        """The opening handshake, or :attr:`Unserved.FAILED` when the handshake timeout ends it
        first.

        On our socket transport it starts with :meth:`OpeningHandshake.answer_at_once`: a
        whole request needing nothing waited for is answered there, outside the timeout's
        cancel scope (it waits for nothing, and the scope is a good part of a short
        connection's cost); the rest goes on inside it. It reads without yielding first: the
        connection's task has just started, a scheduler pass after the accept loop spawned it,
        which gave the request the time to arrive a schedule point would (under load 98 % of
        first reads find it whole, 99 % with one more yield, which costs more than it saves).
        """
        just_yielded = False
        if so_far is None:
            so_far = NOTHING_YET
            if type(stream) is SocketTransport:
                attempt = self._opening.answer_at_once(stream, remote)
                if not isinstance(attempt, Unfinished):
                    return attempt
                so_far, just_yielded = attempt, True
        with trio.move_on_after(seconds_or_forever(self.options.timeouts.handshake)):
            return await self._opening.read_and_answer(
                stream, remote, so_far, just_yielded=just_yielded
            )
        logger.debug("opening handshake from %s timed out", remote)
        return Unserved.FAILED

    async def _run_handler(
        self, stream: trio.abc.Stream, remote: object, accepted: Accepted
    ) -> None:
        limits, timeouts = self.options.limits, self.options.timeouts
        codec = Codec(
            Role.SERVER,
            max_message_size=limits.max_message_size,
            max_frame_size=limits.effective_max_frame_size,
            compression=accepted.compression,
            trailing_data=accepted.trailing_data,
        )
        entry = accepted.selection.entry
        key = (accepted.route, accepted.selection.subprotocol or "")
        async with trio.open_nursery() as nursery:
            websocket = WebSocket(
                stream,
                codec,
                nursery=nursery,
                request=accepted.request,
                subprotocol=accepted.selection.subprotocol,
                remote=remote,
                limits=limits,
                timeouts=timeouts,
                hub=self.hub,
                outbox=Outbox(limits.max_send_buffer, self.options.backpressure, self._delivery),
            )
            websocket.state.update(accepted.state)
            self.connections.add(websocket)
            self.hub._attach(websocket)
            self._counters.connection_opened(key)
            if self._opening.shutting_down:
                # The 101 went out as the server began shutting down, after it had sent 1001
                # to the connections it knew of: this one gets its 1001 too.
                nursery.start_soon(websocket.close, 1001, "server shutting down")
            if logger.isEnabledFor(logging.DEBUG):  # its id is made only when read
                logger.debug(
                    "connection %s opened from %s (path %s, subprotocol %s)",
                    websocket.id,
                    remote,
                    accepted.request.path,
                    accepted.selection.subprotocol,
                )
            try:
                if entry.activation == "immediate":
                    websocket.activate()
                elif timeouts.activation is not None:
                    nursery.start_soon(_activation_watchdog, websocket, timeouts.activation)
                if self.keepalive is not None:
                    self.keepalive.add(websocket)
                elif timeouts.ping_interval is not None:
                    # Served without a server's shared monitor: a monitor of its own.
                    nursery.start_soon(
                        keep_alive, websocket, timeouts.ping_interval, timeouts.ping_timeout
                    )
                code, reason = 1000, ""
                try:
                    await entry.handler(websocket)
                except Exception as exc:
                    if not _is_end_of(codec, exc):
                        self._counters.handler_errors += 1
                        logger.error(
                            "handler raised on connection %s (path %s, subprotocol %s); "
                            "closing it with 1011",
                            websocket.id,
                            accepted.request.path,
                            accepted.selection.subprotocol,
                            exc_info=exc,
                        )
                        code, reason = 1011, "internal error"
                # The nursery's exit, next, is the schedule point.
                await websocket._parts.close(code, reason, schedule_point=False)
            finally:
                self.connections.discard(websocket)
                self.hub._detach(websocket)
                sent, received = codec.close_sent, codec.close_received
                self._counters.connection_closed(key, websocket.statistics(), sent, received)
                if self.options.access_log:
                    closed = ConnectionClosed(sent, received)
                    log_connection(websocket, accepted.route, closed, codec.close_initiator)
                if logger.isEnabledFor(logging.DEBUG):
                    closed = ConnectionClosed(sent, received)
                    ending = f"{closed.code} {closed.reason}".rstrip()
                    logger.debug("connection %s closed: %s", websocket.id, ending)
                if self.keepalive is not None:
                    self.keepalive.discard(websocket)
                if nursery.child_tasks:  # usually none: nothing to cancel
                    nursery.cancel_scope.cancel()


def _is_end_of(codec: Codec, exc: BaseException) -> bool:
    """Whether ``exc`` only says that the handler's own connection (``codec`` is its codec)
    closed under it (not a bug). A :class:`ConnectionClosed` from a send to *another*
    connection, while this one is still open, is a handler failure like any other exception."""
    if isinstance(exc, BaseExceptionGroup):
        return all(_is_end_of(codec, inner) for inner in exc.exceptions)
    return isinstance(exc, ConnectionClosed) and codec.state is not State.OPEN


async def _activation_watchdog(websocket: WebSocket, timeout: float) -> None:
    with trio.move_on_after(timeout):
        await websocket.wait_activated()
        return
    logger.warning(
        "connection %s was not activated within %s s; closing it with 1011", websocket.id, timeout
    )
    await websocket.fail(1011, "not activated in time")
