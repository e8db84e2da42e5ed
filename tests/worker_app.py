"""A handler for the worker and backplane tests.

It first says which process, node and connection it is (``PID NODE_ID CONNECTION_ID``), then
answers commands: ``sub TOPIC``, ``pub TOPIC TEXT``, ``all TEXT`` (broadcast), ``to ID TEXT``
(send_to), each acknowledged with ``ok``; anything else is echoed.
"""

import os

import trioproto

registry = trioproto.Registry()


@registry.handler(None)
async def hub_commands(ws: trioproto.WebSocket) -> None:
    node_id = os.environ.get("TRIOPROTO_NODE_ID", "-")
    await ws.outbound.send(f"{os.getpid()} {node_id} {ws.id}")
    async for message in ws.inbound:
        command, _, rest = message.partition(" ") if isinstance(message, str) else ("", "", "")
        hub = ws.hub
        if command == "sub":
            await ws.subscribe(rest)
        elif command == "pub" and hub is not None:
            topic, _, text = rest.partition(" ")
            await hub.publish(topic, text)
        elif command == "all" and hub is not None:
            await hub.broadcast(rest)
        elif command == "to" and hub is not None:
            target, _, text = rest.partition(" ")
            await hub.send_to(target, text)
        else:
            await ws.outbound.send(message)
            continue
        await ws.outbound.send("ok")


if __name__ == "__main__":
    trioproto.run(registry, 0, workers=2)
