"""Delayed activation: upgrade now, start reading when the application is ready.

The ``feed`` handler is registered with ``activation="delayed"``: it gets the connection right
after the 101 is sent, but no frame is read until it calls ``ws.activate()``. Here it first
registers the connection (a stand-in for loading session state), sends a greeting (sending
before activation is allowed), then activates and echoes. Messages the client sent in the
meantime are not lost: they waited in the socket.

    python examples/delayed.py 8000
    python -m trioproto serve examples.delayed:registry --port 8000
"""

import sys

import trio

import trioproto

registry = trioproto.Registry()
sessions: dict[str, trioproto.WebSocket] = {}


@registry.handler(None, activation="delayed")
async def feed(ws: trioproto.WebSocket) -> None:
    session = str(ws.id)
    await trio.sleep(0.1)  # e.g. load the session from a database
    sessions[session] = ws
    try:
        await ws.outbound.send(f"session {session} ready")
        ws.activate()  # from here on, frames are read
        async for message in ws.inbound:
            await ws.outbound.send(message)
    finally:
        del sessions[session]


if __name__ == "__main__":
    trioproto.run(registry, int(sys.argv[1]) if len(sys.argv) > 1 else 8000)
