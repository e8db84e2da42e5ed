"""The WebSocket server: its listeners, its lifetime and its statistics.

Theory of operation
-------------------
:func:`serve` opens the listeners (or takes ready ones), then runs two nurseries: the *handler
nursery* holds one task per connection, and inside it the *accept nursery* holds one accept
loop per listener (``_listeners.accept_forever``) and the keepalive monitor. Each accepted
stream is served by the server's one :class:`~trioproto._connection_handler.ConnectionHandler`
(opening handshake, then the handler).

:meth:`WebSocketServer.aclose` cancels the accept loops, answers connections still in the
handshake with 503, sends 1001 to every open connection (the closing handshakes bounded by
``Timeouts.close``), and gives the handlers ``Timeouts.shutdown`` more to return before
cancelling the stragglers. The handler nursery runs in a shielded scope, so cancelling
:func:`serve` (the trio way to stop it) does the same, the whole of it within
``Timeouts.shutdown``, instead of dropping every client with 1006.
"""

from __future__ import annotations

import contextvars
import dataclasses
import logging
import ssl
from collections.abc import Collection, Sequence
from typing import TypeAlias

import trio

from ._config import DEFAULT_LIMITS, DEFAULT_TIMEOUTS, Limits, Timeouts, seconds_or_forever
from ._connection import WebSocket
from ._connection_handler import ConnectionHandler, ServerStatistics
from ._hub import Hub
from ._keepalive import KeepaliveMonitor
from ._listeners import DEFAULT_HOST, accept_forever, open_tcp_listeners, open_unix_listener
from ._options import DEFAULT_COMPRESSION, DEFAULT_SERVER_OPTIONS, HandshakeHook, ServerOptions
from ._outbox import DEFAULT_POLICY, BackpressurePolicy
from ._registry import Registry
from ._routing import Router
from ._sansio._deflate import DeflatePolicy
from ._sansio._http import Request

__all__ = ["App", "Listener", "WebSocketServer", "current_server", "serve"]

logger = logging.getLogger("trioproto")

#: What a server serves: one registry on every path, or a router of paths.
App: TypeAlias = Registry | Router
#: What a server accepts connections from.
Listener: TypeAlias = trio.abc.Listener[trio.abc.Stream]

#: The server whose task is running: set by the server for its own tasks (every connection
#: task inherits it), so an HTTP route such as the metrics endpoint can describe the server
#: that answers it.
_current_server: contextvars.ContextVar[WebSocketServer] = contextvars.ContextVar(
    "trioproto_current_server"
)


def current_server() -> WebSocketServer:
    """The server serving the calling connection task (in an HTTP route's handler, say).

    Raises:
        LookupError: called outside a connection a :class:`WebSocketServer` serves.
    """
    return _current_server.get()


