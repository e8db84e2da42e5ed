"""Unix socket listeners: a live server's path is refused, a stale socket replaced, and a
path that is not a socket never unlinked."""

from __future__ import annotations

import errno
import socket as stdlib_socket
from pathlib import Path

import pytest
import trio

import trioproto
from helpers import StartServer, echo_registry
from trioproto._unix import open_unix_listener


async def test_a_live_server_keeps_its_path(start_server: StartServer, tmp_path: Path) -> None:
    path = str(tmp_path / "live.sock")
    await start_server(echo_registry(), unix_path=path, host=None)
    with pytest.raises(OSError, match="already listening") as info:
        await open_unix_listener(path)
    assert info.value.errno == errno.EADDRINUSE
    assert info.value.filename == path
    async with trioproto.open_websocket(f"ws+unix://{path}") as ws:  # still served
        await ws.send("still here")
        assert await ws.receive() == "still here"


async def test_a_stale_socket_is_replaced(start_server: StartServer, tmp_path: Path) -> None:
    path = str(tmp_path / "stale.sock")
    dead = stdlib_socket.socket(stdlib_socket.AF_UNIX, stdlib_socket.SOCK_STREAM)
    dead.bind(path)  # bound, never listening, then gone: what a crashed server leaves
    dead.close()
    assert await trio.Path(path).exists()
    await start_server(echo_registry(), unix_path=path, host=None)
    async with trioproto.open_websocket(f"ws+unix://{path}") as ws:
        await ws.send("replaced")
        assert await ws.receive() == "replaced"


async def test_a_file_that_is_not_a_socket_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    await trio.Path(path).write_text("precious")
    with pytest.raises(OSError, match="not a socket") as info:
        await open_unix_listener(str(path))
    assert info.value.errno == errno.EEXIST
    assert await trio.Path(path).read_text() == "precious"


async def test_listener_accepts(tmp_path: Path) -> None:
    path = str(tmp_path / "plain.sock")
    listener = await open_unix_listener(path, backlog=4)
    async with listener:
        with trio.fail_after(5):
            client = await trio.open_unix_socket(path)
            server_side = await listener.accept()
            await client.send_all(b"x")
            assert await server_side.receive_some() == b"x"
            await client.aclose()
            await server_side.aclose()
