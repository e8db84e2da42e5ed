"""Tests for trioproto._connection over in-memory streams (no sockets, no wall clock), and of
its socket write path over a Unix socket pair."""

from __future__ import annotations

import enum
from contextlib import AbstractAsyncContextManager

import pytest
import trio
import trio.testing

import trioproto
from helpers import StartServer, plain_request, transport_pair
from trioproto.testing import memory_websocket_pair
from trioproto.testing._pair import websocket_pair


async def test_messages_both_ways() -> None:
    async with memory_websocket_pair() as (client, server):
        await client.outbound.send("text")
        await client.outbound.send(b"bytes")
        assert await server.inbound.receive() == "text"
        assert await server.inbound.receive() == b"bytes"
        await server.send(bytearray(b"from server"))
        assert await client.receive() == b"from server"
        stats = server.statistics()
        assert (stats.messages_received, stats.bytes_received) == (2, 9)
        assert (stats.messages_sent, stats.bytes_sent) == (1, 11)
        assert stats.state == "open"
        assert stats.queued_messages == 0


async def test_fragmented_send() -> None:
    async with memory_websocket_pair() as (client, server):
        await client.send_fragment("frag", final=False)
        await client.send_fragment("ment", final=True)
        assert await server.receive() == "fragment"
        assert client.statistics().messages_sent == 1


async def test_normal_close_ends_peer_iteration() -> None:
    """A 1000 close from the peer ends ``async for`` quietly (trio.EndOfChannel)."""
    async with memory_websocket_pair() as (client, server):
        await client.send("last")
        await client.close()
        received = [message async for message in server.inbound]
        assert received == ["last"]
        assert client.closed is not None and client.closed.code == 1000
        assert server.closed is not None and server.closed.clean


async def test_error_close_raises_connection_closed() -> None:
    async with memory_websocket_pair() as (client, server):
        await client.close(4001, "custom")
        with pytest.raises(trioproto.ConnectionClosed) as info:
            await server.receive()
        assert (info.value.code, info.value.reason) == (4001, "custom")
        assert isinstance(info.value, trio.BrokenResourceError)
        with pytest.raises(trioproto.ConnectionClosed):
            await server.send("too late")


async def test_close_validates_before_sending() -> None:
    async with memory_websocket_pair() as (client, _server):
        with pytest.raises(trioproto.LocalProtocolError):
            await client.close(1005)
        with pytest.raises(trioproto.LocalProtocolError):
            await client.close(1000, "x" * 124)
        await client.close(1000, "x" * 123)


async def test_abort_is_abnormal_for_the_peer() -> None:
    async with memory_websocket_pair() as (client, server):
        await client.abort()
        with pytest.raises(trioproto.ConnectionClosed) as info:
            await server.receive()
        assert info.value.code == 1006
        assert not info.value.clean


async def test_ping_waits_for_pong() -> None:
    async with memory_websocket_pair() as (client, server):
        await client.ping(b"abc")
        await server.ping()
        # Concurrent pings with the same payload share one pong.
        async with trio.open_nursery() as nursery:
            nursery.start_soon(client.ping, b"same")
            nursery.start_soon(client.ping, b"same")


async def test_ping_fails_when_connection_closes() -> None:
    async with memory_websocket_pair() as (client, server):
        server._codec.auto_pong = False
        async with trio.open_nursery() as nursery:

            async def ping() -> None:
                with pytest.raises(trioproto.ConnectionClosed):
                    await client.ping(b"never answered")

            nursery.start_soon(ping)
            await trio.testing.wait_all_tasks_blocked()
            await server.abort()


async def test_closing_either_channel_closes_the_connection() -> None:
    async with memory_websocket_pair() as (client, server):
        await server.outbound.aclose()
        with pytest.raises(trio.ClosedResourceError):
            await server.outbound.send("x")
        with pytest.raises(trio.EndOfChannel):
            await client.receive()
    async with memory_websocket_pair() as (client, server):
        await server.inbound.aclose()
        with pytest.raises(trio.ClosedResourceError):
            await server.inbound.receive()
        assert server.closed is not None


