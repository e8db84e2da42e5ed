"""The websockets library's trio server, echoing, compression off."""

from __future__ import annotations

import functools

import trio
from websockets.trio.server import ServerConnection, serve

from benchmarks.servers._common import MAX_SIZE, parse_args, ready, server_context


async def echo(connection: ServerConnection) -> None:
    async for message in connection:
        await connection.send(message)


async def main() -> None:
    args = parse_args()
    async with trio.open_nursery() as nursery:
        await nursery.start(
            functools.partial(
                serve,
                echo,
                args.port,
                host="127.0.0.1",
                ssl=server_context(args.certfile),
                compression=None,
                max_size=MAX_SIZE,
                ping_interval=None,
            )
        )
        ready(args.port)


trio.run(main)
