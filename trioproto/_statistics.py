"""What :meth:`WebSocket.statistics() <trioproto.WebSocket.statistics>` returns: the counters
and state of one connection, as a plain value (no trio)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ConnectionStatistics"]


@dataclass(frozen=True, slots=True)
class ConnectionStatistics:
    """Counters of one connection, as returned by :meth:`WebSocket.statistics`.

    Attributes:
        messages_received: whole data messages received.
        messages_sent: whole data messages sent.
        bytes_received: payload bytes of received messages (after decompression).
        bytes_sent: payload bytes of sent messages (before compression).
        opened_at: when the connection opened, as a ``time.time()`` timestamp.
        queued_messages: received messages waiting for the handler.
        state: ``"open"``, ``"closing"``, ``"failing"`` (the peer violated the protocol; the
            messages before it are still being answered) or ``"closed"``.
        hub_messages: hub messages written or queued for this connection.
        send_buffer_bytes: bytes of hub messages queued, not yet written.
        messages_dropped: hub messages dropped by a drop policy.
        closed_by_backpressure: whether the ``close`` policy ended the connection.
    """

    messages_received: int
    messages_sent: int
    bytes_received: int
    bytes_sent: int
    opened_at: float
    queued_messages: int
    state: str
    hub_messages: int = 0
    send_buffer_bytes: int = 0
    messages_dropped: int = 0
    closed_by_backpressure: bool = False
