"""Test a handler without sockets: an in-memory client talking to a server's app."""

from __future__ import annotations

import functools
import ssl
from collections.abc import AsyncIterator, Collection, Sequence
from contextlib import asynccontextmanager

import trio
import trio.testing

from .._client import connect_websocket
from .._closed import ConnectionClosed
from .._config import DEFAULT_LIMITS, DEFAULT_TIMEOUTS, Limits, Timeouts
from .._connection import WebSocket
from .._connection_handler import ConnectionHandler
from .._hub import Hub
from .._listeners import DEFAULT_HOST
from .._nursery import open_task_nursery
from .._options import DEFAULT_COMPRESSION, HandshakeHook, ServerOptions
from .._outbox import DEFAULT_POLICY, BackpressurePolicy
from .._sansio._deflate import DeflatePolicy
from .._server import App, WebSocketServer, serve

__all__ = ["TestClient", "open_test_client", "open_test_server"]

#: No keepalive in tests: nothing should depend on the clock unless a test asks for it.
TEST_TIMEOUTS = Timeouts(ping_interval=None)


class TestClient:
    """The client side of :func:`open_test_client`, with assertion helpers.

    Attributes:
        websocket: the client's :class:`~trioproto.WebSocket` (full API).
        server: the :class:`~trioproto.ConnectionHandler` serving the in-memory connection
            (``statistics()``, ``connections``).
    """

    __test__ = False  # not a pytest test class

    def __init__(self, websocket: WebSocket, server: ConnectionHandler) -> None:
        self.websocket = websocket
        self.server = server

    @property
    def subprotocol(self) -> str | None:
        """The subprotocol the server chose."""
        return self.websocket.subprotocol

    async def send(self, message: str | bytes) -> None:
        """Send one message to the handler."""
        await self.websocket.send(message)

    async def receive(self) -> str | bytes:
        """Receive the handler's next message."""
        return await self.websocket.receive()

    async def expect(self, expected: str | bytes) -> None:
        """Receive the next message and assert it equals ``expected``.

        Raises:
            AssertionError: another message arrived, or the connection closed instead.
        """
        try:
            message = await self.websocket.receive()
        except (trio.EndOfChannel, ConnectionClosed) as exc:
            raise AssertionError(
                f"expected {expected!r}, but the connection closed: {exc!r}"
            ) from exc
        if message != expected:
            raise AssertionError(f"expected {expected!r}, received {message!r}")

    async def expect_close(self, code: int, reason: str | None = None) -> None:
        """Wait for the server to close and assert its close code (and reason if given).

        Messages still arriving before the close are discarded.
        """
        while True:
            try:
                await self.websocket.receive()
            except (trio.EndOfChannel, ConnectionClosed):
                break
        closed = self.websocket.closed
        assert closed is not None
        if closed.code != code or (reason is not None and closed.reason != reason):
            raise AssertionError(
                f"expected close {code} {reason or ''}, got {closed.code} {closed.reason}"
            )

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close the connection from the client side."""
        await self.websocket.close(code, reason)


@asynccontextmanager
async def open_test_client(
    app: App,
    path: str = "/",
    *,
    subprotocols: Sequence[str] = (),
    headers: Sequence[tuple[str, str]] = (),
    origin: str | None = None,
    limits: Limits = DEFAULT_LIMITS,
    timeouts: Timeouts = TEST_TIMEOUTS,
    compression: DeflatePolicy | None = DEFAULT_COMPRESSION,
    origins: Collection[str | None] | None = None,
    on_handshake: HandshakeHook | None = None,
    hub: Hub | None = None,
) -> AsyncIterator[TestClient]:
    """Run ``app`` (a registry or router) against an in-memory client; no sockets involved.

    The server side is the real server code (handshake, routing, handler isolation) over
    :func:`trio.testing.memory_stream_pair`, with the same defaults as :func:`trioproto.serve`
    (compression on) except keepalive, which is off so that no test depends on the clock.
    A handshake the server refuses raises :class:`~trioproto.HandshakeRejected`.

    Args:
        app: the registry or router under test.
        path: the request target, query included.
        subprotocols: offered by the client, in preference order.
        headers: extra request headers.
        origin: the client's ``Origin`` header.
        limits: size limits, for both sides.
        timeouts: timeouts, for both sides.
        compression: permessage-deflate policy, for both sides; ``None`` turns it off.
        origins: the server's Origin allow-list, as for :func:`trioproto.serve`.
        on_handshake: the server's handshake hook, as for :func:`trioproto.serve`.
        hub: the server's :class:`~trioproto.Hub`; pass one hub to several test clients to
            let their handlers publish to each other (a new hub for each client otherwise).

    Example::

        async def test_echo():
            async with open_test_client(registry, subprotocols=["echo"]) as client:
                await client.send("hi")
                await client.expect("hi")
    """
    client_stream, server_stream = trio.testing.memory_stream_pair()
    options = ServerOptions(
        limits=limits,
        timeouts=timeouts,
        compression=compression,
        origins=origins,
        on_handshake=on_handshake,
    )
    server = ConnectionHandler(app, options, hub)
    async with open_task_nursery() as nursery:
        nursery.start_soon(server.handle_stream, server_stream, "memory")
        websocket = await connect_websocket(
            nursery,
            f"ws://testserver{path}",
            stream=client_stream,
            subprotocols=subprotocols,
            headers=headers,
            origin=origin,
            limits=limits,
            timeouts=timeouts,
            compression=compression,
        )
        try:
            yield TestClient(websocket, server)
        finally:
            with trio.move_on_after(_close_timeout(timeouts), shield=True):
                await websocket.close()


async def open_test_server(
    nursery: trio.Nursery,
    app: App,
    *,
    host: str = DEFAULT_HOST,
    ssl_context: ssl.SSLContext | None = None,
    limits: Limits = DEFAULT_LIMITS,
    timeouts: Timeouts = DEFAULT_TIMEOUTS,
    compression: DeflatePolicy | None = DEFAULT_COMPRESSION,
    origins: Collection[str | None] | None = None,
    on_handshake: HandshakeHook | None = None,
    hub: Hub | None = None,
    backpressure: BackpressurePolicy | str = DEFAULT_POLICY,
) -> WebSocketServer:
    """Start a real server for ``app`` on a free loopback port (``host``, port 0) in
    ``nursery``; the arguments are :func:`trioproto.serve`'s, with its defaults.

    Connect to ``f"ws://127.0.0.1:{server.port}/"``; call ``await server.aclose()`` to stop it.
    """
    server: WebSocketServer = await nursery.start(
        functools.partial(
            serve,
            app,
            0,
            host=host,
            ssl_context=ssl_context,
            limits=limits,
            timeouts=timeouts,
            compression=compression,
            origins=origins,
            on_handshake=on_handshake,
            hub=hub,
            backpressure=backpressure,
        )
    )
    return server


def _close_timeout(timeouts: Timeouts) -> float:
    return timeouts.close if timeouts.close is not None else 10.0
