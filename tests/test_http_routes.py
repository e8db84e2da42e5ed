"""Plain HTTP routes next to WebSocket routes on one port, with a stdlib HTTP client."""

from __future__ import annotations

import http.client
import json
from pathlib import Path

import pytest
import trio
from websockets.trio.client import connect

import trioproto
from helpers import StartServer

ROOT = Path(__file__).resolve().parent.parent


def make_router() -> trioproto.Router:
    rooms = trioproto.Registry()

    @rooms.handler(None)
    async def room(ws: trioproto.WebSocket) -> None:
        assert ws.request is not None
        await ws.send(f"room {ws.request.path_params['room']}")
        async for message in ws.inbound:
            await ws.send(message)

    router = trioproto.Router()
    router.websocket("/ws/{room}", rooms)

    @router.get("/status")
    async def status(request: trioproto.HttpRequest) -> trioproto.HttpResponse:
        return trioproto.HttpResponse.json({"ok": True, "query": request.query})

    @router.get("/items/{item}")
    async def item(request: trioproto.HttpRequest) -> trioproto.HttpResponse:
        return trioproto.HttpResponse.text(f"item {request.path_params['item']}")

    @router.get("/boom")
    async def boom(request: trioproto.HttpRequest) -> trioproto.HttpResponse:
        raise RuntimeError("HTTP handler bug")

    return router


async def _http(
    port: int, method: str, path: str, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    """One request with http.client in a worker thread."""

    def request() -> tuple[int, dict[str, str], bytes]:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            connection.request(method, path, headers=headers or {})
            response = connection.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            connection.close()

    return await trio.to_thread.run_sync(request)


async def test_http_and_websocket_on_one_port(start_server: StartServer) -> None:
    server = await start_server(make_router())
    status, headers, body = await _http(server.port, "GET", "/status?x=1")
    assert status == 200
    assert headers["Content-Type"] == "application/json"
    assert int(headers["Content-Length"]) == len(body)
    assert json.loads(body) == {"ok": True, "query": {"x": ["1"]}}

    status, headers, body = await _http(server.port, "HEAD", "/status")
    assert status == 200
    assert body == b""
    assert int(headers["Content-Length"]) > 0  # the GET body's length (RFC 9110 §9.3.2)

    status, _, body = await _http(server.port, "GET", "/items/abc")
    assert (status, body) == (200, b"item abc")

    async with connect(f"ws://127.0.0.1:{server.port}/ws/lobby") as client:
        assert await client.recv() == "room lobby"
        await client.send("hi")
        assert await client.recv() == "hi"


@pytest.mark.parametrize(
    ("method", "path", "status", "header", "fragment"),
    [
        ("GET", "/nowhere", 404, None, b"no route for /nowhere"),
        ("POST", "/status", 405, ("Allow", "GET, HEAD"), b"not allowed"),
        ("GET", "/ws/lobby", 426, ("Upgrade", "websocket"), b"WebSocket endpoint"),
        ("GET", "/boom", 500, None, b"internal server error"),
    ],
)
async def test_http_errors(
    start_server: StartServer,
    method: str,
    path: str,
    status: int,
    header: tuple[str, str] | None,
    fragment: bytes,
) -> None:
    server = await start_server(make_router())
    got_status, headers, body = await _http(server.port, method, path)
    assert got_status == status
    assert fragment in body
    if header is not None:
        assert headers[header[0]] == header[1]
    # The server keeps serving after every error.
    assert (await _http(server.port, "GET", "/items/x"))[0] == 200


async def test_http_and_ws_example(
    start_server: StartServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(ROOT))
    from examples import http_and_ws

    server = await start_server(http_and_ws.router)
    async with (
        connect(f"ws://127.0.0.1:{server.port}/ws/kitchen") as one,
        connect(f"ws://127.0.0.1:{server.port}/ws/kitchen") as two,
    ):
        assert await one.recv() == "welcome to kitchen"
        assert await two.recv() == "welcome to kitchen"
        status, _, body = await _http(server.port, "GET", "/status")
        assert status == 200
        assert json.loads(body)["rooms"] == {"kitchen": 2}
        await one.send("dinner")
        assert await two.recv() == "dinner"
    assert (await _http(server.port, "GET", "/"))[0] == 200
