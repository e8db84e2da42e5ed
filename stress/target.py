"""The server the scenarios attack: trioproto in a process of its own, so that its memory
(RSS, read from ``/proc``) and its shutdown are its own.

Run as ``python -m stress.target [--no-compression] [--handshake-timeout S] [--close-timeout S]``.
It prints ``serving on ws://127.0.0.1:PORT/`` once listening and stops gracefully on SIGTERM
(``trioproto.serve_until_signal``), like ``examples/echo.py``.

Handlers, chosen by subprotocol:

* none or ``echo``: every message comes back unchanged (the echo example's handler);
* ``fail``: echoes, but raises on a text message starting with ``fail`` (the server must close
  that connection with 1011 and keep serving the others);
* ``count``: echoes, and when the connection ends prints ``echoed CLIENT N`` on standard output,
  N being the number of echoes whose ``send`` returned, CLIENT the ``client`` query parameter:
  the shutdown scenario's accounting.

Warnings and errors are logged to standard error, where the harness counts internal errors.
"""

from __future__ import annotations

import argparse
import logging
import sys

import trio

import trioproto

from .common import raise_descriptor_limit

registry = trioproto.Registry()


class HandlerFailure(Exception):
    """The failure the ``fail`` handler raises on purpose."""


@registry.handler("echo")
@registry.handler(None)
async def echo(ws: trioproto.WebSocket) -> None:
    async for message in ws.inbound:
        await ws.outbound.send(message)


@registry.handler("fail")
async def echo_or_fail(ws: trioproto.WebSocket) -> None:
    async for message in ws.inbound:
        if isinstance(message, str) and message.startswith("fail"):
            raise HandlerFailure(f"asked to fail by {message!r}")
        await ws.outbound.send(message)


@registry.handler("count")
async def echo_and_count(ws: trioproto.WebSocket) -> None:
    client = ws.request.query.get("client", ["?"])[0]
    echoed = 0
    try:
        async for message in ws.inbound:
            await ws.outbound.send(message)
            echoed += 1
    finally:
        print(f"echoed {client} {echoed}", flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m stress.target", description=__doc__)
    parser.add_argument("--no-compression", action="store_true", help="refuse permessage-deflate")
    parser.add_argument("--handshake-timeout", type=float, default=10.0)
    parser.add_argument("--close-timeout", type=float, default=10.0)
    args = parser.parse_args(argv)
    raise_descriptor_limit()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    timeouts = trioproto.Timeouts(handshake=args.handshake_timeout, close=args.close_timeout)
    compression = None if args.no_compression else trioproto.DeflatePolicy()
    trio.run(
        lambda: trioproto.serve_until_signal(
            registry, 0, timeouts=timeouts, compression=compression
        )
    )


if __name__ == "__main__":
    main()
