"""Every close is answered before TCP closes (RFC 6455 §5.5.1, §7.1.1).

One TCP segment carries a text message, a ping, a 15,945-byte text, a 63,297-byte binary and a
close 1000; the server must answer all of them, close frame included, and only then close TCP.
The same holds when the connection fails: a frame over the size limit (1009), with its payload
still arriving, and a reserved opcode (1002) must each get their close frame before TCP closes.
Trials run a few at a time, alternately with and without compression negotiated.
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass

import trio

from ..common import Result, Settings
from ..process import start_target
from ..wire import BINARY, CLOSE, PING, PONG, TEXT, Frame, RawClient, close_payload, encode_frame

NAME = "close-frames"
_CONCURRENCY = 4
_END_TIMEOUT = 5.0


@dataclass(frozen=True)
class Case:
    """A segment to send, the data frames it must echo, and the close code it must get."""

    name: str
    segment: bytes
    echoes: list[bytes]
    close_code: int
    #: The ping comes before the close, so its pong is due (RFC 6455 §5.5.2).
    pong_due: bool


def _cases() -> list[Case]:
    text = os.urandom(15945 // 2).hex().encode() + b"x"
    binary = os.urandom(63297)
    ping = encode_frame(PING, b"are you there")
    burst = Case(
        "burst then close 1000",
        encode_frame(TEXT, b"hello")
        + ping
        + encode_frame(TEXT, text)
        + encode_frame(BINARY, binary)
        + encode_frame(CLOSE, close_payload(1000)),
        [b"hello", text, binary],
        1000,
        pong_due=True,
    )
    # A 2 MiB frame (the limit is 1 MiB): the server fails it from the header while 128 KiB of
    # its payload are still in flight.
    too_big = encode_frame(BINARY, bytes(2 * 2**20))[: 14 + 128 * 1024]
    oversized = Case(
        "frame over the limit",
        encode_frame(TEXT, b"hello") + ping + too_big,
        [b"hello"],
        1009,
        False,
    )
    reserved = Case(
        "reserved opcode",
        encode_frame(TEXT, b"hello")
        + ping
        + encode_frame(0x3, b"reserved")
        + encode_frame(BINARY, binary),
        [b"hello"],
        1002,
        False,
    )
    return [burst, oversized, reserved]


async def run(settings: Settings) -> Result:
    result = Result(NAME)
    trials = settings.size(40, 200)
    cases = _cases()
    outcomes: dict[str, list[str]] = {"missing close": [], "wrong answer": [], "stall": []}
    latencies: list[float] = []
    async with start_target() as server:
        limiter = trio.CapacityLimiter(_CONCURRENCY)

        async def trial(case: Case, compress: bool) -> None:
            async with limiter:
                started = time.monotonic()
                problem = await _trial(server.port, case, compress)
                latencies.append(time.monotonic() - started)
                if problem is not None:
                    kind, detail = problem
                    outcomes[kind].append(
                        f"{case.name} (compression {'on' if compress else 'off'}): {detail}"
                    )

        with trio.fail_after(trials * len(cases) * _END_TIMEOUT / _CONCURRENCY + 30):
            async with trio.open_nursery() as nursery:
                for index in range(trials):
                    for case in cases:
                        nursery.start_soon(trial, case, index % 2 == 1)
        crashes = server.crashes()
    total = trials * len(cases)
    result.figures["trials"] = f"{total} ({trials} x {len(cases)} cases)"
    result.figures["missing close"] = str(len(outcomes["missing close"]))
    result.figures["wrong answers"] = str(len(outcomes["wrong answer"]))
    result.figures["stalls"] = str(len(outcomes["stall"]))
    result.figures["slowest"] = f"{max(latencies):.2f} s"
    for kind, lines in outcomes.items():
        result.count_failures(
            f"{kind}s" if kind != "missing close" else "missing close frames", lines
        )
    result.count_failures("internal errors in the server log", crashes)
    return result


async def _trial(port: int, case: Case, compress: bool) -> tuple[str, str] | None:
    """One connection; returns what went wrong as (kind, detail), or None."""
    client = await RawClient.connect(port)
    try:
        await client.handshake(compress=compress)
        client.close_sent = case.close_code == 1000
        # The server may fail the connection before the whole segment is written.
        with contextlib.suppress(trio.BrokenResourceError):
            await client.send(case.segment)
        frames, ending = await client.receive_until_end(_END_TIMEOUT)
    finally:
        await client.aclose()
    return _judge(case, frames, ending)


def _judge(case: Case, frames: list[Frame], ending: str) -> tuple[str, str] | None:
    closes = [frame for frame in frames if frame.opcode == CLOSE]
    data = [frame.payload for frame in frames if frame.opcode in (TEXT, BINARY)]
    if ending == "timeout":
        return "stall", f"connection still open {_END_TIMEOUT} s after the segment"
    if not closes:
        got = ", ".join(_describe(frame) for frame in frames) or "nothing"
        return "missing close", f"TCP {ending} after {got}, without a close frame"
    if closes[0].close_code != case.close_code:
        return "wrong answer", f"close code {closes[0].close_code}, expected {case.close_code}"
    if frames[-1].opcode != CLOSE:
        return "wrong answer", f"{_describe(frames[-1])} after the close frame"
    # Echoes are optional once the close arrives (the handler may not get to send them), but
    # those sent must be right and in order.
    expected = case.echoes[: len(data)]
    if data != expected:
        return (
            "wrong answer",
            f"echoes of {[len(d) for d in data]} bytes, expected {[len(e) for e in expected]}",
        )
    if case.pong_due and not any(frame.opcode == PONG for frame in frames):
        return "wrong answer", "the ping was not answered"
    return None


def _describe(frame: Frame) -> str:
    names = {TEXT: "text", BINARY: "binary", CLOSE: "close", PING: "ping", PONG: "pong"}
    return f"{names.get(frame.opcode, hex(frame.opcode))}({len(frame.payload)})"
