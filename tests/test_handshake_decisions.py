"""Every refusal over a real socket, the handshake hook, and the Origin allow-list."""

from __future__ import annotations

import logging

import pytest
import trio
from websockets.exceptions import InvalidStatus
from websockets.trio.client import connect

import trioproto
from helpers import StartServer, echo_registry

KEY = "dGhlIHNhbXBsZSBub25jZQ=="
GOOD = (
    "GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    f"Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n"
)


async def _raw(port: int, request: bytes) -> tuple[int, bytes, bytes]:
    """Send raw bytes; return the status code, the head and the body of the answer."""
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    await stream.send_all(request)
    answer = b""
    with trio.fail_after(10):
        while chunk := await stream.receive_some():
            answer += chunk
            if answer.startswith(b"HTTP/1.1 101"):
                break
    await stream.aclose()
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head[9:12]), head, body


@pytest.mark.parametrize(
    ("request_bytes", "status", "in_head", "in_body"),
    [
        (GOOD.replace(KEY, "short").encode() + b"\r\n", 400, b"", b"Sec-WebSocket-Key"),
        (GOOD.replace("Connection: Upgrade", "Connection: close").encode() + b"\r\n", 400, b"",
         b"Connection"),
        (GOOD.encode() + b"Sec-WebSocket-Protocol: bad token\r\n\r\n", 400, b"", b"not a token"),
        (GOOD.replace("Host: x\r\n", "").encode() + b"\r\n", 400, b"", b"Host"),
        (GOOD.replace("GET", "POST").encode() + b"\r\n", 405, b"Allow: GET", b"use GET"),
        (GOOD.replace("Version: 13", "Version: 8").encode() + b"\r\n", 426,
         b"Sec-WebSocket-Version: 13", b"version 13"),
        (GOOD.encode() + b"X: y\r\n" * 101 + b"\r\n", 431, b"", b"header lines"),
        (GOOD.encode() + b"X: " + b"y" * 9000 + b"\r\n\r\n", 431, b"", b"header line longer"),
        (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\n\r\n", 414, b"", b"start line longer"),
        (GOOD.replace("HTTP/1.1", "HTTP/1.0").encode() + b"\r\n", 505, b"", b"HTTP/1.1"),
        (b"NONSENSE\r\n\r\n", 400, b"", b"malformed request line"),
        (GOOD.replace("GET /chat", "GET http://[::1/chat").encode() + b"\r\n", 400, b"",
         b"invalid request target"),
    ],
)  # fmt: skip
async def test_refusals_over_a_socket(
    start_server: StartServer, request_bytes: bytes, status: int, in_head: bytes, in_body: bytes
) -> None:
    """Bad input always gets an HTTP status with a specific, short text body."""
    server = await start_server(echo_registry(None, "chat"))
    got, head, body = await _raw(server.port, request_bytes)
    assert got == status
    assert in_head in head
    assert in_body in body
    assert b"Content-Type: text/plain; charset=utf-8" in head
    assert b"Connection: close" in head
    assert server.statistics().rejected_handshakes == 1


async def test_426_for_a_plain_get_lists_upgrade_in_connection_once(
    start_server: StartServer,
) -> None:
    """RFC 9110 §7.8: the 426 advertises ``Upgrade: websocket`` with ``Connection: Upgrade``
    and no contradicting ``Connection: close``."""
    server = await start_server(echo_registry())
    got, head, body = await _raw(server.port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert got == 426
    fields = [line.lower() for line in head.split(b"\r\n")[1:]]
    assert [f for f in fields if f.startswith(b"connection:")] == [b"connection: upgrade"]
    assert b"upgrade: websocket" in fields
    assert b"Upgrade: websocket" in body


async def test_hook_sees_the_request_and_can_reject(start_server: StartServer) -> None:
    seen: list[tuple[object, ...]] = []

    async def hook(
        request: trioproto.WebSocketRequest, subprotocol: str | None
    ) -> trioproto.Accept | trioproto.Reject | None:
        seen.append(
            (
                request.path,
                dict(request.path_params),
                dict(request.query),
                request.headers.get("X-Token"),
                request.remote[0] if isinstance(request.remote, tuple) else None,
                subprotocol,
            )
        )
        if request.headers.get("X-Token") != "good":
            return trioproto.Reject(403, "bad token")
        if request.query.get("trace"):
            return trioproto.Accept(headers=(("X-Trace", "on"),))
        return None

    router = trioproto.Router()
    router.websocket("/rooms/{room}", echo_registry(None, "chat"))
    server = await start_server(router, on_handshake=hook)
    url = f"ws://127.0.0.1:{server.port}/rooms/blue?trace=1"
    with pytest.raises(InvalidStatus) as info:
        async with connect(url, additional_headers={"X-Token": "bad"}):
            pass  # pragma: no cover
    assert info.value.response.status_code == 403
    assert info.value.response.body == b"bad token\n"
    async with connect(url, additional_headers={"X-Token": "good"}, subprotocols=["chat"]) as ws:
        assert ws.response.headers["X-Trace"] == "on"
    async with connect(url.split("?")[0], additional_headers={"X-Token": "good"}) as ws:
        assert "X-Trace" not in ws.response.headers
    assert seen[1] == (
        "/rooms/blue",
        {"room": "blue"},
        {"trace": ["1"]},
        "good",
        "127.0.0.1",
        "chat",
    )


async def test_accept_state_is_what_the_handler_finds_in_ws_state(
    start_server: StartServer,
) -> None:
    """What the hook learnt travels in ``Accept(state=...)`` to that connection's ``ws.state``,
    and only to that connection."""

    async def hook(
        request: trioproto.WebSocketRequest, subprotocol: str | None
    ) -> trioproto.Accept | None:
        user = request.headers.get("X-User")
        return None if user is None else trioproto.Accept(state={"user": user, "level": 3})

    registry = trioproto.Registry()

    @registry.handler(None)
    async def whoami(ws: trioproto.WebSocket) -> None:
        ws.state["seen"] = True  # the handler's own dict, not the hook's mapping
        await ws.send(repr(sorted(ws.state.items())))

    server = await start_server(registry, on_handshake=hook)
    url = f"ws://127.0.0.1:{server.port}/"
    async with connect(url, additional_headers={"X-User": "ann"}) as ws:
        assert await ws.recv() == "[('level', 3), ('seen', True), ('user', 'ann')]"
    async with connect(url, additional_headers={"X-User": "bob"}) as ws:
        assert await ws.recv() == "[('level', 3), ('seen', True), ('user', 'bob')]"
    async with connect(url) as ws:
        assert await ws.recv() == "[('seen', True)]"


async def test_raising_hook_answers_500_and_is_logged(
    start_server: StartServer, caplog: pytest.LogCaptureFixture
) -> None:
    async def hook(request: trioproto.WebSocketRequest, subprotocol: str | None) -> None:
        raise LookupError("hook bug")

    server = await start_server(echo_registry(None, "chat"), on_handshake=hook)
    status, _, body = await _raw(server.port, GOOD.encode() + b"\r\n")
    assert (status, body) == (500, b"internal server error\n")
    assert any(r.levelno == logging.ERROR and r.exc_info for r in caplog.records)


def test_reject_needs_an_error_status() -> None:
    with pytest.raises(ValueError, match="4xx or 5xx"):
        trioproto.Reject(200)


async def test_origin_allow_list(start_server: StartServer) -> None:
    """RFC 6455 §10.2: refuse origins not listed with 403."""
    server = await start_server(echo_registry(None, "chat"), origins=["https://good.example"])
    url = f"ws://127.0.0.1:{server.port}/"
    async with connect(url, origin="https://good.example"):  # type: ignore[arg-type]
        pass
    for origin in ("https://evil.example", None):
        with pytest.raises(InvalidStatus) as info:
            async with connect(url, origin=origin):  # type: ignore[arg-type]
                pass  # pragma: no cover
        assert info.value.response.status_code == 403
    lenient = await start_server(
        echo_registry(None, "chat"), origins=["https://good.example", None]
    )
    async with connect(f"ws://127.0.0.1:{lenient.port}/"):
        pass
