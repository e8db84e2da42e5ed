"""Which worker of a multi-process server this process is, for the parts that care.

No trio import at run time (the server type it names is for type checking only). The
supervisor gives each worker a :class:`WorkerContext`; the worker sets it
(:data:`current_worker`) before it starts its server, so every task of that server sees it.
Outside a worker (a single-process server, a test) there is none.

An HTTP handler of the app that also has to work while nobody calls it (the metrics endpoint
sharing its figures with the other workers) implements :class:`RunsInWorker`: the worker runs
its :meth:`~RunsInWorker.run_in_worker` next to the server until the server stops.
"""

from __future__ import annotations

import contextvars
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from ._server import WebSocketServer

__all__ = ["RunsInWorker", "WorkerContext", "current_worker"]


@dataclass(frozen=True, slots=True)
class WorkerContext:
    """One worker's place among its siblings.

    Attributes:
        index: the worker's position, 0 to N-1; a restarted worker keeps its position.
        node_id: this process's node id (a new one at each restart).
        shared_directory: a private directory the supervisor made for its workers (and
            removes when it exits), where they leave what the others read.
    """

    index: int
    node_id: str
    shared_directory: str


#: The worker context of the running server's process; ``None`` outside workers.
current_worker: contextvars.ContextVar[WorkerContext | None] = contextvars.ContextVar(
    "trioproto_current_worker", default=None
)


@runtime_checkable
class RunsInWorker(Protocol):
    """An HTTP handler with work of its own in each worker process."""

    async def run_in_worker(self, server: WebSocketServer, worker: WorkerContext) -> None:
        """Run until cancelled (the server stopping), next to ``server``."""
