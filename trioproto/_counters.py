"""The running totals a server keeps, read by ``statistics()``, metrics and nobody else.

Layer 0: no trio import. Rules:

* Every update is a plain integer increment made once per connection or handshake, never per
  message: the per-message figures live on each connection (:meth:`WebSocket.statistics`) and
  are folded in here once, when the connection ends. Reading the totals therefore costs
  nothing on the hot path, with metrics on or off.
* Labels are bounded: a connection is counted under its *route pattern* (``/rooms/{name}``,
  never the path itself; ``*`` when one registry serves every path) and its subprotocol
  (``""`` for none). Close codes and HTTP statuses are small integer sets by their RFCs.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._statistics import ConnectionStatistics

__all__ = ["ANY_ROUTE", "ConnectionKey", "ServerCounters"]

#: The route label of connections served by a plain registry (every path).
ANY_ROUTE = "*"

#: ``(route pattern, subprotocol)``: how connections are counted.
ConnectionKey = tuple[str, str]


@dataclass(slots=True)
class ServerCounters:
    """Totals since the server started, updated by the server as connections come and go.

    Attributes:
        connections_opened: connections past the opening handshake, by route and subprotocol.
        connections_open: connections open now, by route and subprotocol.
        handshakes_rejected: handshakes answered with an HTTP error, by status.
        handshakes_failed: connections dropped before a complete handshake (timeout, EOF, TLS).
        handler_errors: handlers that raised (each closed with 1011).
        close_codes_sent: close frames sent, by code (``None``: an empty close frame).
        close_codes_received: close frames received, by code.
        closed_messages_received, closed_messages_sent, closed_bytes_received,
        closed_bytes_sent, closed_hub_messages: the message, payload byte and hub message
            counts of connections already closed (add the open connections' own statistics
            for the whole).
    """

    connections_opened: Counter[ConnectionKey] = field(default_factory=Counter)
    connections_open: Counter[ConnectionKey] = field(default_factory=Counter)
    handshakes_rejected: Counter[int] = field(default_factory=Counter)
    handshakes_failed: int = 0
    handler_errors: int = 0
    close_codes_sent: Counter[int | None] = field(default_factory=Counter)
    close_codes_received: Counter[int] = field(default_factory=Counter)
    closed_messages_received: int = 0
    closed_messages_sent: int = 0
    closed_bytes_received: int = 0
    closed_bytes_sent: int = 0
    closed_hub_messages: int = 0

    def connection_opened(self, key: ConnectionKey) -> None:
        """A handshake succeeded: the connection is open under ``key``."""
        self.connections_opened[key] += 1
        self.connections_open[key] += 1

    def connection_closed(
        self,
        key: ConnectionKey,
        statistics: ConnectionStatistics,
        sent: tuple[int | None, str] | None,
        received: tuple[int, str] | None,
    ) -> None:
        """The connection opened under ``key`` ended with these totals and close frames
        (``(code, reason)`` of the one we sent and of the one received, ``None`` if none)."""
        self.connections_open[key] -= 1
        if not self.connections_open[key]:
            del self.connections_open[key]
        self.closed_messages_received += statistics.messages_received
        self.closed_messages_sent += statistics.messages_sent
        self.closed_bytes_received += statistics.bytes_received
        self.closed_bytes_sent += statistics.bytes_sent
        self.closed_hub_messages += statistics.hub_messages
        if sent is not None:
            self.close_codes_sent[sent[0]] += 1
        if received is not None:
            self.close_codes_received[received[0]] += 1

    @property
    def total_connections(self) -> int:
        """Connections opened so far, whatever their route and subprotocol."""
        return sum(self.connections_opened.values())

    @property
    def rejected_handshakes(self) -> int:
        """Handshakes answered with an HTTP error, whatever the status."""
        return sum(self.handshakes_rejected.values())
