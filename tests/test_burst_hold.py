"""Tests for trioproto._burst_hold: held answers of a burst, over real loopback sockets (fewer
writes, nothing stuck, order kept with hub messages and the close frame, and a peer that does
not read still pushes back), and the hold itself over a Unix socket pair."""

from __future__ import annotations

import socket as stdlib_socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import trio
import trio.testing

import trioproto
from helpers import StartServer, echo_registry, request_bytes, transport_pair
from trioproto._burst_hold import HOLD_LIMIT, BurstHold
from trioproto._ending import ConnectionEnd
from trioproto._inbound import InboundQueue
from trioproto._outbox import Outbox
from trioproto._sansio._codec import Codec, Role
from trioproto._sansio._events import Message
from trioproto._sansio._frames import serialize_frame
from trioproto._sansio._http import ResponseHeadParser
from trioproto._write_lock import WriteLock

MASK = b"\x0a\x0b\x0c\x0d"
TEXT, CLOSE = 0x1, 0x8


class RawPeer:
    """A client over a plain TCP stream: sends masked frames in one segment, parses the
    server's unmasked frames."""

    def __init__(self, stream: trio.SocketStream, trailing: bytes) -> None:
        self.stream = stream
        self.buffer = bytearray(trailing)

    @classmethod
    @asynccontextmanager
    async def connect(cls, port: int) -> AsyncIterator[RawPeer]:
        async with await trio.open_tcp_stream("127.0.0.1", port) as stream:
            parser = ResponseHeadParser(trioproto.DEFAULT_LIMITS)
            await stream.send_all(request_bytes())
            while (response := parser.feed(await stream.receive_some())) is None:
                pass
            assert response.status_code == 101
            yield cls(stream, parser.trailing_data)

    async def send_burst(self, *texts: str) -> None:
        """All of ``texts`` in one write, so the server reads them at once."""
        await self.stream.send_all(
            b"".join(serialize_frame(TEXT, text.encode(), mask=MASK) for text in texts)
        )

    async def frames(self, count: int) -> list[tuple[int, bytes]]:
        """The next ``count`` frames, as (opcode, payload)."""
        frames: list[tuple[int, bytes]] = []
        while len(frames) < count:
            frame = self._parse_one()
            if frame is None:
                chunk = await self.stream.receive_some()
                assert chunk, f"end of stream after {frames}"
                self.buffer += chunk
            else:
                frames.append(frame)
        return frames

    async def texts(self, count: int) -> list[str]:
        frames = await self.frames(count)
        assert all(opcode == TEXT for opcode, _ in frames), frames
        return [payload.decode() for _, payload in frames]

    def _parse_one(self) -> tuple[int, bytes] | None:
        buffer = self.buffer
        if len(buffer) < 2:
            return None
        opcode, length, offset = buffer[0] & 0x0F, buffer[1] & 0x7F, 2
        if length == 126:
            length, offset = int.from_bytes(buffer[2:4], "big"), 4
        elif length == 127:
            length, offset = int.from_bytes(buffer[2:10], "big"), 10
        if len(buffer) < offset + length:
            return None
        payload = bytes(buffer[offset : offset + length])
        del buffer[: offset + length]
        return opcode, payload


def write_calls() -> int:
    """``write()`` system calls this process has made (the server's socket transport writes
    with ``os.write``; trio's sockets, the test client's, send with ``send``)."""
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("syscw:"):
            return int(line.split()[1])
    raise AssertionError("no syscw in /proc/self/io")


@pytest.mark.skipif(not Path("/proc/self/io").exists(), reason="needs Linux's /proc/self/io")
async def test_a_burst_is_answered_in_fewer_writes(start_server: StartServer) -> None:
    server = await start_server(echo_registry(), compression=None)
    async with RawPeer.connect(server.port) as peer:
        texts = [f"message {n}" for n in range(16)]
        with trio.fail_after(5):
            await peer.send_burst("first")  # the connection is set up, its log line written
            assert await peer.texts(1) == ["first"]
            before = write_calls()
            await peer.send_burst(*texts)
            assert await peer.texts(16) == texts
            after = write_calls()
    assert after - before <= 2  # one answer per write would be 16


async def test_a_lone_message_is_answered_at_once(start_server: StartServer) -> None:
    server = await start_server(echo_registry(), compression=None)
    async with RawPeer.connect(server.port) as peer:
        with trio.fail_after(5):
            for n in range(3):
                await peer.send_burst(f"lone {n}")
                assert await peer.texts(1) == [f"lone {n}"]


