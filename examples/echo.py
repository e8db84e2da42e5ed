"""Echo server: every message comes back unchanged.

Serves the ``echo`` subprotocol and clients that offer none. This is the target for conformance
(Autobahn) and benchmark runs.

Run it as a script::

    python examples/echo.py 8000

or through the command line, from the repository root::

    python -m trioproto serve examples.echo:registry --port 8000
"""

import sys

import trioproto

registry = trioproto.Registry()


@registry.handler("echo")
@registry.handler(None)
async def echo(ws: trioproto.WebSocket) -> None:
    async for message in ws.inbound:
        await ws.outbound.send(message)


if __name__ == "__main__":
    trioproto.run(registry, int(sys.argv[1]) if len(sys.argv) > 1 else 8000)
