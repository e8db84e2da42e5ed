"""The hub that ``--backplane redis://...`` (``run(..., backplane=URL)``) gives a server."""

from __future__ import annotations

from ._hub import Hub
from ._redis_backplane import RedisBackplane

__all__ = ["redis_hub"]


def redis_hub(url: str, node_id: str | None = None) -> Hub:
    """A :class:`~trioproto.Hub` connected to other nodes through Redis at ``url``.

    ``node_id`` (a worker's id) becomes the hub's, so that logs, server statistics and the
    envelopes' origin all name the same node.

    Raises:
        ValueError: ``url`` is not a Redis URL.
        ModuleNotFoundError: coredis is missing (``pip install 'trioproto[redis]'``).
    """
    return Hub(backplane=RedisBackplane(url), node_id=node_id)
