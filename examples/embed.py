"""Embedding: the server runs beside other tasks of an existing trio application.

The server is started with ``nursery.start`` next to a ticker task; the app broadcasts the
ticker to connected clients, and after ``--seconds`` (or on Ctrl-C) it shuts the server down
gracefully: every client gets 1001 and the handlers finish before the app exits.

    python examples/embed.py 8000 --seconds 30
"""

import argparse
import contextlib
import functools
import signal

import trio

import trioproto

registry = trioproto.Registry()
subscribers: set[trioproto.WebSocket] = set()


@registry.handler(None)
async def subscribe(ws: trioproto.WebSocket) -> None:
    subscribers.add(ws)
    try:
        async for message in ws.inbound:
            await ws.outbound.send(f"you said: {message}")
    finally:
        subscribers.discard(ws)


async def ticker(interval: float) -> None:
    count = 0
    while True:
        await trio.sleep(interval)
        count += 1
        for ws in list(subscribers):
            with contextlib.suppress(trioproto.ConnectionClosed):
                await ws.outbound.send(f"tick {count}")


async def main(port: int, seconds: float | None) -> None:
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with trio.open_nursery() as nursery:
            server = await nursery.start(
                functools.partial(trioproto.serve, registry, port, host="127.0.0.1")
            )
            print(f"serving on ws://127.0.0.1:{server.port}/", flush=True)
            nursery.start_soon(ticker, 1.0)
            with trio.move_on_after(seconds if seconds is not None else float("inf")):
                async for _ in signals:
                    break
            await server.aclose()  # 1001 to every client, then wait for the handlers
            nursery.cancel_scope.cancel()  # stop the ticker
    print("server closed, application exiting", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int, nargs="?", default=8000)
    parser.add_argument("--seconds", type=float, default=None)
    arguments = parser.parse_args()
    trio.run(main, arguments.port, arguments.seconds)
