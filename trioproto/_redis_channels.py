"""The names of the Redis pub/sub channels a backplane uses, under one prefix.

``{prefix}`` is the backplane's ``channel_prefix`` (``trioproto:`` by default), so that
applications sharing one Redis keep apart:

- ``{prefix}topic:{topic}`` carries the PUBLISH envelopes of ``topic``;
- ``{prefix}broadcast`` carries BROADCAST envelopes and ``{prefix}direct`` SEND_TO envelopes
  (every node is always subscribed to both: :attr:`RedisChannels.fixed`).
"""

from __future__ import annotations

from ._backplane import Envelope, Kind

__all__ = ["RedisChannels"]


class RedisChannels:
    """The channel names under one prefix."""

    __slots__ = ("_topic_prefix", "broadcast", "direct")

    def __init__(self, prefix: str) -> None:
        self.broadcast = f"{prefix}broadcast"
        self.direct = f"{prefix}direct"
        self._topic_prefix = f"{prefix}topic:"

    @property
    def fixed(self) -> list[str]:
        """The channels every node subscribes to, whatever its topics."""
        return [self.broadcast, self.direct]

    def topic(self, topic: str) -> str:
        """The channel of ``topic``'s PUBLISH envelopes."""
        return f"{self._topic_prefix}{topic}"

    def for_envelope(self, envelope: Envelope) -> str:
        """The channel ``envelope`` is published to, by its kind and target."""
        if envelope.kind is Kind.PUBLISH:
            return self.topic(envelope.target)
        if envelope.kind is Kind.BROADCAST:
            return self.broadcast
        return self.direct
