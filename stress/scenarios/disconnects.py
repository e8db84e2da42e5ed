"""Abrupt disconnects at every stage of the handshake and framing, while fresh clients arrive.

Each abrupt client stops at one stage (before or in the middle of the request head, before
reading the 101, inside a frame header, inside a payload, inside or right after a close frame,
or after sending 256-900 KiB it never reads back), and leaves either with a FIN or with an RST
(``SO_LINGER`` 0). Meanwhile fresh clients keep connecting, 16 at a time plus one with each
bulk sender (descriptor numbers are reused as they die); each must complete its handshake and
get its own message echoed within 2 s. A client that gets another client's bytes (a wrong
``Sec-WebSocket-Accept`` or a wrong echo) or loses its handshake is a crossed connection: the
worst failure.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Awaitable, Callable

import trio

from ..common import Result, Settings
from ..process import start_target
from ..wire import (
    BINARY,
    CLOSE,
    HandshakeFailed,
    RawClient,
    close_payload,
    encode_frame,
    handshake_request,
)

NAME = "disconnects"
STALL = 2.0  # seconds a fresh client may take to be served
_GIVE_UP = STALL + 2.0  # a stalled client is abandoned after this
_ABRUPT_CONCURRENCY = 32
_FRESH_CONCURRENCY = 16

Stage = Callable[[RawClient], Awaitable[None]]


async def _connect_only(client: RawClient) -> None:
    pass


async def _mid_head(client: RawClient) -> None:
    head = handshake_request(b"dGhlIHNhbXBsZSBub25jZQ==")
    await client.send(head[: len(head) // 2])


async def _after_head(client: RawClient) -> None:
    await client.send(handshake_request(b"dGhlIHNhbXBsZSBub25jZQ=="))


async def _after_101(client: RawClient) -> None:
    await client.handshake()


async def _mid_frame_header(client: RawClient) -> None:
    await client.handshake()
    await client.send(encode_frame(BINARY, bytes(70000))[:5])  # 5 of the 14 header bytes


async def _mid_payload(client: RawClient) -> None:
    await client.handshake()
    await client.send(encode_frame(BINARY, os.urandom(65536))[:30000])


async def _mid_close(client: RawClient) -> None:
    await client.handshake()
    await client.send(encode_frame(CLOSE, close_payload(1000, b"bye"))[:4])


async def _after_close(client: RawClient) -> None:
    await client.handshake()
    await client.send(encode_frame(CLOSE, close_payload(1000)))


async def _bulk_unread(client: RawClient) -> None:
    """Send 256-900 KiB of messages, read nothing (defect 1's trigger)."""
    await client.handshake()
    total = random.randint(256 * 1024, 900 * 1024)
    while total > 0:
        size = min(total, random.randint(16 * 1024, 64 * 1024))
        await client.send(encode_frame(BINARY, os.urandom(size)))
        total -= size


STAGES: dict[str, Stage] = {
    "connect": _connect_only,
    "mid-head": _mid_head,
    "after-head": _after_head,
    "after-101": _after_101,
    "mid-frame-header": _mid_frame_header,
    "mid-payload": _mid_payload,
    "mid-close": _mid_close,
    "after-close": _after_close,
    "bulk-unread": _bulk_unread,
}


async def _abrupt(port: int, stage: Stage, reset: bool) -> None:
    client = await RawClient.connect(port)
    try:
        await stage(client)
    except trio.BrokenResourceError:
        pass  # the server may give up first (1009 on a bulk sender, for instance)
    finally:
        if reset:
            client.reset()
        else:
            await client.aclose()


async def _fresh(port: int) -> str | None:
    """One well-behaved client; returns what went wrong, or None.

    Raises:
        HandshakeFailed, trio.BrokenResourceError: the server failed it.
    """
    message = os.urandom(12).hex()
    client = await RawClient.connect(port)
    try:
        await client.handshake()
        await client.send_message(message)
        echo = await client.receive_message()
        if echo != message:
            return f"sent {message!r}, got {echo!r}: crossed connection?"
        await client.send(encode_frame(CLOSE, close_payload(1000)))
        client.close_sent = True
        frames, _ending = await client.receive_until_end(STALL)
        if not frames or frames[-1].opcode != CLOSE:
            return "no close frame in answer to ours"
        return None
    finally:
        await client.aclose()


class FreshClients:
    """Well-behaved clients and what happened to them."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.latencies: list[float] = []
        self.stalls: list[str] = []
        self.failures: list[str] = []

    async def one(self) -> None:
        """Serve one fresh client and record how it went."""
        started = time.monotonic()
        with trio.move_on_after(_GIVE_UP):
            try:
                problem = await _fresh(self.port)
            except Exception as exc:
                problem = repr(exc)
            elapsed = time.monotonic() - started
            self.latencies.append(elapsed)
            if problem is not None:
                self.failures.append(problem)
            elif elapsed > STALL:
                self.stalls.append(f"served in {elapsed:.1f} s")
            return
        self.stalls.append(f"not served within {_GIVE_UP:.0f} s")

    async def keep_coming(self, until: trio.Event) -> None:
        while not until.is_set():
            await self.one()


async def run(settings: Settings) -> Result:
    result = Result(NAME)
    per_stage = settings.size(8, 100)
    bulk = settings.size(200, 600)
    plan = [
        (name, stage, reset)
        for name, stage in STAGES.items()
        for reset in (False, True)
        for _ in range(bulk if stage is _bulk_unread else per_stage)
    ]
    random.Random(settings.seed).shuffle(plan)
    abrupt_errors: list[str] = []
    async with start_target(compression=False) as server:
        fresh = FreshClients(server.port)
        abrupt_done = trio.Event()

        async def abrupt_clients() -> None:
            limiter = trio.CapacityLimiter(_ABRUPT_CONCURRENCY)

            async def one(name: str, stage: Stage, reset: bool) -> None:
                async with limiter:
                    try:
                        await _abrupt(server.port, stage, reset)
                    except HandshakeFailed as exc:
                        # Its request was well formed: someone else read or closed its socket?
                        fresh.failures.append(f"abrupt client ({name}) lost its handshake: {exc}")
                    except Exception as exc:
                        abrupt_errors.append(f"{name}: {exc!r}")

            async with trio.open_nursery() as nursery:
                for name, stage, reset in plan:
                    await limiter.acquire()  # start no faster than they finish
                    limiter.release()
                    nursery.start_soon(one, name, stage, reset)
                    if stage is _bulk_unread:
                        # A fresh client arriving as a bulk sender dies: when descriptor numbers
                        # are reused at once (defect 1's interleaving).
                        nursery.start_soon(fresh.one)
            abrupt_done.set()

        with trio.fail_after(settings.size(60, 600)):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(abrupt_clients)
                for _ in range(_FRESH_CONCURRENCY):
                    nursery.start_soon(fresh.keep_coming, abrupt_done)
        crashes = server.crashes()
    latencies, stalls, failures = sorted(fresh.latencies), fresh.stalls, fresh.failures
    result.figures["abrupt clients"] = str(len(plan))
    result.figures["fresh clients"] = str(len(latencies))
    if latencies:
        result.figures["fresh p99"] = f"{latencies[int(len(latencies) * 0.99)] * 1000:.0f} ms"
        result.figures["fresh max"] = f"{latencies[-1] * 1000:.0f} ms"
    result.figures["stalls"] = str(len(stalls))
    result.figures["wrong answers"] = str(len(failures))
    result.figures["crashes"] = str(len(crashes))
    result.count_failures(f"fresh clients stalled (over {STALL:.0f} s)", stalls)
    result.count_failures("clients got a wrong answer", failures)
    result.count_failures("internal errors in the server log", crashes)
    result.count_failures("abrupt clients failed unexpectedly", abrupt_errors)
    return result
