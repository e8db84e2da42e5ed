"""What a connection holds in decoded bytes stays bounded with compression on (issue 17,
defect 2; docs/topics/backpressure.md): a few wire bytes can inflate to max_message_size, so
the reader hands each decompressed message over before inflating the next, and stops when the
handler's queue is full, leaving the rest compressed in its buffer and the socket."""

from __future__ import annotations

import tracemalloc
import zlib

import trio
import trio.testing

import trioproto
from helpers import StartServer, request_bytes
from trioproto._sansio._frames import serialize_frame
from trioproto._sansio._http import ResponseHeadParser

MiB = 1024 * 1024
MASK = b"\x01\x02\x03\x04"


def _compressed_frame(payload: bytes) -> bytes:
    """One binary message compressed on its own (RFC 7692 §7.2.1, no context takeover)."""
    compressor = zlib.compressobj(wbits=-15)
    data = compressor.compress(payload) + compressor.flush(zlib.Z_SYNC_FLUSH)
    return serialize_frame(0x2, data[:-4], rsv1=True, mask=MASK)


async def test_compressed_messages_are_inflated_only_as_the_queue_takes_them(
    start_server: StartServer,
) -> None:
    connections: list[trioproto.WebSocket] = []
    release, all_received = trio.Event(), trio.Event()
    registry = trioproto.Registry()

    @registry.handler(None)
    async def not_reading(ws: trioproto.WebSocket) -> None:
        connections.append(ws)
        await release.wait()
        count = 0
        async for _ in ws.inbound:
            count += 1
            if count == 100:
                all_received.set()

    queued = 4
    server = await start_server(registry, limits=trioproto.Limits(max_queued_messages=queued))
    stream = await trio.open_tcp_stream("127.0.0.1", server.port)
    request = request_bytes(extensions="permessage-deflate; client_no_context_takeover")
    await stream.send_all(request)
    parser = ResponseHeadParser(trioproto.DEFAULT_LIMITS)
    while (response := parser.feed(await stream.receive_some())) is None:
        pass
    assert response.status_code == 101
    # 100 messages of almost 1 MiB each, about 1 KiB each on the wire, in one write: before
    # the fix, one read inflated all of them (~100 MiB) ahead of the queue's bound.
    burst = _compressed_frame(bytes(MiB - 64)) * 100
    assert len(burst) < 200 * 1024
    tracemalloc.start()
    try:
        baseline = tracemalloc.get_traced_memory()[0]
        with trio.fail_after(30):
            await stream.send_all(burst)
            # Every task waits now: the reader for room in the queue, the handler for release.
            await trio.testing.wait_all_tasks_blocked(cushion=0.2)
        stats = connections[0].statistics()
        peak = tracemalloc.get_traced_memory()[1] - baseline
    finally:
        tracemalloc.stop()
    assert stats.messages_received <= queued + 1  # the queue, and the one that found it full
    assert peak < (queued + 3) * MiB, f"peak {peak / MiB:.1f} MiB"
    release.set()
    with trio.fail_after(30):
        await all_received.wait()
    await stream.aclose()
