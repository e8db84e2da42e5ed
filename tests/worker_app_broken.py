"""An application that imports in the supervisor but fails in every worker process."""

import multiprocessing

import trioproto

if multiprocessing.parent_process() is not None:
    raise RuntimeError("this app refuses to run in a worker")

registry = trioproto.Registry()


@registry.handler(None)
async def never_served(ws: trioproto.WebSocket) -> None:
    await ws.close()  # pragma: no cover - the workers never get this far
