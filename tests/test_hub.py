"""The hub over real sockets: topics, broadcast, send_to, backpressure policies, cleanup."""

from __future__ import annotations

import tracemalloc
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import pytest
import trio

import trioproto
from helpers import StartServer, connect_hub_client, ws_url

NO_COMPRESSION = {"compression": None}


def subscribing_registry() -> trioproto.Registry:
    """A handler that subscribes to ``?topic=`` (with ``?policy=``), says ``ready <id>``, then
    ignores what the client sends; ``?fail=1`` makes it raise after subscribing."""
    registry = trioproto.Registry()

    @registry.handler(None)
    async def handler(ws: trioproto.WebSocket) -> None:
        query = ws.request.query
        for topic in query.get("topic", []):
            await ws.subscribe(topic, policy=query.get("policy", [None])[0])
        await ws.send(f"ready {ws.id}")
        if query.get("fail"):
            raise RuntimeError("handler bug")
        async for _ in ws.inbound:
            pass

    return registry


@asynccontextmanager
async def client(
    server: trioproto.WebSocketServer, path: str, *, stalled: bool = False
) -> AsyncIterator[tuple[trioproto.WebSocket, uuid.UUID]]:
    """Connect, wait for ``ready``; yield the client and the server-side connection id.

    A ``stalled`` client has a 4 KiB receive buffer and stops reading the socket as soon as
    one message waits for it, so the server's writes to it soon stop going through.
    """
    async with trio.open_nursery() as nursery:
        ws = await connect_hub_client(nursery, server, path, stalled=stalled)
        ready = await ws.receive()
        assert isinstance(ready, str)
        yield ws, uuid.UUID(ready.removeprefix("ready "))
        await ws.abort()
        nursery.cancel_scope.cancel()


async def receive_all(ws: trioproto.WebSocket) -> tuple[list[str | bytes], int | None]:
    """Every message until the connection ends, and the close code the server sent."""
    messages = []
    try:
        while True:
            messages.append(await ws.receive())
    except trio.EndOfChannel:
        pass
    except trioproto.ConnectionClosed:
        pass
    closed = ws.closed
    assert closed is not None
    return messages, closed.code


async def wait_until(condition: Callable[[], bool]) -> None:
    """Poll a counter that no event reports (callers bound it with fail_after)."""
    while not condition():  # noqa: ASYNC110
        await trio.sleep(0.005)


def assert_hub_empty(hub: trioproto.Hub) -> None:
    statistics = hub.statistics()
    assert (statistics.connections, statistics.topics, statistics.subscriptions) == (0, 0, 0)


# ----------------------------------------------------------------- delivery


async def test_thousand_subscribers_get_every_message_once_in_order(
    start_server: StartServer,
) -> None:
    server = await start_server(subscribing_registry(), **NO_COMPRESSION)
    count, messages = 1000, 20
    received: list[list[str | bytes]] = [[] for _ in range(count)]

    async def subscriber(index: int, task_status: trio.TaskStatus[None]) -> None:
        async with trioproto.open_websocket(ws_url(server, "/?topic=news"), compression=None) as ws:
            assert str(await ws.receive()).startswith("ready ")
            task_status.started()
            for _ in range(messages):
                received[index].append(await ws.receive())

    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            for index in range(count):
                await nursery.start(subscriber, index)
            assert server.hub.subscribers("news") == count
            # Published from the test's own task: no handler involved.
            for number in range(messages):
                assert await server.hub.publish("news", f"message {number}") == count
    expected = [f"message {number}" for number in range(messages)]
    assert all(messages_of_one == expected for messages_of_one in received)
    with trio.fail_after(10):
        await wait_until(lambda: server.hub.statistics().connections == 0)
    assert_hub_empty(server.hub)


async def test_publish_from_a_feed_task_binary_and_text(start_server: StartServer) -> None:
    hub = trioproto.Hub()
    server = await start_server(subscribing_registry(), hub=hub)
    assert server.hub is hub

    async def feed() -> None:
        await hub.publish("feed", b"\x00binary")
        await hub.publish("feed", "text")

    with trio.fail_after(10):
        async with client(server, "/?topic=feed") as (ws, connection_id):
            connection = hub.connection(connection_id)
            assert connection is not None and connection.hub is hub
            async with trio.open_nursery() as nursery:
                nursery.start_soon(feed)
            assert await ws.receive() == b"\x00binary"
            assert await ws.receive() == "text"
            assert await hub.publish("nobody", "x") == 0


