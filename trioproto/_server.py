"""The WebSocket server: listeners, one task per connection, handler isolation.

Theory of operation
-------------------
:func:`serve` opens the listeners, then runs two nurseries: the *handler nursery* holds one task
per connection, and inside it the *accept nursery* holds one accept loop per listener. Each
connection task (:meth:`WebSocketServer._serve_connection`):

1. does the TLS handshake (if any) and reads and answers the opening handshake, all inside
   ``Timeouts.handshake``, so a client that stalls cannot hold a slot for ever;
2. opens its own nursery for the reader task, registers the connection with the server's one
   keepalive task, and calls the handler;
3. ends the connection: 1000 when the handler returns, 1011 (logged once, with the traceback,
   the connection id, path and subprotocol) when it raises. Nothing a handler does, and no
   error in one connection, reaches the server or another connection; only cancellation
   propagates.

:meth:`WebSocketServer.aclose` cancels the accept loops, answers connections still in the
handshake with 503, sends 1001 to every open connection, and waits (up to ``Timeouts.close``)
for the handlers to return before cancelling the stragglers.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import logging
import os
import socket as stdlib_socket
import ssl
import stat
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass
from typing import TypeAlias

import trio

from ._closed import ConnectionClosed
from ._config import DEFAULT_LIMITS, DEFAULT_TIMEOUTS, Limits, Timeouts, seconds_or_forever
from ._connection import WebSocket, keepalive
from ._exceptions import InvalidHandshake
from ._keepalive import KeepaliveMonitor
from ._registry import Registry, Selection
from ._request import Accept, Reject, WebSocketRequest
from ._routing import HttpMatch, HttpRequest, Router, UpgradeTo, WebSocketMatch, split_target
from ._sansio._codec import Codec, Role
from ._sansio._deflate import DeflatePolicy, PerMessageDeflate, negotiate_server
from ._sansio._handshake import (
    accept_response,
    reject_error,
    reject_response,
    validate_request,
)
from ._sansio._http import Request, RequestHeadParser, serialize_response
from ._transport import SocketTransport, close_now

__all__ = ["App", "HandshakeHook", "ServerStatistics", "WebSocketServer", "serve"]

#: permessage-deflate as servers negotiate it unless told otherwise (see _deflate for costs).
DEFAULT_COMPRESSION = DeflatePolicy()

#: What a server serves: one registry on every path, or a router of paths.
App: TypeAlias = Registry | Router
#: Called with the request and the chosen subprotocol before the 101 is sent.
HandshakeHook: TypeAlias = Callable[
    [WebSocketRequest, str | None], Awaitable[Accept | Reject | None]
]

logger = logging.getLogger("trioproto")

#: What a successful handshake hands to the handler: its request view, the chosen handler, the
#: bytes received after the request head and the negotiated compression.
_Accepted: TypeAlias = tuple[WebSocketRequest, Selection, bytes, PerMessageDeflate | None]

# Errors from accept() that mean "out of resources now", not "listener broken"; trio's
# serve_listeners sleeps and retries on the same set.
_ACCEPT_CAPACITY_ERRNOS = {errno.EMFILE, errno.ENFILE, errno.ENOMEM, errno.ENOBUFS}
_HANDSHAKE_READ_SIZE = 16 * 1024


@dataclass(frozen=True, slots=True)
class ServerStatistics:
    """Counters of a server, as returned by :meth:`WebSocketServer.statistics`.

    Attributes:
        open_connections: connections past the handshake and not yet closed.
        total_connections: connections that completed the opening handshake so far.
        rejected_handshakes: handshakes answered with an HTTP error status.
        failed_handshakes: connections dropped before a complete handshake (timeout, EOF, TLS).
        handler_errors: handlers that raised (each logged and closed with 1011).
    """

    open_connections: int
    total_connections: int
    rejected_handshakes: int
    failed_handshakes: int
    handler_errors: int


class WebSocketServer:
    """A running server, as returned by ``await nursery.start(serve, ...)``.

    Attributes:
        listeners: the :class:`trio.SocketListener` objects accepting connections.
        connections: the connections currently open, as :class:`WebSocket` objects.
    """

    def __init__(
        self,
        app: App,
        listeners: Sequence[trio.SocketListener],
        *,
        ssl_context: ssl.SSLContext | None = None,
        limits: Limits = DEFAULT_LIMITS,
        timeouts: Timeouts = DEFAULT_TIMEOUTS,
        on_handshake: HandshakeHook | None = None,
        origins: Collection[str | None] | None = None,
        compression: DeflatePolicy | None = None,
    ) -> None:
        self.app = app
        self._compression = compression
        self._on_handshake = on_handshake
        self._origins = None if origins is None else frozenset(origins)
        self.listeners = list(listeners)
        self.connections: set[WebSocket] = set()
        self._ssl_context = ssl_context
        self._limits = limits
        self._timeouts = timeouts
        self._limiter = (
            trio.CapacityLimiter(limits.max_connections)
            if limits.max_connections is not None
            else None
        )
        self._accept_scope = trio.CancelScope()
        #: Pings every connection of this server from one task; set while serve() runs.
        self._keepalive: KeepaliveMonitor | None = None
        self._handler_scope = trio.CancelScope()
        self._closing = False
        self._stopped = trio.Event()
        self._total = self._rejected = self._failed = self._handler_errors = 0

    # ------------------------------------------------------------ public API

    @property
    def port(self) -> int:
        """The port of the first TCP listener (useful after binding port 0)."""
        return self.ports[0]

    @property
    def ports(self) -> list[int]:
        """The bound ports of all TCP listeners."""
        ports = []
        for listener in self.listeners:
            name = listener.socket.getsockname()
            if isinstance(name, tuple):
                ports.append(int(name[1]))
        return ports

    def statistics(self) -> ServerStatistics:
        """Counters of this server."""
        return ServerStatistics(
            open_connections=len(self.connections),
            total_connections=self._total,
            rejected_handshakes=self._rejected,
            failed_handshakes=self._failed,
            handler_errors=self._handler_errors,
        )

    async def aclose(self, code: int = 1001, reason: str = "server shutting down") -> None:
        """Stop accepting, close every connection with ``code``, wait for the handlers.

        Idempotent: a second call waits for the first to finish. Handlers still running
        ``Timeouts.close`` seconds after their connection closed are cancelled.
        """
        if not self._closing:
            self._closing = True
            self._accept_scope.cancel()
            async with trio.open_nursery() as nursery:
                for websocket in list(self.connections):
                    nursery.start_soon(websocket.close, code, reason)
            if self._timeouts.close is not None:
                self._handler_scope.deadline = trio.current_time() + self._timeouts.close
        await self._stopped.wait()

    # ------------------------------------------------------------- internals

    async def _run(self, task_status: trio.TaskStatus[WebSocketServer]) -> None:
        try:
            with self._handler_scope:
                async with trio.open_nursery() as handler_nursery:
                    try:
                        with self._accept_scope:
                            async with trio.open_nursery() as accept_nursery:
                                if self._timeouts.ping_interval is not None:
                                    self._keepalive = KeepaliveMonitor(
                                        self._timeouts.ping_interval, self._timeouts.ping_timeout
                                    )
                                    accept_nursery.start_soon(self._keepalive.run)
                                for listener in self.listeners:
                                    accept_nursery.start_soon(
                                        self._accept_loop, listener, handler_nursery
                                    )
                                task_status.started(self)
                    finally:
                        # Accepting stopped: the handlers finish in the outer nursery.
                        for listener in self.listeners:
                            await trio.aclose_forcefully(listener)
        finally:
            self._stopped.set()

    async def _accept_loop(self, listener: trio.SocketListener, nursery: trio.Nursery) -> None:
        while True:
            token = object()
            if self._limiter is not None:
                await self._limiter.acquire_on_behalf_of(token)
            try:
                sock, _address = await listener.socket.accept()
            except OSError as exc:
                if self._limiter is not None:
                    self._limiter.release_on_behalf_of(token)
                if exc.errno in _ACCEPT_CAPACITY_ERRNOS:
                    logger.error("accept() failed (%s); retrying in 100 ms", exc)
                    await trio.sleep(0.1)
                    continue
                raise
            except BaseException:
                if self._limiter is not None:
                    self._limiter.release_on_behalf_of(token)
                raise
            nursery.start_soon(self._serve_connection, sock, token)

    async def handle_stream(self, stream: trio.abc.Stream, *, remote: object = None) -> None:
        """Serve one connection that is already accepted: the opening handshake (or an HTTP
        route), then the handler, until the connection ends.

        This is what the accept loop runs for every client; call it yourself to serve a stream
        from elsewhere (an in-memory stream in tests, a stream your own listener accepted).
        It never raises except for cancellation; the stream is closed when it returns.
        """
        await self._serve(stream, remote, functools.partial(self._handshake, stream, remote))

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
        frame is lost. The request is routed and validated as if this server had read it; an
        invalid one gets its HTTP error answer. Returns when the connection ends; the stream is
        closed then.
        """
        answer = functools.partial(self._answer, stream, request, trailing_data, remote)
        await self._serve(stream, remote, answer)

    async def _serve(
        self,
        stream: trio.abc.Stream,
        remote: object,
        handshake: Callable[[], Awaitable[_Accepted | None]],
    ) -> None:
        """Run ``handshake`` within the handshake timeout, then the handler; close the stream."""
        try:
            with trio.move_on_after(seconds_or_forever(self._timeouts.handshake)) as timeout:
                accepted = await handshake()
            if timeout.cancelled_caught:
                self._failed += 1
                logger.debug("opening handshake from %s timed out", remote)
                return
            if accepted is not None:
                await self._run_handler(stream, remote, *accepted)
        except Exception:
            # A bug in trioproto itself must not take the server down either.
            logger.exception("internal error on a connection; it was dropped")
        finally:
            await close_now(stream)

    async def _serve_connection(self, sock: trio.socket.SocketType, token: object) -> None:
        stream: trio.abc.Stream
        try:
            remote = _peer_address(sock)
            if self._ssl_context is not None:
                # The TLS handshake happens on the first read, inside the handshake timeout.
                stream = trio.SSLStream(
                    trio.SocketStream(sock),
                    self._ssl_context,
                    server_side=True,
                    https_compatible=True,
                )
            else:
                stream = SocketTransport(sock)
            await self.handle_stream(stream, remote=remote)
        finally:
            sock.close()
            if self._limiter is not None:
                self._limiter.release_on_behalf_of(token)

    async def _handshake(self, stream: trio.abc.Stream, remote: object) -> _Accepted | None:
        """Read the request head, then answer it (see :meth:`_answer`)."""
        try:
            parser = RequestHeadParser(self._limits)
            try:
                while True:
                    data = await stream.receive_some(_HANDSHAKE_READ_SIZE)
                    if not data:
                        self._failed += 1
                        logger.debug("%s closed the connection during the handshake", remote)
                        return None
                    request = parser.feed(data)
                    if request is not None:
                        break
            except InvalidHandshake as exc:
                await self._refuse(stream, remote, exc)
                return None
            return await self._answer(stream, request, parser.trailing_data, remote)
        except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            self._failed += 1
            logger.debug("handshake with %s failed: %r", remote, exc)
            return None

    async def _answer(
        self, stream: trio.abc.Stream, request: Request, trailing_data: bytes, remote: object
    ) -> _Accepted | None:
        """Route a request: serve an HTTP route, refuse it, or send the 101 (RFC 6455 §4.2.2).

        Returns what the handler needs, or ``None`` once the request is answered otherwise.
        """
        try:
            if self._closing:
                raise InvalidHandshake("server shutting down", 503)
            path, query = split_target(request.target)
            match = self._resolve(request, path)
            if isinstance(match, HttpMatch):
                upgrade = await self._serve_http(stream, request, match, path, query, remote)
                if upgrade is None:
                    return None
                match = WebSocketMatch(upgrade.registry(), match.path_params)
            handshake = validate_request(request)
            self._check_origin(handshake.origin)
            selection = match.registry.select(handshake.subprotocols)
            ws_request = WebSocketRequest.from_handshake(
                handshake, path_params=match.path_params, remote=remote
            )
            extra_headers: tuple[tuple[str, str], ...] = ()
            if self._on_handshake is not None:
                decision = await self._decide(ws_request, selection.subprotocol)
                if isinstance(decision, Reject):
                    raise InvalidHandshake(decision.body, decision.status, decision.headers)
                if isinstance(decision, Accept):
                    extra_headers = decision.headers
            extension_header, compressor = self._negotiate_compression(handshake.extensions)
        except InvalidHandshake as exc:
            await self._refuse(stream, remote, exc)
            return None
        await stream.send_all(
            accept_response(
                handshake,
                subprotocol=selection.subprotocol,
                extensions=extension_header,
                extra_headers=extra_headers,
            )
        )
        return ws_request, selection, trailing_data, compressor

    def _negotiate_compression(
        self, offers: Sequence[str]
    ) -> tuple[str | None, PerMessageDeflate | None]:
        """permessage-deflate (RFC 7692) when the policy allows and the client offers it."""
        policy = self._compression
        if policy is None or not offers:
            return None, None
        negotiated = negotiate_server(offers, policy)
        if negotiated is None:
            return None, None
        header, parameters = negotiated
        return header, PerMessageDeflate(
            parameters,
            is_client=False,
            min_size=policy.min_size,
            compress_level=policy.compress_level,
            mem_level=policy.mem_level,
        )

    async def _decide(
        self, request: WebSocketRequest, subprotocol: str | None
    ) -> Accept | Reject | None:
        assert self._on_handshake is not None
        try:
            return await self._on_handshake(request, subprotocol)
        except Exception:
            logger.exception("the handshake hook raised on %s; answering 500", request.path)
            raise InvalidHandshake("internal server error", 500) from None

    async def _refuse(self, stream: trio.abc.Stream, remote: object, exc: InvalidHandshake) -> None:
        self._rejected += 1
        logger.debug("rejected handshake from %s: %d %s", remote, exc.http_status, exc)
        await _send_quietly(stream, reject_error(exc))

    def _resolve(self, request: Request, path: str) -> WebSocketMatch | HttpMatch:
        if isinstance(self.app, Router):
            return self.app.resolve(request, path)
        return WebSocketMatch(self.app, {})

    def _check_origin(self, origin: str | None) -> None:
        """The Origin allow-list (RFC 6455 §10.2): 403 for an origin not listed."""
        if self._origins is not None and origin not in self._origins:
            raise InvalidHandshake(f"origin {origin!r} is not allowed", 403)

    async def _serve_http(
        self,
        stream: trio.abc.Stream,
        request: Request,
        match: HttpMatch,
        path: str,
        query: dict[str, list[str]],
        remote: object,
    ) -> UpgradeTo | None:
        """Answer a plain HTTP route, then close (``Connection: close``); or return the
        handler's decision to upgrade after all."""
        http_request = HttpRequest(
            request.method, path, query, request.headers, match.path_params, remote
        )
        try:
            response = await match.handler(http_request)
        except Exception:
            logger.exception("HTTP handler for %s raised; answering 500", path)
            response_bytes = reject_response(500, "internal server error")
        else:
            if isinstance(response, UpgradeTo):
                return response
            headers = [*response.headers, ("Connection", "close")]
            response_bytes = serialize_response(response.status, headers, response.body)
            if request.method == "HEAD":
                # Same headers (Content-Length included), no body (RFC 9110 §9.3.2).
                response_bytes = response_bytes[: len(response_bytes) - len(response.body)]
        await _send_quietly(stream, response_bytes)
        return None

    async def _run_handler(
        self,
        stream: trio.abc.Stream,
        remote: object,
        request: WebSocketRequest,
        selection: Selection,
        trailing_data: bytes,
        compressor: PerMessageDeflate | None,
    ) -> None:
        codec = Codec(
            Role.SERVER,
            limits=self._limits,
            compression=compressor,
            trailing_data=trailing_data,
            defer_failure=True,  # WebSocket lets the handler catch up first
        )
        self._total += 1
        async with trio.open_nursery() as nursery:
            websocket = WebSocket(
                stream,
                codec,
                nursery=nursery,
                request=request,
                subprotocol=selection.subprotocol,
                remote=remote,
                limits=self._limits,
                timeouts=self._timeouts,
            )
            self.connections.add(websocket)
            try:
                if selection.entry.activation == "immediate":
                    websocket.activate()
                elif self._timeouts.activation is not None:
                    nursery.start_soon(_activation_watchdog, websocket, self._timeouts.activation)
                if self._keepalive is not None:
                    self._keepalive.add(websocket)
                elif self._timeouts.ping_interval is not None:
                    # Served outside serve() (upgrade(), handle_stream()): no shared monitor.
                    nursery.start_soon(
                        keepalive,
                        websocket,
                        self._timeouts.ping_interval,
                        self._timeouts.ping_timeout,
                    )
                code, reason = 1000, ""
                try:
                    await selection.entry.handler(websocket)
                except Exception as exc:
                    if not _is_end_of(websocket, exc):
                        self._handler_errors += 1
                        logger.error(
                            "handler raised on connection %s (path %s, subprotocol %s); "
                            "closing it with 1011",
                            websocket.id,
                            request.path,
                            selection.subprotocol,
                            exc_info=exc,
                        )
                        code, reason = 1011, "internal error"
                await websocket.close(code, reason)
            finally:
                self.connections.discard(websocket)
                if self._keepalive is not None:
                    self._keepalive.discard(websocket)
                nursery.cancel_scope.cancel()


