"""The WebSocket client: ``open_websocket(url)`` for ``ws://`` and ``wss://``.

Theory of operation: connect (retrying on connection errors with ``retry_delay`` between
attempts, at most ``max_retries`` times, each attempt bounded by ``connect_timeout``), do the
TLS handshake for wss://, send the opening handshake request (RFC 6455 §4.1) with a random key,
read and validate the response, then drive a client-role codec with the same
:class:`~trioproto.WebSocket` the server hands to its handlers. The reader and keepalive tasks
live in a nursery inside the context manager; an error raised by the ``async with`` block comes
out as itself, never wrapped in an ExceptionGroup.
"""

from __future__ import annotations

import logging
import os
import ssl
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import trio

from ._config import DEFAULT_LIMITS, DEFAULT_TIMEOUTS, Limits, Timeouts, seconds_or_forever
from ._connection import WebSocket
from ._exceptions import HandshakeRejected, InvalidHandshake
from ._keepalive import keep_alive
from ._nursery import open_task_nursery
from ._options import DEFAULT_COMPRESSION
from ._request import WebSocketRequest
from ._sansio._codec import Codec, Role
from ._sansio._deflate import DeflatePolicy, PerMessageDeflate, accept_client, client_offer
from ._sansio._handshake import (
    client_handshake,
    generate_key,
    serialize_handshake_request,
    validate_response,
)
from ._sansio._http import Response, ResponseHeadParser
from ._tls import client_ssl_context
from ._tls_transport import TLSTransport
from ._transport import SocketTransport
from ._url import WebSocketURL, parse_url

__all__ = ["connect_websocket", "open_websocket"]

logger = logging.getLogger("trioproto")

#: At most this much of a rejection's body is kept on :class:`HandshakeRejected`.
MAX_REJECTION_BODY = 64 * 1024


@asynccontextmanager
async def open_websocket(
    url: str,
    *,
    subprotocols: Sequence[str] | None = None,
    headers: Sequence[tuple[str, str]] | None = None,
    origin: str | None = None,
    ssl_context: ssl.SSLContext | None = None,
    connect_timeout: float | None = 10.0,
    retry_delay: float = 1.0,
    max_retries: int = 0,
    limits: Limits = DEFAULT_LIMITS,
    timeouts: Timeouts = DEFAULT_TIMEOUTS,
    compression: DeflatePolicy | None = DEFAULT_COMPRESSION,
) -> AsyncIterator[WebSocket]:
    """Connect to a WebSocket server; yields the open :class:`~trioproto.WebSocket`.

    Leaving the block closes the connection (1000, or 1011 if the block raised).

    Args:
        url: ``ws://host[:port]/path?query``, ``wss://...``, or
            ``ws+unix:///path/to/socket[:/resource]`` for a server on a Unix socket.
        subprotocols: offered in ``Sec-WebSocket-Protocol``, in preference order.
        headers: extra request headers.
        origin: the ``Origin`` header, for servers that check it.
        ssl_context: for wss://; a verifying default context when omitted.
        connect_timeout: bound on each attempt (TCP connect, TLS and opening handshake).
        retry_delay: seconds between attempts when the connection fails.
        max_retries: further attempts after the first fails to connect (CAF's
            ``max_retry_count``). A handshake the server rejects is not retried.
        limits: size limits (``max_message_size`` is the largest message accepted).
        timeouts: close and keepalive timeouts (``handshake`` is ``connect_timeout`` here).
        compression: offer permessage-deflate (RFC 7692) with this policy; ``None``: don't.

    Raises:
        OSError: the server could not be reached after every attempt.
        trio.TooSlowError: an attempt took longer than ``connect_timeout``.
        HandshakeRejected: the server answered with a non-101 status (``.status``, ``.body``).
        InvalidHandshake: the server's 101 response is not valid (wrong accept key, etc.).
    """
    target = parse_url(url)
    async with open_task_nursery() as nursery:
        websocket = await connect_websocket(
            nursery,
            target,
            subprotocols=subprotocols or (),
            headers=headers or (),
            origin=origin,
            ssl_context=ssl_context,
            connect_timeout=connect_timeout,
            retry_delay=retry_delay,
            max_retries=max_retries,
            limits=limits,
            timeouts=timeouts,
            compression=compression,
        )
        async with _closing(websocket, timeouts):
            yield websocket


@asynccontextmanager
async def _closing(websocket: WebSocket, timeouts: Timeouts) -> AsyncIterator[None]:
    """Close ``websocket`` when the block ends: 1000, or 1011 if the block raised."""
    code = 1000
    try:
        yield
    except Exception:
        code = 1011
        raise
    finally:
        # Closing must happen even while the block is being cancelled, but within a deadline.
        with trio.CancelScope(shield=True), trio.move_on_after(seconds_or_forever(timeouts.close)):
            await websocket.close(code)
        await websocket.abort()


