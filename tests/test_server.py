"""Tests for trioproto._server over real loopback sockets, with the `websockets` library's
trio client as an independent peer."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
import trio
from websockets.exceptions import ConnectionClosed as PeerConnectionClosed
from websockets.exceptions import InvalidStatus
from websockets.trio.client import connect

import trioproto
from helpers import StartServer, echo_registry, request_bytes, ws_url
from trioproto._sansio._codec import Codec, Role
from trioproto._sansio._events import CloseReceived, Message, Ping
from trioproto._sansio._frames import serialize_frame
from trioproto._sansio._http import ResponseHeadParser


async def test_echo_text_and_binary(start_server: StartServer) -> None:
    server = await start_server(echo_registry(None, "echo"))
    async with connect(ws_url(server), compression=None) as client:
        await client.send("héllo wörld")
        assert await client.recv() == "héllo wörld"
        await client.send(b"\x00\xffbinary")
        assert await client.recv() == b"\x00\xffbinary"
        await client.send("")
        assert await client.recv() == ""
        big = bytes(range(256)) * 1000
        await client.send(big)
        assert await client.recv() == big
        fragments = ["frag", "ment", "ed"]
        await client.send(iter(fragments))
        assert await client.recv() == "fragmented"


async def test_client_close_ends_handler_cleanly(start_server: StartServer) -> None:
    """A normal close (1000) ends ``async for`` quietly (trio.EndOfChannel); another code
    surfaces as ConnectionClosed carrying it. Either way the server echoes the code
    (RFC 6455 §5.5.1)."""
    outcomes: list[object] = []
    done = trio.Event()
    registry = trioproto.Registry()

    @registry.handler(None)
    async def handler(ws: trioproto.WebSocket) -> None:
        try:
            async for _ in ws.inbound:
                pass
            outcomes.append("ended")
        except trioproto.ConnectionClosed as exc:
            outcomes.append(exc.code)
        done.set()

    server = await start_server(registry)
    async with connect(ws_url(server)) as client:
        await client.aclose(1000)
    await done.wait()
    assert client.close_code == 1000
    done = trio.Event()
    async with connect(ws_url(server)) as client:
        await client.aclose(4000, "bye")
    await done.wait()
    assert client.close_code == 4000
    assert outcomes == ["ended", 4000]


async def test_subprotocol_negotiation_prefers_server_order(start_server: StartServer) -> None:
    seen: list[str | None] = []
    registry = trioproto.Registry()

    async def record(ws: trioproto.WebSocket) -> None:
        seen.append(ws.subprotocol)
        await ws.outbound.send(ws.subprotocol or "")

    registry.register("v2", record)
    registry.register("v1", record)
    server = await start_server(registry)
    async with connect(ws_url(server), subprotocols=["v1", "v2"]) as client:
        assert client.subprotocol == "v2"
        assert await client.recv() == "v2"
    async with connect(ws_url(server), subprotocols=["v1", "zz"]) as client:
        assert client.subprotocol == "v1"


@pytest.mark.parametrize(
    ("offered", "fragment"),
    [(["mqtt"], "none of the offered subprotocols (mqtt)"), (None, "a subprotocol is required")],
)
async def test_subprotocol_rejection_is_400(
    start_server: StartServer, offered: list[str] | None, fragment: str
) -> None:
    registry = trioproto.Registry()
    registry.register("chat", echo_registry(None, "echo").select([]).entry.handler)
    server = await start_server(registry)
    with pytest.raises(InvalidStatus) as info:
        async with connect(ws_url(server), subprotocols=offered):  # type: ignore[arg-type]
            pass  # pragma: no cover
    assert info.value.response.status_code == 400
    body = info.value.response.body.decode()
    assert fragment in body
    assert "served: chat" in body
    assert server.statistics().rejected_handshakes == 1


async def test_handler_exception_closes_1011_and_others_keep_working(
    start_server: StartServer, caplog: pytest.LogCaptureFixture
) -> None:
    registry = echo_registry(None, "echo")
    finally_runs: list[str] = []
    crashed_ids: list[str] = []

    @registry.handler("crash")
    async def crash(ws: trioproto.WebSocket) -> None:
        crashed_ids.append(str(ws.id))
        try:
            await ws.inbound.receive()
            raise RuntimeError("boom")
        finally:
            finally_runs.append("crash")

    server = await start_server(registry)
    caplog.set_level(logging.ERROR, logger="trioproto")
    async with connect(ws_url(server), subprotocols=["echo"]) as survivor:
        async with connect(ws_url(server, "/room?x=1"), subprotocols=["crash"]) as victim:
            await victim.send("trigger")
            with pytest.raises(PeerConnectionClosed):
                await victim.recv()
            assert victim.close_code == 1011
        await survivor.send("still here")
        assert await survivor.recv() == "still here"
    assert finally_runs == ["crash"]
    records = [r for r in caplog.records if r.name == "trioproto"]
    assert len(records) == 1
    record = records[0]
    assert record.exc_info is not None and isinstance(record.exc_info[1], RuntimeError)
    message = record.getMessage()
    assert crashed_ids[0] in message
    assert "/room" in message
    assert "crash" in message
    assert server.statistics().handler_errors == 1


async def test_graceful_shutdown_sends_1001_and_waits_for_handlers(nursery: trio.Nursery) -> None:
    finished = trio.Event()
    registry = trioproto.Registry()

    @registry.handler(None)
    async def handler(ws: trioproto.WebSocket) -> None:
        async for message in ws.inbound:
            await ws.outbound.send(message)
        finished.set()

    server: trioproto.WebSocketServer = await nursery.start(
        lambda task_status: trioproto.serve(registry, 0, host="127.0.0.1", task_status=task_status)
    )
    async with connect(ws_url(server)) as client:
        await client.send("x")
        assert await client.recv() == "x"
        await server.aclose()
        assert finished.is_set()
        with pytest.raises(PeerConnectionClosed):
            await client.recv()
        assert client.close_code == 1001
    await server.aclose()  # idempotent
    with pytest.raises(OSError):  # noqa: PT011 - the errno varies (refused, unreachable)
        await trio.open_tcp_stream("127.0.0.1", server.port)


async def test_cancelling_serve_closes_clients_with_1001_then_cancels_handlers() -> None:
    """Cancelling serve() (the trio way to stop it) sends 1001 to every client within
    ``Timeouts.shutdown``; a handler still running then is cancelled, its finally runs once."""
    entered = trio.Event()
    outcomes: list[str] = []
    registry = trioproto.Registry()

    @registry.handler(None)
    async def handler(ws: trioproto.WebSocket) -> None:
        try:
            entered.set()
            await trio.sleep_forever()  # not reading: it never notices the close by itself
        except trio.Cancelled:
            outcomes.append("cancelled")
            raise
        finally:
            outcomes.append("finally")

    async with trio.open_nursery() as outer:
        inner = trio.CancelScope()

        async def run_server(task_status: trio.TaskStatus[trioproto.WebSocketServer]) -> None:
            with inner:
                await trioproto.serve(
                    registry,
                    0,
                    host="127.0.0.1",
                    timeouts=trioproto.Timeouts(shutdown=1),
                    task_status=task_status,
                )

        server = await outer.start(run_server)
        async with connect(ws_url(server)) as client:
            await entered.wait()
            inner.cancel()
            with trio.fail_after(5), pytest.raises(PeerConnectionClosed):
                await client.recv()
        assert client.close_code == 1001
    assert outcomes == ["cancelled", "finally"]


async def test_max_connections_holds_extra_clients_in_backlog(start_server: StartServer) -> None:
    release = trio.Event()
    registry = trioproto.Registry()

    @registry.handler(None)
    async def handler(ws: trioproto.WebSocket) -> None:
        await ws.outbound.send("welcome")
        await release.wait()

    server = await start_server(registry, limits=trioproto.Limits(max_connections=2))
    async with connect(ws_url(server)) as first, connect(ws_url(server)) as second:
        assert await first.recv() == "welcome"
        assert await second.recv() == "welcome"
        third_connected = trio.Event()

        async def third() -> None:
            async with connect(ws_url(server), open_timeout=None) as client:
                assert await client.recv() == "welcome"
                third_connected.set()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(third)
            for _ in range(50):
                await trio.sleep(0.002)
            assert not third_connected.is_set()
            assert server.statistics().total_connections == 2
            release.set()
            await third_connected.wait()
    assert server.statistics().total_connections == 3


async def test_handlers_of_different_subprotocols_are_isolated(start_server: StartServer) -> None:
    """A failing handler for one subprotocol does not disturb another's connections."""
    registry = echo_registry(None, "echo")

    @registry.handler("fragile")
    async def fragile(ws: trioproto.WebSocket) -> None:
        raise ValueError("fragile by design")

    server = await start_server(registry)
    async with connect(ws_url(server), subprotocols=["echo"]) as steady:
        for round_ in range(3):
            async with connect(ws_url(server), subprotocols=["fragile"]) as client:
                with pytest.raises(PeerConnectionClosed):
                    await client.recv()
                assert client.close_code == 1011
            await steady.send(f"round {round_}")
            assert await steady.recv() == f"round {round_}"