async def test_unsubscribe_stops_delivery(start_server: StartServer) -> None:
    registry = trioproto.Registry()

    @registry.handler(None)
    async def handler(ws: trioproto.WebSocket) -> None:
        await ws.subscribe("a")
        await ws.subscribe("b")
        await ws.send("ready")
        await ws.receive()
        await ws.unsubscribe("a")
        await ws.unsubscribe("never-subscribed")
        await ws.send("unsubscribed")
        await ws.receive()

    server = await start_server(registry)
    hub = server.hub
    with trio.fail_after(10):
        async with trioproto.open_websocket(ws_url(server)) as ws:
            assert await ws.receive() == "ready"
            assert (hub.subscribers("a"), hub.subscribers("b")) == (1, 1)
            await ws.send("go")
            assert await ws.receive() == "unsubscribed"
            assert (hub.subscribers("a"), hub.subscribers("b")) == (0, 1)
            assert await hub.publish("a", "not for you") == 0
            assert await hub.publish("b", "for you") == 1
            assert await ws.receive() == "for you"


async def test_broadcast_to_all_or_one_subprotocol(start_server: StartServer) -> None:
    registry = trioproto.Registry()

    @registry.handler("red")
    @registry.handler("blue")
    async def handler(ws: trioproto.WebSocket) -> None:
        await ws.send("ready")
        async for _ in ws.inbound:
            pass

    server = await start_server(registry)
    url = ws_url(server)
    with trio.fail_after(10):
        async with (
            trioproto.open_websocket(url, subprotocols=["red"]) as red,
            trioproto.open_websocket(url, subprotocols=["blue"]) as blue,
        ):
            assert await red.receive() == await blue.receive() == "ready"
            assert await server.hub.broadcast("red only", subprotocol="red") == 1
            assert await server.hub.broadcast("everyone") == 2
            assert await red.receive() == "red only"
            assert await red.receive() == "everyone"
            assert await blue.receive() == "everyone"


async def test_send_to_one_connection(start_server: StartServer) -> None:
    server = await start_server(subscribing_registry())
    hub = server.hub
    with trio.fail_after(10):
        async with client(server, "/") as (ws, connection_id):
            assert await hub.send_to(connection_id, "just you") is True
            assert await hub.send_to(str(connection_id), b"by string id") is True
            assert await ws.receive() == "just you"
            assert await ws.receive() == b"by string id"
            assert await hub.send_to(uuid.uuid4(), "nobody") is False
            assert hub.connection(uuid.uuid4()) is None
            assert hub.connection("not a uuid") is None
            with pytest.raises(ValueError, match="not a connection id"):
                await hub.send_to("not a uuid", "x")


async def test_handler_sends_and_hub_messages_keep_their_order(
    start_server: StartServer,
) -> None:
    """The client reads slowly, so hub messages queue up behind the socket and the handler's
    own sends must write those issued before them first."""
    registry = trioproto.Registry()
    total = 300
    buffered: list[int] = []

    @registry.handler(None)
    async def handler(ws: trioproto.WebSocket) -> None:
        await ws.send(f"ready {ws.id}")
        padding = "." * 40_000  # 12 MB in all: more than the socket buffers hold
        assert ws.hub is not None
        for number in range(total):
            if number % 3 == 0:
                await ws.send(f"{number} handler {padding}")
            else:
                await ws.hub.send_to(ws.id, f"{number} hub {padding}")
            buffered.append(ws.statistics().send_buffer_bytes)
        await ws.send("done")
        async for _ in ws.inbound:
            pass

    server = await start_server(registry, **NO_COMPRESSION)
    with trio.fail_after(20):
        async with client(server, "/", stalled=True) as (ws, _):
            await trio.sleep(0.1)  # let the handler run ahead of the socket
            numbers = []
            while (message := await ws.receive()) != "done":
                numbers.append(int(str(message).split()[0]))
    assert numbers == list(range(total))
    assert max(buffered) > 0  # hub messages did wait in the send buffer


async def test_hub_messages_wait_for_a_fragmented_message_to_end(
    start_server: StartServer,
) -> None:
    """No data frame may come between the frames of a fragmented message (RFC 6455 §5.4)."""
    registry = trioproto.Registry()

    @registry.handler(None)
    async def handler(ws: trioproto.WebSocket) -> None:
        assert ws.hub is not None
        await ws.hub.send_to(ws.id, "before")
        await ws.send_fragment("frag", final=False)
        await ws.hub.send_to(ws.id, "during")
        await trio.sleep(0.05)  # the flusher must not write it now either
        await ws.send_fragment("ment", final=True)
        await ws.hub.send_to(ws.id, "after")
        async for _ in ws.inbound:
            pass

    server = await start_server(registry)
    with trio.fail_after(10):
        async with trioproto.open_websocket(ws_url(server)) as ws:
            received = [await ws.receive() for _ in range(4)]
    assert received == ["before", "fragment", "during", "after"]