# ---------------------------------------------------------------- entry points


async def serve(
    app: App,
    port: int = 0,
    *,
    host: str | bytes | None = None,
    unix_path: str | None = None,
    ssl_context: ssl.SSLContext | None = None,
    limits: Limits = DEFAULT_LIMITS,
    timeouts: Timeouts = DEFAULT_TIMEOUTS,
    on_handshake: HandshakeHook | None = None,
    origins: Collection[str | None] | None = None,
    compression: DeflatePolicy | None = DEFAULT_COMPRESSION,
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
        port: the TCP port; 0 picks a free one (see :attr:`WebSocketServer.port`).
        host: the address to bind; ``None`` binds every interface (as
            :func:`trio.open_tcp_listeners` does).
        unix_path: listen on this Unix socket path instead of TCP.
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
        backlog: the listen backlog (trio's default when ``None``).
        reuse_address: set ``SO_REUSEADDR`` (TCP) so a restarted server can bind at once.
        task_status: for ``nursery.start``.
    """
    if unix_path is not None:
        listeners = [await _open_unix_listener(unix_path, backlog)]
    else:
        listeners = await _open_tcp_listeners(port, host, backlog, reuse_address)
    server = WebSocketServer(
        app,
        listeners,
        ssl_context=ssl_context,
        limits=limits,
        timeouts=timeouts,
        on_handshake=on_handshake,
        origins=origins,
        compression=compression,
    )
    await server._run(task_status)


async def _open_tcp_listeners(
    port: int, host: str | bytes | None, backlog: int | None, reuse_address: bool
) -> list[trio.SocketListener]:
    listeners = await trio.open_tcp_listeners(port, host=host, backlog=backlog)
    if not reuse_address:
        for listener in listeners:
            listener.socket.setsockopt(stdlib_socket.SOL_SOCKET, stdlib_socket.SO_REUSEADDR, 0)
    return listeners


async def _open_unix_listener(path: str, backlog: int | None) -> trio.SocketListener:
    sock = trio.socket.socket(stdlib_socket.AF_UNIX, stdlib_socket.SOCK_STREAM)
    try:
        if _is_stale_socket(path):
            os.unlink(path)  # left behind by a previous run
        await sock.bind(path)
        sock.listen(backlog if backlog is not None else 0xFFFF)
    except BaseException:
        sock.close()
        raise
    return trio.SocketListener(sock)


def _is_stale_socket(path: str) -> bool:
    """Whether ``path`` is a Unix socket file (never unlink a regular file by mistake)."""
    try:
        return stat.S_ISSOCK(os.stat(path).st_mode)
    except FileNotFoundError:
        return False


# ------------------------------------------------------------------- helpers


def _peer_address(sock: trio.socket.SocketType) -> object:
    try:
        return sock.getpeername()
    except OSError:
        return None


def _is_end_of(websocket: WebSocket, exc: BaseException) -> bool:
    """Whether ``exc`` only says that the handler's own connection closed under it (not a
    bug). A :class:`ConnectionClosed` from a send to *another* connection, while this one is
    still open, is a handler failure like any other exception."""
    if isinstance(exc, BaseExceptionGroup):
        return all(_is_end_of(websocket, inner) for inner in exc.exceptions)
    return isinstance(exc, ConnectionClosed) and websocket.statistics().state != "open"


async def _send_quietly(stream: trio.abc.Stream, data: bytes) -> None:
    with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
        await stream.send_all(data)


async def _activation_watchdog(websocket: WebSocket, timeout: float) -> None:
    with trio.move_on_after(timeout):
        await websocket.wait_activated()
        return
    logger.warning(
        "connection %s was not activated within %s s; closing it with 1011", websocket.id, timeout
    )
    await websocket.fail(1011, "not activated in time")
