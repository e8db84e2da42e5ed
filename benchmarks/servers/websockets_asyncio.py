"""The websockets library's asyncio server, echoing, compression off."""

from __future__ import annotations

import asyncio

from websockets.asyncio.server import ServerConnection, serve

from benchmarks.servers._common import MAX_SIZE, parse_args, ready, server_context


async def echo(connection: ServerConnection) -> None:
    async for message in connection:
        await connection.send(message)


async def main() -> None:
    args = parse_args()
    async with serve(
        echo,
        "127.0.0.1",
        args.port,
        ssl=server_context(args.certfile),
        compression=None,
        max_size=MAX_SIZE,
        ping_interval=None,
    ) as server:
        ready(args.port)
        await server.serve_forever()


asyncio.run(main())
