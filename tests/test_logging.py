"""What the ``trioproto`` logger says over a server's life: start (INFO, with the URL and the
options that matter), each rejected handshake (INFO), connections (DEBUG), shutdown (INFO)."""

from __future__ import annotations

import logging

import pytest
import trio

import trioproto
import trioproto.testing
from helpers import echo_registry


def _messages(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "trioproto" and r.levelno == level]


async def test_a_servers_life_in_the_log(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="trioproto")
    registry = echo_registry("echo")
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            server = await nursery.start(
                lambda task_status: trioproto.serve(
                    registry, 0, host="127.0.0.1", task_status=task_status
                )
            )
            url = f"ws://127.0.0.1:{server.port}/"
            (started,) = _messages(caplog, logging.INFO)
            assert started == (
                f"listening on {url} (max_message_size=1048576, max_connections=None, "
                "compression=deflate, origins=any)"
            )
            with pytest.raises(trioproto.HandshakeRejected):
                async with trioproto.open_websocket(url, subprotocols=["mqtt"]):
                    pass  # pragma: no cover
            async with trioproto.open_websocket(url, subprotocols=["echo"]) as ws:
                await ws.send("hi")
                assert await ws.receive() == "hi"
            async with trioproto.open_websocket(url, subprotocols=["echo"]) as ws:
                await ws.send("registered")  # the echo shows the server holds the connection
                assert await ws.receive() == "registered"
                await server.aclose()
    info = _messages(caplog, logging.INFO)
    assert info[1].startswith("rejected handshake from ('127.0.0.1', ")
    assert info[1].endswith("400 none of the offered subprotocols (mqtt) is served; served: echo")
    assert info[2:] == [
        "server shutting down: closing 1 connections with 1001",
        "server stopped: 2 connections served, 1 handshakes rejected, 0 failed, 0 handler errors",
    ]
    debug = _messages(caplog, logging.DEBUG)
    opened = [m for m in debug if " opened from ('127.0.0.1', " in m]
    closed = [m for m in debug if m.startswith("connection ") and " closed: " in m]
    assert len(opened) == 2
    assert opened[0].endswith("(path /, subprotocol echo)")
    assert [m.split(": ", 1)[1] for m in closed] == ["1000", "1001"]


async def test_connection_logs_cost_nothing_when_debug_is_off(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """At INFO nothing per connection is logged (no record is even created)."""
    caplog.set_level(logging.INFO, logger="trioproto")
    registry = trioproto.Registry()

    @registry.handler(None)
    async def quiet(ws: trioproto.WebSocket) -> None:
        await ws.send("hello")

    async with trioproto.testing.open_test_client(registry) as client:
        await client.expect("hello")
    assert _messages(caplog, logging.DEBUG) == []
