"""Chat room: every message goes to every member; ``/members`` lists who is here.

Two subprotocols in one registry: ``chat`` (text messages, broadcast) and ``chat.members``
(a read-only feed of the member list, updated on every join and leave).

    python examples/chat.py 8000
    python -m trioproto serve examples.chat:registry --port 8000
"""

import contextlib
import json
import sys

import trio

import trioproto

registry = trioproto.Registry()


class Room:
    """Members and their outbound channels; plain Python state shared by the handlers."""

    def __init__(self) -> None:
        self.members: dict[str, trioproto.WebSocket] = {}
        self.watchers: set[trioproto.WebSocket] = set()

    async def broadcast(self, text: str) -> None:
        for member in list(self.members.values()):
            with contextlib.suppress(trioproto.ConnectionClosed):
                await member.outbound.send(text)

    async def announce_members(self) -> None:
        listing = json.dumps(sorted(self.members))
        for watcher in list(self.watchers):
            with contextlib.suppress(trioproto.ConnectionClosed):
                await watcher.outbound.send(listing)


room = Room()


@registry.handler("chat")
async def chat(ws: trioproto.WebSocket) -> None:
    name = ws.request.query.get("name", [str(ws.id)[:8]])[0] if ws.request else str(ws.id)[:8]
    room.members[name] = ws
    try:
        await room.broadcast(f"* {name} joined")
        await room.announce_members()
        async for message in ws.inbound:
            if message == "/members":
                await ws.outbound.send(", ".join(sorted(room.members)))
            else:
                await room.broadcast(f"{name}: {message}")
    finally:
        del room.members[name]
        with trio.CancelScope(shield=True), trio.move_on_after(1):
            await room.broadcast(f"* {name} left")
            await room.announce_members()


@registry.handler("chat.members")
async def members(ws: trioproto.WebSocket) -> None:
    room.watchers.add(ws)
    try:
        await ws.outbound.send(json.dumps(sorted(room.members)))
        async for _ in ws.inbound:
            pass  # read-only feed: ignore what the client sends
    finally:
        room.watchers.discard(ws)


if __name__ == "__main__":
    trioproto.run(registry, int(sys.argv[1]) if len(sys.argv) > 1 else 8000)
