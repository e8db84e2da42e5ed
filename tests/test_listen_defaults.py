"""One safe default address everywhere, and one port for every listener with port 0
(issue 15)."""

from __future__ import annotations

import socket as stdlib_socket

import trio

import trioproto
from helpers import echo_registry
from trioproto._listeners import _share_first_port


async def _echo_once(family: int, address: str, port: int) -> None:
    async with trioproto.open_websocket(
        f"ws://{address if family == stdlib_socket.AF_INET else f'[{address}]'}:{port}/"
    ) as ws:
        await ws.send("hello")
        assert await ws.receive() == "hello"


async def test_serve_binds_the_loopback_interface_by_default(nursery: trio.Nursery) -> None:
    server: trioproto.WebSocketServer = await nursery.start(trioproto.serve, echo_registry(), 0)
    addresses = {
        listener.socket.getsockname()[0]
        for listener in server.listeners
        if isinstance(listener, trio.SocketListener)
    }
    assert addresses == {"127.0.0.1"}
    await _echo_once(stdlib_socket.AF_INET, "127.0.0.1", server.port)
    await server.aclose()


async def test_listeners_of_port_0_share_one_port(nursery: trio.Nursery) -> None:
    """What ``serve(app, 0, host=None)`` does with the IPv4 and IPv6 listeners trio opens (each
    on its own free port), shown on the two loopback addresses (tests bind nothing else)."""
    opened = [
        *await trio.open_tcp_listeners(0, host="127.0.0.1"),
        *await trio.open_tcp_listeners(0, host="::1"),
    ]
    listeners = await _share_first_port(opened, None)
    ports = {listener.socket.getsockname()[1] for listener in listeners}
    assert len(listeners) == 2 and len(ports) == 1
    server: trioproto.WebSocketServer = await nursery.start(
        lambda task_status: trioproto.serve(
            echo_registry(), listeners=listeners, task_status=task_status
        )
    )
    await _echo_once(stdlib_socket.AF_INET, "127.0.0.1", server.port)
    await _echo_once(stdlib_socket.AF_INET6, "::1", server.port)
    await server.aclose()
