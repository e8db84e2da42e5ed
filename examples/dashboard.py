"""A live dashboard: a page on ``/`` draws this server's figures, pushed over ``/live``.

python examples/dashboard.py 8000
python -m trioproto serve examples.dashboard:router --port 8000

Open http://127.0.0.1:8000/ in a browser, then make some traffic on the echo endpoint:
python -m trioproto connect ws://127.0.0.1:8000/echo

The page (``dashboard.html``, next to this file) is plain HTML, CSS and JavaScript drawing on a
canvas: no build step, nothing fetched from elsewhere.
"""

import json
import sys
import time
from pathlib import Path

import trio

import trioproto

#: Seconds between two figures pushed to each open page.
INTERVAL = 0.5
PAGE = (Path(__file__).parent / "dashboard.html").read_text(encoding="utf-8")

live = trioproto.Registry()
echo = trioproto.Registry()


@live.handler(None)
async def push_figures(ws: trioproto.WebSocket) -> None:
    """Send the server's statistics every INTERVAL seconds until the page goes away."""
    server = trioproto.current_server()
    while True:
        statistics = server.statistics()
        figures = {
            "time": time.time(),
            "open_connections": statistics.open_connections,
            "total_connections": statistics.total_connections,
            "messages_received": statistics.messages_received,
            "messages_sent": statistics.messages_sent,
            "bytes_received": statistics.bytes_received,
            "bytes_sent": statistics.bytes_sent,
            "handler_errors": statistics.handler_errors,
        }
        await ws.send(json.dumps(figures))
        await trio.sleep(INTERVAL)


@echo.handler(None)
async def echo_back(ws: trioproto.WebSocket) -> None:
    async for message in ws.inbound:
        await ws.send(message)


router = trioproto.Router()
router.websocket("/live", live)
router.websocket("/echo", echo)


@router.get("/")
async def page(request: trioproto.HttpRequest) -> trioproto.HttpResponse:
    return trioproto.HttpResponse.html(PAGE)


if __name__ == "__main__":
    trioproto.run(router, int(sys.argv[1]) if len(sys.argv) > 1 else 8000)
