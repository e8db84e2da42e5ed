"""Shared fixtures. trio mode is on for every test (pyproject.toml), so ``async def`` tests run
under trio and can take pytest-trio's ``nursery`` and ``autojump_clock`` fixtures."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import trio

if TYPE_CHECKING:
    import trioproto
    from trioproto._transport import SocketTransport

StartServer = Callable[..., Awaitable["trioproto.WebSocketServer"]]


@pytest.fixture
async def start_server(nursery: trio.Nursery) -> AsyncIterator[StartServer]:
    """Start a server on 127.0.0.1:0 in the test's nursery; closed at teardown."""
    import trioproto

    servers: list[trioproto.WebSocketServer] = []

    async def start(app: Any, **kwargs: Any) -> trioproto.WebSocketServer:
        kwargs.setdefault("host", "127.0.0.1")
        server: trioproto.WebSocketServer = await nursery.start(
            lambda task_status: trioproto.serve(app, 0, task_status=task_status, **kwargs)
        )
        servers.append(server)
        return server

    yield start
    for server in servers:
        await server.aclose()


def ws_url(server: trioproto.WebSocketServer, path: str = "/") -> str:
    return f"ws://127.0.0.1:{server.port}{path}"


def transport_pair() -> tuple[SocketTransport, SocketTransport]:
    """The two ends of a connected Unix socket pair, as the server's socket transport."""
    import socket as stdlib_socket

    from trioproto._transport import SocketTransport

    left, right = trio.socket.socketpair(stdlib_socket.AF_UNIX, stdlib_socket.SOCK_STREAM)
    return SocketTransport(left), SocketTransport(right)


ROOT = Path(__file__).resolve().parent.parent


async def start_program(*args: str) -> tuple[trio.Process, str]:
    """Start ``python ARGS`` in the repository root; return it and the URL it prints."""
    process = await trio.lowlevel.open_process(
        [sys.executable, *args], cwd=ROOT, stdout=subprocess.PIPE
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