class WebSocketServer:
    """A running server, as returned by ``await nursery.start(serve, ...)``.

    Args:
        app: the registry or router served.
        listeners: the listeners to accept from (any :class:`trio.abc.Listener` of streams).
        options: how every connection is served.
        ssl_context: wrap every accepted stream in server-side TLS with this context.
        hub: the :class:`~trioproto.Hub` for publish/broadcast/send_to; a new one if
            ``None``. The server runs it (its backplane, if any) unless it runs already.

    Attributes:
        listeners: the listeners accepting connections.
        handler: the :class:`~trioproto.ConnectionHandler` serving every accepted stream.
        connections: the connections currently open, as :class:`WebSocket` objects.
    """

    def __init__(
        self,
        app: App,
        listeners: Sequence[Listener],
        *,
        options: ServerOptions = DEFAULT_SERVER_OPTIONS,
        ssl_context: ssl.SSLContext | None = None,
        hub: Hub | None = None,
    ) -> None:
        self.listeners = list(listeners)
        self.handler = ConnectionHandler(app, options, hub)
        self.connections: set[WebSocket] = self.handler.connections
        self._options = options
        self._ssl_context = ssl_context
        max_connections = options.limits.max_connections
        self._limiter = (
            trio.CapacityLimiter(max_connections) if max_connections is not None else None
        )
        self._accept_scope = trio.CancelScope()
        self._handler_scope = trio.CancelScope(shield=True)
        self._accepting_done = trio.Event()
        self._closing = False
        self._stopped = trio.Event()

    # ------------------------------------------------------------ public API

    @property
    def app(self) -> App:
        """The registry or router served."""
        return self.handler.app

    @property
    def hub(self) -> Hub:
        """The :class:`~trioproto.Hub` every connection of this server is registered with."""
        return self.handler.hub

    @property
    def port(self) -> int:
        """The port of the first TCP listener (useful after binding port 0)."""
        return self.ports[0]

    @property
    def ports(self) -> list[int]:
        """The bound ports of all TCP listeners."""
        ports = []
        for listener in self.listeners:
            if isinstance(listener, trio.SocketListener):
                name = listener.socket.getsockname()
                if isinstance(name, tuple):
                    ports.append(int(name[1]))
        return ports

    @property
    def node_id(self) -> str:
        """Which node (worker process) this server is: its hub's ``node_id`` (uuid4 hex)."""
        return self.handler.hub.node_id

    def statistics(self) -> ServerStatistics:
        """Counters of this server, its node id, and its hub's backplane statistics."""
        backplane = self.hub.backplane
        return dataclasses.replace(
            self.handler.statistics(),
            node_id=self.node_id,
            backplane=backplane.statistics() if backplane is not None else None,
        )

    async def handle_stream(self, stream: trio.abc.Stream, *, remote: object = None) -> None:
        """Serve one connection accepted elsewhere; see :meth:`ConnectionHandler.handle_stream`."""
        token = _current_server.set(self)
        try:
            await self.handler.handle_stream(stream, remote)
        finally:
            _current_server.reset(token)

    async def upgrade(
        self,
        stream: trio.abc.Stream,
        request: Request,
        *,
        trailing_data: bytes = b"",
        remote: object = None,
    ) -> None:
        """Upgrade a request someone else already read; see :meth:`ConnectionHandler.upgrade`."""
        token = _current_server.set(self)
        try:
            await self.handler.upgrade(stream, request, trailing_data=trailing_data, remote=remote)
        finally:
            _current_server.reset(token)

    async def aclose(self, code: int = 1001, reason: str = "server shutting down") -> None:
        """Stop accepting, close every connection with ``code``, wait for the handlers.

        The closing handshakes run side by side, each bounded by ``Timeouts.close``; handlers
        still running ``Timeouts.shutdown`` seconds after that are cancelled. Idempotent: a
        second call waits for the first to finish.
        """
        if not self._closing:
            await self._shut_down(code, reason)
        await self._stopped.wait()

    # ------------------------------------------------------------- internals

    async def _shut_down(self, code: int, reason: str) -> None:
        self._closing = True
        logger.info(
            "server shutting down: closing %d connections with %d", len(self.connections), code
        )
        self.handler.refuse_new_connections()
        self._accept_scope.cancel()
        async with trio.open_nursery() as nursery:  # each close is bounded by Timeouts.close
            for websocket in list(self.connections):
                nursery.start_soon(websocket.close, code, reason)
        shutdown = self._options.timeouts.shutdown
        if shutdown is not None:
            self._handler_scope.deadline = trio.current_time() + shutdown
        self._accepting_done.set()

    async def _run(self, task_status: trio.TaskStatus[WebSocketServer]) -> None:
        """Run the hub (unless it runs already) for as long as the listeners and handlers."""
        async with trio.open_nursery() as hub_nursery:
            if not self.hub.running:
                await hub_nursery.start(self.hub.run)
            await self._run_listeners(task_status)
            hub_nursery.cancel_scope.cancel()

    async def _run_listeners(self, task_status: trio.TaskStatus[WebSocketServer]) -> None:
        timeouts = self._options.timeouts
        token = _current_server.set(self)  # inherited by the tasks started below
        try:
            async with trio.open_nursery() as nursery:
                # The handlers run in a shielded scope: cancelling serve() stops the accept
                # loops at once, and the handlers only after their clients got a 1001.
                handler_nursery: trio.Nursery = await nursery.start(self._hold_handlers)
                try:
                    with self._accept_scope:
                        async with trio.open_nursery() as accept_nursery:
                            if timeouts.ping_interval is not None:
                                monitor = KeepaliveMonitor(
                                    timeouts.ping_interval, timeouts.ping_timeout
                                )
                                self.handler.keepalive = monitor
                                accept_nursery.start_soon(monitor.run)
                            for listener in self.listeners:
                                accept_nursery.start_soon(
                                    self._accept_forever, listener, handler_nursery
                                )
                            if logger.isEnabledFor(logging.INFO):
                                logger.info("%s", self._describe())
                            task_status.started(self)
                finally:
                    # Shielded: this runs when serve() is cancelled, too.
                    with trio.CancelScope(shield=True) as grace:
                        for listener in self.listeners:
                            await trio.aclose_forcefully(listener)
                        if not self._closing:  # cancelled, or an accept loop failed
                            grace.deadline = trio.current_time() + seconds_or_forever(
                                timeouts.shutdown
                            )
                            await self._shut_down(1001, "server shutting down")
                            self._handler_scope.cancel()  # the grace is over
                    if grace.cancelled_caught:
                        self._handler_scope.cancel()
        finally:
            _current_server.reset(token)
            self._stopped.set()
            stats = self.statistics()
            logger.info(
                "server stopped: %d connections served, %d handshakes rejected, "
                "%d failed, %d handler errors",
                stats.total_connections,
                stats.rejected_handshakes,
                stats.failed_handshakes,
                stats.handler_errors,
            )

    def _describe(self) -> str:
        """The start-up log line: where it listens and the options that matter."""
        scheme = "wss" if self._ssl_context is not None else "ws"
        where = ", ".join(_listener_url(scheme, listener) for listener in self.listeners)
        limits, origins = self._options.limits, self._options.origins
        compression = "deflate" if self._options.compression is not None else "off"
        return (
            f"listening on {where} (max_message_size={limits.max_message_size}, "
            f"max_connections={limits.max_connections}, compression={compression}, "
            f"origins={'any' if origins is None else sorted(map(str, origins))})"
        )

    async def _hold_handlers(self, task_status: trio.TaskStatus[trio.Nursery]) -> None:
        """Run the handler nursery until accepting is over and every handler has ended."""
        with self._handler_scope:
            async with trio.open_nursery() as handler_nursery:
                task_status.started(handler_nursery)
                await self._accepting_done.wait()

    async def _accept_forever(self, listener: Listener, nursery: trio.Nursery) -> None:
        await accept_forever(
            listener,
            self.handler.handle_stream,
            nursery,
            limiter=self._limiter,
            ssl_context=self._ssl_context,
        )