async def test_slow_consumer_bounds_the_inbound_queue() -> None:
    """When the handler stops reading, at most max_queued_messages wait in memory and the
    reader stops reading the stream (backpressure, design rule 7)."""
    limits = trioproto.Limits(max_queued_messages=4)
    async with memory_websocket_pair(limits=limits) as (client, server):
        for index in range(50):
            await client.send(f"message {index}")
        await trio.testing.wait_all_tasks_blocked()
        stats = server.statistics()
        assert stats.queued_messages == 4
        assert stats.messages_received <= 5
        received = [await server.receive() for _ in range(50)]
        assert received == [f"message {index}" for index in range(50)]


async def test_cancelled_receive_loses_nothing(autojump_clock: trio.testing.MockClock) -> None:
    async with memory_websocket_pair() as (client, server):
        with trio.move_on_after(1):
            await server.receive()
        await client.send("after the cancel")
        assert await server.receive() == "after the cancel"


async def test_concurrent_receivers_each_get_distinct_messages() -> None:
    async with memory_websocket_pair() as (client, server):
        got: list[str | bytes] = []

        async def take() -> None:
            got.append(await server.receive())

        async with trio.open_nursery() as nursery:
            nursery.start_soon(take)
            nursery.start_soon(take)
            await trio.testing.wait_all_tasks_blocked()
            await client.send("one")
            await client.send("two")
        assert sorted(got) == ["one", "two"]  # type: ignore[type-var,unused-ignore]


async def test_stream_view_round_trip() -> None:
    async with memory_websocket_pair() as (client, server):
        client_stream = client.stream_view()
        server_stream = server.stream_view()
        await client_stream.send_all(b"hello ")
        await client_stream.send_all(b"world")
        assert await server_stream.receive_some(3) == b"hel"
        assert await server_stream.receive_some() == b"lo "
        assert await server_stream.receive_some(100) == b"world"
        await client.send("text becomes utf-8")
        assert await server_stream.receive_some() == b"text becomes utf-8"
        await server_stream.wait_send_all_might_not_block()
        await client_stream.aclose()  # no half-close: closing ends both directions
        assert await server_stream.receive_some() == b""
        with pytest.raises(trio.ClosedResourceError):
            await client_stream.send_all(b"after close")


async def test_stream_view_rejects_concurrent_use() -> None:
    async with memory_websocket_pair() as (_client, server):
        stream = server.stream_view()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(stream.receive_some)
            await trio.testing.wait_all_tasks_blocked()
            with pytest.raises(trio.BusyResourceError):
                await stream.receive_some()
            nursery.cancel_scope.cancel()


async def test_delayed_activation_reads_nothing_until_activated() -> None:
    """Frames stay unread until activate() (RESTinio's delayed activation)."""
    client_stream, server_stream = trio.testing.memory_stream_pair()
    from trioproto._sansio._codec import Codec, Role

    async with trio.open_nursery() as nursery:
        client = trioproto.WebSocket(
            client_stream, Codec(Role.CLIENT), nursery=nursery, request=plain_request()
        )
        server = trioproto.WebSocket(
            server_stream, Codec(Role.SERVER), nursery=nursery, request=plain_request()
        )
        client.activate()
        for index in range(5):
            await client.send(str(index))
        await server.send("sending before activation is allowed")
        assert await client.receive() == "sending before activation is allowed"
        await trio.testing.wait_all_tasks_blocked()
        assert server.statistics().messages_received == 0
        assert not server.activated
        server.activate()
        server.activate()  # idempotent
        await server.wait_activated()
        assert [await server.receive() for _ in range(5)] == ["0", "1", "2", "3", "4"]
        await client.close()
        nursery.cancel_scope.cancel()


