"""Upgrading a connection that another HTTP server read: the embedding case.

An application with its own HTTP/1.1 server (or its own listener) hands over the stream, the
parsed request head and whatever bytes it read after the head; trioproto validates the request
as an opening handshake (RFC 6455 §4.2.1), answers 101 and runs the handler, with immediate or
delayed activation. Nothing the client sent after its request is lost: those bytes are parsed
first, then the stream is read.
"""

from __future__ import annotations

import trio

from ._config import DEFAULT_LIMITS, DEFAULT_TIMEOUTS, Limits, Timeouts
from ._connection_handler import ConnectionHandler
from ._options import DEFAULT_COMPRESSION, ServerOptions
from ._registry import Activation, Handler
from ._routing import UpgradeTo
from ._sansio._deflate import DeflatePolicy
from ._sansio._http import Request, RequestHeadParser

__all__ = ["parse_request_head", "upgrade_stream"]


def parse_request_head(
    data: bytes, limits: Limits = DEFAULT_LIMITS
) -> tuple[Request, bytes] | None:
    """Parse a complete HTTP/1.1 request head from ``data``, with the usual limits.

    Returns:
        ``(request, trailing_data)``, or ``None`` if ``data`` does not hold a whole head yet.

    Raises:
        InvalidHandshake: the head is malformed or over a limit (``.http_status`` says which).
    """
    parser = RequestHeadParser(limits)
    request = parser.feed(data)
    if request is None:
        return None
    return request, parser.trailing_data


async def upgrade_stream(
    stream: trio.abc.Stream,
    request: Request,
    handler: Handler,
    *,
    trailing_data: bytes = b"",
    subprotocol: str | None = None,
    activation: Activation = "immediate",
    remote: object = None,
    limits: Limits = DEFAULT_LIMITS,
    timeouts: Timeouts = DEFAULT_TIMEOUTS,
    compression: DeflatePolicy | None = DEFAULT_COMPRESSION,
) -> None:
    """Answer ``request`` with 101 on ``stream`` and serve the connection with ``handler``.

    Returns when the connection has ended (the stream is closed then). An invalid request is
    answered with its HTTP error status instead. A handler exception is logged and closes the
    connection with 1011, as in the server.

    Args:
        stream: the connection, with the request head already read from it.
        request: the parsed request head (see :func:`parse_request_head`).
        handler: ``async handler(ws)``.
        trailing_data: bytes read after the head; parsed as frames before the stream is read.
        subprotocol: answered when the client offered it.
        activation: ``"delayed"`` to read no frame until ``ws.activate()``.
        remote: the peer's address, shown to the handler as ``ws.remote``.
        limits: size limits for the connection.
        timeouts: close, keepalive and activation timeouts.
        compression: the permessage-deflate policy, ``None`` for none.
    """
    registry = UpgradeTo(handler, subprotocol, activation).registry()
    options = ServerOptions(limits=limits, timeouts=timeouts, compression=compression)
    await ConnectionHandler(registry, options).upgrade(
        stream, request, trailing_data=trailing_data, remote=remote
    )
