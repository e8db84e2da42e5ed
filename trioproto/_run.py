"""Run a server as a program: bind, print the URL, stop gracefully on SIGINT/SIGTERM.

This is what ``python -m trioproto serve`` and every example's ``__main__`` use. With
``workers=N`` the same server runs in N processes behind one port (see ``_supervisor``).
"""

from __future__ import annotations

import dataclasses
import functools
import os
import signal
import socket
import ssl
import sys
from collections.abc import Awaitable, Callable, Collection
from typing import TextIO

import trio

from ._backplane import BackplaneUnavailable
from ._cli_errors import describe
from ._config import DEFAULT_LIMITS, DEFAULT_TIMEOUTS, Limits, Timeouts
from ._hub import Hub
from ._listeners import DEFAULT_HOST
from ._options import DEFAULT_COMPRESSION, HandshakeHook
from ._outbox import DEFAULT_POLICY, BackpressurePolicy
from ._redis_backplane import RedisBackplane
from ._redis_hub import redis_hub
from ._sansio._deflate import DeflatePolicy
from ._server import App, WebSocketServer, serve
from ._supervisor import Supervisor
from ._url import unix_url
from ._worker import WorkerSpec
from ._worker_sockets import listen_unix, reserve_port

__all__ = ["run", "serve_until_signal"]


