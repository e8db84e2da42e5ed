"""Tests for trioproto._client: against the `websockets` library's server (an independent
implementation) and against our own, plus retries and timeouts under a virtual clock."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest
import trio
import trio.testing
from websockets.trio.server import serve as peer_serve

import trioproto
import trioproto.testing
from helpers import StartServer, ws_url
from trioproto._url import parse_url, unix_url


async def _peer_echo(connection: object) -> None:
    async for message in connection:  # type: ignore[attr-defined]
        await connection.send(message)  # type: ignore[attr-defined]


async def _start_peer(nursery: trio.Nursery, **kwargs: object) -> int:
    server = await nursery.start(
        functools.partial(peer_serve, _peer_echo, 0, host="127.0.0.1", **kwargs)  # type: ignore[arg-type]
    )
    return int(server.listeners[0].socket.getsockname()[1])


async def test_client_against_websockets_server(nursery: trio.Nursery) -> None:
    port = await _start_peer(nursery, subprotocols=["chat", "superchat"], compression=None)
    async with trioproto.open_websocket(
        f"ws://127.0.0.1:{port}/path?q=1", subprotocols=["superchat", "other"]
    ) as ws:
        assert ws.subprotocol == "superchat"
        await ws.send("héllo")
        assert await ws.receive() == "héllo"
        await ws.send(b"\x00" * 100_000)
        assert await ws.receive() == b"\x00" * 100_000
        await ws.send_fragment("frag", final=False)
        await ws.send_fragment("ment", final=True)
        assert await ws.receive() == "fragment"
        await ws.ping(b"are you there")
    assert ws.closed is not None
    assert ws.closed.code == 1000
    assert ws.closed.clean
    nursery.cancel_scope.cancel()


async def test_client_masks_every_frame(nursery: trio.Nursery) -> None:
    """The websockets server fails unmasked client frames with 1002 (RFC 6455 §5.1); a long
    conversation staying open shows every frame was masked."""
    port = await _start_peer(nursery, compression=None)
    async with trioproto.open_websocket(f"ws://127.0.0.1:{port}/") as ws:
        for index in range(50):
            await ws.send(f"message {index}")
            assert await ws.receive() == f"message {index}"
    nursery.cancel_scope.cancel()


async def test_rejected_handshake_exposes_status_and_body(nursery: trio.Nursery) -> None:
    registry = trioproto.Registry()
    registry.register("chat", _peer_echo)  # type: ignore[arg-type]
    server = await trioproto.testing.open_test_server(nursery, registry)
    with pytest.raises(trioproto.HandshakeRejected) as info:
        async with trioproto.open_websocket(f"ws://127.0.0.1:{server.port}/"):
            pass  # pragma: no cover
    assert info.value.status == 400
    assert b"a subprotocol is required" in info.value.body
    assert ("Content-Type", "text/plain; charset=utf-8") in info.value.headers
    # The message says why, on one line: the status and the server's own words.
    assert str(info.value) == (
        "server rejected the WebSocket handshake: 400 Bad Request: "
        "a subprotocol is required; served: chat"
    )
    await server.aclose()


@pytest.mark.parametrize(
    ("body", "shown"),
    [
        (b"", "server rejected the WebSocket handshake: 403 Forbidden"),
        (b"no\n  entry\n", "server rejected the WebSocket handshake: 403 Forbidden: no entry"),
        (b"\xff\xfe", "server rejected the WebSocket handshake: 403 Forbidden"),
        (
            b"x" * 400,
            "server rejected the WebSocket handshake: 403 Forbidden: " + "x" * 297 + "...",
        ),
    ],
)
def test_rejection_message_shows_a_bounded_text_body(body: bytes, shown: str) -> None:
    assert str(trioproto.HandshakeRejected(403, "Forbidden", (), body)) == shown


async def test_client_over_a_unix_socket_url(start_server: StartServer, tmp_path: Path) -> None:
    """``ws+unix://PATH[:/resource]`` reaches a server on a Unix socket."""
    path = str(tmp_path / "s.sock")
    seen: list[str] = []
    registry = trioproto.Registry()

    @registry.handler(None)
    async def echo(ws: trioproto.WebSocket) -> None:
        seen.append(ws.request.path)
        async for message in ws.inbound:
            await ws.send(message)

    await start_server(registry, unix_path=path, host=None)
    for url in [f"ws+unix://{path}", f"ws+unix://{path}:/chat"]:
        async with trioproto.open_websocket(url) as ws:
            await ws.send("over unix")
            assert await ws.receive() == "over unix"
    assert seen == ["/", "/chat"]


