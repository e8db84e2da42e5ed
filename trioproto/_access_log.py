"""The access log: one record per connection when it ends, one per rejected handshake.

Records go to the ``trioproto.access`` logger at INFO, only when the server was started with
``access_log=True`` (``--access-log`` on the command line). Every field is also passed as
``extra=`` so that a JSON formatter finds it as an attribute of the record:

| field | meaning |
|---|---|
| ``connection_id`` | the connection's UUID (as in the ``trioproto`` logger's errors) |
| ``remote`` | the peer's address, as text |
| ``path`` | the request path, without the query |
| ``route`` | the route pattern that matched (``*``: a registry serving every path) |
| ``subprotocol`` | the negotiated subprotocol, or ``None`` |
| ``duration`` | seconds from the 101 response to the end |
| ``messages_in``, ``messages_out`` | whole data messages received and sent |
| ``bytes_in``, ``bytes_out`` | their payload bytes (uncompressed) |
| ``close_sent`` | the close code this side sent (``None``: no close frame, or one without a code) |
| ``close_received`` | the close code the peer sent (``None``: none; a dropped connection |
| | shows ``None`` both ways: 1006 is never sent, RFC 6455 §7.1.5) |
| ``close_initiator`` | who sent the first close frame, starting the closing handshake |
| | (RFC 6455 §7.1.2): ``"server"``, ``"client"``, or ``None`` when the connection was |
| | lost before either did |
| ``status``, ``reason`` | rejected handshakes only: the HTTP status answered and why |
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from ._sansio._http import Request

if TYPE_CHECKING:
    from ._closed import ConnectionClosed
    from ._connection import WebSocket
    from ._exceptions import InvalidHandshake
    from ._sansio._codec import Role

__all__ = ["access_logger", "log_connection", "log_rejection"]

access_logger = logging.getLogger("trioproto.access")


def log_connection(
    websocket: WebSocket, route: str, closed: ConnectionClosed, initiator: Role | None
) -> None:
    """Log the end of ``websocket``, which ``closed`` describes; ``initiator`` is the end that
    sent the first close frame, if either did."""
    statistics = websocket.statistics()
    sent, received = closed.sent, closed.received
    fields = {
        "connection_id": str(websocket.id),
        "remote": _address(websocket.remote),
        "path": websocket.request.path,
        "route": route,
        "subprotocol": websocket.subprotocol,
        "duration": round(max(0.0, time.time() - statistics.opened_at), 6),
        "messages_in": statistics.messages_received,
        "messages_out": statistics.messages_sent,
        "bytes_in": statistics.bytes_received,
        "bytes_out": statistics.bytes_sent,
        "close_sent": sent[0] if sent is not None else None,
        "close_received": received[0] if received is not None else None,
        "close_initiator": initiator.value if initiator is not None else None,
    }
    access_logger.info(
        "%(remote)s %(path)s subprotocol=%(subprotocol)s %(duration).3fs "
        "in=%(messages_in)d/%(bytes_in)dB out=%(messages_out)d/%(bytes_out)dB "
        "close sent=%(close_sent)s received=%(close_received)s by=%(close_initiator)s "
        "id=%(connection_id)s",
        fields,
        extra=fields,
    )


def log_rejection(remote: object, request: Request | None, error: InvalidHandshake) -> None:
    """Log a handshake answered with an HTTP error (``request``: ``None`` if unparsable)."""
    fields = {
        "remote": _address(remote),
        "path": request.target.partition("?")[0] if request is not None else None,
        "status": error.http_status,
        "reason": str(error),
    }
    access_logger.info("%(remote)s %(path)s rejected %(status)d: %(reason)s", fields, extra=fields)


def _address(remote: object) -> str:
    """``host:port`` for an IP peer (``[v6]:port``), the raw value otherwise."""
    if isinstance(remote, tuple) and len(remote) >= 2:
        host, port = remote[0], remote[1]
        return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"
    return str(remote) if remote else "-"
