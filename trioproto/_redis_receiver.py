"""Envelopes from the subscribed Redis connection to the hub, within a bound, counted.

Theory of operation
-------------------
Two loops, joined by a bounded trio memory channel (``max_pending`` envelopes) that their
caller opens:

- :meth:`RedisReceiver.receive` takes each message of the pubsub. Messages that are not an
  envelope of the compact versioned form of :mod:`trioproto._envelope_codec` (another wire
  version, not an envelope at all) are counted in ``rejected`` (the first one is logged). The
  node's own envelopes are skipped: the hub delivered them locally already. The others go into
  the memory channel; when it is full they are dropped and counted in ``dropped`` (the first
  drop is logged).
- :meth:`RedisReceiver.deliver` takes envelopes out of the memory channel, counts them in
  ``received`` and calls the hub with each; an exception there is logged, not propagated.

coredis buffers what it reads from the socket without a bound (and its reader parses a whole
socket read at once, while consumers take one message per scheduling round), so the receive
loop also watches coredis' backlog: past ``max_pending`` it counts the backlog as dropped and
raises :class:`TooFarBehind`, a ``ConnectionError``: the backplane reconnects, which frees those
buffers, rather than let a slow node grow without limit.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

import trio

from ._backplane import Envelope
from ._envelope_codec import UnsupportedEnvelope, decode_envelope

if TYPE_CHECKING:
    from coredis.patterns.pubsub import PubSub

__all__ = ["RedisReceiver", "TooFarBehind", "coredis_backlog"]

logger = logging.getLogger("trioproto.backplane")


class TooFarBehind(ConnectionError):
    """Raised to drop the subscribed connection (and coredis' unbounded buffers with it)."""


class RedisReceiver:
    """The receive and delivery loops of one backplane, and their counters.

    Args:
        max_pending: the bound of the memory channel between the loops, and of coredis'
            backlog.
    """

    def __init__(self, max_pending: int) -> None:
        self.max_pending = max_pending
        #: Envelopes handed to the hub.
        self.received = 0
        #: Messages that were not envelopes this node can read.
        self.rejected = 0
        #: Envelopes dropped because the hub or this node did not keep up.
        self.dropped = 0

    async def receive(
        self, pubsub: PubSub[bytes], node_id: str, to_deliver: trio.MemorySendChannel[Envelope]
    ) -> None:
        """Move the envelopes of other nodes from ``pubsub`` into ``to_deliver`` (module doc).

        Raises:
            TooFarBehind: coredis holds more than ``max_pending`` messages not taken yet.
        """
        async for message in pubsub:
            backlog = coredis_backlog(pubsub)
            if backlog > self.max_pending:
                self.dropped += backlog
                logger.warning(
                    "%d messages from Redis waiting to be read (limit %d): this node is too "
                    "slow; dropping them and reconnecting",
                    backlog,
                    self.max_pending,
                )
                raise TooFarBehind(f"{backlog} messages behind")
            if message["type"] != "message":
                continue
            data = message["data"]
            try:
                if not isinstance(data, bytes):
                    raise UnsupportedEnvelope(f"not bytes: {type(data).__name__}")
                envelope = decode_envelope(data)
            except UnsupportedEnvelope as exc:
                if self.rejected == 0:
                    logger.warning("ignoring a message on %r: %s", message["channel"], exc)
                self.rejected += 1
                continue
            if envelope.origin == node_id:
                continue  # ours: the hub delivered it locally already
            try:
                to_deliver.send_nowait(envelope)
            except trio.WouldBlock:
                if self.dropped == 0:
                    logger.warning(
                        "the hub is not keeping up with messages from other nodes; dropping "
                        "beyond %d pending (counted in statistics().dropped)",
                        self.max_pending,
                    )
                self.dropped += 1

    async def deliver(
        self, pending: trio.MemoryReceiveChannel[Envelope], deliver: Callable[[Envelope], None]
    ) -> None:
        """Call ``deliver`` with each envelope of ``pending``, one per scheduling round."""
        async for envelope in pending:
            self.received += 1
            try:
                deliver(envelope)
            except Exception:
                logger.exception("delivering an envelope from node %s failed", envelope.origin)
            await trio.lowlevel.checkpoint()


def coredis_backlog(pubsub: PubSub[bytes]) -> int:
    """Messages coredis has read from Redis that this node has not taken yet.

    coredis buffers them without a bound, in two anyio memory streams (the connection's push
    messages, then the pubsub's own). They are private attributes, read here only, through
    ``getattr`` so that a change in coredis turns this guard off rather than breaking.
    """
    total = 0
    owners = ((pubsub, "_receive_stream"), (pubsub.connection, "_push_message_buffer_out"))
    for owner, name in owners:
        statistics = getattr(getattr(owner, name, None), "statistics", None)
        if statistics is not None:
            total += int(statistics().current_buffer_used)
    return total
