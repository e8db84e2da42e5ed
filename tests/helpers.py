"""Helpers shared by the tests (imported as ``helpers``, like h11's and wsproto's
``tests/helpers.py``); the fixtures live in ``conftest.py``."""

from __future__ import annotations

import os
import signal
import socket as stdlib_socket
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import trio

import trioproto
from trioproto._sansio._handshake import (
    client_handshake,
    generate_key,
    serialize_handshake_request,
)
from trioproto._transport import SocketTransport

#: The ``start_server`` fixture: ``await start_server(app, **serve_arguments)``.
StartServer = Callable[..., Awaitable[trioproto.WebSocketServer]]

ROOT = Path(__file__).resolve().parent.parent


def echo_registry(*subprotocols: str | None) -> trioproto.Registry:
    """A registry echoing every message back, for each of ``subprotocols`` (default: only
    clients that offer none)."""
    registry = trioproto.Registry()

    async def echo(ws: trioproto.WebSocket) -> None:
        async for message in ws.inbound:
            await ws.outbound.send(message)

    for name in subprotocols or (None,):
        registry.register(name, echo)
    return registry


def plain_request(path: str = "/") -> trioproto.WebSocketRequest:
    """The request of a connection built directly over a stream (no handshake happened)."""
    handshake = client_handshake(host="localhost", resource=path, key=generate_key(bytes(16)))
    return trioproto.WebSocketRequest.from_handshake(handshake)


def request_bytes(path: str = "/", **options: Any) -> bytes:
    """A client's opening request for ``path`` (``options``: :func:`client_handshake`'s),
    with a random key unless one is given."""
    options.setdefault("host", "127.0.0.1")
    options.setdefault("key", generate_key(os.urandom(16)))
    return serialize_handshake_request(client_handshake(resource=path, **options))


def ws_url(server: trioproto.WebSocketServer, path: str = "/") -> str:
    return f"ws://127.0.0.1:{server.port}{path}"


async def connect_hub_client(
    nursery: trio.Nursery, server: trioproto.WebSocketServer, path: str, *, stalled: bool
) -> trioproto.WebSocket:
    """A client of ``server`` that queues one message at most. A ``stalled`` one also has a
    4 KiB receive buffer, so once it stops reading the server's writes to it soon stop going
    through (the hub's backpressure tests)."""
    stream = None
    if stalled:
        sock = trio.socket.socket(stdlib_socket.AF_INET, stdlib_socket.SOCK_STREAM)
        sock.setsockopt(stdlib_socket.SOL_SOCKET, stdlib_socket.SO_RCVBUF, 4096)
        await sock.connect(("127.0.0.1", server.port))
        stream = trio.SocketStream(sock)
    return await trioproto.connect_websocket(
        nursery,
        ws_url(server, path),
        stream=stream,
        limits=trioproto.Limits(max_queued_messages=1),
    )


def transport_pair() -> tuple[SocketTransport, SocketTransport]:
    """The two ends of a connected Unix socket pair, as the server's socket transport."""
    left, right = trio.socket.socketpair(stdlib_socket.AF_UNIX, stdlib_socket.SOCK_STREAM)
    return SocketTransport(left), SocketTransport(right)


async def reset_tcp_socket() -> trio.socket.SocketType:
    """A TCP socket accepted on 127.0.0.1 whose client has reset the connection (linger on,
    zero seconds, then close): its next read fails with ``ECONNRESET``."""
    with trio.socket.socket() as listener:
        await listener.bind(("127.0.0.1", 0))
        listener.listen()
        client = stdlib_socket.create_connection(listener.getsockname())
        client.setsockopt(stdlib_socket.SOL_SOCKET, stdlib_socket.SO_LINGER, b"\x01" + bytes(7))
        accepted, _ = await listener.accept()
    client.close()
    with trio.fail_after(5):
        await trio.lowlevel.wait_readable(accepted)
    return accepted


def _checkout_env() -> dict[str, str]:
    """The environment for a program the tests start: it imports this checkout's
    ``trioproto`` (a script's own directory would come first on ``sys.path`` otherwise, and an
    installed copy after it)."""
    paths = [str(ROOT), os.environ.get("PYTHONPATH", "")]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(path for path in paths if path)}


async def start_program(*args: str, capture_stderr: bool = False) -> tuple[trio.Process, str]:
    """Start ``python ARGS`` in the repository root; return it and the URL it prints. With
    ``capture_stderr``, ``process.stderr`` is a pipe the caller reads."""
    process = await trio.lowlevel.open_process(
        [sys.executable, *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE if capture_stderr else None,
        env=_checkout_env(),
    )
    assert process.stdout is not None
    buffer = b""
    with trio.fail_after(20):
        while b"\n" not in buffer:
            chunk = await process.stdout.receive_some()
            assert chunk, "the program exited before printing its URL"
            buffer += chunk
    line = buffer.split(b"\n")[0].decode()
    assert line.startswith("serving on "), line
    return process, line.removeprefix("serving on ")


async def stop_program(process: trio.Process, sig: int = signal.SIGINT) -> int:
    """Send ``sig`` and return the exit status (killed after 20 s)."""
    process.send_signal(sig)
    try:
        with trio.fail_after(20):
            return await process.wait()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


@asynccontextmanager
async def server_program(*args: str) -> AsyncIterator[str]:
    """Run ``python ARGS``; yield its URL; on exit SIGINT must stop it with status 0."""
    process, url = await start_program(*args)
    try:
        yield url
    except BaseException:
        process.kill()
        await process.wait()
        raise
    assert await stop_program(process) == 0
