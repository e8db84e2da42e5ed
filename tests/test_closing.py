"""Every end of a connection answers the peer's close and stays within its bound, over real
loopback sockets (RFC 6455 §5.5.1, §7.1.1, §7.1.7; issue 17, defects 3 and 4)."""

from __future__ import annotations

import contextlib
import socket as stdlib_socket

import trio
import trio.testing

import trioproto
from helpers import StartServer, echo_registry, request_bytes
from trioproto._sansio._frames import serialize_frame
from trioproto._sansio._http import ResponseHeadParser
from trioproto.testing._pair import websocket_pair

MASK = b"\x0a\x0b\x0c\x0d"


async def _upgrade(port: int) -> tuple[trio.SocketStream, bytes]:
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    parser = ResponseHeadParser(trioproto.DEFAULT_LIMITS)
    await stream.send_all(request_bytes())
    while (response := parser.feed(await stream.receive_some())) is None:
        pass
    assert response.status_code == 101
    return stream, parser.trailing_data


def _opcodes_until_eof(data: bytes) -> list[tuple[int, bytes]]:
    """Split the server's (unmasked) frames: (opcode, payload) each."""
    frames = []
    view = memoryview(data)
    while view:
        opcode, length, offset = view[0] & 0x0F, view[1] & 0x7F, 2
        if length == 126:
            length, offset = int.from_bytes(view[2:4], "big"), 4
        elif length == 127:
            length, offset = int.from_bytes(view[2:10], "big"), 10
        frames.append((opcode, bytes(view[offset : offset + length])))
        view = view[offset + length :]
    return frames


async def _everything_until_eof(stream: trio.SocketStream, trailing: bytes) -> bytes:
    received = bytearray(trailing)
    with trio.fail_after(10):
        # A reset instead of an orderly end raises here: the close frame may have been lost.
        while chunk := await stream.receive_some():
            received += chunk
    await stream.aclose()
    return bytes(received)


async def _one_segment_then_close(port: int) -> list[tuple[int, bytes]]:
    stream, trailing = await _upgrade(port)
    segment = b"".join(
        [
            serialize_frame(0x1, b"first", mask=MASK),
            serialize_frame(0x9, b"ping", mask=MASK),
            serialize_frame(0x1, b"t" * 15945, mask=MASK),
            serialize_frame(0x2, b"b" * 63297, mask=MASK),
            serialize_frame(0x8, (1000).to_bytes(2, "big"), mask=MASK),
        ]
    )
    await stream.send_all(segment)
    return _opcodes_until_eof(await _everything_until_eof(stream, trailing))


async def test_close_is_answered_after_a_burst_in_one_segment(start_server: StartServer) -> None:
    """Messages, a ping and a close in one segment: the pong and the close reply arrive before
    the server closes TCP, however the reader and the handler interleave. (Echoes the handler
    had not sent when the close arrived are not owed: nothing may follow our close frame.)"""
    server = await start_server(echo_registry(), compression=None)
    results: list[list[tuple[int, bytes]]] = []

    async def one() -> None:
        results.append(await _one_segment_then_close(server.port))

    async with trio.open_nursery() as nursery:
        for _ in range(100):
            nursery.start_soon(one)
    for frames in results:
        opcodes = [opcode for opcode, _ in frames]
        assert opcodes[-1] == 0x8, opcodes
        assert frames[-1][1][:2] == (1000).to_bytes(2, "big")
        assert 0xA in opcodes  # the pong


async def _violation_answer(port: int, bad: bytes) -> tuple[int, bytes]:
    stream, trailing = await _upgrade(port)
    # The bad frame, then more bytes the server will never parse: they must not turn the end
    # into a reset that destroys the close frame.
    await stream.send_all(bad + serialize_frame(0x2, b"z" * 200_000, mask=MASK))
    frames = _opcodes_until_eof(await _everything_until_eof(stream, trailing))
    return frames[-1]


async def test_a_failed_connection_delivers_its_close_frame(start_server: StartServer) -> None:
    server = await start_server(
        echo_registry(), compression=None, limits=trioproto.Limits(max_message_size=1024)
    )
    too_big = serialize_frame(0x2, b"x" * 4096, mask=MASK)
    reserved_opcode = bytes([0x83]) + serialize_frame(0x1, b"bad", mask=MASK)[1:]
    for bad, code in [(too_big, 1009), (reserved_opcode, 1002)]:
        for _ in range(20):
            opcode, payload = await _violation_answer(server.port, bad)
            assert opcode == 0x8
            assert int.from_bytes(payload[:2], "big") == code


