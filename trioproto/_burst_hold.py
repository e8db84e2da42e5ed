"""The answers of a burst, held to go out together: fewer system calls for pipelined messages.

Theory of operation
-------------------
When a handler answers a message while more received messages wait in the inbound queue, it
will be back for the next one at once, so its answer is *held* (no system call) and goes out
with the next write: the send that finds the queue empty writes every held frame with its own,
in one system call. The writer decides when a frame may be held (:meth:`BurstHold.may_hold`):
only on the plain socket transport (held frames must be writable without waiting), only while
the write lock is free, and never while a control frame or a hub message waits (that send
writes them all), so no frame waits behind a held one. At most :data:`HOLD_LIMIT` bytes are
held: the send that goes over writes them all, and a peer that does not read pushes back as
ever.

Whoever writes next (a pong, a ping, a close, the hub's flusher) takes the held frames first
(:meth:`BurstHold.take_output`), so they keep their place. Two things end a hold without a
send: a ``receive()`` about to park on an empty queue writes the held frames without waiting
(:meth:`BurstHold.flush_nowait`; a task of the connection writes, holding the write lock, what
the socket did not take), and the run's :class:`~trioproto._hold_watch.HoldWatch` writes them
as soon as the handler, mid-burst, yields anywhere but at the start of its next ``receive()``
(it sleeps, waits on something else): :meth:`BurstHold.check_held`.
"""

from __future__ import annotations

import trio

from ._closed import ConnectionClosed
from ._hold_watch import HoldWatch, hold_watch
from ._inbound import InboundQueue
from ._outbox import Outbox
from ._sansio._codec import Codec
from ._write_lock import Ending, WriteLock

__all__ = ["HOLD_LIMIT", "BurstHold"]

#: At most this many bytes of a burst's answers are held before they are written (then the
#: send that went over writes them all, and a peer that does not read pushes back as ever).
HOLD_LIMIT = 64 * 1024


class BurstHold:
    """The frames of one connection's burst, held for a later write (see the module docstring).

    Args:
        codec: the connection's codec (frames are queued there).
        lock: the connection's write lock (held frames are written holding it).
        outbox: the send buffer for hub messages, or ``None``: nothing is held while it has
            messages waiting.
        inbound: the connection's inbound queue (whether the handler is taking a message).
        nursery: where the rest of held frames the socket did not take is written.
        end: the connection's end (nothing to write once it has ended).

    Attributes:
        frames: the held frames, oldest first (``None`` or empty when none is held).
        size: their bytes.
    """

    __slots__ = (
        "_codec",
        "_end",
        "_inbound",
        "_lock",
        "_nursery",
        "_outbox",
        "_watch",
        "frames",
        "size",
    )

    def __init__(
        self,
        codec: Codec,
        lock: WriteLock,
        *,
        outbox: Outbox | None,
        inbound: InboundQueue,
        nursery: trio.Nursery,
        end: Ending,
    ) -> None:
        self._codec = codec
        self._lock = lock
        self._outbox = outbox
        self._inbound = inbound
        self._nursery = nursery
        self._end = end
        self.frames: list[bytes] | None = None
        self.size = 0
        self._watch: HoldWatch | None = None  # the run's watch, looked up on the first hold

    def may_hold(self) -> bool:
        """Whether a burst's frame may be held now: the lock is free and nobody waits for it,
        no control frame or hub message waits, and the transport can write held frames
        without waiting."""
        lock = self._lock
        outbox = self._outbox
        codec = self._codec
        return (
            not lock.writing
            and lock.send_nowait is not None
            and (outbox is None or not outbox.pending)
            and not codec.has_data_to_send
            and not codec.sending_fragments
        )

    def hold(self) -> bool:
        """Move the frame just queued in the codec to the held frames; whether they may stay
        held (at most :data:`HOLD_LIMIT` bytes), and if so have the run's watch look at them."""
        frame = self._codec.data_to_send()
        frames = self.frames
        if frames is None:
            frames = self.frames = []
        frames.append(frame)
        self.size += len(frame)
        if self.size > HOLD_LIMIT:
            return False
        watch = self._watch
        if watch is None:
            watch = self._watch = hold_watch()
        watch.watch(self)
        return True

    def take_output(self) -> bytes:
        """Take the held frames, then what the codec has queued, as one chunk (what a writer
        holding the lock writes next)."""
        data = self._codec.data_to_send()
        frames = self.frames
        if not frames:
            return data
        self.frames = None
        self.size = 0
        if data:
            frames.append(data)
        return frames[0] if len(frames) == 1 else b"".join(frames)

    def flush_nowait(self) -> None:
        """Write the held frames without waiting (the handler is about to park in
        ``receive()``): what the socket does not take now, a task of the connection writes,
        holding the lock."""
        if not self.frames:
            return
        lock = self._lock
        send_nowait = lock.send_nowait
        if lock.writing or send_nowait is None:
            return
        data = self.take_output()
        try:
            sent = send_nowait(data)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            lock.stream_lost()
            return
        if sent < len(data):
            lock.writing = True  # the lock passes to the task that writes the rest
            self._nursery.start_soon(self._write_rest, memoryview(data)[sent:])

    def check_held(self) -> bool:
        """For the :class:`~trioproto._hold_watch.HoldWatch`, once the handler has yielded:
        keep holding while it is about to take its next queued message, else write the held
        frames now. Whether frames are still held."""
        if self._lock.writing or not self.frames or self._end.ended:
            return False  # nothing held (a writer took them along), or the end
        if self._inbound.taking:
            return True
        self.flush_nowait()
        return False

    async def _write_rest(self, rest: memoryview) -> None:
        """Holding the lock (handed over by :meth:`flush_nowait`): write the rest of the held
        frames, then what the codec has queued meanwhile. A failure has ended the connection
        (the handler's next call raises :class:`~trioproto.ConnectionClosed`)."""
        lock = self._lock
        try:
            await lock.send(rest)
            while data := self.take_output():
                await lock.send(data)
        except ConnectionClosed:
            pass
        finally:
            lock.release()
