"""Run a server as a program: bind, print the URL, stop gracefully on SIGINT/SIGTERM.

This is what ``python -m trioproto serve`` and every example's ``__main__`` use.
"""

from __future__ import annotations

import functools
import signal
import ssl
import sys
from collections.abc import Collection
from typing import TextIO

import trio

from ._config import DEFAULT_LIMITS, DEFAULT_TIMEOUTS, Limits, Timeouts
from ._hub import Hub
from ._options import DEFAULT_COMPRESSION, HandshakeHook
from ._outbox import DEFAULT_POLICY, BackpressurePolicy
from ._sansio._deflate import DeflatePolicy
from ._server import App, WebSocketServer, serve

__all__ = ["run", "serve_until_signal"]


async def serve_until_signal(
    app: App,
    port: int = 0,
    *,
    host: str | None = "127.0.0.1",
    unix_path: str | None = None,
    ssl_context: ssl.SSLContext | None = None,
    limits: Limits = DEFAULT_LIMITS,
    timeouts: Timeouts = DEFAULT_TIMEOUTS,
    compression: DeflatePolicy | None = DEFAULT_COMPRESSION,
    origins: Collection[str | None] | None = None,
    on_handshake: HandshakeHook | None = None,
    hub: Hub | None = None,
    backpressure: BackpressurePolicy | str = DEFAULT_POLICY,
    access_log: bool = False,
    announce: TextIO | None = sys.stdout,
) -> None:
    """Serve until SIGINT or SIGTERM, then close every connection with 1001 and return.

    Prints ``serving on ws://HOST:PORT/`` (or the Unix path) to ``announce`` once listening.
    The other arguments are :func:`trioproto.serve`'s; ``host`` defaults to the loopback
    address here, so a program is not reachable from other machines unless told so.
    """
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with trio.open_nursery() as nursery:
            server: WebSocketServer = await nursery.start(
                lambda task_status: serve(
                    app,
                    port,
                    host=host,
                    unix_path=unix_path,
                    ssl_context=ssl_context,
                    limits=limits,
                    timeouts=timeouts,
                    compression=compression,
                    origins=origins,
                    on_handshake=on_handshake,
                    hub=hub,
                    backpressure=backpressure,
                    access_log=access_log,
                    task_status=task_status,
                )
            )
            if announce is not None:
                print(
                    f"serving on {server_url(server, host, unix_path, ssl_context)}", file=announce
                )
                announce.flush()
            async for _ in signals:
                break
            await server.aclose()


def server_url(
    server: WebSocketServer,
    host: str | None,
    unix_path: str | None,
    ssl_context: ssl.SSLContext | None,
) -> str:
    """The URL a client should use to reach ``server``."""
    scheme = "wss" if ssl_context is not None else "ws"
    if unix_path is not None:
        return f"{scheme}+unix://{unix_path}"
    shown = host or "0.0.0.0"
    if ":" in shown:
        shown = f"[{shown}]"
    return f"{scheme}://{shown}:{server.port}/"


def run(
    app: App,
    port: int = 8000,
    *,
    host: str | None = "127.0.0.1",
    unix_path: str | None = None,
    ssl_context: ssl.SSLContext | None = None,
    limits: Limits = DEFAULT_LIMITS,
    timeouts: Timeouts = DEFAULT_TIMEOUTS,
    compression: DeflatePolicy | None = DEFAULT_COMPRESSION,
    origins: Collection[str | None] | None = None,
    on_handshake: HandshakeHook | None = None,
    hub: Hub | None = None,
    backpressure: BackpressurePolicy | str = DEFAULT_POLICY,
    access_log: bool = False,
    announce: TextIO | None = sys.stdout,
) -> None:
    """Run :func:`serve_until_signal` in a fresh trio event loop (for scripts); the arguments
    are the same."""
    trio.run(
        functools.partial(
            serve_until_signal,
            app,
            port,
            host=host,
            unix_path=unix_path,
            ssl_context=ssl_context,
            limits=limits,
            timeouts=timeouts,
            compression=compression,
            origins=origins,
            on_handshake=on_handshake,
            hub=hub,
            backpressure=backpressure,
            access_log=access_log,
            announce=announce,
        )
    )
