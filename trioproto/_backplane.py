"""The seam between a Hub and other nodes (processes or machines) holding connections."""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import trio

__all__ = ["Backplane", "BackplaneStatistics", "BackplaneUnavailable", "Envelope", "Kind"]


class Kind(enum.Enum):
    """What an envelope asks the receiving node to do."""

    PUBLISH = "publish"  # deliver to the local subscribers of `target` (a topic)
    BROADCAST = "broadcast"  # deliver to every local connection; `target` is a subprotocol or ""
    SEND_TO = "send_to"  # deliver to the local connection whose id (str(uuid)) is `target`


@dataclass(frozen=True, slots=True)
class Envelope:
    """One hub message travelling between nodes."""

    kind: Kind
    target: str
    payload: bytes
    text: bool  # True: a text message (payload is its UTF-8); False: binary
    origin: str  # the publishing node's id (uuid4 hex); a node ignores its own envelopes


@dataclass(frozen=True, slots=True)
class BackplaneStatistics:
    connected: bool
    published: int  # envelopes handed to the broker
    received: int  # envelopes from other nodes delivered to the hub
    publish_failures: int  # publishes refused because the broker was unreachable
    dropped: int  # incoming envelopes dropped because the node was too slow (bounded buffer)
    outages: int  # times the connection to the broker was lost


class BackplaneUnavailable(Exception):
    """The broker cannot be reached now; the local part of a hub operation still happened."""


class Backplane(Protocol):
    async def run(
        self,
        node_id: str,
        deliver: Callable[[Envelope], None],
        *,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Connect, call task_status.started() once ready (or raise a clear error if the broker
        cannot be reached at start-up), then run until cancelled: receive envelopes from other
        nodes and call deliver(envelope) for each (never for envelopes whose origin is node_id),
        reconnecting and re-subscribing by itself after a broker outage."""

    async def publish(self, envelope: Envelope) -> None:
        """Send one envelope to every other node. Fails fast with BackplaneUnavailable while
        disconnected (never waits for a reconnect)."""

    def subscribe(self, topic: str) -> None:
        """Record interest in `topic` (called by the Hub when its FIRST local subscriber
        appears); the run task applies it now or after reconnecting. Never blocks."""

    def unsubscribe(self, topic: str) -> None:
        """The hub's LAST local subscriber of `topic` left. Never blocks."""

    def statistics(self) -> BackplaneStatistics: ...
