"""The inbound queue: received messages waiting for the handler, with backpressure.

One per connection, shared by the reader task (which :meth:`InboundQueue.put` s messages) and
the handler's tasks (which :meth:`InboundQueue.get` them), in the manner of trio's
``MemoryChannelState`` and websockets' ``Assembler``:

* **Bounded.** When ``max_queued`` messages wait, ``put`` parks the reader until a ``get`` makes
  room: nothing more is read from the socket, pings included, so TCP pushes back on the peer and
  memory stays bounded.
* **Parking.** A ``get`` on an empty queue parks until a message arrives or the queue is
  finished; a message arriving while a task is parked is taken at once.
* **Catch-up before a failure.** :meth:`InboundQueue.wait_caught_up` lets the reader wait, before
  failing the connection for the peer's violation, until the handler asks for the message after
  the ones already queued (RFC 6455 §7.1.7 allows answering them first).
* **Bursts.** :attr:`InboundQueue.taking` tells whether a getter has found a message and takes it
  once scheduled, and the ``park_listener`` is told when a getter is about to wait on the empty
  queue (parked or pulling): the answers of a burst of messages are held until then (see
  ``trioproto._burst_hold``).
* **The end.** :meth:`InboundQueue.finish` says no message will follow: every waiter wakes, and
  once the queue is drained ``get`` raises the exception the connection's end calls for.
* **Pull mode.** While the connection's reader has lent its reading duty (see
  :mod:`trioproto._pull`), a ``get`` on the empty queue reads the socket itself through
  :meth:`Puller.pull`, one such task at a time; other getters park as before.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Protocol

import trio

__all__ = ["InboundQueue", "ParkListener", "Puller"]


class ParkListener(Protocol):
    """Told when a getter is about to wait on the empty queue (the burst hold)."""

    def flush_nowait(self) -> None:
        """A getter is about to wait, parked or pulling."""


class Puller(Protocol):
    """Pull-mode reading, as :meth:`InboundQueue.get` uses it."""

    #: The reading duty is lent to getters.
    lent: bool
    #: A getter is reading.
    pulling: bool

    async def pull(self) -> str | bytes | None:
        """Read until a message arrives and return it, or ``None`` once the duty is back with
        the reader task."""


class InboundQueue:
    """Messages received and not yet taken.

    Args:
        max_queued: how many messages may wait before :meth:`put` pushes back.
        end_error: builds the exception :meth:`get` raises once the queue is finished and
            drained (:class:`trio.EndOfChannel` after a normal close, else
            :class:`~trioproto.ConnectionClosed`).
    """

    __slots__ = (
        "_caught_up",
        "_end_error",
        "_finished",
        "_getters",
        "_just_got",
        "_max_queued",
        "_messages",
        "_room",
        "park_listener",
        "puller",
        "taking",
    )

    def __init__(self, max_queued: int, end_error: Callable[[], BaseException]) -> None:
        self._max_queued = max_queued
        self._end_error = end_error
        # Made by the first put(): an idle connection holds no deque (about 600 bytes).
        self._messages: deque[str | bytes] | None = None
        # Made by the first get() that parks: an idle connection's receiver pulls instead.
        self._getters: trio.lowlevel.ParkingLot | None = None
        self._room: trio.Event | None = None  # set when the reader may put again
        self._caught_up: trio.Event | None = None  # set when a getter finds the queue empty
        self._finished = False
        #: The task that took the last message, until the writer claims it (see
        #: :meth:`claim_just_got`).
        self._just_got: trio.lowlevel.Task | None = None
        #: Pull-mode reading, once it exists: getters pull through it.
        self.puller: Puller | None = None
        #: A get() found a message and takes it once scheduled (it is at its checkpoint).
        self.taking = False
        #: Its ``flush_nowait()`` is called when a get() is about to wait on the empty queue,
        #: parked or pulling (the burst hold's write of held frames). An object, not a bound
        #: method: one object less per connection.
        self.park_listener: ParkListener | None = None

    def __len__(self) -> int:
        return 0 if self._messages is None else len(self._messages)

    # ------------------------------------------------------------ handler side

    async def get(self, iterating: bool = False) -> str | bytes:
        """Wait for the next message.

        Cancelling it is safe: no message is lost, a later ``get()`` takes it.

        Raises:
            BaseException: what ``end_error`` builds, once finished and drained; but
                :class:`StopAsyncIteration` for an ``end_error`` of :class:`trio.EndOfChannel`
                when ``iterating`` (the channel's ``__anext__``).
        """
        if self._messages:
            self.taking = True
            try:
                await trio.lowlevel.checkpoint()
            finally:
                self.taking = False
        # Parking and pulling are checkpoints too, so a message that arrives meanwhile is taken
        # at once.
        yielded = False
        while not (messages := self._messages):
            if self._finished:
                if not yielded:
                    await trio.lowlevel.checkpoint()
                error = self._end_error()
                if iterating and isinstance(error, trio.EndOfChannel):
                    raise StopAsyncIteration
                raise error
            if self._caught_up is not None:
                self._caught_up.set()
            if self.park_listener is not None:
                self.park_listener.flush_nowait()
            puller = self.puller
            if puller is not None and puller.lent and not puller.pulling:
                pulled = await puller.pull()
                if pulled is not None:
                    self._just_got = trio.lowlevel.current_task()
                    return pulled
                yielded = True
                continue
            getters = self._getters
            if getters is None:
                getters = self._getters = trio.lowlevel.ParkingLot()
            await getters.park()
            yielded = True
        message = messages.popleft()
        room = self._room
        if room is not None and len(messages) < self._max_queued:
            self._room = None
            room.set()
        self._just_got = trio.lowlevel.current_task()
        return message

    def mark_just_yielded(self) -> None:
        """The current task has just passed a schedule point in :meth:`get` (it pulled): its
        next write need not yield again (see :meth:`claim_just_got`)."""
        self._just_got = trio.lowlevel.current_task()

    def claim_just_got(self) -> bool:
        """Whether the current task took a message last and has not written since: it has just
        passed a schedule point, so its first write need not yield again."""
        just_got = self._just_got is trio.lowlevel.current_task()
        self._just_got = None
        return just_got

    # ------------------------------------------------------------- reader side

    @property
    def receiver_waiting(self) -> bool:
        """Whether a getter is parked on the empty queue."""
        return not self._messages and bool(self._getters)

    def wake_receiver(self) -> None:
        """Wake one parked getter, so it looks again (it may pull now)."""
        if self._getters is not None:
            self._getters.unpark()

    @property
    def has_room(self) -> bool:
        """Whether one more message leaves the queue short of full (a :meth:`put` of it would
        not push back)."""
        return len(self) + 1 < self._max_queued

    def put_nowait(self, message: str | bytes) -> None:
        """Queue ``message`` without waiting: for a getter that pulled several messages at
        once, while :attr:`has_room` says so."""
        messages = self._messages
        if messages is None:
            messages = self._messages = deque()
        messages.append(message)
        if self._getters is not None:
            self._getters.unpark()

    async def put(self, message: str | bytes, *, push_back: bool = True) -> None:
        """Queue ``message``; with ``push_back``, wait while the queue is full."""
        self.put_nowait(message)
        if push_back and len(self) >= self._max_queued:
            room = self._room = trio.Event()
            await room.wait()

    async def wait_caught_up(self, timeout: float) -> None:
        """Wait (at most ``timeout`` seconds) until a getter finds the queue empty, or the
        queue stops; return at once when a getter is already waiting on an empty queue."""
        if not self._messages and self._getters:
            return
        caught_up = self._caught_up = trio.Event()
        with trio.move_on_after(timeout):
            await caught_up.wait()
        self._caught_up = None

    def stop(self) -> None:
        """No more messages will be put (the closing handshake started): release the reader
        and wake every waiter so each can look again."""
        if self._getters is not None:
            self._getters.unpark_all()
        if self._caught_up is not None:
            self._caught_up.set()
        room = self._room
        if room is not None:
            self._room = None
            room.set()

    def finish(self) -> None:
        """The connection ended: :meth:`get` raises the end once the queue is drained."""
        self._finished = True
        self.stop()
