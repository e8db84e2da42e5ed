"""Idle connections: many open at once, an echo on each, and the memory each one costs.

Opens the connections a hundred at a time, each completing a handshake and one echo, and keeps
them all open; then a probe must still be served. Half the connections come first without
compression, then the other half with permessage-deflate negotiated (as browsers do, with the
full 15-bit client window: the zlib state then counts); the server's RSS growth over each half,
divided by its number of connections, is the memory per idle connection of that kind. The
descriptor limit is raised to the hard limit in both processes; the count is lowered to fit
if the hard limit is too small.
"""

from __future__ import annotations

import resource

import trio

from ..common import Result, Settings, kib
from ..process import start_target
from ..wire import RawClient

NAME = "idle"
#: What an idle connection may cost, without and with compression: Python objects and buffers;
#: then zlib's documented state (a 15-bit inflater ~39 KiB, a 12-bit/memLevel 5 deflater 32 KiB).
BOUNDS = {False: 32 * 1024, True: 128 * 1024}
_CONCURRENCY = 100


async def _open(port: int, number: int, compress: bool, clients: list[RawClient]) -> None:
    client = await RawClient.connect(port)
    try:
        await client.handshake(compress=compress)
        message = f"idle client {number} says hello to the server"
        await client.send_message(message)
        if await client.receive_message() != message:
            raise ValueError(f"client {number}: wrong echo")
    except BaseException:
        await client.aclose()
        raise
    clients.append(client)


async def _open_many(
    port: int, numbers: range, compress: bool, clients: list[RawClient], errors: list[str]
) -> None:
    limiter = trio.CapacityLimiter(_CONCURRENCY)

    async def one(number: int) -> None:
        async with limiter:
            try:
                await _open(port, number, compress, clients)
            except Exception as exc:
                errors.append(repr(exc))

    async with trio.open_nursery() as nursery:
        for number in numbers:
            nursery.start_soon(one, number)
    await trio.sleep(1.0)  # the server's last allocations


async def run(settings: Settings) -> Result:
    result = Result(NAME)
    limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    count = min(settings.size(1000, 10_000), limit - 200)
    half = count // 2
    clients: list[RawClient] = []
    errors: list[str] = []
    per_connection = {}
    async with start_target() as server:
        await trio.sleep(0.5)
        with trio.fail_after(settings.size(30, 300)):
            for compress, numbers in ((False, range(half)), (True, range(half, count))):
                before, opened = server.rss(), len(clients)
                await _open_many(server.port, numbers, compress, clients, errors)
                per_connection[compress] = (server.rss() - before) / max(len(clients) - opened, 1)
            probe = await RawClient.connect(server.port)
            await probe.handshake()
            await probe.send_message("probe")
            probe_ok = await probe.receive_message() == "probe"
            await probe.aclose()
            rss = server.rss()
        for client in clients:
            client.reset()
        crashes = server.crashes()
    result.figures["connections"] = f"{len(clients)} of {count}"
    result.figures["server RSS"] = f"{rss / 2**20:.0f} MiB"
    result.figures["per connection"] = (
        f"{kib(per_connection[False])} plain, {kib(per_connection[True])} compressed"
    )
    result.count_failures("connections failed", errors)
    result.check(probe_ok, "the probe was not echoed with every connection open")
    for compress, bound in BOUNDS.items():
        kind = "compressed" if compress else "plain"
        result.check(
            per_connection[compress] <= bound,
            f"{kib(per_connection[compress])} per idle {kind} connection, over {kib(bound)}",
        )
    result.count_failures("internal errors in the server log", crashes)
    return result
