"""Listeners: opening them, and accepting from any :class:`trio.abc.Listener`.

Shaped like trio's ``serve_listeners``: one accept loop per listener, each accepted stream
served in a task of the handler nursery. ``max_connections`` is a
:class:`trio.CapacityLimiter` taken *before* accepting, so a full server leaves further clients
in the listen backlog (TCP pushes back) instead of accepting and dropping them.

A :class:`trio.SocketListener` is accepted from its socket directly, in batches
(:class:`~trioproto._socket_accept.BatchAcceptor`: no schedule point per connection), and
served over :class:`~trioproto._transport.SocketTransport` (the fast plain-TCP path), or with an
``ssl_context`` over :class:`~trioproto._tls_transport.TLSTransport` on top of it; any other
listener (trio's ``SSLListener``, a memory listener, your own) through its ``accept()``, its
stream wrapped in :class:`trio.SSLStream` when there is an ``ssl_context``. Either way the TLS
handshake happens on the first read, inside the opening handshake's timeout.
"""

from __future__ import annotations

import errno
import logging
import socket as stdlib_socket
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeAlias

import trio

from ._socket_accept import BatchAcceptor
from ._tls_transport import TLSTransport
from ._transport import SocketTransport
from ._unix import open_unix_listener

__all__ = [
    "DEFAULT_HOST",
    "StreamCallback",
    "accept_forever",
    "open_tcp_listeners",
    "open_unix_listener",
]

logger = logging.getLogger("trioproto")

#: Serves one accepted stream: ``await callback(stream, remote)``; must not raise.
StreamCallback: TypeAlias = Callable[[trio.abc.Stream, object], Awaitable[None]]

# Errors from accept() that mean "out of resources now", not "listener broken"; trio's
# serve_listeners sleeps and retries on the same set.
_ACCEPT_CAPACITY_ERRNOS = {errno.EMFILE, errno.ENFILE, errno.ENOMEM, errno.ENOBUFS}
_CAPACITY_RETRY_DELAY = 0.1
_SHARED_PORT_ATTEMPTS = 10

#: Where a server listens unless told otherwise, in serve(), run() and on the command line:
#: the loopback interface, so that nothing is exposed to the network by accident.
DEFAULT_HOST = "127.0.0.1"


async def accept_forever(
    listener: trio.abc.Listener[trio.abc.Stream],
    serve_stream: StreamCallback,
    nursery: trio.Nursery,
    *,
    limiter: trio.CapacityLimiter | None = None,
    ssl_context: ssl.SSLContext | None = None,
) -> None:
    """Accept connections from ``listener`` until cancelled; serve each in ``nursery``.

    Args:
        listener: any trio listener of streams.
        serve_stream: called in a new task of ``nursery`` for every accepted stream.
        nursery: where the per-connection tasks run (they outlive this loop).
        limiter: taken before each accept and released when that connection's task ends.
        ssl_context: wrap each accepted stream in server-side TLS with this context.

    Raises:
        OSError: the listener is broken (errors that only mean "out of file descriptors now"
            are logged and retried after 100 ms, as trio's ``serve_listeners`` does).
    """
    if not isinstance(listener, trio.SocketListener):
        await _accept_loop(
            lambda: _accept_stream(listener, ssl_context), serve_stream, nursery, limiter
        )
        return
    acceptor = BatchAcceptor(listener.socket)
    try:
        await _accept_loop(
            lambda: _accept_socket(acceptor, ssl_context), serve_stream, nursery, limiter
        )
    finally:
        acceptor.close()


async def _accept_loop(
    accept: Callable[[], Awaitable[_AcceptedStream]],
    serve_stream: StreamCallback,
    nursery: trio.Nursery,
    limiter: trio.CapacityLimiter | None,
) -> None:
    while True:
        token = object()
        if limiter is not None:
            try:  # a free slot: no schedule point (the accept has its own when it waits)
                limiter.acquire_on_behalf_of_nowait(token)
            except trio.WouldBlock:
                await limiter.acquire_on_behalf_of(token)
        try:
            accepted = await accept()
        except OSError as exc:
            if limiter is not None:
                limiter.release_on_behalf_of(token)
            if exc.errno in _ACCEPT_CAPACITY_ERRNOS:
                logger.error("accept() failed (%s); retrying in 100 ms", exc)
                await trio.sleep(_CAPACITY_RETRY_DELAY)
                continue
            raise
        except BaseException:
            if limiter is not None:
                limiter.release_on_behalf_of(token)
            raise
        nursery.start_soon(
            _serve_accepted, accepted, serve_stream, limiter, token, name=_SERVE_ACCEPTED
        )


