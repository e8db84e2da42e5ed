"""Tests for trioproto._listeners: the listeners serve() opens (TCP, a Unix socket) and ready
listeners of any kind (trio.serve_listeners' shape), over real sockets."""

from __future__ import annotations

import socket as stdlib_socket
import tempfile
from pathlib import Path

import pytest
import trio

import trioproto
from helpers import StartServer, echo_registry, start_program, stop_program


def remote_echo_registry() -> trioproto.Registry:
    registry = trioproto.Registry()

    @registry.handler(None)
    async def echo(ws: trioproto.WebSocket) -> None:
        await ws.send(repr(ws.remote))
        async for message in ws.inbound:
            await ws.send(message)

    return registry


async def test_serve_takes_ready_socket_listeners(nursery: trio.Nursery) -> None:
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    server: trioproto.WebSocketServer = await nursery.start(
        lambda task_status: trioproto.serve(
            remote_echo_registry(), listeners=listeners, task_status=task_status
        )
    )
    assert server.listeners == listeners
    with trio.fail_after(10):
        async with trioproto.open_websocket(f"ws://127.0.0.1:{server.port}/") as ws:
            remote = await ws.receive()
            assert remote.startswith("('127.0.0.1', ")
            await ws.send("over a ready listener")
            assert await ws.receive() == "over a ready listener"
        await server.aclose()


class StreamListener(trio.abc.Listener[trio.abc.Stream]):
    """A listener that is not a SocketListener: accept() hands out trio.SocketStream."""

    def __init__(self, inner: trio.SocketListener) -> None:
        self.inner = inner
        self.accepted = 0

    async def accept(self) -> trio.abc.Stream:
        stream = await self.inner.accept()
        self.accepted += 1
        return stream

    async def aclose(self) -> None:
        await self.inner.aclose()


async def test_serve_accepts_from_any_listener(nursery: trio.Nursery) -> None:
    (inner,) = await trio.open_tcp_listeners(0, host="127.0.0.1")
    listener = StreamListener(inner)
    server: trioproto.WebSocketServer = await nursery.start(
        lambda task_status: trioproto.serve(
            remote_echo_registry(),
            listeners=[listener],
            limits=trioproto.Limits(max_connections=1),
            task_status=task_status,
        )
    )
    port = inner.socket.getsockname()[1]
    assert server.ports == []  # not a SocketListener: the server does not know its port
    with trio.fail_after(10):
        for attempt in range(2):
            async with trioproto.open_websocket(f"ws://127.0.0.1:{port}/") as ws:
                assert (await ws.receive()).startswith("('127.0.0.1', ")
                await ws.send(f"attempt {attempt}")
                assert await ws.receive() == f"attempt {attempt}"
        await server.aclose()
    assert listener.accepted == 2
    assert server.statistics().total_connections == 2


@pytest.mark.parametrize(
    "arguments",
    [{"port": 8000}, {"host": "::1"}, {"unix_path": "/tmp/x"}, {"backlog": 5}],
)
async def test_listeners_exclude_the_arguments_for_opening_them(
    arguments: dict[str, object],
) -> None:
    (listener,) = await trio.open_tcp_listeners(0, host="127.0.0.1")
    try:
        with pytest.raises(ValueError, match="listeners"):
            await trioproto.serve(trioproto.Registry(), listeners=[listener], **arguments)  # type: ignore[arg-type]
    finally:
        await listener.aclose()


async def test_unix_socket(start_server: StartServer) -> None:
    with tempfile.TemporaryDirectory() as directory:
        path = str(Path(directory, "ws.sock"))
        stale = stdlib_socket.socket(stdlib_socket.AF_UNIX)
        stale.bind(path)  # a socket file left behind by a crashed run
        stale.close()
        server = await start_server(echo_registry(), unix_path=path, host=None)
        assert server.ports == []
        stream = await trio.open_unix_socket(path)
        async with trio.open_nursery() as nursery:
            websocket = await trioproto.connect_websocket(nursery, "ws://localhost/", stream=stream)
            await websocket.send("over a unix socket")
            assert await websocket.receive() == "over a unix socket"
            await websocket.close()
        await server.aclose()


#: Runs the command-line server with at most 40 open file descriptors.
_FEW_DESCRIPTORS = (
    "import resource, runpy, sys\n"
    "_soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)\n"
    "resource.setrlimit(resource.RLIMIT_NOFILE, (40, hard))\n"
    "sys.argv = ['trioproto', 'serve', 'examples.echo:registry', '--port', '0']\n"
    "runpy.run_module('trioproto', run_name='__main__', alter_sys=True)\n"
)


async def test_out_of_descriptors_the_server_waits_and_goes_on() -> None:
    """accept() failing with EMFILE is logged and retried; the clients left in the backlog
    meanwhile are served once descriptors are free again, and the server keeps running."""
    process, url = await start_program("-c", _FEW_DESCRIPTORS, capture_stderr=True)
    assert process.stderr is not None
    port = int(url.rsplit(":", 1)[1].rstrip("/"))
    errors = b""
    try:
        with trio.fail_after(20):
            crowd = [await trio.open_tcp_stream("127.0.0.1", port) for _ in range(60)]
            while b"accept() failed" not in errors:
                chunk = await process.stderr.receive_some()
                assert chunk, errors
                errors += chunk
            assert b"Too many open files" in errors
            for stream in crowd:
                await stream.aclose()
            async with trioproto.open_websocket(url) as ws:
                await ws.send("served again")
                assert await ws.receive() == "served again"
        assert process.returncode is None
    finally:
        assert await stop_program(process) == 0