async def test_a_client_connection_has_the_request_it_sent(start_server: StartServer) -> None:
    """``ws.request`` is never ``None``: on a client it is the opening request as sent, the
    same request the server's handler sees."""
    seen: list[trioproto.WebSocketRequest] = []
    registry = trioproto.Registry()

    @registry.handler("chat")
    async def record(ws: trioproto.WebSocket) -> None:
        seen.append(ws.request)
        await ws.send("ok")

    server = await start_server(registry)
    url = ws_url(server, "/rooms/blue?name=ann")
    async with trioproto.open_websocket(
        url, subprotocols=["chat"], headers=[("X-Trace", "7")]
    ) as ws:
        assert await ws.receive() == "ok"
        sent = ws.request
    (received,) = seen
    assert sent.path == received.path == "/rooms/blue"
    assert sent.query == received.query == {"name": ["ann"]}
    assert sent.headers.get("X-Trace") == received.headers.get("X-Trace") == "7"
    assert sent.handshake.key == received.handshake.key
    assert sent.handshake.subprotocols == received.handshake.subprotocols == ("chat",)
    assert sent.remote == ws.remote


async def test_error_in_block_closes_with_1011_and_propagates_unwrapped(
    nursery: trio.Nursery,
) -> None:
    closed_with: list[int] = []
    registry = trioproto.Registry()

    @registry.handler(None)
    async def handler(ws: trioproto.WebSocket) -> None:
        try:
            await ws.receive()
        except trioproto.ConnectionClosed as exc:
            closed_with.append(exc.code)

    server = await trioproto.testing.open_test_server(nursery, registry)
    with pytest.raises(KeyError):
        async with trioproto.open_websocket(f"ws://127.0.0.1:{server.port}/"):
            raise KeyError("not wrapped in an ExceptionGroup")
    await server.aclose()
    assert closed_with == [1011]


async def _closed_port() -> int:
    """A loopback port with nothing listening (bound, then released)."""
    sock = trio.socket.socket()
    await sock.bind(("127.0.0.1", 0))
    port = int(sock.getsockname()[1])
    sock.close()
    return port


async def test_retries_against_refusing_port(autojump_clock: trio.testing.MockClock) -> None:
    port = await _closed_port()
    start = trio.current_time()
    with pytest.raises(OSError, match="onnect"):
        async with trioproto.open_websocket(
            f"ws://127.0.0.1:{port}/", retry_delay=2.5, max_retries=3
        ):
            pass  # pragma: no cover
    assert trio.current_time() - start == pytest.approx(7.5)