def napping_registry(*, answer_the_nap: bool) -> trioproto.Registry:
    """Echoes messages; at ``nap`` it sleeps for good, after answering it or not."""
    registry = trioproto.Registry()

    @registry.handler(None)
    async def nap(ws: trioproto.WebSocket) -> None:
        async for message in ws.inbound:
            if message == "nap":
                if answer_the_nap:
                    await ws.send(message)
                await trio.sleep_forever()
            await ws.send(message)

    return registry


@pytest.mark.parametrize("answer_the_nap", [True, False])
async def test_a_handler_that_sleeps_mid_burst_still_delivers_its_answers(
    start_server: StartServer, answer_the_nap: bool
) -> None:
    """Held answers go out once the handler yields anywhere but at its next receive(): after
    a send (it answers ``nap``, then sleeps) or after taking a message (it sleeps at once)."""
    server = await start_server(
        napping_registry(answer_the_nap=answer_the_nap),
        compression=None,
        timeouts=trioproto.Timeouts(close=0.5, shutdown=0.5),
    )
    async with RawPeer.connect(server.port) as peer:
        expected = ["a", "b", "nap"] if answer_the_nap else ["a", "b"]
        with trio.fail_after(5):
            await peer.send_burst("a", "b", "nap", "never answered")
            assert await peer.texts(len(expected)) == expected


async def test_hub_messages_keep_their_place_among_held_answers(
    start_server: StartServer,
) -> None:
    registry = trioproto.Registry()

    @registry.handler(None)
    async def echo_and_publish(ws: trioproto.WebSocket) -> None:
        await ws.subscribe("news")
        async for message in ws.inbound:
            await ws.send(message)
            if message == "publish":
                assert ws.hub is not None
                await ws.hub.publish("news", "from the hub")

    server = await start_server(registry, compression=None)
    async with RawPeer.connect(server.port) as peer:
        with trio.fail_after(5):
            await peer.send_burst("a", "publish", "c", "d")
            assert await peer.texts(5) == ["a", "publish", "from the hub", "c", "d"]


async def test_close_mid_burst_writes_the_held_answers_first(start_server: StartServer) -> None:
    registry = trioproto.Registry()

    @registry.handler(None)
    async def echo_until_bye(ws: trioproto.WebSocket) -> None:
        async for message in ws.inbound:
            await ws.send(message)
            if message == "bye":
                await ws.close(4000, "bye")

    server = await start_server(registry, compression=None)
    async with RawPeer.connect(server.port) as peer:
        with trio.fail_after(5):
            await peer.send_burst("a", "b", "bye", "not answered")
            frames = await peer.frames(4)
            assert frames[:3] == [(TEXT, b"a"), (TEXT, b"b"), (TEXT, b"bye")]
            assert frames[3] == (CLOSE, (4000).to_bytes(2, "big") + b"bye")
            await peer.stream.send_all(serialize_frame(CLOSE, frames[3][1], mask=MASK))
            while await peer.stream.receive_some():  # the server closes TCP first (RFC 6455 §7.1.1)
                pass


async def test_held_bytes_are_bounded(start_server: StartServer) -> None:
    registry = trioproto.Registry()
    held: list[int] = []

    @registry.handler(None)
    async def echo(ws: trioproto.WebSocket) -> None:
        async for message in ws.inbound:
            await ws.send(message)
            held.append(ws._writer.hold.size)

    server = await start_server(registry, compression=None)
    texts = [f"{n:02}" * 4096 for n in range(16)]  # 8 KiB each: 128 KiB in all
    async with RawPeer.connect(server.port) as peer:
        with trio.fail_after(5):
            await peer.send_burst(*texts)
            assert await peer.texts(16) == texts
    assert 0 < max(held) <= HOLD_LIMIT


async def test_a_peer_that_does_not_read_still_pushes_back_mid_burst(
    start_server: StartServer,
) -> None:
    """Once the socket is full, a send blocks although more messages are queued."""
    registry = trioproto.Registry()
    connections: list[trioproto.WebSocket] = []
    started: list[int] = []

    @registry.handler(None)
    async def echo(ws: trioproto.WebSocket) -> None:
        connections.append(ws)
        async for message in ws.inbound:
            started.append(len(message))
            await ws.send(message)

    server = await start_server(registry, compression=None, timeouts=trioproto.Timeouts(close=1))
    async with RawPeer.connect(server.port) as peer:
        # Small buffers: the kernel takes less before everyone waits.
        peer.stream.socket.setsockopt(stdlib_socket.SOL_SOCKET, stdlib_socket.SO_RCVBUF, 4096)
        frame = serialize_frame(TEXT, b"x" * 8192, mask=MASK)

        async def flood() -> None:
            while True:
                await peer.stream.send_all(frame * 16)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(flood)
            with trio.fail_after(30):
                await trio.testing.wait_all_tasks_blocked(cushion=0.2)
            (ws,) = connections
            statistics = ws.statistics()
            assert len(started) == statistics.messages_sent + 1  # blocked in a send
            assert statistics.queued_messages > 0  # with a burst still waiting
            nursery.cancel_scope.cancel()


