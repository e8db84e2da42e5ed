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
        # None while no ping waits (an idle connection's usual state): no empty dict held.
        self._pending: dict[bytes, _PendingPing] | None = None

    def expect(self, payload: bytes) -> tuple[_PendingPing, bool]:
        """The waiter for ``payload``'s pong, and whether the ping still has to be sent (a
        ping with the same payload may be under way already)."""
        waiting = self._pending
        if waiting is None:
            waiting = self._pending = {}
        pending = waiting.get(payload)
        if pending is not None:
            return pending, False
        pending = waiting[payload] = _PendingPing()
        return pending, True

    @staticmethod
    async def wait(pending: _PendingPing) -> bool:
        """Wait for the pong; return whether it came (``False``: the connection ended)."""
        await pending.event.wait()
        return pending.acknowledged

    def acknowledge(self, payload: bytes) -> None:
        """A pong with ``payload`` arrived."""
        waiting = self._pending
        if waiting is None or payload not in waiting:
            return
        while waiting:
            key = next(iter(waiting))
            pending = waiting.pop(key)
            pending.acknowledged = True
            pending.event.set()
            if key == payload:
                break
        if not waiting:
            self._pending = None

    def release_all(self) -> None:
        """The connection ended: wake every waiter, unacknowledged."""
        waiting, self._pending = self._pending, None
        if waiting is not None:
            for pending in waiting.values():
                pending.event.set()