# ------------------------------------------------------------- backpressure


async def test_stalled_subscriber_is_closed_with_1013_others_get_everything(
    start_server: StartServer,
) -> None:
    limits = trioproto.Limits(max_send_buffer=64 * 1024)
    server = await start_server(subscribing_registry(), limits=limits, **NO_COMPRESSION)
    hub = server.hub
    payload = "x" * 1024
    with trio.fail_after(30):
        async with (
            client(server, "/?topic=t") as (reader_a, _),
            client(server, "/?topic=t") as (reader_b, _),
            client(server, "/?topic=t", stalled=True) as (stalled, stalled_id),
        ):
            stalled_connection = hub.connection(stalled_id)
            assert stalled_connection is not None
            sent = 0
            # Batches the fast readers take before the next one: the publisher waits for
            # nobody, and only the stalled subscriber falls behind.
            while not server.statistics().backpressure_closes:
                assert sent < 20_000, "the stalled subscriber was never closed"
                for _ in range(32):
                    await hub.publish("t", f"{sent} {payload}")
                    sent += 1
                for reader in (reader_a, reader_b):
                    for number in range(sent - 32, sent):
                        assert str(await reader.receive()).split()[0] == str(number)
            statistics = stalled_connection.statistics()
            assert statistics.closed_by_backpressure
            assert statistics.send_buffer_bytes == 0  # freed at once
            for number in range(sent, sent + 10):  # the others carry on
                assert await hub.publish("t", f"{number} {payload}") >= 2
                for reader in (reader_a, reader_b):
                    assert str(await reader.receive()).split()[0] == str(number)
            messages, code = await receive_all(stalled)
            assert code == 1013
            numbers = [int(str(message).split()[0]) for message in messages]
            assert numbers == list(range(len(numbers)))  # a prefix, in order
            assert server.statistics().backpressure_closes == 1
            assert server.statistics().messages_dropped == 0


@pytest.mark.parametrize("policy", ["drop_oldest", "drop_newest"])
async def test_drop_policies_keep_order_and_count_every_drop(
    start_server: StartServer, policy: str
) -> None:
    limits = trioproto.Limits(max_send_buffer=32 * 1024)
    server = await start_server(subscribing_registry(), limits=limits, **NO_COMPRESSION)
    total = 3000
    with trio.fail_after(30):
        async with client(server, f"/?topic=q&policy={policy}", stalled=True) as (ws, ws_id):
            connection = server.hub.connection(ws_id)
            assert connection is not None
            for number in range(total):
                assert await server.hub.publish("q", f"{number:05} {'y' * 1000}") in (0, 1)
            dropped = connection.statistics().messages_dropped
            assert dropped > 0
            assert server.statistics().messages_dropped == dropped
            numbers: list[int] = []
            while len(numbers) + dropped < total:
                numbers.append(int(str(await ws.receive()).split()[0]))
    assert numbers == sorted(set(numbers))  # in order, none twice
    if policy == "drop_oldest":
        assert numbers[-1] == total - 1  # the newest survive
    else:
        assert numbers == list(range(len(numbers)))  # the oldest survive
    assert connection.statistics().state == "closed"


async def test_policy_validation() -> None:
    with pytest.raises(ValueError, match="on_limit must be one of"):
        trioproto.BackpressurePolicy.coerce("drop_some")
    with pytest.raises(ValueError, match="may not be sent"):
        trioproto.BackpressurePolicy(close_code=1006)
    with pytest.raises(ValueError, match="max_send_buffer"):
        trioproto.Limits(max_send_buffer=0)
    assert trioproto.BackpressurePolicy.coerce("drop_oldest").on_limit == "drop_oldest"


async def test_stalled_subscriber_memory_stays_bounded(start_server: StartServer) -> None:
    """A publisher at full speed, a subscriber that reads nothing: the send buffer (and so
    memory) stays at the limit, with drop_oldest keeping the connection open."""
    limit = 256 * 1024
    limits = trioproto.Limits(max_send_buffer=limit)
    server = await start_server(
        subscribing_registry(), limits=limits, backpressure="drop_oldest", **NO_COMPRESSION
    )
    with trio.fail_after(60):
        async with client(server, "/?topic=m", stalled=True) as (_ws, ws_id):
            connection = server.hub.connection(ws_id)
            assert connection is not None
            while not connection.statistics().messages_dropped:  # fill every buffer
                await server.hub.publish("m", bytes(1024))
            tracemalloc.start()
            try:
                baseline, _ = tracemalloc.get_traced_memory()
                for number in range(5000):  # 5 MB more, at full speed
                    await server.hub.publish("m", b"%d" % number + bytes(1024))
                current, peak = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()
            statistics = connection.statistics()
            assert statistics.send_buffer_bytes <= limit
            assert statistics.messages_dropped >= 5000 - limit // 1024
            assert statistics.state == "open"
    assert current - baseline < 2 * limit
    assert peak - baseline < 2 * limit