# ------------------------------------------------------------ the hold itself


@asynccontextmanager
async def hold_over_a_socket(
    stream: trio.abc.Stream | None = None, outbox: Outbox | None = None
) -> AsyncIterator[tuple[BurstHold, Codec, WriteLock, trio.abc.ReceiveStream]]:
    """A hold over the server's end of a socket pair (or over ``stream``), and the peer."""
    peer, server_end = transport_pair()
    async with peer, server_end, trio.open_nursery() as nursery:
        codec = Codec(Role.SERVER)
        end = ConnectionEnd(stream or server_end, codec)
        lock = WriteLock(stream or server_end, codec, end)
        hold = BurstHold(
            codec,
            lock,
            outbox=outbox,
            inbound=InboundQueue(16, trio.EndOfChannel),
            nursery=nursery,
            end=end,
        )
        yield hold, codec, lock, peer


def held(hold: BurstHold, codec: Codec, *texts: str) -> bool:
    """Queue ``texts`` in the codec and hold each; whether all may stay held."""
    kept = True
    for text in texts:
        codec.send_message(text)
        kept = hold.hold()
    return kept


async def test_take_output_is_the_held_frames_then_the_codecs_in_one_chunk() -> None:
    async with hold_over_a_socket() as (hold, codec, _lock, _peer):
        assert held(hold, codec, "a", "b")
        codec.send_pong(b"")
        expected = Codec(Role.SERVER)
        expected.send_message("a")
        expected.send_message("b")
        expected.send_pong(b"")
        assert hold.take_output() == expected.data_to_send()
        assert not hold.frames and hold.size == 0
        assert hold.take_output() == b""


async def test_at_most_hold_limit_bytes_stay_held() -> None:
    async with hold_over_a_socket() as (hold, codec, _lock, _peer):
        assert held(hold, codec, "x" * (HOLD_LIMIT // 2))
        assert not held(hold, codec, "x" * (HOLD_LIMIT // 2))  # over the limit with headers
        assert hold.size > HOLD_LIMIT


async def test_nothing_is_held_while_the_lock_is_taken_or_a_hub_message_waits() -> None:
    outbox = Outbox(None)
    async with hold_over_a_socket(outbox=outbox) as (hold, codec, lock, _peer):
        assert hold.may_hold()
        lock.writing = True
        assert not hold.may_hold()
        lock.writing = False
        codec.send_pong(b"")  # a control frame waits
        assert not hold.may_hold()
        codec.data_to_send()
        outbox.put(b"hub frame", outbox.policy)
        assert not hold.may_hold()


async def test_nothing_is_held_on_a_transport_that_cannot_write_without_waiting() -> None:
    memory, _other = trio.testing.memory_stream_pair()
    async with hold_over_a_socket(memory) as (hold, _codec, _lock, _peer):
        assert not hold.may_hold()


async def test_flush_nowait_writes_the_held_frames_at_once() -> None:
    async with hold_over_a_socket() as (hold, codec, lock, peer):
        assert held(hold, codec, "a", "b")
        hold.flush_nowait()
        assert not hold.frames and not lock.writing
        client = Codec(Role.CLIENT)
        while len(events := client.events()) < 2:
            client.receive_data(await peer.receive_some())
        assert [event.data for event in events if isinstance(event, Message)] == ["a", "b"]


async def test_what_the_socket_does_not_take_is_written_by_a_task_holding_the_lock() -> None:
    async with hold_over_a_socket() as (hold, codec, lock, peer):
        held(hold, codec, *["x" * 60_000] * 8)  # more than the socket takes at once
        hold.flush_nowait()
        assert lock.writing  # the task writing the rest holds it
        received = 0
        while received < 8 * 60_004:
            received += len(await peer.receive_some())
        await trio.testing.wait_all_tasks_blocked()
        assert not lock.writing


async def test_check_held_keeps_holding_only_while_the_handler_takes_its_next_message() -> None:
    async with hold_over_a_socket() as (hold, codec, _lock, peer):
        assert held(hold, codec, "a")
        hold._inbound.taking = True
        assert hold.check_held()  # it is about to take the next one: keep holding
        hold._inbound.taking = False
        assert not hold.check_held()  # it went elsewhere: written now
        assert not hold.frames
        assert await peer.receive_some()
