"""Tests for trioproto.testing: handler tests without sockets."""

from __future__ import annotations

import pytest
import trio

import trioproto
from trioproto.testing import open_test_client, open_test_server

registry = trioproto.Registry()


@registry.handler("echo")
async def echo(ws: trioproto.WebSocket) -> None:
    async for message in ws.inbound:
        await ws.outbound.send(message)


@registry.handler("strict")
async def strict(ws: trioproto.WebSocket) -> None:
    message = await ws.inbound.receive()
    if message != "hello":
        await ws.close(4002, "say hello first")
        return
    await ws.outbound.send("welcome")


async def test_handler_test_without_sockets() -> None:
    """A user's handler test: no network, no wall clock, well under a second."""
    start = trio.current_time()
    async with open_test_client(registry, subprotocols=["echo"]) as client:
        assert client.subprotocol == "echo"
        await client.send("ping")
        await client.expect("ping")
        await client.send(b"\x01\x02")
        await client.expect(b"\x01\x02")
        assert client.server.statistics().open_connections == 1
    assert trio.current_time() - start < 1


async def test_expect_close_code() -> None:
    async with open_test_client(registry, subprotocols=["strict"]) as client:
        await client.send("no greeting")
        await client.expect_close(4002, "say hello first")


async def test_expect_reports_mismatch() -> None:
    async with open_test_client(registry, subprotocols=["strict"]) as client:
        await client.send("hello")
        with pytest.raises(AssertionError, match="expected 'nope', received 'welcome'"):
            await client.expect("nope")
        with pytest.raises(AssertionError, match="connection closed"):
            await client.expect("more")
        with pytest.raises(AssertionError, match="expected close 4000"):
            await client.expect_close(4000)


async def test_refused_handshake_raises_handshake_rejected() -> None:
    with pytest.raises(trioproto.HandshakeRejected) as info:
        async with open_test_client(registry, subprotocols=["mqtt"]):
            pass  # pragma: no cover
    assert info.value.status == 400
    assert b"served: echo, strict" in info.value.body


async def test_handler_exception_is_1011(caplog: pytest.LogCaptureFixture) -> None:
    failing = trioproto.Registry()

    @failing.handler(None)
    async def broken(ws: trioproto.WebSocket) -> None:
        raise KeyError("bug")

    async with open_test_client(failing) as client:
        await client.expect_close(1011)
        assert client.server.statistics().handler_errors == 1


async def test_open_test_server_uses_loopback(nursery: trio.Nursery) -> None:
    server = await open_test_server(nursery, registry)
    assert server.listeners[0].socket.getsockname()[0] == "127.0.0.1"
    async with trioproto.open_websocket(
        f"ws://127.0.0.1:{server.port}/", subprotocols=["echo"]
    ) as ws:
        await ws.send("over a real socket")
        assert await ws.receive() == "over a real socket"
    await server.aclose()


async def test_test_client_compresses_by_default_like_serve() -> None:
    """Handlers are tested with production's defaults: permessage-deflate negotiated on both
    sides unless the test turns it off."""
    async with open_test_client(registry, subprotocols=["echo"]) as client:
        (server_side,) = client.server.connections
        assert client.websocket._codec.compression is not None
        assert server_side._codec.compression is not None
        await client.send("compressible " * 100)
        await client.expect("compressible " * 100)
    async with open_test_client(registry, subprotocols=["echo"], compression=None) as client:
        (server_side,) = client.server.connections
        assert client.websocket._codec.compression is None
        assert server_side._codec.compression is None


async def test_test_client_passes_origin_and_hook_to_the_server() -> None:
    async def hook(
        request: trioproto.WebSocketRequest, subprotocol: str | None
    ) -> trioproto.Reject | None:
        return trioproto.Reject(451, "not here") if subprotocol == "strict" else None

    options = {"origins": ["https://app.example"], "on_handshake": hook}
    with pytest.raises(trioproto.HandshakeRejected) as refused:
        async with open_test_client(registry, subprotocols=["echo"], **options):
            pass
    assert refused.value.status == 403
    with pytest.raises(trioproto.HandshakeRejected) as refused:
        async with open_test_client(
            registry, subprotocols=["strict"], origin="https://app.example", **options
        ):
            pass
    assert refused.value.status == 451
    async with open_test_client(
        registry, subprotocols=["echo"], origin="https://app.example", **options
    ) as client:
        await client.send("allowed")
        await client.expect("allowed")