async def test_compression_interop_with_websockets_client(start_server: StartServer) -> None:
    """permessage-deflate (RFC 7692) negotiated with an independent client, both directions,
    context takeover across messages, fragmented compressed messages."""
    server = await start_server(echo_registry(None, "echo"))
    async with connect(ws_url(server)) as client:  # websockets offers compression by default
        extensions = client.response.headers["Sec-WebSocket-Extensions"]
        assert extensions.startswith("permessage-deflate")
        assert client.protocol.extensions, "the client did not enable compression"
        for index in range(5):
            text = f"compressible JSON-ish payload {index} " * 200
            await client.send(text)
            assert await client.recv() == text
        await client.send(iter(["frag " * 100, "mented " * 100]))
        assert await client.recv() == "frag " * 100 + "mented " * 100
        await client.send(b"\x00" * 100_000)
        assert await client.recv() == b"\x00" * 100_000


async def test_compression_can_be_turned_off(start_server: StartServer) -> None:
    server = await start_server(echo_registry(None, "echo"), compression=None)
    async with connect(ws_url(server)) as client:
        assert "Sec-WebSocket-Extensions" not in client.response.headers
        await client.send("plain")
        assert await client.recv() == "plain"


async def test_compressed_bomb_is_closed_1009(start_server: StartServer) -> None:
    """A small compressed message inflating past max_message_size fails with 1009."""
    registry = echo_registry(None, "echo")
    server = await start_server(registry, limits=trioproto.Limits(max_message_size=64 * 1024))
    async with connect(ws_url(server), max_size=None) as client:
        await client.send(b"\x00" * (10 * 1024 * 1024))  # compresses to about 10 KiB
        with pytest.raises(PeerConnectionClosed):
            await client.recv()
    assert client.close_code == 1009


