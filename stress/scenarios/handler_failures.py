"""Handler failures under load: the failing connections get 1011, the others keep working.

Clients of the ``fail`` handler each exchange a series of messages; every fifth client sends a
message starting with ``fail`` halfway, which makes the handler raise. That client must get
the echoes before it and then a close frame with 1011 (RFC 6455 §7.4.1, "encountered an
unexpected condition"); every other client must get all its echoes and a normal close. The
server logs one handler error per failing client, and no internal error.
"""

from __future__ import annotations

import trio

from ..common import Result, Settings
from ..process import start_target
from ..wire import CLOSE, RawClient, close_payload, encode_frame

NAME = "handler-failures"
_MESSAGES = 20
_CONCURRENCY = 50


async def _client(port: int, number: int, fails: bool) -> str | None:
    """One client's exchange; returns what went wrong, or None."""
    client = await RawClient.connect(port)
    try:
        await client.handshake(subprotocol="fail", compress=number % 2 == 0)
        for index in range(_MESSAGES):
            failing = fails and index == _MESSAGES // 2
            message = f"fail {number}" if failing else f"{number}:{index}"
            await client.send_message(message)
            if failing:
                frames, ending = await client.receive_until_end(5.0)
                codes = [frame.close_code for frame in frames if frame.opcode == CLOSE]
                return None if codes == [1011] else f"got close {codes}, TCP {ending}, not 1011"
            echo = await client.receive_message()
            if echo != message:
                return f"sent {message!r}, got {echo!r}"
        await client.send(encode_frame(CLOSE, close_payload(1000)))
        client.close_sent = True
        frames, ending = await client.receive_until_end(5.0)
        codes = [frame.close_code for frame in frames if frame.opcode == CLOSE]
        return None if codes == [1000] else f"got close {codes}, TCP {ending}, not 1000"
    finally:
        await client.aclose()


async def run(settings: Settings) -> Result:
    result = Result(NAME)
    count = settings.size(100, 1000)
    failing = {number for number in range(count) if number % 5 == 0}
    wrong: list[str] = []
    async with start_target() as server:
        limiter = trio.CapacityLimiter(_CONCURRENCY)

        async def one(number: int) -> None:
            async with limiter:
                try:
                    problem = await _client(server.port, number, number in failing)
                except Exception as exc:
                    problem = repr(exc)
                if problem is not None:
                    kind = "failing" if number in failing else "healthy"
                    wrong.append(f"{kind} client {number}: {problem}")

        with trio.fail_after(settings.size(60, 300)):
            async with trio.open_nursery() as nursery:
                for number in range(count):
                    nursery.start_soon(one, number)
        await trio.sleep(0.2)  # the last log lines
        handler_errors = server.count_in_log("handler raised")
        crashes = server.crashes()
    result.figures["clients"] = f"{count} ({len(failing)} failing)"
    result.figures["messages"] = str(count * _MESSAGES)
    result.figures["wrong answers"] = str(len(wrong))
    result.figures["handler errors logged"] = str(handler_errors)
    result.count_failures("clients got a wrong answer", wrong)
    result.check(
        handler_errors == len(failing),
        f"{handler_errors} handler errors logged for {len(failing)} failing clients",
    )
    result.count_failures("internal errors in the server log", crashes)
    return result
