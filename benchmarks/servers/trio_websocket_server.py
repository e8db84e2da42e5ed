"""trio-websocket's server, echoing (it has no compression)."""

from __future__ import annotations

import functools

import trio
from trio_websocket import ConnectionClosed, WebSocketRequest, serve_websocket

from benchmarks.servers._common import MAX_SIZE, parse_args, ready, server_context


async def echo(request: WebSocketRequest) -> None:
    connection = await request.accept()
    try:
        while True:
            await connection.send_message(await connection.get_message())
    except ConnectionClosed:
        pass


async def main() -> None:
    args = parse_args()
    async with trio.open_nursery() as nursery:
        await nursery.start(
            functools.partial(
                serve_websocket,
                echo,
                "127.0.0.1",
                args.port,
                ssl_context=server_context(args.certfile),
                max_message_size=MAX_SIZE,
            )
        )
        ready(args.port)


trio.run(main)
