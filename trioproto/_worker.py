"""One worker process of a multi-process server: its own listeners, its own trio loop.

The supervisor (:mod:`trioproto._supervisor`) starts :func:`worker_main` in a fresh interpreter
(multiprocessing's *spawn* method: nothing forks inside a running trio loop). The worker binds
its own ``SO_REUSEPORT`` sockets (or serves the Unix socket the supervisor bound and passed
down), tells the supervisor it is listening over a pipe, and serves until SIGTERM, when it
closes every connection with 1001 (going away) as a single-process server does.

The worker's :class:`~trioproto._worker_context.WorkerContext` is set for the server's tasks,
and every HTTP handler of the app that :class:`~trioproto._worker_context.RunsInWorker` runs
next to the server (the metrics endpoint shares its figures with the other workers so).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import pickle
import signal
import socket
import ssl
import sys
from collections.abc import AsyncIterator, Callable, Collection
from dataclasses import dataclass
from multiprocessing.connection import Connection

import trio

from ._config import DEFAULT_LIMITS, DEFAULT_TIMEOUTS, Limits, Timeouts
from ._hub import Hub
from ._options import DEFAULT_COMPRESSION, HandshakeHook
from ._outbox import DEFAULT_POLICY, BackpressurePolicy
from ._redis_hub import redis_hub
from ._routing import Router
from ._sansio._deflate import DeflatePolicy
from ._server import App, WebSocketServer, serve
from ._worker_context import RunsInWorker, WorkerContext, current_worker
from ._worker_sockets import listen_reuse_port, to_trio_listeners

__all__ = ["NODE_ID_ENVIRONMENT_VARIABLE", "WorkerSpec", "worker_main"]

#: Set in each worker's environment to its node id, for applications that want to show it.
NODE_ID_ENVIRONMENT_VARIABLE = "TRIOPROTO_NODE_ID"

#: What a worker sends up the pipe once its listeners accept connections.
LISTENING = "listening"
#: Prefix of the one-line message a worker sends when it cannot start.
FAILED = "failed"

logger = logging.getLogger("trioproto.worker")


@dataclass(frozen=True, slots=True)
class WorkerSpec:
    """Everything a worker needs to serve; sent to the spawned process (so it must pickle).

    Each worker binds ``host``/``port`` itself unless the supervisor hands it a Unix socket.
    ``ssl_factory`` builds the TLS context inside the worker (an ``SSLContext`` cannot cross
    processes). ``backplane``: a Redis URL; each worker's hub then reaches the other workers'
    (and other machines') connections through it.
    """

    app: App
    host: str | None
    port: int
    ssl_factory: Callable[[], ssl.SSLContext] | None = None
    limits: Limits = DEFAULT_LIMITS
    timeouts: Timeouts = DEFAULT_TIMEOUTS
    compression: DeflatePolicy | None = DEFAULT_COMPRESSION
    origins: Collection[str | None] | None = None
    on_handshake: HandshakeHook | None = None
    backpressure: BackpressurePolicy | str = DEFAULT_POLICY
    access_log: bool = False
    backlog: int | None = None
    log_level: str | None = None
    backplane: str | None = None


def worker_main(
    pickled_spec: bytes,
    unix_socket: socket.socket | None,
    worker: WorkerContext,
    pipe: Connection,
) -> None:
    """The worker process's entry point: serve until SIGTERM; exit 1 if it cannot start.

    ``pickled_spec`` is a pickled :class:`WorkerSpec`, unpickled here so that an application
    failing to import in the worker is reported in one line, not a traceback. ``unix_socket``
    is the listening Unix socket the supervisor bound (shared by every worker: one accept
    queue), or ``None`` for TCP. ``worker`` says which worker this is.
    """
    node_id = worker.node_id
    # Ctrl-C reaches the whole process group; the supervisor turns it into one SIGTERM each.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Only the SIGTERM received while serving stops the worker (gracefully); a second one (a
    # service manager signalling the whole group *and* the supervisor forwarding) must not
    # kill it mid-close or during interpreter shutdown, so outside the serving loop SIGTERM is
    # ignored at the kernel level. The supervisor kills a worker that is not listening yet.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    os.environ[NODE_ID_ENVIRONMENT_VARIABLE] = node_id
    _tag_log_records(node_id)
    try:
        spec: WorkerSpec = pickle.loads(pickled_spec)
        if spec.log_level is not None:
            logging.basicConfig(
                level=spec.log_level.upper(),
                format="%(asctime)s %(levelname)s node=%(node_id)s %(name)s: %(message)s",
            )
        current_worker.set(worker)  # trio.run copies this context into every task
        trio.run(_serve_worker, spec, unix_socket, worker, pipe)
    except Exception as exc:
        pipe.send(f"{FAILED}: {_one_line(exc)}")
        sys.exit(1)


async def _serve_worker(
    spec: WorkerSpec, unix_socket: socket.socket | None, worker: WorkerContext, pipe: Connection
) -> None:
    node_id = worker.node_id
    if unix_socket is not None:
        sockets = [unix_socket]
    else:
        sockets = listen_reuse_port(spec.host, spec.port, spec.backlog)
    ssl_context = spec.ssl_factory() if spec.ssl_factory is not None else None
    hub = redis_hub(spec.backplane, node_id) if spec.backplane else Hub(node_id=node_id)
    with trio.open_signal_receiver(signal.SIGTERM) as signals:
        async with trio.open_nursery() as nursery:
            server: WebSocketServer = await nursery.start(
                lambda task_status: serve(
                    spec.app,
                    ssl_context=ssl_context,
                    limits=spec.limits,
                    timeouts=spec.timeouts,
                    compression=spec.compression,
                    origins=spec.origins,
                    on_handshake=spec.on_handshake,
                    backpressure=spec.backpressure,
                    access_log=spec.access_log,
                    listeners=to_trio_listeners(sockets),
                    hub=hub,
                    task_status=task_status,
                )
            )
            for handler in _running_in_worker(spec.app):
                nursery.start_soon(handler.run_in_worker, server, worker)
            logger.info("worker %d listening", os.getpid())
            pipe.send(LISTENING)
            stop = trio.Event()
            nursery.start_soon(_set_on_signal, signals, stop)
            nursery.start_soon(_set_when_supervisor_dies, stop)
            await stop.wait()
            logger.info("stopping: closing %d connections", len(server.connections))
            await server.aclose()
            nursery.cancel_scope.cancel()
        logger.info("stopped")


def _running_in_worker(app: App) -> list[RunsInWorker]:
    """The HTTP handlers of ``app`` with work of their own in each worker."""
    if not isinstance(app, Router):
        return []
    handlers: list[object] = list(app.http_handlers())
    return [handler for handler in handlers if isinstance(handler, RunsInWorker)]


async def _set_on_signal(signals: AsyncIterator[int], stop: trio.Event) -> None:
    async for _ in signals:
        stop.set()
        return


async def _set_when_supervisor_dies(stop: trio.Event) -> None:
    """A supervisor killed with SIGKILL cannot stop its workers: they stop by themselves (the
    parent's sentinel becomes readable when it exits), rather than serve on as orphans."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return
    await trio.lowlevel.wait_readable(parent.sentinel)
    logger.warning("the supervisor exited; stopping")
    stop.set()


def _tag_log_records(node_id: str) -> None:
    """Give every log record of this process a ``node_id`` attribute (usable in formats)."""
    make_record = logging.getLogRecordFactory()

    def tagged(*args: object, **kwargs: object) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        record.node_id = node_id
        return record

    logging.setLogRecordFactory(tagged)


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        return _one_line(exc.exceptions[0])
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text if isinstance(exc, OSError) else f"{type(exc).__name__}: {text}"
