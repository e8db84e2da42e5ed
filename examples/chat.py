"""Chat rooms on the hub: every message goes to everyone in the room; ``/members`` lists them.

Two subprotocols in one registry, the room picked by the query (``?room=lobby&name=ann``,
default room ``lobby``):

* ``chat``: text messages, published to the topic ``room:<room>``;
* ``chat.members``: a read-only feed of the room's member list (topic ``members:<room>``),
  updated on every join and leave.

Publishing never waits for a slow member: each one has its own bounded send buffer, and a
member that stops reading is disconnected with 1013 instead of stalling the room.

    python examples/chat.py 8000
    python -m trioproto serve examples.chat:registry --port 8000
"""

import json
import sys
from collections import defaultdict

import trio

import trioproto

registry = trioproto.Registry()

#: Who is in each room (plain state shared by the handlers of this process).
members: defaultdict[str, set[str]] = defaultdict(set)


def room_and_name(ws: trioproto.WebSocket) -> tuple[str, str]:
    query = ws.request.query
    return query.get("room", ["lobby"])[0], query.get("name", [str(ws.id)[:8]])[0]


async def announce_members(hub: trioproto.Hub, room: str) -> None:
    await hub.publish(f"members:{room}", json.dumps(sorted(members[room])))


@registry.handler("chat")
async def chat(ws: trioproto.WebSocket) -> None:
    assert ws.hub is not None
    hub = ws.hub
    room, name = room_and_name(ws)
    if name in members[room]:
        await ws.close(1008, f"the name {name[:64]!r} is taken")  # 1008: policy violation
        return
    ws.state["name"] = name  # the connection's own data, for code that only has the ws
    topic = f"room:{room}"
    await ws.subscribe(topic)
    members[room].add(name)
    try:
        await hub.publish(topic, f"* {name} joined")
        await announce_members(hub, room)
        async for message in ws.inbound:
            if message == "/members":
                await ws.send(", ".join(sorted(members[room])))
            else:
                await hub.publish(topic, f"{name}: {message}")
    finally:
        members[room].discard(name)
        with trio.CancelScope(shield=True):  # publishing never waits: no timeout needed
            await ws.unsubscribe(topic)
            await hub.publish(topic, f"* {name} left")
            await announce_members(hub, room)
        if not members[room]:
            del members[room]


@registry.handler("chat.members")
async def member_list(ws: trioproto.WebSocket) -> None:
    room, _name = room_and_name(ws)
    await ws.subscribe(f"members:{room}")
    await ws.send(json.dumps(sorted(members.get(room, ()))))
    async for _ in ws.inbound:
        pass  # read-only feed: ignore what the client sends


if __name__ == "__main__":
    trioproto.run(registry, int(sys.argv[1]) if len(sys.argv) > 1 else 8000)