async def serve_until_signal(
    app: App,
    port: int = 0,
    *,
    host: str | None = DEFAULT_HOST,
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
    return _url(ssl_context is not None, host, server.port if unix_path is None else 0, unix_path)


def _url(tls: bool, host: str | None, port: int, unix_path: str | None) -> str:
    scheme = "wss" if tls else "ws"
    if unix_path is not None:
        return unix_url(os.path.abspath(unix_path), secure=tls)
    shown = host or "0.0.0.0"
    if ":" in shown:
        shown = f"[{shown}]"
    return f"{scheme}://{shown}:{port}/"


def run(
    app: App,
    port: int = 8000,
    *,
    host: str | None = DEFAULT_HOST,
    unix_path: str | None = None,
    ssl_context: ssl.SSLContext | Callable[[], ssl.SSLContext] | None = None,
    limits: Limits = DEFAULT_LIMITS,
    timeouts: Timeouts = DEFAULT_TIMEOUTS,
    compression: DeflatePolicy | None = DEFAULT_COMPRESSION,
    origins: Collection[str | None] | None = None,
    on_handshake: HandshakeHook | None = None,
    hub: Hub | None = None,
    backpressure: BackpressurePolicy | str = DEFAULT_POLICY,
    access_log: bool = False,
    announce: TextIO | None = sys.stdout,
    workers: int | None = None,
    graceful_timeout: float = 10.0,
    log_level: str | None = None,
    backplane: str | None = None,
) -> None:
    """Serve ``app`` until SIGINT/SIGTERM (for scripts and the command line).

    Without ``workers``, runs :func:`serve_until_signal` in a fresh trio event loop; the
    arguments are the same (``ssl_context`` may also be a function returning the context).

    With ``workers=N``, starts N worker processes (multiprocessing's *spawn* method, so call
    ``run`` under ``if __name__ == "__main__":`` and define ``app`` and its handlers at module
    level), each with its own ``SO_REUSEPORT`` listener on the same port; restarts a worker
    that dies; and on SIGINT/SIGTERM stops them all (clients get 1001), killing a worker still
    running after ``graceful_timeout`` seconds. Port 0 picks one free port for all workers. A
    Unix socket is bound once and shared (one accept queue). For TLS, pass ``ssl_context`` as
    a function that builds the context in each worker, for example
    ``functools.partial(trioproto.server_ssl_context, "cert.pem", "key.pem")``. ``log_level``
    configures logging in each worker (its lines carry ``node=<node id>``).

    ``backplane`` is a Redis URL (``redis://host:6379/0``): the server's hub (each worker's)
    then reaches the connections of every other process and machine using the same Redis,
    through a :class:`~trioproto.RedisBackplane` (``pip install 'trioproto[redis]'``).

    Raises:
        ValueError: ``backplane`` is not a Redis URL, or given together with ``hub``.
        BackplaneUnavailable: Redis at ``backplane`` cannot be reached at start-up.
        TypeError: ``workers`` with an ``ssl.SSLContext`` object or a ``hub`` object (neither
            can cross processes).
        SystemExit: with status 1 when the workers could not start, or one had to be killed
            because it did not stop within ``graceful_timeout`` seconds; and, with one line
            on standard error, for an error of the environment (the port in use, an unknown
            host, a Unix socket path taken) instead of a traceback.
    """
    if workers is None:
        if backplane is not None:
            if hub is not None:
                raise ValueError("give either hub= or backplane=, not both")
            hub = redis_hub(backplane)
        try:
            _run_reporting_backplane_errors(
                functools.partial(
                    serve_until_signal,
                    app,
                    port,
                    host=host,
                    unix_path=unix_path,
                    ssl_context=ssl_context() if callable(ssl_context) else ssl_context,
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
        except Exception as exc:
            _exit_if_environment(exc, unix_path if unix_path is not None else f"{host}:{port}")
            raise
        return
    if hub is not None:
        raise TypeError("with workers, each worker makes its own hub: hub= cannot be passed")
    if backplane is not None:
        RedisBackplane(backplane)  # a bad URL or a missing coredis is reported here, once
    if isinstance(ssl_context, ssl.SSLContext):
        raise TypeError(
            "with workers, pass ssl_context as a function that builds the context in each "
            "worker (an SSLContext cannot be sent to another process)"
        )
    spec = WorkerSpec(
        app,
        host,
        port,
        ssl_factory=ssl_context,
        limits=limits,
        timeouts=timeouts,
        compression=compression,
        origins=origins,
        on_handshake=on_handshake,
        backpressure=backpressure,
        access_log=access_log,
        log_level=log_level,
        backplane=backplane,
    )
    status = _run_workers(spec, unix_path, workers, graceful_timeout, announce)
    if status != 0:
        raise SystemExit(status)


def _exit_if_environment(exc: BaseException, where: str) -> None:
    """End the program with one line if ``exc`` is an error of the environment."""
    message = describe(exc)
    if message is not None:
        raise SystemExit(
            f"error: cannot serve on {where}: {message.removeprefix(where + ': ')}"
        ) from None


def _run_reporting_backplane_errors(main: Callable[[], Awaitable[None]]) -> None:
    """``trio.run(main)``, raising a backplane's start-up failure by itself (not in a group)."""
    try:
        trio.run(main)
    except BaseExceptionGroup as group:
        matched, _rest = group.split(BackplaneUnavailable)
        if matched is None:
            raise
        first: BaseException = matched
        while isinstance(first, BaseExceptionGroup):
            first = first.exceptions[0]
        raise first from None


def _run_workers(
    spec: WorkerSpec,
    unix_path: str | None,
    workers: int,
    graceful_timeout: float,
    announce: TextIO | None,
) -> int:
    """Bind (or reserve) the address once, then let a :class:`Supervisor` run the workers."""
    held: list[socket.socket] = []
    try:
        try:
            if unix_path is not None:
                held = [listen_unix(unix_path, spec.backlog)]
                port = 0
            else:
                port, held = reserve_port(spec.host, spec.port)
        except OSError as exc:
            where = unix_path if unix_path is not None else f"{spec.host or '*'}:{spec.port}"
            print(f"error: cannot listen on {where}: {exc.strerror or exc}", file=sys.stderr)
            return 1
        spec = dataclasses.replace(spec, port=port)
        url = _url(spec.ssl_factory is not None, spec.host, port, unix_path)
        try:
            supervisor = Supervisor(
                spec,
                workers,
                url=url,
                unix_socket=held[0] if unix_path is not None else None,
                graceful_timeout=graceful_timeout,
                announce=announce,
            )
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        return supervisor.run()
    finally:
        for sock in held:
            sock.close()
        if unix_path is not None and held:
            os.unlink(unix_path)