async def connect_websocket(
    nursery: trio.Nursery,
    url: str | WebSocketURL,
    *,
    subprotocols: Sequence[str] = (),
    headers: Sequence[tuple[str, str]] = (),
    origin: str | None = None,
    ssl_context: ssl.SSLContext | None = None,
    connect_timeout: float | None = 10.0,
    retry_delay: float = 1.0,
    max_retries: int = 0,
    limits: Limits = DEFAULT_LIMITS,
    timeouts: Timeouts = DEFAULT_TIMEOUTS,
    compression: DeflatePolicy | None = DEFAULT_COMPRESSION,
    stream: trio.abc.Stream | None = None,
) -> WebSocket:
    """Connect and return an open :class:`~trioproto.WebSocket` whose tasks run in ``nursery``.

    The caller closes it. See :func:`open_websocket` for the arguments; ``stream``, when
    given, is used instead of opening a TCP connection (the URL then only supplies the Host
    header and the resource).
    """
    target = parse_url(url) if isinstance(url, str) else url
    if target.secure and ssl_context is None:
        ssl_context = client_ssl_context()
    opened_here = stream is None
    if stream is None:
        stream = await _connect(target, connect_timeout, retry_delay, max_retries)
    try:
        with trio.fail_after(seconds_or_forever(connect_timeout)):
            transport: trio.abc.Stream = stream
            if ssl_context is not None:
                tls = _tls_client(stream, ssl_context, target.host, opened_here=opened_here)
                await tls.do_handshake()
                transport = tls
            request, subprotocol, compressor, trailing = await _handshake(
                transport, target, subprotocols, headers, origin, limits, compression
            )
    except BaseException:
        await trio.aclose_forcefully(stream)
        raise
    websocket = WebSocket(
        transport,
        Codec(
            Role.CLIENT,
            max_message_size=limits.max_message_size,
            max_frame_size=limits.effective_max_frame_size,
            compression=compressor,
            trailing_data=trailing,
        ),
        nursery=nursery,
        request=request,
        subprotocol=subprotocol,
        remote=request.remote,
        limits=limits,
        timeouts=timeouts,
    )
    websocket.activate()
    if timeouts.ping_interval is not None:
        nursery.start_soon(keep_alive, websocket, timeouts.ping_interval, timeouts.ping_timeout)
    return websocket


def _tls_client(
    stream: trio.abc.Stream, context: ssl.SSLContext, hostname: str, *, opened_here: bool
) -> TLSTransport | trio.SSLStream[trio.abc.Stream]:
    """TLS over ``stream``: the lean transport on a socket this module opened (nobody else
    holds it, so nobody else can close it under the transport), trio's SSLStream otherwise."""
    if opened_here and isinstance(stream, trio.SocketStream):
        return TLSTransport(
            SocketTransport(stream.socket), context, server_side=False, server_hostname=hostname
        )
    return trio.SSLStream(stream, context, server_hostname=hostname)


async def _connect(
    target: WebSocketURL, connect_timeout: float | None, retry_delay: float, max_retries: int
) -> trio.SocketStream:
    """Open the TCP (or Unix socket) connection, retrying failed attempts (CAF's
    ``retry_delay`` and ``max_retry_count``)."""
    attempt = 0
    while True:
        try:
            with trio.fail_after(seconds_or_forever(connect_timeout)):
                if target.unix_path is not None:
                    stream = await trio.open_unix_socket(target.unix_path)
                else:
                    stream = await trio.open_tcp_stream(target.host, target.port)
        except (OSError, trio.TooSlowError) as exc:
            if attempt >= max_retries:
                raise
            attempt += 1
            logger.debug(
                "connecting to %s failed (%s); retry %d/%d in %s s",
                target.unix_path or f"{target.host}:{target.port}",
                exc,
                attempt,
                max_retries,
                retry_delay,
            )
            await trio.sleep(retry_delay)
            continue
        return stream


async def _handshake(
    stream: trio.abc.Stream,
    target: WebSocketURL,
    subprotocols: Sequence[str],
    headers: Sequence[tuple[str, str]],
    origin: str | None,
    limits: Limits,
    compression: DeflatePolicy | None,
) -> tuple[WebSocketRequest, str | None, PerMessageDeflate | None, bytes]:
    """Send the opening request and read the answer (RFC 6455 §4.1): the request as sent (the
    connection's ``request``), the subprotocol and compression the server chose, and the bytes
    after the response head."""
    key = generate_key(os.urandom(16))
    offer = client_offer(compression) if compression is not None else None
    handshake = client_handshake(
        host=target.host_header,
        resource=target.resource,
        key=key,
        subprotocols=subprotocols,
        extensions=offer,
        extra_headers=headers,
        origin=origin,
    )
    await stream.send_all(serialize_handshake_request(handshake))
    parser = ResponseHeadParser(limits)
    while True:
        data = await stream.receive_some(16 * 1024)
        if not data:
            hint = "" if target.secure else " (a wss:// server, seeing plain text?)"
            raise InvalidHandshake(f"the server closed the connection during the handshake{hint}")
        response = parser.feed(data)
        if response is not None:
            break
    if response.status_code != 101:
        body = await _read_body(stream, response, parser.trailing_data)
        raise HandshakeRejected(
            response.status_code, response.reason, tuple(response.headers.items()), body
        )
    subprotocol, extensions = validate_response(
        response, key=key, offered_subprotocols=subprotocols, offered_extensions=offer is not None
    )
    compressor = None
    if extensions is not None and compression is not None:
        compressor = PerMessageDeflate.from_policy(
            accept_client([extensions], compression), compression, is_client=True
        )
    request = WebSocketRequest.from_handshake(handshake, remote=(target.host, target.port))
    return request, subprotocol, compressor, parser.trailing_data


async def _read_body(stream: trio.abc.Stream, response: Response, received: bytes) -> bytes:
    """Read a rejection's body: Content-Length bytes, else until EOF; at most 64 KiB."""
    length_text = response.headers.get("Content-Length")
    wanted = MAX_REJECTION_BODY
    if length_text is not None and length_text.isdigit():
        wanted = min(int(length_text), MAX_REJECTION_BODY)
    body = bytearray(received[:wanted])
    while len(body) < wanted:
        try:
            data = await stream.receive_some(wanted - len(body))
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            break
        if not data:
            break
        body += data
    return bytes(body)
