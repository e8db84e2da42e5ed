"""Fan-out with trioproto's hub: ``/sub`` subscribes to one topic, what ``/pub`` sends is
published to it. Compression and keepalive off, as for the peers."""

from __future__ import annotations

import functools

import trio

import trioproto
from benchmarks.servers._common import MAX_SIZE, parse_args, ready

registry = trioproto.Registry()


@registry.handler(None)
async def handler(ws: trioproto.WebSocket) -> None:
    assert ws.request is not None
    assert ws.hub is not None
    if ws.request.path == "/pub":
        hub = ws.hub
        async for message in ws.inbound:
            await hub.publish("bench", message)
    else:
        await ws.subscribe("bench")
        async for _ in ws.inbound:
            pass


async def main() -> None:
    args = parse_args()
    async with trio.open_nursery() as nursery:
        await nursery.start(
            functools.partial(
                trioproto.serve,
                registry,
                args.port,
                host="127.0.0.1",
                compression=None,
                limits=trioproto.Limits(max_message_size=MAX_SIZE),
                timeouts=trioproto.Timeouts(ping_interval=None),
            )
        )
        ready(args.port)


trio.run(main)