async def test_slow_consumer_is_held_back_by_tcp(start_server: StartServer) -> None:
    """A handler that stops reading: the server queues at most max_queued_messages, stops
    reading the socket, and the client's sends block (TCP backpressure) instead of the
    server's memory growing."""
    stop_reading = trio.Event()
    connections: list[trioproto.WebSocket] = []
    registry = trioproto.Registry()

    @registry.handler(None)
    async def lazy(ws: trioproto.WebSocket) -> None:
        connections.append(ws)
        await stop_reading.wait()
        count = 0
        async for _ in ws.inbound:
            count += 1
            if count == 400:
                await ws.send("all received")

    limits = trioproto.Limits(max_queued_messages=4)
    server = await start_server(registry, limits=limits, compression=None)
    message = b"x" * 65536
    total = 400  # 25 MiB: far more than the kernel buffers hold
    sent = 0
    async with connect(ws_url(server), compression=None) as client:

        async def send_all() -> None:
            nonlocal sent
            for _ in range(total):
                await client.send(message)
                sent += 1

        async with trio.open_nursery() as nursery:
            nursery.start_soon(send_all)
            # Wait until the client's sends stop making progress: the buffers are full.
            previous = -1
            while sent != previous:
                previous = sent
                await trio.sleep(0.2)
            assert sent < total, "sends never blocked: no backpressure"
            stats = connections[0].statistics()
            assert stats.queued_messages == 4
            # What the server holds: the queue plus at most one read of unparsed frames.
            assert stats.messages_received <= 4 + 256 * 1024 // len(message) + 1
            assert sent > stats.messages_received  # the rest waits in kernel buffers
            stop_reading.set()
        assert sent == total
        assert await client.recv() == "all received"


MASK = b"\x01\x02\x03\x04"


async def _raw_upgrade(server: trioproto.WebSocketServer) -> tuple[trio.SocketStream, bytes]:
    """Open a connection by hand, to send frames no library client would; return the stream
    and what followed the 101's head."""
    stream = await trio.open_tcp_stream("127.0.0.1", server.port)
    parser = ResponseHeadParser(trioproto.DEFAULT_LIMITS)
    await stream.send_all(request_bytes())
    while (response := parser.feed(await stream.receive_some())) is None:
        pass
    assert response.status_code == 101
    return stream, parser.trailing_data


async def _events_until_eof(stream: trio.SocketStream, trailing: bytes) -> list[object]:
    client = Codec(Role.CLIENT, trailing_data=trailing)
    with trio.fail_after(10):
        while data := await stream.receive_some():
            client.receive_data(data)
    await stream.aclose()
    return list(client.events())


