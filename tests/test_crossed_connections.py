"""Stress over real sockets: a dying connection never touches a new connection's socket
(issue 17, defect 1).

Clients that send a few hundred KiB and vanish with a reset make the server's write fail and
its socket close while the connection's reader may be woken but not yet resumed; the next
accept() reuses the descriptor number at once. Fresh clients connecting meanwhile must each get
their 101 promptly: before the fix, a stale reader read a fresh client's request (about one
handshake in a hundred stalled until the handshake timeout).
"""

from __future__ import annotations

import base64
import contextlib
import os
import socket as stdlib_socket
import struct

import trio

import trioproto
from helpers import StartServer

_DYING_CLIENTS = 150
_FRESH_CLIENTS = 150
_PROMPT = 3.0  # seconds; the handshake timeout below is far longer, so a stall shows


def _request() -> bytes:
    key = base64.b64encode(os.urandom(16)).decode()
    return (
        "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    ).encode()


def _binary_frame(size: int) -> bytes:
    mask = os.urandom(4)
    header = bytes([0x82, 0x80 | 127]) + struct.pack("!Q", size) + mask
    return header + bytes(size)  # zeros masked by any key are the key repeated: fine to echo


async def _handshake(port: int) -> trio.SocketStream:
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    await stream.send_all(_request())
    received = b""
    while b"\r\n\r\n" not in received:
        chunk = await stream.receive_some(4096)
        assert chunk, "the server closed the connection during the handshake"
        received += chunk
    assert received.startswith(b"HTTP/1.1 101 "), received[:40]
    return stream


async def _die_abruptly(port: int) -> None:
    stream = await _handshake(port)
    with contextlib.suppress(trio.BrokenResourceError):
        await stream.send_all(_binary_frame(300 * 1024))
    # RST instead of FIN, without reading the echo: the server's next write fails.
    stream.socket.setsockopt(
        stdlib_socket.SOL_SOCKET, stdlib_socket.SO_LINGER, struct.pack("ii", 1, 0)
    )
    await stream.aclose()


async def _connect_fresh(port: int, stalls: list[int]) -> None:
    with trio.move_on_after(_PROMPT) as scope:
        stream = await _handshake(port)
        await stream.aclose()
    if scope.cancelled_caught:
        stalls.append(1)


async def test_dying_connections_never_read_a_fresh_connections_request(
    start_server: StartServer,
) -> None:
    registry = trioproto.Registry()

    @registry.handler(None)
    async def echo(ws: trioproto.WebSocket) -> None:
        async for message in ws.inbound:
            await ws.outbound.send(message)

    server = await start_server(
        registry, timeouts=trioproto.Timeouts(handshake=60), compression=None
    )
    stalls: list[int] = []
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            for _ in range(max(_DYING_CLIENTS, _FRESH_CLIENTS)):
                nursery.start_soon(_die_abruptly, server.port)
                nursery.start_soon(_connect_fresh, server.port, stalls)
                await trio.sleep(0.002)
    assert not stalls, f"{len(stalls)} of {_FRESH_CLIENTS} fresh handshakes stalled"
