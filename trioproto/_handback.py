"""Gives the reading duty back to a connection's reader task once its receivers have left.

In pull mode (see :mod:`trioproto._reader`) a task waiting in ``receive()`` reads the socket
itself, and the connection's reader task does not exist. When that task leaves ``receive()``
(with a message, or cancelled) somebody must read again if it does not come back: a ping must be
answered, a close frame read, while the handler does something else. Waking the reader task at
every return would cost one more task step per message, the very cost pull mode removes.

So the return only *notes* the connection here, and one watcher task per trio run looks at every
noted connection once the scheduler has run the tasks that were runnable: by then each receiver
has either come back into ``receive()`` (the common case: nothing to do) or is waiting
elsewhere, and then the reader task starts again. One step of the watcher serves every
connection noted in the same pass, and no timer delays anything: the check happens within two
passes of the scheduler after the receiver has yielded.
"""

from __future__ import annotations

from typing import Protocol

import trio

__all__ = ["Reclaimable", "note_receiver_left"]


class Reclaimable(Protocol):
    """A connection's reading duty, as the watcher sees it."""

    @property
    def unattended(self) -> bool:
        """Whether the duty is lent and no task is reading."""

    def reclaim_if_unattended(self) -> None:
        """Start the reader task again if the duty is lent and no task is reading."""


class _Watcher:
    """The one watcher of a trio run (a system task)."""

    __slots__ = ("_noted", "_wakeup")

    def __init__(self) -> None:
        self._noted: list[Reclaimable] = []
        self._wakeup = trio.lowlevel.ParkingLot()

    def note(self, duty: Reclaimable) -> None:
        noted = self._noted
        if not noted:  # the first of this pass: the watcher is parked (or not yet started)
            self._wakeup.unpark()
        noted.append(duty)

    async def run(self) -> None:
        second_looks: list[Reclaimable] = []
        while True:
            if second_looks:
                await trio.lowlevel.cancel_shielded_checkpoint()
            elif not self._noted:
                await self._wakeup.park()
            # trio runs each batch of runnable tasks in random order, so a receiver that was
            # runnable when it was noted may not have run yet: an unattended duty is looked at
            # once more, a pass later, before the reader task starts again.
            noted, self._noted = self._noted, []
            looks, second_looks = second_looks, [duty for duty in noted if duty.unattended]
            for duty in looks:
                duty.reclaim_if_unattended()


_WATCHER: trio.lowlevel.RunVar[_Watcher] = trio.lowlevel.RunVar("trioproto_handback")


def note_receiver_left(duty: Reclaimable) -> None:
    """Have ``duty`` checked once the tasks runnable now have run (see the module docstring)."""
    try:
        watcher = _WATCHER.get()
    except LookupError:
        watcher = _Watcher()
        _WATCHER.set(watcher)
        trio.lowlevel.spawn_system_task(watcher.run, name="trioproto reading hand-back")
    watcher.note(duty)