async def serve(
    app: App,
    port: int = 0,
    *,
    host: str | bytes | None = DEFAULT_HOST,
    unix_path: str | None = None,
    listeners: Sequence[Listener] | None = None,
    ssl_context: ssl.SSLContext | None = None,
    limits: Limits = DEFAULT_LIMITS,
    timeouts: Timeouts = DEFAULT_TIMEOUTS,
    on_handshake: HandshakeHook | None = None,
    origins: Collection[str | None] | None = None,
    compression: DeflatePolicy | None = DEFAULT_COMPRESSION,
    hub: Hub | None = None,
    backpressure: BackpressurePolicy | str = DEFAULT_POLICY,
    access_log: bool = False,
    backlog: int | None = None,
    reuse_address: bool = True,
    task_status: trio.TaskStatus[WebSocketServer] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve WebSocket connections until cancelled or :meth:`WebSocketServer.aclose` is called.

    Use it with ``await nursery.start(serve, registry, port)``, which returns the
    :class:`WebSocketServer` once the listeners are bound.

    Args:
        app: a :class:`~trioproto.Registry` serving every path, or a :class:`~trioproto.Router`
            of WebSocket and plain HTTP routes.
        port: the TCP port, 0 to 65535; 0 picks a free one (see :attr:`WebSocketServer.port`).
        host: the address to bind: the loopback interface by default (as the command line
            does), so nothing is exposed by accident; ``None`` binds every interface, IPv4 and
            IPv6 (with port 0, all on one port), as :func:`trio.open_tcp_listeners` does.
        unix_path: listen on this Unix socket path instead of TCP. A stale socket file left
            by a previous run is replaced; a path where a server still listens raises
            ``OSError`` (``EADDRINUSE``), and a path that is not a socket ``OSError``
            (``EEXIST``).
        listeners: serve these ready listeners (any :class:`trio.abc.Listener` of streams, as
            :func:`trio.serve_listeners` takes) instead of opening any; then ``port``,
            ``host``, ``unix_path``, ``backlog`` and ``reuse_address`` must keep their defaults.
        ssl_context: serve wss:// with this server-side context.
        limits: size limits, ``max_connections`` included.
        timeouts: handshake, close, keepalive and activation timeouts.
        on_handshake: ``async hook(request, subprotocol)`` called before the 101; returns
            :class:`~trioproto.Reject` to refuse with a status, :class:`~trioproto.Accept` to
            add response headers, or ``None`` to accept.
        origins: the allowed ``Origin`` values (``None`` in it admits clients that send no
            Origin, i.e. non-browsers); others get 403 (RFC 6455 §10.2). ``None``: no check.
        compression: the permessage-deflate policy (RFC 7692), on by default as browsers
            expect; ``None`` turns it off.
        hub: the :class:`~trioproto.Hub` for publish/broadcast/send_to; a new one if
            ``None``. The server runs it (its backplane, if any) unless it runs already.
        backpressure: what happens when a connection's hub messages pass
            ``Limits.max_send_buffer``: ``"close"`` (1013, the default), ``"drop_oldest"``,
            ``"drop_newest"``, or a :class:`~trioproto.BackpressurePolicy`.
        access_log: log one record per connection when it ends, and one per rejected
            handshake, on the ``trioproto.access`` logger.
        backlog: the listen backlog (trio's default when ``None``).
        reuse_address: set ``SO_REUSEADDR`` (TCP) so a restarted server can bind at once.
        task_status: for ``nursery.start``.

    Raises:
        ValueError: ``port`` is outside 0-65535, or ``listeners`` given together with an
            argument for opening listeners.
        OSError: the address is in use or cannot be bound, the host is unknown
            (:class:`socket.gaierror`), or ``unix_path`` is taken (see above).
    """
    if not 0 <= port <= 65535:  # the kernel would silently take it modulo 65536
        raise ValueError(f"port {port} is out of range: use 0 to 65535")
    options = ServerOptions(
        limits=limits,
        timeouts=timeouts,
        compression=compression,
        origins=origins,
        on_handshake=on_handshake,
        backpressure=backpressure,
        access_log=access_log,
    )
    if listeners is not None:
        if port != 0 or host != DEFAULT_HOST or unix_path is not None:
            raise ValueError("give either listeners or port/host/unix_path, not both")
        if backlog is not None or not reuse_address:
            raise ValueError("backlog and reuse_address apply only to listeners serve() opens")
        opened: Sequence[Listener] = listeners
    elif unix_path is not None:
        opened = [await open_unix_listener(unix_path, backlog)]
    else:
        opened = await open_tcp_listeners(port, host, backlog, reuse_address)
    server = WebSocketServer(app, opened, options=options, ssl_context=ssl_context, hub=hub)
    await server._run(task_status)


def _listener_url(scheme: str, listener: Listener) -> str:
    """Where ``listener`` listens, as a URL (or its type, for a listener without a socket)."""
    if not isinstance(listener, trio.SocketListener):
        return type(listener).__name__
    name = listener.socket.getsockname()
    if isinstance(name, tuple):
        host = f"[{name[0]}]" if ":" in name[0] else name[0]
        return f"{scheme}://{host}:{name[1]}/"
    path = name.decode() if isinstance(name, bytes) else str(name)
    return f"{scheme}+unix://{path}"
