"""Memory under hostile load: decompression bombs and slow consumers, compression on and off.

Each case runs against a fresh server while its RSS is sampled every 50 ms; the peak growth
over the baseline must stay within the documented per-connection bound times the number of
connections, plus a fixed 16 MiB for the interpreter and allocator. The documented bound
(docs/topics/backpressure.md), in decoded bytes, is ``Limits.max_queued_messages`` + 4 whole
messages of at most ``Limits.max_message_size`` bytes (the queue; the message waiting for room in
it; a frame being assembled in the receive buffer; the handler's message in hand and its frame
while it is sent), plus two 256 KiB reads: 20.5 MiB with the defaults, compression on or off.

Cases, each with permessage-deflate negotiated and without:

* bomb: one message that would inflate to 64 MiB (1 GiB in the full run) of zeros; without
  compression, a 2 MiB message in 64 KiB fragments. The answer must be a 1009 close.
* near-limit: connections each send hundreds of legal, very compressible messages just under
  1 MiB (about 1 KiB each on the wire when compressed, so a single read holds hundreds) and never
  read the echoes.
* slow consumer: connections send 64 KiB messages for seconds and never read.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Awaitable, Callable
from functools import cache

import trio

from trioproto import DEFAULT_LIMITS, Limits

from ..common import Result, Settings, mib
from ..process import MemorySampler, TargetServer, start_target
from ..wire import BINARY, CLOSE, CONTINUATION, RawClient, encode_frame

NAME = "memory"
MiB = 2**20
_READ_SIZE = 256 * 1024
_FIXED_SLACK = 16 * MiB


def documented_bound(limits: Limits = DEFAULT_LIMITS) -> int:
    """What one connection may hold, as docs/topics/backpressure.md states it."""
    assert limits.max_message_size is not None
    return (limits.max_queued_messages + 4) * limits.max_message_size + 2 * _READ_SIZE


@cache
def _dna(size: int) -> bytes:
    """Random letters from a four-letter alphabet: compresses about 4:1."""
    return os.urandom(size).translate(bytes(b"ACGT"[byte & 3] for byte in range(256)))


@cache
def _repetitive(size: int) -> bytes:
    """A message that compresses about 1000:1."""
    return (b"near the limit " * (size // 15 + 1))[:size]


@cache
def _compressed(data: bytes) -> bytes:
    compressor = zlib.compressobj(1, zlib.DEFLATED, -15)
    return (compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH))[:-4]


@cache
def _zero_bomb(size: int) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    chunk = bytes(MiB)
    parts = [compressor.compress(chunk) for _ in range(size // MiB)]
    return b"".join(parts) + compressor.flush(zlib.Z_SYNC_FLUSH)[:-4]


async def _connect(port: int, compress: bool) -> RawClient:
    client = await RawClient.connect(port)
    await client.handshake(compress=compress, no_context_takeover=True)
    return client


async def _bomb(port: int, compress: bool, settings: Settings) -> str | None:
    """One bomb; returns what went wrong, or None."""
    client = await _connect(port, compress)
    try:
        try:
            if compress:
                bomb = _zero_bomb(settings.size(64, 1024) * MiB)
                await client.send(encode_frame(BINARY, bomb, rsv1=True))
            else:
                for index in range(32):
                    opcode = BINARY if index == 0 else CONTINUATION
                    await client.send(encode_frame(opcode, bytes(65536), fin=index == 31))
        except trio.BrokenResourceError:
            pass
        frames, ending = await client.receive_until_end(10.0)
    finally:
        await client.aclose()
    codes = [frame.close_code for frame in frames if frame.opcode == CLOSE]
    return None if codes == [1009] else f"close {codes} and TCP {ending}, not 1009"


async def _flood(port: int, compress: bool, payload: bytes, seconds: float) -> None:
    """Send ``payload`` as messages for ``seconds`` without reading anything."""
    client = await _connect(port, compress)
    frame = (
        encode_frame(BINARY, _compressed(payload), rsv1=True)
        if compress
        else encode_frame(BINARY, payload)
    )
    with trio.move_on_after(seconds):
        try:
            while True:
                await client.send(frame)
        except trio.BrokenResourceError:
            pass
    client.reset()


Case = Callable[[TargetServer, bool, Settings], Awaitable[tuple[int, str | None]]]


async def _bomb_case(
    server: TargetServer, compress: bool, settings: Settings
) -> tuple[int, str | None]:
    return 1, await _bomb(server.port, compress, settings)


async def _near_limit_case(
    server: TargetServer, compress: bool, settings: Settings
) -> tuple[int, str | None]:
    connections = settings.size(2, 8)
    async with trio.open_nursery() as nursery:
        for _ in range(connections):
            payload = _repetitive(MiB - 1024)
            nursery.start_soon(_flood, server.port, compress, payload, settings.size(1.5, 10.0))
    return connections, None


async def _slow_consumer_case(
    server: TargetServer, compress: bool, settings: Settings
) -> tuple[int, str | None]:
    connections = settings.size(2, 8)
    async with trio.open_nursery() as nursery:
        for _ in range(connections):
            payload = _dna(65536)
            nursery.start_soon(_flood, server.port, compress, payload, settings.size(1.5, 15.0))
    return connections, None


CASES: dict[str, Case] = {
    "bomb": _bomb_case,
    "near-limit": _near_limit_case,
    "slow consumer": _slow_consumer_case,
}


async def run(settings: Settings) -> Result:
    result = Result(NAME)
    for name, case in CASES.items():
        # Compressed and plain run side by side, each against its own server process.
        async with trio.open_nursery() as nursery:
            for compress in (True, False):
                nursery.start_soon(_run_case, result, name, case, compress, settings)
    result.figures["bound"] = f"{mib(documented_bound())}/conn"
    return result


async def _run_case(
    result: Result, name: str, case: Case, compress: bool, settings: Settings
) -> None:
    label = f"{name} ({'deflate' if compress else 'plain'})"
    async with start_target(compression=compress) as server:
        sampler = MemorySampler(server)
        with trio.fail_after(settings.size(60, 180)):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(sampler.run)
                connections, problem = await case(server, compress, settings)
                await trio.sleep(0.5)
                sampler.sample()
                nursery.cancel_scope.cancel()
        crashes = server.crashes()
    bound = documented_bound() * connections + _FIXED_SLACK
    growth = sampler.growth
    result.figures[label] = f"+{mib(growth)} / {connections} conn"
    result.check(problem is None, f"{label}: {problem}")
    result.check(
        growth <= bound,
        f"{label}: server grew by {mib(growth)} on {connections} connections, over the bound "
        f"of {mib(bound)} ({mib(documented_bound())} each + {mib(_FIXED_SLACK)})",
    )
    result.count_failures(f"{label}: internal errors in the server log", crashes)
