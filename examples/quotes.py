"""Quote feeds: the path picks the feed, as in CAF's quote server.

Connect to ``/ws/quotes/{name}`` (for instance ``/ws/quotes/ACME``) and receive a JSON quote for
that symbol every ``interval`` seconds (query parameter, default 1); ``/status`` answers JSON.

    python examples/quotes.py 8000
    python -m trioproto serve examples.quotes:router --port 8000
"""

import json
import random
import sys

import trio

import trioproto

feeds = trioproto.Registry()


@feeds.handler(None)
async def quote_feed(ws: trioproto.WebSocket) -> None:
    assert ws.request is not None
    symbol = ws.request.path_params["name"].upper()
    interval = float(ws.request.query.get("interval", ["1"])[0])
    price = 100.0
    generator = random.Random(symbol)
    async with trio.open_nursery() as nursery:

        async def ignore_input() -> None:
            async for _ in ws.inbound:
                pass
            nursery.cancel_scope.cancel()

        nursery.start_soon(ignore_input)
        while True:
            price = round(max(0.01, price * (1 + generator.gauss(0, 0.01))), 2)
            await ws.outbound.send(json.dumps({"symbol": symbol, "price": price}))
            await trio.sleep(interval)


router = trioproto.Router()
router.websocket("/ws/quotes/{name}", feeds)


@router.get("/status")
async def status(request: trioproto.HttpRequest) -> trioproto.HttpResponse:
    return trioproto.HttpResponse.json({"status": "ok", "feeds": "/ws/quotes/{name}"})


if __name__ == "__main__":
    trioproto.run(router, int(sys.argv[1]) if len(sys.argv) > 1 else 8000)
