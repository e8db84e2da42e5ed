"""The write side: control frames before queued hub messages, order, the close policy."""

from __future__ import annotations

import trio
import trio.testing

from helpers import transport_pair
from trioproto._ending import ConnectionEnd
from trioproto._inbound import InboundQueue
from trioproto._outbox import BackpressurePolicy, Outbox
from trioproto._sansio._codec import Codec, Role
from trioproto._sansio._events import CloseReceived, Event, Message, Pong
from trioproto._sansio._frames import Opcode, serialize_frame
from trioproto._writer import Writer, flush_within


def frame(text: str) -> bytes:
    return serialize_frame(Opcode.TEXT, text.encode())


class Peer:
    """The client end: a real codec parsing what the writer wrote."""

    def __init__(self, stream: trio.abc.ReceiveStream) -> None:
        self.stream = stream
        self.codec = Codec(Role.CLIENT)
        self.events: list[Event] = []

    async def read_until(self, count: int) -> list[str]:
        while len(self.events) < count:
            self.codec.receive_data(await self.stream.receive_some())
            self.events.extend(self.codec.events())
        return [describe(event) for event in self.events]


def describe(event: Event) -> str:
    if isinstance(event, Pong):
        return "pong"
    assert isinstance(event, Message)
    return str(event.data)


def make_writer(
    nursery: trio.Nursery, stream: trio.abc.Stream, outbox: Outbox
) -> tuple[Writer, Codec, list[tuple[int, str]]]:
    codec = Codec(Role.SERVER)
    failures: list[tuple[int, str]] = []

    class Failer:
        async def fail(self, code: int, reason: str = "") -> None:
            failures.append((code, reason))
            await trio.lowlevel.checkpoint()

    writer = Writer(
        stream,
        codec,
        nursery=nursery,
        outbox=outbox,
        inbound=InboundQueue(16, trio.EndOfChannel),
        end=ConnectionEnd(stream, codec),
        failer=Failer(),
    )
    return writer, codec, failures


async def test_a_pong_goes_before_queued_hub_messages(nursery: trio.Nursery) -> None:
    server, client = trio.testing.memory_stream_pair()
    writer, codec, _ = make_writer(nursery, server, Outbox(None))
    for text in ("a", "b", "c"):
        assert writer.deliver(frame(text), None)  # a memory stream: always queued
    codec.send_pong(b"")  # as the reader does when the lock is taken
    with trio.fail_after(5):
        assert await Peer(client).read_until(4) == ["pong", "a", "b", "c"]


async def test_a_pong_waits_only_for_the_frame_on_the_wire(nursery: trio.Nursery) -> None:
    server, client = trio.testing.lockstep_stream_pair()  # send_all waits for the reader
    writer, codec, _ = make_writer(nursery, server, Outbox(None))
    writer.deliver(frame("first"), None)
    writer.deliver(frame("second"), None)
    await trio.testing.wait_all_tasks_blocked()  # the flusher is writing "first"
    codec.send_pong(b"")
    with trio.fail_after(5):
        assert await Peer(client).read_until(3) == ["first", "pong", "second"]


async def test_a_handler_send_writes_earlier_hub_messages_first(nursery: trio.Nursery) -> None:
    server, client = trio.testing.memory_stream_pair()
    writer, codec, _ = make_writer(nursery, server, Outbox(None))
    writer.deliver(frame("hub 1"), None)
    mark = writer.mark()
    writer.deliver(frame("hub 2"), None)  # issued after the send below was called
    await writer.write(codec.send_message, "handler", hub_mark=mark)
    with trio.fail_after(5):
        assert await Peer(client).read_until(3) == ["hub 1", "handler", "hub 2"]


async def test_the_close_policy_fails_the_connection(nursery: trio.Nursery) -> None:
    server, _client = trio.testing.lockstep_stream_pair()  # nobody reads: all stays queued
    policy = BackpressurePolicy("close", close_code=4000, close_reason="slow")
    writer, _codec, failures = make_writer(nursery, server, Outbox(10, policy))
    assert writer.deliver(frame("12345"), None)
    assert not writer.deliver(frame("12345"), None)  # 14 bytes queued would pass 10
    await trio.testing.wait_all_tasks_blocked()
    assert failures == [(4000, "slow")]
    assert writer.outbox is not None and writer.outbox.closed_for_limit
    assert not writer.deliver(frame("x"), None)


async def test_a_close_frame_the_socket_takes_at_once_needs_no_time(nursery: trio.Nursery) -> None:
    server, client = transport_pair()
    writer, codec, _ = make_writer(nursery, server, Outbox(None))
    codec.send_close(1000, "bye")
    peer = Codec(Role.CLIENT)
    try:
        # A zero bound: only a write that does not wait can make it.
        await flush_within(writer, 0.0)
        with trio.fail_after(5):
            peer.receive_data(await client.receive_some())
    finally:
        server.close()
        client.close()
    events = peer.events()
    assert [type(event) for event in events] == [CloseReceived]
    assert isinstance(events[0], CloseReceived) and events[0].code == 1000
    assert not codec.has_data_to_send


async def test_a_close_frame_behind_a_full_socket_waits_at_most_the_bound(
    nursery: trio.Nursery,
) -> None:
    server, client = transport_pair()
    codec = Codec(Role.SERVER)
    end = ConnectionEnd(server, codec)
    writer = Writer(
        server,
        codec,
        nursery=nursery,
        outbox=Outbox(None),
        inbound=InboundQueue(16, trio.EndOfChannel),
        end=end,
        failer=None,  # type: ignore[arg-type]  # no close policy here
    )
    try:
        while server.send_nowait(b"x" * 65536):  # the peer reads nothing: fill the socket
            pass
        codec.send_close(1000, "")
        with trio.fail_after(5):
            await flush_within(writer, 0.05)
        assert end.ended  # half a frame may be on the wire: the connection is over
    finally:
        server.close()
        client.close()


async def test_a_close_frame_waits_for_the_writer_holding_the_lock(nursery: trio.Nursery) -> None:
    server, client = trio.testing.lockstep_stream_pair()  # send_all waits for the reader
    writer, codec, _ = make_writer(nursery, server, Outbox(None))
    nursery.start_soon(writer.write, codec.send_message, "first")
    await trio.testing.wait_all_tasks_blocked()  # it holds the lock, waiting for the reader
    codec.send_close(1000, "")
    peer = Peer(client)
    async with trio.open_nursery() as inner:
        inner.start_soon(flush_within, writer, 5.0)
        with trio.fail_after(5):
            while not any(type(event) is CloseReceived for event in peer.events):
                peer.codec.receive_data(await client.receive_some())
                peer.events.extend(peer.codec.events())
    assert [type(event) for event in peer.events] == [Message, CloseReceived]
