"""A handler for the worker tests: first says which process and node it runs in, then echoes."""

import os

import trioproto

registry = trioproto.Registry()


@registry.handler(None)
async def whoami_then_echo(ws: trioproto.WebSocket) -> None:
    await ws.outbound.send(f"{os.getpid()} {os.environ.get('TRIOPROTO_NODE_ID', '')}")
    async for message in ws.inbound:
        await ws.outbound.send(message)


if __name__ == "__main__":
    trioproto.run(registry, 0, workers=2)