@dataclass(frozen=True, slots=True)
class _AcceptedStream:
    """One accepted connection: the stream to serve, the peer's address, and the socket to
    close afterwards (when the stream was built around a raw socket)."""

    stream: trio.abc.Stream
    remote: object
    socket: trio.socket.SocketType | None


async def _accept_socket(
    acceptor: BatchAcceptor, ssl_context: ssl.SSLContext | None
) -> _AcceptedStream:
    sock, remote = await acceptor.accept()
    transport = SocketTransport(sock)
    stream: trio.abc.Stream = (
        transport if ssl_context is None else TLSTransport(transport, ssl_context, server_side=True)
    )
    return _AcceptedStream(stream, remote, sock)


async def _accept_stream(
    listener: trio.abc.Listener[trio.abc.Stream], ssl_context: ssl.SSLContext | None
) -> _AcceptedStream:
    stream = await listener.accept()
    remote = _stream_peer_address(stream)
    if ssl_context is not None:
        stream = trio.SSLStream(stream, ssl_context, server_side=True, https_compatible=True)
    return _AcceptedStream(stream, remote, None)


async def _serve_accepted(
    accepted: _AcceptedStream,
    serve_stream: StreamCallback,
    limiter: trio.CapacityLimiter | None,
    token: object,
) -> None:
    try:
        await serve_stream(accepted.stream, accepted.remote)
    finally:
        if accepted.socket is not None:
            accepted.socket.close()
        if limiter is not None:
            limiter.release_on_behalf_of(token)


#: The name of every connection's task, the one trio would give it, made once: trio formats
#: a new string for each task spawned without a name (held for the connection's life).
_SERVE_ACCEPTED = f"{__name__}.{_serve_accepted.__qualname__}"


async def open_tcp_listeners(
    port: int, host: str | bytes | None, backlog: int | None, reuse_address: bool
) -> list[trio.SocketListener]:
    """trio's :func:`trio.open_tcp_listeners`, with ``SO_REUSEADDR`` off when asked, and with
    port 0 one free port shared by every listener (``host=None`` binds IPv4 and IPv6, and the
    kernel would otherwise pick a different port for each)."""
    for _attempt in range(_SHARED_PORT_ATTEMPTS):
        listeners = await trio.open_tcp_listeners(port, host=host, backlog=backlog)
        if port == 0 and len(listeners) > 1:
            try:
                listeners = await _share_first_port(listeners, backlog)
            except OSError as exc:  # that port is taken on another address: pick again
                if exc.errno != errno.EADDRINUSE:
                    raise
                continue
        if not reuse_address:
            for listener in listeners:
                listener.socket.setsockopt(stdlib_socket.SOL_SOCKET, stdlib_socket.SO_REUSEADDR, 0)
        return listeners
    raise OSError(errno.EADDRINUSE, "no free port is free on every address")


async def _share_first_port(
    listeners: list[trio.SocketListener], backlog: int | None
) -> list[trio.SocketListener]:
    """Rebind every listener but the first on the first one's port (closing all on failure)."""
    shared = listeners[0].socket.getsockname()[1]
    result = [listeners[0]]
    try:
        for listener in listeners[1:]:
            old = listener.socket
            address = old.getsockname()
            if address[1] == shared:
                result.append(listener)
                continue
            sock = trio.socket.socket(old.family, old.type, old.proto)
            try:
                sock.setsockopt(stdlib_socket.SOL_SOCKET, stdlib_socket.SO_REUSEADDR, 1)
                if old.family == stdlib_socket.AF_INET6:
                    sock.setsockopt(stdlib_socket.IPPROTO_IPV6, stdlib_socket.IPV6_V6ONLY, 1)
                old.close()
                await sock.bind((address[0], shared, *address[2:]))
                sock.listen(backlog if backlog is not None else 0xFFFF)
            except BaseException:
                sock.close()
                raise
            result.append(trio.SocketListener(sock))
    except BaseException:
        for listener in [*result, *listeners]:
            listener.socket.close()
        raise
    return result


def _peer_address(sock: trio.socket.SocketType) -> object:
    try:
        return sock.getpeername()
    except OSError:
        return None


def _stream_peer_address(stream: trio.abc.Stream) -> object:
    """The peer of a stream from a listener other than ``SocketListener``, when it has a
    socket (``SocketStream``, or TLS over one); ``None`` otherwise."""
    while isinstance(stream, trio.SSLStream):
        stream = stream.transport_stream
    if isinstance(stream, trio.SocketStream):
        return _peer_address(stream.socket)
    return None
