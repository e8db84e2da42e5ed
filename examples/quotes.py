"""Quote feeds on the hub: one feed task per symbol, however many clients watch it.

Connect to ``/ws/quotes/{symbol}`` (for instance ``/ws/quotes/ACME``): the handler subscribes
to the topic ``quotes:ACME`` and the first subscriber starts the symbol's feed task, which
computes one price per tick and publishes it as JSON, for 1 client or 10,000; the feed stops
when its last subscriber leaves. Slow clients keep only the newest quotes (``drop_oldest``):
an old price is worth less than the current one. ``/status`` answers JSON.

    python examples/quotes.py 8000 --interval 0.5

The feed tasks live in this program's own nursery, next to the server (see ``main``), so this
example runs as a script rather than through ``python -m trioproto serve``.
"""

import argparse
import functools
import json
import random
import signal

import trio

import trioproto


class Feeds:
    """One feed task per watched symbol, started on demand in the nursery of :meth:`run`."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.ticks: dict[str, int] = {}
        self._hub: trioproto.Hub | None = None
        self._nursery: trio.Nursery | None = None

    async def run(self, hub: trioproto.Hub, *, task_status: trio.TaskStatus[None]) -> None:
        """Hold the feed tasks until cancelled."""
        try:
            async with trio.open_nursery() as nursery:
                self._hub, self._nursery = hub, nursery
                task_status.started()
                await trio.sleep_forever()
        finally:
            self._hub = self._nursery = None

    @property
    def running(self) -> bool:
        """Whether :meth:`run` is running (the feed tasks have a nursery)."""
        return self._nursery is not None

    def watch(self, symbol: str) -> None:
        """Make sure ``symbol`` has its feed task (call after subscribing to its topic)."""
        if self._nursery is None:
            raise RuntimeError("the feeds are not running")
        if symbol not in self.ticks:
            self.ticks[symbol] = 0
            self._nursery.start_soon(self._feed, symbol)

    async def _feed(self, symbol: str) -> None:
        assert self._hub is not None
        topic = f"quotes:{symbol}"
        generator = random.Random(symbol)
        price = 100.0
        try:
            while self._hub.subscribers(topic):
                price = round(max(0.01, price * (1 + generator.gauss(0, 0.01))), 2)
                self.ticks[symbol] += 1
                quote = {"symbol": symbol, "price": price, "tick": self.ticks[symbol]}
                await self._hub.publish(topic, json.dumps(quote))
                await trio.sleep(self.interval)
        finally:
            del self.ticks[symbol]


feeds = Feeds(interval=1.0)
quote_registry = trioproto.Registry()


@quote_registry.handler(None)
async def quote_feed(ws: trioproto.WebSocket) -> None:
    symbol = ws.request.path_params["symbol"].upper()
    if not feeds.running:  # served by `python -m trioproto serve`: nothing publishes
        await ws.close(1011, "no quote feeds here: run examples/quotes.py")
        return
    await ws.subscribe(f"quotes:{symbol}", policy="drop_oldest")
    feeds.watch(symbol)
    async for _ in ws.inbound:
        pass  # read-only feed: ignore what the client sends


router = trioproto.Router()
router.websocket("/ws/quotes/{symbol}", quote_registry)


@router.get("/status")
async def status(request: trioproto.HttpRequest) -> trioproto.HttpResponse:
    return trioproto.HttpResponse.json({"status": "ok", "feeds": sorted(feeds.ticks)})


async def serve_quotes(
    port: int, *, task_status: trio.TaskStatus[trioproto.WebSocketServer]
) -> None:
    """The feeds and the server, sharing one hub, until cancelled."""
    hub = trioproto.Hub()
    async with trio.open_nursery() as nursery:
        await nursery.start(feeds.run, hub)
        server = await nursery.start(
            functools.partial(trioproto.serve, router, port, host="127.0.0.1", hub=hub)
        )
        task_status.started(server)


async def main(port: int) -> None:
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with trio.open_nursery() as nursery:
            server = await nursery.start(serve_quotes, port)
            print(f"serving on ws://127.0.0.1:{server.port}/", flush=True)
            async for _ in signals:
                break
            await server.aclose()  # 1001 to every client, then wait for the handlers
            nursery.cancel_scope.cancel()  # stop the feeds


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int, nargs="?", default=8000)
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between ticks")
    arguments = parser.parse_args()
    feeds.interval = arguments.interval
    trio.run(main, arguments.port)
