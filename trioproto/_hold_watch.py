"""The watch over held frames: one task per trio run, for every connection of it.

A connection holds the answers of a burst (see ``trioproto._burst_hold``) as long as its
handler goes straight back to ``receive()`` for the next queued message. If the handler yields
anywhere else mid-burst (it sleeps, waits on another channel), the held frames must go out then,
not when it comes back. Only another task can notice that, and only after the handler's task has
yielded: this one. It runs once per scheduler batch while some connection holds frames (trio
runs every runnable task once per batch, so the handlers have yielded since its last look), and
asks each hold to check itself (:meth:`HeldFrames.check_held`); then it parks until the next
hold. One task for all connections, not one per connection: the check costs a task step, which
would cost as much as the system calls a hold saves if every connection paid it per message.
"""

from __future__ import annotations

from typing import Protocol

import trio

__all__ = ["HeldFrames", "HoldWatch", "hold_watch"]


class HeldFrames(Protocol):
    """A connection's hold of a burst's answers (:class:`~trioproto._burst_hold.BurstHold`)."""

    def check_held(self) -> bool:
        """Write the held frames unless the handler is about to take its next message;
        whether to look again in the next batch."""
        ...


class HoldWatch:
    """Looks at every hold that held frames, once per scheduler batch, until none does."""

    __slots__ = ("_holds", "_started", "_wakeup")

    def __init__(self) -> None:
        self._holds: set[HeldFrames] = set()
        self._wakeup = trio.lowlevel.ParkingLot()
        self._started = False

    def watch(self, hold: HeldFrames) -> None:
        """``hold`` has just held a frame: look at it in the next batch."""
        if not self._started:
            self._started = True
            trio.lowlevel.spawn_system_task(self._run, name="trioproto hold watch")
        if not self._holds:
            self._wakeup.unpark()
        self._holds.add(hold)

    async def _run(self) -> None:
        holds = self._holds
        while True:
            if not holds:
                await self._wakeup.park()
            # Runnable again means the handlers that held frames have yielded since.
            for hold in list(holds):
                if not hold.check_held():
                    holds.discard(hold)
            if holds:
                await trio.lowlevel.checkpoint()


_WATCH: trio.lowlevel.RunVar[HoldWatch] = trio.lowlevel.RunVar("trioproto_hold_watch")


def hold_watch() -> HoldWatch:
    """The current trio run's :class:`HoldWatch` (made on first use)."""
    try:
        return _WATCH.get()
    except LookupError:
        watch = HoldWatch()
        _WATCH.set(watch)
        return watch
