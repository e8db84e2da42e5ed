"""The public hub: :class:`~trioproto._hub_core.BaseHub` for server connections."""

from __future__ import annotations

from ._connection import WebSocket
from ._hub_core import BaseHub

__all__ = ["Hub"]


class Hub(BaseHub[WebSocket]):
    """Fan-out to the connections of one or more servers: topics, broadcast, send-to-one.

    ``serve()`` makes one when not given ``hub=``; pass your own to share it between servers
    or to publish from tasks that have no connection at hand. See
    :class:`~trioproto._hub_core.BaseHub` for the methods and :mod:`trioproto._hub_core` for
    how delivery works.

    Args:
        backplane: carries messages to other nodes (a :class:`~trioproto.Backplane`);
            ``None`` keeps the hub in this process.
        node_id: this node's id among the nodes of a backplane; a new uuid4 hex if ``None``.
    """