async def test_keepalive_fails_unresponsive_client_with_1011(
    start_server: StartServer, autojump_clock: trio.testing.MockClock
) -> None:
    """A client that never answers pings is failed with 1011 once ping_timeout expires
    (RFC 6455 §5.5.2); the clock is virtual, so the test takes no wall time."""
    registry = trioproto.Registry()

    @registry.handler(None)
    async def idle(ws: trioproto.WebSocket) -> None:
        await ws.wait_closed()

    timeouts = trioproto.Timeouts(ping_interval=20, ping_timeout=10)
    server = await start_server(registry, timeouts=timeouts)
    stream, trailing = await _raw_upgrade(server)
    codec = Codec(Role.CLIENT, auto_pong=False, trailing_data=trailing)
    start = trio.current_time()
    events: list[object] = []
    while not any(isinstance(event, CloseReceived) for event in events):
        data = await stream.receive_some()
        assert data
        codec.receive_data(data)
        events += codec.events()
    assert isinstance(events[0], Ping)
    assert events[-1] == CloseReceived(1011, "keepalive ping timeout")
    assert trio.current_time() - start == pytest.approx(30, abs=1)
    await stream.aclose()


@pytest.mark.parametrize(
    "violation",
    [
        pytest.param(lambda frame: bytes([frame[0] | 0x20]) + frame[1:], id="rsv2"),  # 3.2
        pytest.param(lambda frame: bytes([0x85]) + frame[1:], id="reserved-opcode"),  # 4.1.3
    ],
)
async def test_messages_before_a_violation_are_answered_first(
    start_server: StartServer, violation: Callable[[bytes], bytes]
) -> None:
    """Autobahn 3.2 / 4.1.3, strictly: a message, a bad frame and a ping in one segment get
    the message's echo, then close 1002, and no pong (RFC 6455 §5.2, §7.1.7)."""
    server = await start_server(echo_registry(None, "echo"))
    stream, trailing = await _raw_upgrade(server)
    good = serialize_frame(0x1, b"Hello, world!", mask=MASK)
    bad = violation(serialize_frame(0x1, b"bad", mask=MASK))
    ping = serialize_frame(0x9, b"ping", mask=MASK)
    await stream.send_all(good + bad + ping)
    events = await _events_until_eof(stream, trailing)
    assert events[0] == Message("Hello, world!")
    assert isinstance(events[1], CloseReceived) and events[1].code == 1002
    assert len(events) == 2  # no pong: nothing after the bad frame was read


async def test_violation_waits_for_a_busy_handler_to_catch_up(start_server: StartServer) -> None:
    """The failure waits while the handler still works on earlier messages."""
    registry = trioproto.Registry()

    @registry.handler(None)
    async def slow(ws: trioproto.WebSocket) -> None:
        async for message in ws.inbound:
            await trio.sleep(0.05)
            await ws.send(message)

    server = await start_server(registry)
    stream, trailing = await _raw_upgrade(server)
    frames = [serialize_frame(0x1, text, mask=MASK) for text in (b"first", b"second")]
    await stream.send_all(b"".join(frames) + serialize_frame(0x3, b"", mask=MASK))
    events = await _events_until_eof(stream, trailing)
    assert events[:2] == [Message("first"), Message("second")]
    assert isinstance(events[2], CloseReceived) and events[2].code == 1002
    assert len(events) == 3


async def test_current_server_names_the_server_serving_the_task(
    start_server: StartServer,
) -> None:
    seen: list[trioproto.WebSocketServer] = []
    registry = trioproto.Registry()

    @registry.handler(None)
    async def handler(ws: trioproto.WebSocket) -> None:
        seen.append(trioproto.current_server())

    first, second = await start_server(registry), await start_server(registry)
    with trio.fail_after(10):
        for server in (first, second):
            async with trioproto.open_websocket(ws_url(server)) as ws:
                await ws.wait_closed()
    assert seen == [first, second]
    with pytest.raises(LookupError):
        trioproto.current_server()  # the test's own task is no connection's


@pytest.mark.parametrize("port", [-1, 65536, 99999])
async def test_port_out_of_range_is_refused(nursery: trio.Nursery, port: int) -> None:
    """The kernel would bind ``port % 65536``; serve() refuses instead."""
    with pytest.raises(ValueError, match=f"port {port} is out of range: use 0 to 65535"):
        await nursery.start(trioproto.serve, trioproto.Registry(), port)
