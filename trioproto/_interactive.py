"""``python -m trioproto connect URL``: an interactive client for trying a server by hand.

Each line read from standard input is sent as a text message; each message received is printed
as ``< text`` (binary as ``< [N bytes] hex...``). At end of input the client waits until no
message has arrived for half a second (replies to the last lines, at most 5 s), then closes
normally (1000); the exit status is 0 after a normal close, 1 otherwise.
"""

from __future__ import annotations

import os
import ssl
import sys
from collections.abc import Sequence

import trio

from ._cli_errors import describe
from ._client import open_websocket
from ._closed import ConnectionClosed
from ._connection import WebSocket
from ._exceptions import HandshakeError
from ._options import DEFAULT_COMPRESSION
from ._tls import client_ssl_context

__all__ = ["run_interactive_client"]

#: After end of input: close once no message arrived for this long, or after LINGER_MAX.
LINGER_QUIET = 0.5
LINGER_MAX = 5.0


def run_interactive_client(
    url: str, *, subprotocols: Sequence[str], compression: bool, cafile: str | None = None
) -> int:
    """Run the interactive client until end of input or until the server closes.

    Args:
        url: ``ws://``, ``wss://`` or ``ws+unix://``.
        subprotocols: offered in preference order.
        compression: offer permessage-deflate.
        cafile: a PEM file of CA certificates to trust for ``wss://`` (instead of the
            system's).
    """
    try:
        ssl_context = client_ssl_context(cafile) if cafile is not None else None
    except (OSError, ValueError) as exc:
        print(f"! cannot use --cafile: {describe(exc)}", file=sys.stderr)
        return 1
    try:
        return trio.run(_interact, url, list(subprotocols), compression, ssl_context)
    except HandshakeError as exc:
        print(f"! cannot connect to {url}: {exc}", file=sys.stderr)
        return 1
    except trio.TooSlowError:
        print(f"! cannot connect to {url}: timed out", file=sys.stderr)
        return 1
    except Exception as exc:
        message = describe(exc)
        if message is None:
            raise
        print(f"! cannot connect to {url}: {message}", file=sys.stderr)
        return 1


async def _interact(
    url: str, subprotocols: list[str], compression: bool, ssl_context: ssl.SSLContext | None
) -> int:
    async with open_websocket(
        url,
        subprotocols=subprotocols,
        compression=DEFAULT_COMPRESSION if compression else None,
        ssl_context=ssl_context,
    ) as ws:
        print(
            f"* connected to {url}" + (f" (subprotocol {ws.subprotocol})" if ws.subprotocol else "")
        )
        sys.stdout.flush()
        # Each message received pushes this scope's deadline back: it expires once quiet.
        quiet = trio.CancelScope()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_print_incoming, ws, nursery.cancel_scope, quiet)
            await _send_lines(ws)
            quiet.deadline = trio.current_time() + LINGER_QUIET
            with trio.move_on_after(LINGER_MAX), quiet:
                await trio.sleep_forever()
            await ws.close()
            nursery.cancel_scope.cancel()
    closed = ws.closed
    code = closed.code if closed is not None else 1006
    print(f"* closed: {code} {closed.reason if closed else ''}".rstrip())
    return 0 if code in (1000, 1001) else 1


async def _send_lines(ws: WebSocket) -> None:
    stdin = trio.lowlevel.FdStream(os.dup(sys.stdin.fileno()))
    pending = b""
    async with stdin:
        while True:
            data = await stdin.receive_some()
            if not data:
                break
            pending += data
            *lines, pending = pending.split(b"\n")
            for line in lines:
                try:
                    await ws.send(line.decode("utf-8", "replace").rstrip("\r"))
                except ConnectionClosed:
                    return
    if pending:
        await ws.send(pending.decode("utf-8", "replace"))


async def _print_incoming(ws: WebSocket, scope: trio.CancelScope, quiet: trio.CancelScope) -> None:
    try:
        async for message in ws.inbound:
            quiet.deadline = max(quiet.deadline, trio.current_time() + LINGER_QUIET)
            if isinstance(message, str):
                print(f"< {message}")
            else:
                print(f"< [{len(message)} bytes] {message[:64].hex()}")
            sys.stdout.flush()
    except ConnectionClosed:
        pass
    scope.cancel()  # the server closed: stop reading input
