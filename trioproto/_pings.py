"""Pings sent and not yet answered (RFC 6455 §5.5.2, §5.5.3)."""

from __future__ import annotations

import trio

__all__ = ["PingTracker"]


class _PendingPing:
    __slots__ = ("acknowledged", "event")

    def __init__(self) -> None:
        self.event = trio.Event()
        self.acknowledged = False


class PingTracker:
    """The pings of one connection waiting for their pong.

    A pong acknowledges its ping and every earlier one (RFC 6455 §5.5.3 allows answering only
    the most recent ping); an unsolicited pong is ignored. When the connection ends, every
    waiter wakes unacknowledged.
    """

    __slots__ = ("_pending",)

    def __init__(self) -> None:
        self._pending: dict[bytes, _PendingPing] = {}

    def expect(self, payload: bytes) -> tuple[_PendingPing, bool]:
        """The waiter for ``payload``'s pong, and whether the ping still has to be sent (a
        ping with the same payload may be under way already)."""
        pending = self._pending.get(payload)
        if pending is not None:
            return pending, False
        pending = self._pending[payload] = _PendingPing()
        return pending, True

    @staticmethod
    async def wait(pending: _PendingPing) -> bool:
        """Wait for the pong; return whether it came (``False``: the connection ended)."""
        await pending.event.wait()
        return pending.acknowledged

    def acknowledge(self, payload: bytes) -> None:
        """A pong with ``payload`` arrived."""
        if payload not in self._pending:
            return
        while self._pending:
            key = next(iter(self._pending))
            pending = self._pending.pop(key)
            pending.acknowledged = True
            pending.event.set()
            if key == payload:
                break

    def release_all(self) -> None:
        """The connection ended: wake every waiter, unacknowledged."""
        for pending in self._pending.values():
            pending.event.set()
        self._pending.clear()