async def test_keepalive_fails_silent_peer_with_1011(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """No pong within ping_timeout: the connection is failed with 1011 (RFC 6455 §5.5.2)."""
    from trioproto._keepalive import keep_alive

    async with memory_websocket_pair() as (client, server):
        client._codec.auto_pong = False
        start = trio.current_time()
        await keep_alive(server, 20, 20)
        assert trio.current_time() - start == pytest.approx(40)
        with pytest.raises(trioproto.ConnectionClosed) as info:
            await client.receive()
        assert info.value.code == 1011
        assert info.value.reason == "keepalive ping timeout"


async def test_keepalive_keeps_answering_peer(autojump_clock: trio.testing.MockClock) -> None:
    from trioproto._keepalive import keep_alive

    async with memory_websocket_pair() as (client, server):
        with trio.move_on_after(200):
            await keep_alive(server, 20, 20)
        assert server.closed is None
        await client.send("still open")
        assert await server.receive() == "still open"


# ------------------------------------------------------- the socket write path


def socket_websocket_pair() -> AbstractAsyncContextManager[
    tuple[trioproto.WebSocket, trioproto.WebSocket]
]:
    """A client and a server WebSocket over the two ends of a Unix socket pair."""
    return websocket_pair(*transport_pair())


class StepCounter(trio.abc.Instrument):
    """Counts how often the scheduler runs one task."""

    def __init__(self, task: trio.lowlevel.Task) -> None:
        self.task = task
        self.steps = 0

    def before_task_step(self, task: trio.lowlevel.Task) -> None:
        if task is self.task:
            self.steps += 1


async def test_echo_costs_one_schedule_point_on_a_socket() -> None:
    """The send right after a receive writes without yielding again (receive yielded)."""
    async with socket_websocket_pair() as (client, server):
        counter = StepCounter(trio.lowlevel.current_task())
        trio.lowlevel.add_instrument(counter)
        try:
            await client.send("ping")
            message = await server.receive()
            before = counter.steps
            await server.send(message)
            assert counter.steps == before
            assert await client.receive() == "ping"
            # Without a receive just before, a send yields as any trio call does.
            before = counter.steps
            await server.send("unprompted")
            assert counter.steps == before + 1
            assert await client.receive() == "unprompted"
        finally:
            trio.lowlevel.remove_instrument(counter)


async def test_send_after_receive_is_still_a_cancellation_point() -> None:
    async with socket_websocket_pair() as (client, server):
        await client.send("ping")
        assert await server.receive() == "ping"
        with trio.CancelScope() as scope:
            scope.cancel()
            await server.send("never written")
        assert scope.cancelled_caught
        # Cancelling a send aborts the connection (see WebSocket.send) before any byte left:
        # the peer sees the transport end, not the message.
        assert server.closed is not None
        await server.abort()
        with pytest.raises(trioproto.ConnectionClosed) as info:
            await client.receive()
        assert info.value.code == 1006


async def test_large_send_after_receive_writes_the_rest_by_waiting() -> None:
    """What the socket does not take at once is written by waiting, in order."""
    big = bytes(range(256)) * 3072  # 768 KiB: more than a Unix socket buffer holds
    async with socket_websocket_pair() as (client, server):
        await client.send("go")
        assert await server.receive() == "go"
        await server.send(big)  # the client's reader task drains the socket meanwhile
        await server.send("after")
        assert await client.receive() == big
        assert await client.receive() == "after"


# A masked, empty, final frame with the reserved opcode 3: a violation (RFC 6455 §5.2).
RESERVED_OPCODE_FRAME = bytes([0x83, 0x80, 0, 0, 0, 0])


async def test_violation_waits_at_most_the_close_timeout_for_a_handler_that_does_not_read(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Failing the connection waits for the handler to take earlier messages, but a handler
    that never reads holds the failure back for the close timeout at most."""
    client_stream, server_stream = trio.testing.memory_stream_pair()
    timeouts = trioproto.Timeouts(close=3, ping_interval=None)
    async with websocket_pair(client_stream, server_stream, timeouts=timeouts) as (client, server):
        await client.send("unread")
        await trio.testing.wait_all_tasks_blocked()
        start = trio.current_time()
        await client_stream.send_all(RESERVED_OPCODE_FRAME)
        with pytest.raises(trioproto.ConnectionClosed) as info:
            await client.receive()
        assert info.value.code == 1002
        assert trio.current_time() - start == pytest.approx(3)
        assert server.statistics().queued_messages == 1


async def test_violation_fails_at_once_when_the_handler_is_waiting(
    autojump_clock: trio.testing.MockClock,
) -> None:
    client_stream, server_stream = trio.testing.memory_stream_pair()
    timeouts = trioproto.Timeouts(close=3, ping_interval=None)
    async with websocket_pair(client_stream, server_stream, timeouts=timeouts) as (client, server):
        server_saw: list[int] = []

        async def waiting_handler() -> None:
            with pytest.raises(trioproto.ConnectionClosed) as info:
                await server.receive()
            server_saw.append(info.value.code)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(waiting_handler)
            await trio.testing.wait_all_tasks_blocked()
            start = trio.current_time()
            await client_stream.send_all(RESERVED_OPCODE_FRAME)
            with pytest.raises(trioproto.ConnectionClosed) as info:
                await client.receive()
            assert info.value.code == 1002
            assert trio.current_time() == start
        assert server_saw == [1002]


async def test_state_is_per_connection_and_starts_empty(start_server: StartServer) -> None:
    """``ws.state`` holds the application's own data, one dict per connection."""
    registry = trioproto.Registry()
    seen: list[dict[str, object]] = []

    async def remember(ws: trioproto.WebSocket, name: str) -> None:
        ws.state["name"] = name

    @registry.handler(None)
    async def named(ws: trioproto.WebSocket) -> None:
        seen.append(dict(ws.state))
        async for message in ws.inbound:
            if "name" not in ws.state:
                await remember(ws, str(message))
            name: str = ws.state["name"]
            await ws.send(f"{name}: {message}")

    server = await start_server(registry)
    url = f"ws://127.0.0.1:{server.port}/"
    async with trioproto.open_websocket(url) as ann, trioproto.open_websocket(url) as bob:
        await ann.send("ann")
        await bob.send("bob")
        assert await ann.receive() == "ann: ann"
        assert await bob.receive() == "bob: bob"
        await ann.send("hi")
        assert await ann.receive() == "ann: hi"
        assert ann.state == {}  # the client's own connection has its own, untouched
    assert seen == [{}, {}]


async def test_send_refuses_what_is_not_a_message_before_writing() -> None:
    """``bytes(5)`` is five NUL bytes: an int must not turn into a message."""
    async with memory_websocket_pair() as (left, right):
        with pytest.raises(TypeError, match="not int"):
            await left.send(5)  # type: ignore[arg-type]
        await left.send(b"after")
        assert await right.receive() == b"after"  # nothing was sent before it
        assert left.statistics().messages_sent == 1


def _parts_of(websocket: trioproto.WebSocket) -> list[object]:
    """The trioproto objects reachable from ``websocket`` through attributes, the hub (shared
    by every connection) and enum members left out."""
    found: dict[int, object] = {}
    stack: list[object] = [websocket]
    while stack:
        obj = stack.pop()
        if id(obj) in found:
            continue
        found[id(obj)] = obj
        names = [name for cls in type(obj).__mro__ for name in getattr(cls, "__slots__", ())]
        values = [getattr(obj, name, None) for name in names]
        values += list(getattr(obj, "__dict__", {}).values())
        for value in values:
            if (
                type(value).__module__.startswith("trioproto")
                and value is not websocket.hub
                and not isinstance(value, enum.Enum)
            ):
                stack.append(value)
    return list(found.values())


async def test_the_objects_of_a_server_connection_have_no_instance_dict(
    start_server: StartServer,
) -> None:
    """Every object a connection holds for its life has ``__slots__``: an instance ``__dict__``
    is memory held per idle connection (issue 14)."""
    registry = trioproto.Registry()
    connections: list[trioproto.WebSocket] = []

    @registry.handler(None)
    async def idle(ws: trioproto.WebSocket) -> None:
        connections.append(ws)
        async for message in ws.inbound:
            await ws.outbound.send(message)

    server = await start_server(registry)
    async with trioproto.open_websocket(f"ws://127.0.0.1:{server.port}/") as client:
        await client.send("hi")
        assert await client.receive() == "hi"
        parts = _parts_of(connections[0])
        names = {type(obj).__name__ for obj in parts}
        assert {"WebSocket", "Codec", "SocketTransport", "Headers", "Writer"} <= names
        assert [type(obj).__qualname__ for obj in parts if hasattr(obj, "__dict__")] == []
