"""Delayed activation and explicit upgrades over real sockets (issue 4).

The client here is hand-made from the sans-IO pieces so that it can put WebSocket frames in the
same TCP segment as the handshake request, which is what makes "nothing is lost" interesting.
"""

from __future__ import annotations

import functools
from pathlib import Path

import pytest
import trio

import trioproto
from helpers import request_bytes
from trioproto._sansio._codec import Codec, Role
from trioproto._sansio._http import ResponseHeadParser
from trioproto.testing import open_test_server

ROOT = str(Path(__file__).resolve().parent.parent)


def _request(path: str = "/", key: str | None = None) -> bytes:
    return request_bytes(path) if key is None else request_bytes(path, key=key)


async def _read_response_head(stream: trio.SocketStream) -> tuple[int, Codec]:
    """Read the response head; return the status and a client codec fed what followed."""
    parser = ResponseHeadParser(trioproto.DEFAULT_LIMITS)
    while True:
        data = await stream.receive_some()
        assert data, "server closed before answering"
        response = parser.feed(data)
        if response is not None:
            return response.status_code, Codec(Role.CLIENT, trailing_data=parser.trailing_data)


async def _receive_messages(stream: trio.SocketStream, codec: Codec, count: int) -> list[object]:
    messages: list[object] = [e.data for e in codec.events() if hasattr(e, "data")]
    while len(messages) < count:
        data = await stream.receive_some()
        assert data
        codec.receive_data(data)
        messages += [e.data for e in codec.events() if hasattr(e, "data")]
    return messages


async def test_delayed_activation_loses_nothing(nursery: trio.Nursery) -> None:
    """Frames sent in the same segment as the request and right after the 101 all arrive,
    in order, once the handler activates (RESTinio's activation_t::delayed)."""
    may_activate = trio.Event()
    received: list[str | bytes] = []
    registry = trioproto.Registry()

    @registry.handler(None, activation="delayed")
    async def late(ws: trioproto.WebSocket) -> None:
        await ws.send("before activation")  # sending first is allowed
        await may_activate.wait()
        assert ws.statistics().messages_received == 0  # nothing was read meanwhile
        ws.activate()
        async for message in ws.inbound:
            received.append(message)
            if len(received) == 13:
                await ws.send(f"got {len(received)}")

    server = await open_test_server(nursery, registry)
    stream = await trio.open_tcp_stream("127.0.0.1", server.port)
    client = Codec(Role.CLIENT)
    for index in range(3):
        client.send_message(f"early {index}")
    await stream.send_all(_request() + client.data_to_send())  # one segment
    status, client = await _read_response_head(stream)
    assert status == 101
    for index in range(10):
        client.send_message(f"late {index}".encode())
    await stream.send_all(client.data_to_send())
    assert await _receive_messages(stream, client, 1) == ["before activation"]
    may_activate.set()
    assert await _receive_messages(stream, client, 1) == ["got 13"]
    assert received == [f"early {i}" for i in range(3)] + [f"late {i}".encode() for i in range(10)]
    await stream.aclose()


async def test_never_activated_connection_is_failed(nursery: trio.Nursery) -> None:
    registry = trioproto.Registry()

    @registry.handler(None, activation="delayed")
    async def forgetful(ws: trioproto.WebSocket) -> None:
        await ws.wait_closed()

    timeouts = trioproto.Timeouts(activation=0.2, ping_interval=None)
    server = await open_test_server(nursery, registry, timeouts=timeouts)
    async with trioproto.open_websocket(f"ws://127.0.0.1:{server.port}/") as ws:
        with pytest.raises(trioproto.ConnectionClosed) as info:
            await ws.receive()
    assert info.value.code == 1011
    assert info.value.reason == "not activated in time"


async def test_upgrade_stream_from_another_http_server(nursery: trio.Nursery) -> None:
    """An application that reads HTTP itself hands the stream over with upgrade_stream()."""
    may_activate = trio.Event()

    async def handler(ws: trioproto.WebSocket) -> None:
        assert ws.subprotocol == "chat"
        await may_activate.wait()
        ws.activate()
        async for message in ws.inbound:
            await ws.send(f"echo: {message}")

    async def serve_http(stream: trio.SocketStream) -> None:
        data = b""
        while (parsed := trioproto.parse_request_head(data)) is None:
            data += await stream.receive_some()
        request, trailing = parsed
        if request.target != "/upgrade-me":
            await stream.send_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
            await stream.aclose()
            return
        await trioproto.upgrade_stream(
            stream,
            request,
            handler,
            trailing_data=trailing,
            subprotocol="chat",
            activation="delayed",
        )

    listeners = await nursery.start(
        functools.partial(trio.serve_tcp, serve_http, 0, host="127.0.0.1")
    )
    port = listeners[0].socket.getsockname()[1]
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    client = Codec(Role.CLIENT)
    client.send_message("in the request's segment")
    request = request_bytes("/upgrade-me", subprotocols=["chat"])
    await stream.send_all(request + client.data_to_send())
    status, client = await _read_response_head(stream)
    assert status == 101
    may_activate.set()
    assert await _receive_messages(stream, client, 1) == ["echo: in the request's segment"]
    await stream.aclose()
    nursery.cancel_scope.cancel()


async def test_http_route_can_decide_to_upgrade(nursery: trio.Nursery) -> None:
    router = trioproto.Router()

    async def greeter(ws: trioproto.WebSocket) -> None:
        await ws.send(f"hello {ws.request.path_params['who'] if ws.request else '?'}")

    @router.get("/maybe/{who}")
    async def maybe(request: trioproto.HttpRequest) -> trioproto.HttpResponse | trioproto.UpgradeTo:
        if request.path_params["who"] == "nobody":
            return trioproto.HttpResponse.text("no upgrade for you", 403)
        return trioproto.UpgradeTo(greeter)

    server = await open_test_server(nursery, router)
    async with trioproto.open_websocket(f"ws://127.0.0.1:{server.port}/maybe/ann") as ws:
        assert await ws.receive() == "hello ann"
    with pytest.raises(trioproto.HandshakeRejected) as info:
        async with trioproto.open_websocket(f"ws://127.0.0.1:{server.port}/maybe/nobody"):
            pass  # pragma: no cover
    assert info.value.status == 403
    assert info.value.body == b"no upgrade for you"
    await server.aclose()


async def test_delayed_example(nursery: trio.Nursery, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(ROOT)
    from examples import delayed

    server = await open_test_server(nursery, delayed.registry)
    async with trioproto.open_websocket(f"ws://127.0.0.1:{server.port}/") as ws:
        await ws.send("sent before the server activated")
        greeting = await ws.receive()
        assert isinstance(greeting, str) and greeting.endswith("ready")
        assert await ws.receive() == "sent before the server activated"
    await server.aclose()