async def test_close_is_bounded_once_with_a_peer_that_never_reads(
    start_server: StartServer, autojump_clock: trio.testing.MockClock
) -> None:
    """A handler blocked in a send to a peer that reads nothing holds the write lock; the
    server's shutdown still ends within one ``Timeouts.close``, not two (the clock is virtual:
    it jumps whenever every task waits)."""
    registry = trioproto.Registry()
    blocked = trio.Event()

    @registry.handler(None)
    async def flood(ws: trioproto.WebSocket) -> None:
        blocked.set()
        while True:
            await ws.outbound.send(b"x" * 65536)

    server = await start_server(registry, compression=None, timeouts=trioproto.Timeouts(close=10))
    stream, _ = await _upgrade(server.port)
    stream.socket.setsockopt(stdlib_socket.SOL_SOCKET, stdlib_socket.SO_RCVBUF, 4096)
    await blocked.wait()
    await trio.testing.wait_all_tasks_blocked()
    start = trio.current_time()
    await server.aclose()
    assert trio.current_time() - start <= 10 + 0.5
    await stream.aclose()


async def test_aclose_bounds_handlers_that_do_not_read_by_the_shutdown_timeout(
    start_server: StartServer, autojump_clock: trio.testing.MockClock
) -> None:
    """A handler that never looks at its connection does not notice the 1001; it is
    cancelled ``Timeouts.shutdown`` after the closing handshake, not ``Timeouts.close``."""
    registry = trioproto.Registry()
    cancelled = trio.Event()

    @registry.handler(None)
    async def busy_elsewhere(ws: trioproto.WebSocket) -> None:
        try:
            await trio.sleep_forever()
        except trio.Cancelled:
            cancelled.set()
            raise

    timeouts = trioproto.Timeouts(close=10, shutdown=3)
    server = await start_server(registry, compression=None, timeouts=timeouts)
    stream, _ = await _upgrade(server.port)
    await trio.testing.wait_all_tasks_blocked()

    async def answer_the_close() -> None:
        received = await stream.receive_some()
        assert received[0] & 0x0F == 0x8
        await stream.send_all(serialize_frame(0x8, received[2:4], mask=MASK))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(answer_the_close)
        start = trio.current_time()
        await server.aclose()
    assert cancelled.is_set()
    assert trio.current_time() - start == 3
    await stream.aclose()


async def test_failing_while_another_task_sends_does_not_crash(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """The peer's violation fails the connection while a send of another task is blocked on
    a peer that does not read: the drain after the failure must not collide with that send
    (trio's SocketStream refuses a concurrent send_eof with BusyResourceError)."""
    a, b = trio.socket.socketpair()
    client_stream, server_stream = trio.SocketStream(a), trio.SocketStream(b)
    limits = trioproto.Limits(max_queued_messages=1, max_message_size=None)
    async with websocket_pair(client_stream, server_stream, limits=limits) as (client, _server):

        async def flood() -> None:
            with contextlib.suppress(trioproto.ConnectionClosed):
                while True:
                    await client.send(b"x" * 1_000_000)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(flood)
            await trio.testing.wait_all_tasks_blocked()
            # A frame no server may send (reserved opcode), written around the server object.
            await server_stream.send_all(bytes([0x83, 0x00]))
            with trio.fail_after(60):
                await client.wait_closed()
    assert client.closed is not None
    assert client.closed.sent is not None and client.closed.sent[0] == 1002


async def test_a_connection_upgraded_as_shutdown_begins_gets_1001(nursery: trio.Nursery) -> None:
    """aclose() sends 1001 to the connections it knows; one whose 101 goes out just after
    (its handshake hook was still running) is closed with 1001 too, not cancelled later."""
    servers: list[trioproto.WebSocketServer] = []
    closing = trio.Event()

    async def hook(request: trioproto.WebSocketRequest, subprotocol: str | None) -> None:
        nursery.start_soon(_close_and_signal, servers[0], closing)
        await trio.testing.wait_all_tasks_blocked()  # aclose() has taken its snapshot

    server = await nursery.start(
        lambda task_status: trioproto.serve(
            echo_registry(), 0, on_handshake=hook, compression=None, task_status=task_status
        )
    )
    servers.append(server)
    with trio.fail_after(5):
        stream, trailing = await _upgrade(server.port)
        frames = _opcodes_until_eof(await _everything_until_eof(stream, trailing))
        await closing.wait()
    assert frames[-1][0] == 0x8
    assert int.from_bytes(frames[-1][1][:2], "big") == 1001


async def _close_and_signal(server: trioproto.WebSocketServer, done: trio.Event) -> None:
    await server.aclose()
    done.set()
