"""One connection to Redis/Valkey through ``coredis``, and what counts as losing it.

A connection is a coredis client (to publish) and a pubsub of that client, subscribed to a
given list of channels. Neither retries by itself (``NoRetryPolicy``): the backplane reconnects
on its own, so that it knows whether it is connected. Before coredis connects, a plain socket
probes Redis: while Redis is down that fails fast with ``OSError``, before coredis allocates a
connection it would not clean up.

``coredis`` is an optional dependency (``pip install 'trioproto[redis]'``): this module imports
it only when asked to (:func:`import_coredis`, :func:`open_connection`, :func:`lost_connection`),
never at import time.
"""

from __future__ import annotations

import importlib
import urllib.parse
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from types import ModuleType
from typing import TYPE_CHECKING

import trio

if TYPE_CHECKING:
    import coredis
    from coredis.patterns.pubsub import PubSub

__all__ = ["import_coredis", "lost_connection", "open_connection"]


def import_coredis() -> ModuleType:
    """The ``coredis`` module.

    Raises:
        ModuleNotFoundError: ``coredis`` is not installed (says which extra installs it).
    """
    try:
        return importlib.import_module("coredis")
    except ImportError:
        raise ModuleNotFoundError(
            "RedisBackplane needs coredis: pip install 'trioproto[redis]'"
        ) from None


@asynccontextmanager
async def open_connection(
    url: str, *, connect_timeout: float, channels: Sequence[str]
) -> AsyncIterator[tuple[coredis.Redis[bytes], PubSub[bytes]]]:
    """Probe Redis at ``url``, then connect a client and its pubsub subscribed to ``channels``.

    Subscribe confirmations are not reported by the pubsub (``ignore_subscribe_messages``).
    Both are closed when the block ends.

    Raises:
        Exception: what coredis or the probe raise; :func:`lost_connection` tells whether it
            means Redis cannot be reached or the connection failed.
    """
    await _probe(url, connect_timeout)
    retry = importlib.import_module("coredis.retry")
    client = import_coredis().Redis.from_url(
        url, retry_policy=retry.NoRetryPolicy(), connect_timeout=connect_timeout
    )
    async with client:
        await client.ping()
        pubsub = client.pubsub(
            channels=list(channels),
            ignore_subscribe_messages=True,
            retry_policy=retry.NoRetryPolicy(),
        )
        async with pubsub:
            yield client, pubsub


async def _probe(url: str, connect_timeout: float) -> None:
    """Open and close a plain connection to Redis (see the module doc)."""
    parts = urllib.parse.urlsplit(url)
    with trio.fail_after(connect_timeout):
        if parts.scheme == "unix":
            stream: trio.abc.Stream = await trio.open_unix_socket(parts.path)
        else:
            stream = await trio.open_tcp_stream(parts.hostname or "", parts.port or 6379)
    await stream.aclose()


def lost_connection(exc: BaseException) -> bool:
    """Whether ``exc`` (or every exception in its group: coredis runs task groups) says
    the connection to Redis failed, was refused or timed out."""
    if isinstance(exc, BaseExceptionGroup):
        return all(lost_connection(inner) for inner in exc.exceptions)
    errors = importlib.import_module("coredis.exceptions")
    anyio = importlib.import_module("anyio")
    return isinstance(
        exc,
        errors.ConnectionError
        | anyio.ClosedResourceError
        | anyio.BrokenResourceError
        | TimeoutError
        | trio.TooSlowError
        | OSError,
    )