async def test_close_frame_does_not_wait_behind_queued_hub_messages(
    start_server: StartServer,
) -> None:
    """Queued hub messages are dropped when the connection closes: the close frame follows
    the frame already on the wire, not the backlog (RFC 6455 §5.5.1: nothing after it)."""
    server = await start_server(
        subscribing_registry(), backpressure="drop_oldest", **NO_COMPRESSION
    )
    with trio.fail_after(20):
        async with client(server, "/?topic=c", stalled=True) as (ws, ws_id):
            connection = server.hub.connection(ws_id)
            assert connection is not None
            published = 0
            while connection.statistics().send_buffer_bytes < 512 * 1024:
                await server.hub.publish("c", f"{published} {'z' * 1000}")
                published += 1
            async with trio.open_nursery() as nursery:
                nursery.start_soon(connection.close, 1000, "bye")
                await wait_until(lambda: connection.statistics().state != "open")
                assert connection.statistics().send_buffer_bytes == 0
                messages, code = await receive_all(ws)
    assert code == 1000
    assert 0 < len(messages) < published  # the backlog was not sent before the close frame
    numbers = [int(str(message).split()[0]) for message in messages]
    assert numbers == list(range(len(numbers)))


# -------------------------------------------------------------- lifecycle


async def test_hub_is_empty_after_clients_leave_however_they_leave(
    start_server: StartServer,
) -> None:
    server = await start_server(subscribing_registry())
    hub = server.hub
    with trio.fail_after(20):
        async with client(server, "/?topic=a&topic=b") as (clean, _):
            await clean.close()
        async with client(server, "/?topic=a") as (aborted, _):
            await aborted.abort()
        async with client(server, "/?topic=a&fail=1") as (failing, _):
            _messages, code = await receive_all(failing)
            assert code == 1011
        async with client(server, "/?topic=c") as (_kept, _):
            assert hub.subscribers("c") == 1
            await server.aclose()  # handlers cancelled or closed with 1001
        await wait_until(lambda: hub.statistics().connections == 0)
    assert_hub_empty(hub)
    assert server.statistics().handler_errors == 1


async def test_an_id_first_read_from_outside_names_the_connection_while_it_is_open(
    start_server: StartServer,
) -> None:
    opened: list[trioproto.WebSocket] = []
    registry = trioproto.Registry()

    @registry.handler(None)
    async def handler(ws: trioproto.WebSocket) -> None:  # never reads its own id
        opened.append(ws)
        async for _ in ws.inbound:
            pass

    server = await start_server(registry, **NO_COMPRESSION)
    hub = server.hub
    with trio.fail_after(20):
        async with trioproto.open_websocket(ws_url(server)) as first:
            await wait_until(lambda: len(opened) == 1)
            connection_id = opened[0].id  # made here, after the hub registered it
            assert opened[0].id == connection_id  # the same on every read
            assert hub.connection(connection_id) is opened[0]
            assert hub.connection(str(connection_id)) is opened[0]
            assert await hub.send_to(connection_id, "found") is True
            assert await first.receive() == "found"
        async with trioproto.open_websocket(ws_url(server)):
            await wait_until(lambda: len(opened) == 2)
        await wait_until(lambda: hub.statistics().connections == 0)
        assert hub.connection(connection_id) is None  # it ended
        late_id = opened[1].id  # made after it ended: it names nothing
        assert hub.connection(late_id) is None
        assert await hub.send_to(late_id, "lost") is False
    assert_hub_empty(hub)
    assert not hub._by_id  # nothing left by id either


async def test_topic_names_and_client_connections_are_checked(
    start_server: StartServer,
) -> None:
    hub = trioproto.Hub()
    with pytest.raises(ValueError, match="must not be empty"):
        await hub.publish("", "x")
    with pytest.raises(ValueError, match="at most 256 characters"):
        await hub.publish("t" * 257, "x")
    with pytest.raises(TypeError, match="a topic is a str"):
        await hub.publish(b"topic", "x")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="a message is str or bytes-like"):
        await hub.publish("t", 42)  # type: ignore[arg-type]
    assert await hub.publish("t" * 256, "fine") == 0
    server = await start_server(subscribing_registry())
    with trio.fail_after(10):
        async with trioproto.open_websocket(ws_url(server)) as ws:
            assert ws.hub is None
            with pytest.raises(RuntimeError, match="only server connections"):
                await ws.subscribe("t")


