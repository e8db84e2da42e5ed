"""HTTP and WebSocket on one port: a ``/status`` JSON route beside ``/ws/{room}`` rooms.

python examples/http_and_ws.py 8000
python -m trioproto serve examples.http_and_ws:router --port 8000

curl http://127.0.0.1:8000/status
python -m trioproto connect ws://127.0.0.1:8000/ws/lobby
"""

import contextlib
import sys
import time

import trioproto

rooms = trioproto.Registry()
members: dict[str, set[trioproto.WebSocket]] = {}
started = time.time()


@rooms.handler(None)
async def room(ws: trioproto.WebSocket) -> None:
    name = ws.request.path_params["room"]
    people = members.setdefault(name, set())
    people.add(ws)
    try:
        await ws.send(f"welcome to {name}")
        async for message in ws.inbound:
            for member in list(people):
                if member is not ws:
                    # A member leaving mid-broadcast is that member's end, not this one's.
                    with contextlib.suppress(trioproto.ConnectionClosed):
                        await member.send(message)
    finally:
        people.discard(ws)


router = trioproto.Router()
router.websocket("/ws/{room}", rooms)


@router.get("/status")
async def status(request: trioproto.HttpRequest) -> trioproto.HttpResponse:
    return trioproto.HttpResponse.json(
        {
            "uptime": round(time.time() - started, 3),
            "rooms": {name: len(people) for name, people in members.items()},
        }
    )


@router.get("/")
async def index(request: trioproto.HttpRequest) -> trioproto.HttpResponse:
    return trioproto.HttpResponse.text("WebSocket rooms at /ws/{room}; status at /status\n")


if __name__ == "__main__":
    trioproto.run(router, int(sys.argv[1]) if len(sys.argv) > 1 else 8000)