async def test_retry_succeeds_once_server_appears(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    port = await _closed_port()
    registry = trioproto.Registry()

    @registry.handler(None)
    async def hello(ws: trioproto.WebSocket) -> None:
        await ws.send("hello")

    async def start_later() -> None:
        await trio.sleep(3)
        await nursery.start(functools.partial(trioproto.serve, registry, port, host="127.0.0.1"))

    nursery.start_soon(start_later)
    async with trioproto.open_websocket(
        f"ws://127.0.0.1:{port}/", retry_delay=1, max_retries=10
    ) as ws:
        assert await ws.receive() == "hello"
    assert trio.current_time() >= 3
    nursery.cancel_scope.cancel()


async def test_server_that_never_answers_times_out(
    autojump_clock: trio.testing.MockClock,
) -> None:
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    port = listeners[0].socket.getsockname()[1]
    async with trio.open_nursery() as nursery:
        silent: list[trio.SocketStream] = []

        async def accept_and_ignore() -> None:
            while True:
                silent.append(await listeners[0].accept())

        nursery.start_soon(accept_and_ignore)
        start = trio.current_time()
        with pytest.raises(trio.TooSlowError):
            async with trioproto.open_websocket(f"ws://127.0.0.1:{port}/", connect_timeout=5):
                pass  # pragma: no cover
        assert trio.current_time() - start == pytest.approx(5)
        nursery.cancel_scope.cancel()
    for stream in silent:
        await stream.aclose()
    await listeners[0].aclose()


@pytest.mark.parametrize(
    ("url", "secure", "host", "port", "resource", "host_header"),
    [
        ("ws://example.com", False, "example.com", 80, "/", "example.com"),
        ("wss://example.com/a/b?c=d", True, "example.com", 443, "/a/b?c=d", "example.com"),
        ("ws://127.0.0.1:8080/x", False, "127.0.0.1", 8080, "/x", "127.0.0.1:8080"),
        ("wss://[::1]:9443/", True, "::1", 9443, "/", "[::1]:9443"),
        ("WS://Example.com:80/", False, "example.com", 80, "/", "example.com"),
    ],
)
def test_parse_url(
    url: str, secure: bool, host: str, port: int, resource: str, host_header: str
) -> None:
    parsed = parse_url(url)
    assert (parsed.secure, parsed.host, parsed.port, parsed.resource) == (
        secure,
        host,
        port,
        resource,
    )
    assert parsed.host_header == host_header


@pytest.mark.parametrize(
    "url", ["http://example.com/", "ws:///path", "ws://example.com/#frag", "ws://h:99999/"]
)
def test_parse_url_rejects(url: str) -> None:
    with pytest.raises(ValueError, match=r"WebSocket URL|no host|fragment|[Pp]ort"):
        parse_url(url)


@pytest.mark.parametrize(
    ("url", "secure", "unix_path", "resource"),
    [
        ("ws+unix:///run/app.sock", False, "/run/app.sock", "/"),
        ("wss+unix:///run/app.sock:/chat?x=1", True, "/run/app.sock", "/chat?x=1"),
        ("ws+unix://relative.sock", False, "relative.sock", "/"),
        ("ws+unix:///odd:name.sock", False, "/odd:name.sock", "/"),
    ],
)
def test_parse_unix_url(url: str, secure: bool, unix_path: str, resource: str) -> None:
    parsed = parse_url(url)
    assert (parsed.secure, parsed.unix_path, parsed.resource) == (secure, unix_path, resource)
    assert parsed.host_header == "localhost"


@pytest.mark.parametrize("url", ["ws+unix://", "ws+unix:///a.sock#frag", "ws+unix://:/x"])
def test_parse_unix_url_rejects(url: str) -> None:
    with pytest.raises(ValueError, match=r"socket path|fragment"):
        parse_url(url)


def test_unix_url_round_trips_and_refuses_what_it_cannot_carry() -> None:
    assert parse_url(unix_url("/tmp/a.sock")).unix_path == "/tmp/a.sock"
    assert unix_url("/tmp/a.sock", secure=True) == "wss+unix:///tmp/a.sock"
    with pytest.raises(ValueError, match="cannot carry"):
        unix_url("/tmp/a:/b.sock")


async def test_client_compression_with_websockets_server(nursery: trio.Nursery) -> None:
    """Our client offers permessage-deflate; the independent server accepts and both
    directions inflate correctly (RFC 7692)."""
    port = await _start_peer(nursery)  # websockets enables compression by default
    async with trioproto.open_websocket(f"ws://127.0.0.1:{port}/") as ws:
        assert ws._codec.compression is not None
        for index in range(3):
            text = f"compress me {index} " * 300
            await ws.send(text)
            assert await ws.receive() == text
    async with trioproto.open_websocket(f"ws://127.0.0.1:{port}/", compression=None) as ws:
        assert ws._codec.compression is None
        await ws.send("plain")
        assert await ws.receive() == "plain"
    nursery.cancel_scope.cancel()


async def test_client_and_server_compression_with_context_takeover(nursery: trio.Nursery) -> None:
    registry = trioproto.Registry()

    @registry.handler(None)
    async def echo(ws: trioproto.WebSocket) -> None:
        async for message in ws.inbound:
            await ws.send(message)

    for policy in (
        trioproto.DeflatePolicy(),
        trioproto.DeflatePolicy(server_no_context_takeover=True, client_no_context_takeover=True),
        trioproto.DeflatePolicy(server_max_window_bits=9, client_max_window_bits=9),
    ):
        server = await trioproto.testing.open_test_server(nursery, registry, compression=policy)
        async with trioproto.open_websocket(
            f"ws://127.0.0.1:{server.port}/", compression=policy
        ) as ws:
            for index in range(5):
                await ws.send(f"message {index} " * 100)
                assert await ws.receive() == f"message {index} " * 100
        await server.aclose()


async def test_client_limits_are_the_only_message_limit(nursery: trio.Nursery) -> None:
    """``limits=Limits(max_message_size=16 MiB)`` lets a 4 MiB message in: no other parameter
    of open_websocket overrides it."""
    big = b"\x5a" * (4 * 1024 * 1024)
    limits = trioproto.Limits(max_message_size=16 * 1024 * 1024)
    registry = trioproto.Registry()

    @registry.handler(None)
    async def send_big(ws: trioproto.WebSocket) -> None:
        await ws.send(big)
        await ws.wait_closed()

    server = await trioproto.testing.open_test_server(nursery, registry, limits=limits)
    with trio.fail_after(20):
        async with trioproto.open_websocket(f"ws://127.0.0.1:{server.port}/", limits=limits) as ws:
            assert await ws.receive() == big
    await server.aclose()
