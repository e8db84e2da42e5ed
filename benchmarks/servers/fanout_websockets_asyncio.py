"""Fan-out with the websockets library's asyncio ``broadcast()`` (no backpressure)."""

from __future__ import annotations

import asyncio

from websockets.asyncio.server import ServerConnection, broadcast, serve

from benchmarks.servers._common import MAX_SIZE, parse_args, ready

subscribers: set[ServerConnection] = set()


async def handler(connection: ServerConnection) -> None:
    assert connection.request is not None
    if connection.request.path == "/pub":
        async for message in connection:
            broadcast(subscribers, message)
    else:
        subscribers.add(connection)
        try:
            await connection.wait_closed()
        finally:
            subscribers.discard(connection)


async def main() -> None:
    args = parse_args()
    async with serve(
        handler, "127.0.0.1", args.port, compression=None, max_size=MAX_SIZE, ping_interval=None
    ):
        ready(args.port)
        await asyncio.get_running_loop().create_future()


asyncio.run(main())
