"""Plain HTTP routes next to WebSocket routes on one port, with a stdlib HTTP client."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterable
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

    @router.post("/echo")
    async def echo_body(request: trioproto.HttpRequest) -> trioproto.HttpResponse:
        return trioproto.HttpResponse.json({"length": len(request.body), "text": request.text()})

    @router.route("/items", methods=("POST", "PUT"))
    async def add_item(request: trioproto.HttpRequest) -> trioproto.HttpResponse:
        try:
            item = request.json()
        except ValueError:
            return trioproto.HttpResponse.text("the body is not JSON", 400)
        return trioproto.HttpResponse.json({"method": request.method, "item": item}, 201)

    @router.get("/boom")
    async def boom(request: trioproto.HttpRequest) -> trioproto.HttpResponse:
        raise RuntimeError("HTTP handler bug")

    return router


async def _http(
    port: int,
    method: str,
    path: str,
    headers: dict[str, str] | None = None,
    body: bytes | Iterable[bytes] | None = None,
    encode_chunked: bool = False,
) -> tuple[int, dict[str, str], bytes]:
    """One request with http.client in a worker thread."""

    def request() -> tuple[int, dict[str, str], bytes]:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            connection.request(
                method, path, body=body, headers=headers or {}, encode_chunked=encode_chunked
            )
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


async def test_post_bodies_reach_the_handler(start_server: StartServer) -> None:
    server = await start_server(make_router())
    status, _, body = await _http(server.port, "POST", "/echo", body="héllo".encode())
    assert (status, json.loads(body)) == (200, {"length": 6, "text": "héllo"})
    status, _, body = await _http(server.port, "POST", "/echo", body=b"")
    assert (status, json.loads(body)) == (200, {"length": 0, "text": ""})
    status, _, body = await _http(server.port, "PUT", "/items", body=b'{"name": "pen"}')
    assert (status, json.loads(body)) == (201, {"method": "PUT", "item": {"name": "pen"}})
    status, _, body = await _http(server.port, "POST", "/items", body=b"{nope")
    assert (status, body) == (400, b"the body is not JSON")
    status, headers, _ = await _http(server.port, "GET", "/echo")
    assert (status, headers["Allow"]) == (405, "POST")


async def test_a_body_in_pieces_is_read_whole(start_server: StartServer) -> None:
    server = await start_server(make_router())
    stream = await trio.open_tcp_stream("127.0.0.1", server.port)
    async with stream:
        await stream.send_all(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nhello")
        await trio.sleep(0.05)  # the rest arrives later, in another segment
        await stream.send_all(b"world")
        answer = await _read_all(stream)
    assert answer.startswith(b"HTTP/1.1 200 ")
    assert answer.endswith(b'{"length": 10, "text": "helloworld"}')


async def _read_all(stream: trio.abc.Stream) -> bytes:
    answer = b""
    with trio.fail_after(10):
        while chunk := await stream.receive_some():
            answer += chunk
    return answer


@pytest.mark.parametrize(
    ("head", "status", "reason"),
    [
        (b"Content-Length: 11\r\n", 413, b"request body of 11 bytes is over the limit of 10"),
        (b"Transfer-Encoding: chunked\r\n", 411, b"send Content-Length"),
        (b"Content-Length: ten\r\n", 400, b"Content-Length is not a number"),
        (b"Content-Length: 3\r\nContent-Length: 4\r\n", 400, b"conflicting"),
    ],
)
async def test_bodies_refused_before_reading(
    start_server: StartServer, head: bytes, status: int, reason: bytes
) -> None:
    """RFC 9112 §6.3: the framing headers decide; a body over the limit is refused from its
    declared length, before a byte of it is read (RFC 9110 §15.5.14)."""
    server = await start_server(make_router(), limits=trioproto.Limits(max_http_body_size=10))
    stream = await trio.open_tcp_stream("127.0.0.1", server.port)
    async with stream:
        await stream.send_all(b"POST /echo HTTP/1.1\r\nHost: x\r\n" + head + b"\r\n")
        answer = await _read_all(stream)
    assert answer.startswith(b"HTTP/1.1 %d " % status)
    assert reason in answer
    # Counted once the server has finished with the connection (after its lingering close).
    with trio.fail_after(10):
        while server.statistics().rejected_handshakes != 1:  # noqa: ASYNC110 - a counter
            await trio.sleep(0.01)
    # At the limit exactly, the body is accepted.
    status_ok, _, body = await _http(server.port, "POST", "/echo", body=b"x" * 10)
    assert (status_ok, json.loads(body)["length"]) == (200, 10)


async def test_chunked_body_from_a_real_client_gets_411(start_server: StartServer) -> None:
    server = await start_server(make_router())
    status, _, body = await _http(
        server.port, "POST", "/echo", body=iter([b"a", b"b"]), encode_chunked=True
    )
    assert status == 411
    assert b"Transfer-Encoding" in body


async def test_client_leaving_before_its_body_is_dropped(start_server: StartServer) -> None:
    server = await start_server(make_router())
    stream = await trio.open_tcp_stream("127.0.0.1", server.port)
    await stream.send_all(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nab")
    await stream.aclose()
    with trio.fail_after(10):
        while server.statistics().failed_handshakes == 0:  # noqa: ASYNC110 - a counter, no event
            await trio.sleep(0.01)
    assert (await _http(server.port, "GET", "/items/x"))[0] == 200


async def test_refused_body_still_being_sent_gets_its_413(start_server: StartServer) -> None:
    """The client sends a body over the limit without waiting; the refusal still reaches it
    (the server drains before closing instead of resetting the connection)."""
    server = await start_server(make_router(), limits=trioproto.Limits(max_http_body_size=1000))
    for _ in range(5):
        status, _, body = await _http(server.port, "POST", "/echo", body=b"x" * 200_000)
        assert status == 413
        assert b"request body of 200000 bytes is over the limit of 1000 bytes" in body
