"""A nursery for a resource's background tasks, as a context manager's building block.

trio wraps an exception leaving a nursery's body in an ExceptionGroup. For a context manager
such as ``open_websocket`` that would turn a user's ``KeyError`` into an ExceptionGroup, which
design rule 10 (docs/topics/design.md) rules out. :func:`open_task_nursery` runs the body,
cancels the background tasks when the body ends, and re-raises the body's exception as itself.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import trio

__all__ = ["open_task_nursery"]


@asynccontextmanager
async def open_task_nursery() -> AsyncIterator[trio.Nursery]:
    """Yield a nursery whose tasks are cancelled when the block ends.

    The block's own exception (cancellation included) propagates unwrapped; the background
    tasks must not raise (they would surface in an ExceptionGroup, as bugs should).
    """
    body_error: BaseException | None = None
    async with trio.open_nursery() as nursery:
        try:
            yield nursery
        except BaseException as exc:
            body_error = exc
        finally:
            nursery.cancel_scope.cancel()
    if body_error is not None:
        raise body_error
