"""Only the end of a handler's own connection ends it quietly; anything else that escapes a
handler is a failure of that connection: 1011 and one log record (issue 15)."""

from __future__ import annotations

import logging

import pytest
import trio
from websockets.exceptions import ConnectionClosed as PeerConnectionClosed
from websockets.trio.client import connect

import trioproto
from helpers import StartServer, ws_url


async def test_a_closed_connection_raised_by_a_send_to_another_connection_is_a_failure(
    start_server: StartServer, caplog: pytest.LogCaptureFixture
) -> None:
    registry = trioproto.Registry()
    members: list[trioproto.WebSocket] = []

    @registry.handler("member")
    async def member(ws: trioproto.WebSocket) -> None:
        members.append(ws)
        await ws.wait_closed()

    @registry.handler("sender")
    async def sender(ws: trioproto.WebSocket) -> None:
        async for message in ws.inbound:
            for other in members:
                await other.send(message)  # the member has left: ConnectionClosed

    server = await start_server(registry)
    caplog.set_level(logging.ERROR, logger="trioproto")
    async with connect(ws_url(server), subprotocols=["member"]):
        pass
    with trio.fail_after(5):
        await members[0].wait_closed()
    async with connect(ws_url(server), subprotocols=["sender"]) as client:
        await client.send("hello room")
        with pytest.raises(PeerConnectionClosed):
            await client.recv()
    assert client.close_code == 1011
    records = [r for r in caplog.records if r.name == "trioproto"]
    assert len(records) == 1
    assert records[0].exc_info is not None
    assert isinstance(records[0].exc_info[1], trioproto.ConnectionClosed)
    assert server.statistics().handler_errors == 1


async def test_the_end_of_the_handlers_own_connection_ends_it_quietly(
    start_server: StartServer, caplog: pytest.LogCaptureFixture
) -> None:
    registry = trioproto.Registry()
    ended = trio.Event()

    @registry.handler(None)
    async def talker(ws: trioproto.WebSocket) -> None:
        try:
            await ws.wait_closed()
            await ws.send("too late")  # raises ConnectionClosed: this connection ended
        finally:
            ended.set()

    server = await start_server(registry)
    caplog.set_level(logging.ERROR, logger="trioproto")
    async with connect(ws_url(server)):
        pass
    with trio.fail_after(5):
        await ended.wait()
    assert not [r for r in caplog.records if r.name == "trioproto"]
    assert server.statistics().handler_errors == 0
