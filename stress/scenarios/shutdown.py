"""Graceful shutdown: nothing echoed goes missing, everyone gets 1001, within Timeouts.close.

Counting clients send numbered messages as fast as a window of 32 unanswered ones allows; the
server (the ``count`` handler) echoes them and, as each connection ends, prints how many echoes
it handed to the socket. One more client sends megabytes and never reads, so the server's send
to it blocks. Then the server gets SIGTERM. Checks:

* every counting client receives an unbroken sequence 0, 1, 2... at least as long as the
  server's count (an echo the server sent must not be lost), then a close frame with 1001;
* the process exits within ``Timeouts.close`` (plus 2 s for the interpreter to start and stop
  tasks), the non-reading client notwithstanding: the whole shutdown has one bound. (These
  handlers end as soon as their connection closes, so ``Timeouts.shutdown``, the grace for
  handlers still running after that, adds nothing here.)
"""

from __future__ import annotations

import os
import time

import trio

from ..common import Result, Settings
from ..process import start_target
from ..wire import BINARY, CLOSE, TEXT, RawClient, encode_frame

NAME = "shutdown"
CLOSE_TIMEOUT = 3.0
SLACK = 2.0
_WINDOW = 32


class CountingClient:
    """Sends ``N:0``, ``N:1``... and records the numbers echoed back and the close code."""

    def __init__(self, number: int, client: RawClient) -> None:
        self.number = number
        self.client = client
        self.sent = 0
        self.received: list[int] = []
        self.close_code: int | None = None
        self.ending = ""
        self._window = trio.Semaphore(_WINDOW)
        self._send_lock = trio.Lock()
        self._closing = trio.Event()

    async def run(self) -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._send_numbers)
            await self._receive()
            nursery.cancel_scope.cancel()

    async def _send_numbers(self) -> None:
        while not self._closing.is_set():
            await self._window.acquire()
            async with self._send_lock:
                if self._closing.is_set():
                    return
                await self.client.send(encode_frame(TEXT, f"{self.number}:{self.sent}".encode()))
                self.sent += 1

    async def _receive(self) -> None:
        try:
            while (frame := await self.client.receive_frame()) is not None:
                if frame.opcode == CLOSE:
                    self.close_code = frame.close_code
                    self._closing.set()
                    async with self._send_lock:
                        await self.client.send(encode_frame(CLOSE, frame.payload[:2]))
                elif frame.opcode == TEXT:
                    if self.close_code is not None:
                        self.received.append(-1)  # data after the close: recorded as a gap
                    self.received.append(int(frame.payload.split(b":")[1]))
                    self._window.release()
            self.ending = "eof"
        except trio.BrokenResourceError:
            self.ending = "reset"
        self._closing.set()


async def _hog(port: int, stop: trio.Event) -> None:
    """A client that sends and never reads, so the server's send to it blocks."""
    client = await RawClient.connect(port)
    await client.handshake()
    with trio.move_on_after(CLOSE_TIMEOUT * 4):
        try:
            while not stop.is_set():
                await client.send(encode_frame(BINARY, os.urandom(65536)))
        except trio.BrokenResourceError:
            pass
    await client.aclose()


async def run(settings: Settings) -> Result:
    result = Result(NAME)
    count = settings.size(20, 200)
    clients: list[CountingClient] = []
    async with start_target(compression=False, close_timeout=CLOSE_TIMEOUT) as server:
        for number in range(count):
            raw = await RawClient.connect(server.port)
            await raw.handshake(path=f"/?client={number}", subprotocol="count")
            clients.append(CountingClient(number, raw))
        stop_hog = trio.Event()
        with trio.fail_after(CLOSE_TIMEOUT * 6 + 30):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(_hog, server.port, stop_hog)
                for client in clients:
                    nursery.start_soon(client.run)
                await trio.sleep(settings.size(1.0, 5.0))
                signalled = time.monotonic()
                server.terminate()
                await server.process.wait()
                took = time.monotonic() - signalled
                stop_hog.set()
        with trio.fail_after(5):
            await server.output_complete.wait()
        echoed = _parse_counts(server.output)
        crashes = server.crashes()
    missing, no_close = [], []
    for client in clients:
        expected = list(range(len(client.received)))
        if client.received != expected:
            missing.append(f"client {client.number}: echoes out of sequence")
        elif len(client.received) < echoed.get(client.number, 0):
            lost = echoed[client.number] - len(client.received)
            missing.append(f"client {client.number}: {lost} of {echoed[client.number]} echoes lost")
        if client.close_code != 1001:
            no_close.append(
                f"client {client.number}: close {client.close_code}, TCP {client.ending}"
            )
    result.figures["clients"] = f"{count} + 1 not reading"
    result.figures["messages echoed"] = str(sum(echoed.values()))
    result.figures["shutdown"] = f"{took:.1f} s (bound {CLOSE_TIMEOUT:.0f} s + {SLACK:.0f} s)"
    result.figures["missing"] = str(len(missing))
    result.check(
        took <= CLOSE_TIMEOUT + SLACK,
        f"shutdown took {took:.1f} s, Timeouts.close is {CLOSE_TIMEOUT:.0f} s",
    )
    result.check(
        len(echoed) == count, f"the server reported counts for {len(echoed)} of {count} clients"
    )
    result.count_failures("clients missing echoes the server sent", missing)
    result.count_failures("clients without a 1001 close frame", no_close)
    result.count_failures("internal errors in the server log", crashes)
    return result


def _parse_counts(lines: list[str]) -> dict[int, int]:
    """The ``echoed CLIENT N`` lines the ``count`` handler prints."""
    counts = {}
    for line in lines:
        words = line.split()
        if len(words) == 3 and words[0] == "echoed":
            counts[int(words[1])] = int(words[2])
    return counts
