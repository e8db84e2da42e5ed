"""Fan-out with the websockets library's trio ``broadcast()`` (waits for every send)."""

from __future__ import annotations

import functools

import trio
from websockets.trio.server import ServerConnection, broadcast, serve

from benchmarks.servers._common import MAX_SIZE, parse_args, ready

subscribers: set[ServerConnection] = set()


async def handler(connection: ServerConnection) -> None:
    assert connection.request is not None
    if connection.request.path == "/pub":
        async for message in connection:
            await broadcast(subscribers, message)
    else:
        subscribers.add(connection)
        try:
            await connection.wait_closed()
        finally:
            subscribers.discard(connection)


async def main() -> None:
    args = parse_args()
    async with trio.open_nursery() as nursery:
        await nursery.start(
            functools.partial(
                serve,
                handler,
                args.port,
                host="127.0.0.1",
                compression=None,
                max_size=MAX_SIZE,
                ping_interval=None,
            )
        )
        ready(args.port)


trio.run(main)