# ------------------------------------------------------------ compression


@pytest.mark.parametrize("no_context_takeover", [True, False])
async def test_hub_frames_with_compression_interleave_with_own_sends(
    start_server: StartServer, no_context_takeover: bool
) -> None:
    """Shared compressed frames (no context takeover) or uncompressed ones (context
    takeover) between the connection's own compressed sends all decode correctly."""
    registry = trioproto.Registry()

    @registry.handler(None)
    async def echo(ws: trioproto.WebSocket) -> None:
        await ws.subscribe("z")
        await ws.send("ready")
        async for message in ws.inbound:
            await ws.send(message)

    policy = trioproto.DeflatePolicy(server_no_context_takeover=no_context_takeover)
    server = await start_server(registry, compression=policy)
    text = "compressible " * 50
    with trio.fail_after(10):
        async with (
            trioproto.open_websocket(ws_url(server)) as one,
            trioproto.open_websocket(ws_url(server)) as two,
        ):
            assert await one.receive() == await two.receive() == "ready"
            for round_number in range(5):
                await one.send(f"echo {round_number} {text}")
                assert await one.receive() == f"echo {round_number} {text}"
                await server.hub.publish("z", f"hub {round_number} {text}")
                for ws in (one, two):
                    assert await ws.receive() == f"hub {round_number} {text}"


# ---------------------------------------------------------------- backplane


class LinkedBackplane:
    """A backplane joining hubs of one process through trio memory channels: enough to
    check what the hub asks of a backplane (the Redis one does this across processes)."""

    def __init__(self, peers: list[LinkedBackplane]) -> None:
        self.peers = peers
        peers.append(self)
        self.topics: list[tuple[str, str]] = []
        self._send, self._receive = trio.open_memory_channel[trioproto.Envelope](100)

    async def run(
        self,
        node_id: str,
        deliver: Callable[[trioproto.Envelope], None],
        *,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        task_status.started()
        async for envelope in self._receive:
            if envelope.origin != node_id:
                deliver(envelope)

    async def publish(self, envelope: trioproto.Envelope) -> None:
        for peer in self.peers:
            if peer is not self:
                await peer._send.send(envelope)

    def subscribe(self, topic: str) -> None:
        self.topics.append(("subscribe", topic))

    def unsubscribe(self, topic: str) -> None:
        self.topics.append(("unsubscribe", topic))

    def statistics(self) -> trioproto.BackplaneStatistics:
        return trioproto.BackplaneStatistics(True, 0, 0, 0, 0, 0)


async def test_two_hubs_over_a_backplane(start_server: StartServer) -> None:
    peers: list[LinkedBackplane] = []
    first, second = LinkedBackplane(peers), LinkedBackplane(peers)
    hub_one, hub_two = trioproto.Hub(backplane=first), trioproto.Hub(backplane=second)
    assert hub_one.node_id != hub_two.node_id
    assert trioproto.Hub(node_id="worker-1").node_id == "worker-1"
    server_one = await start_server(subscribing_registry(), hub=hub_one)
    server_two = await start_server(subscribing_registry(), hub=hub_two)
    assert hub_one.running and hub_two.running
    with trio.fail_after(10):
        async with (
            client(server_one, "/?topic=x") as (on_one, _),
            client(server_one, "/?topic=x") as (also_on_one, _),
            client(server_two, "/?topic=x") as (on_two, id_two),
        ):
            assert first.topics == [("subscribe", "x")]  # refcounted: once per node
            assert await hub_one.publish("x", "everywhere") == 2
            for ws in (on_one, also_on_one, on_two):
                assert await ws.receive() == "everywhere"
            assert await hub_one.send_to(id_two, "remote") is False  # forwarded
            assert await on_two.receive() == "remote"
            await hub_two.broadcast(b"to all")
            for ws in (on_one, also_on_one, on_two):
                assert await ws.receive() == b"to all"
            await also_on_one.close()
            await wait_until(lambda: hub_one.subscribers("x") == 1)
            assert first.topics == [("subscribe", "x")]
        await wait_until(lambda: hub_one.subscribers("x") == 0)
        assert first.topics == [("subscribe", "x"), ("unsubscribe", "x")]
