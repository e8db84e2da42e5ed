"""The write side of one connection: codec frames under the write lock, and the hub's send buffer.

Theory of operation
-------------------
Writes come from the handler (messages), the reader (pongs, the close reply), the keepalive
task (pings) and the hub (messages for many connections). Frames queued in the codec go out
through :meth:`Writer.write`, holding the connection's FIFO
:class:`~trioproto._write_lock.WriteLock`; a writer that holds it keeps writing until the codec
has nothing left, so the reader never blocks behind a slow handler send to queue a pong: it
leaves the pong in the codec when the lock is taken, and the holder writes it. A handler's send
returns once its frame is handed to the stream (the kernel's socket buffer), so a peer that
stops reading pushes the handler back.

Hub messages never wait (:meth:`Writer.deliver`): when the lock is free and nothing is queued,
the shared frame goes out in one non-blocking system call; otherwise it is queued in the
bounded :class:`~trioproto._outbox.Outbox`, which a flusher task (started on first need)
drains holding the lock. Whoever holds the lock first finishes a frame partly on the wire,
then writes pending control frames before any queued data frame. A handler's data send first
writes the hub messages queued before it was called (sequence marks), so the peer sees handler
and hub messages in the order they were issued; the flusher hands the lock to a waiting writer
between frames. No queued message is written inside a fragmented message (RFC 6455 §5.4) nor
after a close frame (RFC 6455 §5.5.1): those are discarded.

Bursts: a handler's answer to one of several queued messages may be held to go out with the
next write (:class:`~trioproto._burst_hold.BurstHold`); every write here takes the held frames
first, so they keep their place.
"""

from __future__ import annotations

from typing import Protocol

import trio

from ._burst_hold import BurstHold
from ._closed import ConnectionClosed
from ._exceptions import LocalProtocolError
from ._inbound import InboundQueue
from ._outbox import BackpressurePolicy, Outbox, Verdict
from ._sansio._codec import Codec, State
from ._write_lock import Ending, WriteLock

__all__ = ["Failer", "Writer", "flush_within"]


class Failer(Protocol):
    """What fails the connection, for the ``close`` backpressure policy."""

    async def fail(self, code: int, reason: str = "") -> None:
        """_Fail the WebSocket Connection_ with ``code`` (RFC 6455 §7.1.7)."""


class Writer:
    """Writes one connection's frames to its stream.

    Args:
        stream: the connection's stream.
        codec: the connection's codec (frames are queued there, then written here).
        nursery: where the flusher, a policy close and held frames run (the connection's).
        outbox: the send buffer for hub messages; ``None`` on client connections.
        inbound: the connection's inbound queue (bursts: see :mod:`trioproto._burst_hold`).
        end: the connection's end: announced once a write fails (see
            :class:`~trioproto._write_lock.WriteLock`); the flusher stops once it has ended.
        failer: its ``fail(code, reason)`` fails the connection (for the ``close`` policy).

    The parts are kept as objects, their methods looked up when called: a bound method kept
    would be one object more per connection.

    Attributes:
        hold: the answers of a burst held for the next write.
        hub_messages: hub messages written or queued.
    """

    __slots__ = (
        "_codec",
        "_end",
        "_failer",
        "_flusher_started",
        "_flusher_wakeup",
        "_inbound",
        "_lock",
        "_nursery",
        "hold",
        "hub_messages",
        "outbox",
    )

    def __init__(
        self,
        stream: trio.abc.Stream,
        codec: Codec,
        *,
        nursery: trio.Nursery,
        outbox: Outbox | None,
        inbound: InboundQueue,
        end: Ending,
        failer: Failer,
    ) -> None:
        self._codec = codec
        self._nursery = nursery
        self.outbox = outbox
        self._inbound = inbound
        self._failer = failer
        self._end = end
        lock = self._lock = WriteLock(stream, codec, end)
        hold = self.hold = BurstHold(
            codec, lock, outbox=outbox, inbound=inbound, nursery=nursery, end=end
        )
        inbound.park_listener = hold
        self._flusher_started = False
        self._flusher_wakeup: trio.Event | None = None
        self.hub_messages = 0

    async def flush(self, only_if_idle: bool = False) -> None:
        """Write what the codec has queued (a pong, a close frame); with ``only_if_idle``, not
        while another task holds the lock (it writes until the codec has nothing left)."""
        if only_if_idle and self._lock.writing:
            return
        await self.write(None)

    def mark(self) -> int:
        """Where a send issued now stands among queued hub messages: it goes after those."""
        return 0 if self.outbox is None else self.outbox.next_seq

    async def write(
        self,
        queue_frame: object,
        *args: object,
        hub_mark: int = 0,
        may_hold: bool = False,
    ) -> None:
        """Run ``queue_frame(*args)`` on the codec (unless None), then write everything the
        codec has queued, holding the FIFO lock. Hub messages queued before ``hub_mark`` are
        written first (a data send passes its :meth:`mark`; control frames pass 0).

        When the calling task has just taken a message from the inbound queue (it has just
        passed a schedule point in ``receive()``), the first chunk goes out without yielding
        again: an echo then costs one trip through the scheduler instead of two. Every write
        is still a cancellation point. With ``may_hold`` (a data message), the frame may be
        held for a later write, in a burst (:mod:`trioproto._burst_hold`).
        """
        just_yielded = self._inbound.claim_just_got()
        in_burst = may_hold and just_yielded and len(self._inbound) > 0
        queued = False
        if in_burst and (hold := self.hold).may_hold():
            await trio.lowlevel.checkpoint_if_cancelled()  # no schedule point: the lock stays free
            self._queue(queue_frame, args)
            if hold.hold():
                return
            queued = True  # too much is held: write it all now
        lock = self._lock
        if lock.writing:
            await lock.wait()
            just_yielded = True
        else:
            lock.writing = True
        try:
            outbox = self.outbox
            if outbox is not None and outbox.pending:
                await self._write_queued(outbox, hub_mark)
            if not queued:
                self._queue(queue_frame, args)
            take_output = self.hold.take_output  # every write takes the held frames first
            while data := take_output():
                await lock.send(data, nowait_first=just_yielded)
                just_yielded = False
        finally:
            lock.release()

    def deliver(self, frame: bytes, policy: BackpressurePolicy | None) -> bool:
        """Take a hub frame without waiting: write it now if the socket is idle, else queue it
        under ``policy`` (the outbox's default if ``None``). Whether it was written or queued."""
        outbox = self.outbox
        codec = self._codec
        if outbox is None or outbox.closed or codec.state is not State.OPEN:
            return False
        lock = self._lock
        send_nowait = lock.send_nowait
        if (
            send_nowait is not None
            and not lock.writing
            and not outbox.pending
            and not codec.has_data_to_send
            and not self.hold.frames
            and not codec.sending_fragments
        ):
            try:
                sent = send_nowait(frame)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                lock.stream_lost()
                return False
            self.hub_messages += 1
            if sent < len(frame):
                outbox.partial = memoryview(frame)[sent:]
                self._wake_flusher()
            return True
        if policy is None:
            policy = outbox.policy
        verdict = outbox.put(frame, policy)
        if verdict is Verdict.QUEUED:
            self.hub_messages += 1
            self._wake_flusher()
            return True
        if verdict is Verdict.CLOSE:
            self._nursery.start_soon(self._failer.fail, policy.close_code, policy.close_reason)
        return False

    def fragmented_message_sent(self) -> None:
        """The final frame of a fragmented message is out: hub messages may follow."""
        if self.outbox is not None and self.outbox.queued:
            self._wake_flusher()

    def discard_queued(self) -> None:
        """A close frame is queued: no hub message may follow it (RFC 6455 §5.5.1), so free
        the send buffer now rather than when the lock comes free."""
        if self.outbox is not None:
            self.outbox.discard()

    def stop(self) -> None:
        """The connection ended: free the send buffer and let the flusher return."""
        self.discard_queued()
        if self._flusher_wakeup is not None:
            self._flusher_wakeup.set()

    # ------------------------------------------------------------- internals

    def _queue(self, queue_frame: object, args: tuple[object, ...]) -> None:
        """Run ``queue_frame(*args)`` on the codec (unless None)."""
        if queue_frame is None:
            return
        try:
            queue_frame(*args)  # type: ignore[operator]
        except LocalProtocolError:
            codec = self._codec
            if codec.state is not State.OPEN:
                raise ConnectionClosed(codec.close_sent, codec.close_received) from None
            raise

    def _wake_flusher(self) -> None:
        if not self._flusher_started:
            self._flusher_started = True
            self._nursery.start_soon(self._flush)
        elif self._flusher_wakeup is not None:
            self._flusher_wakeup.set()

    async def _flush(self) -> None:
        """Write queued hub messages until the connection ends, one frame at a time."""
        outbox = self.outbox
        assert outbox is not None
        codec = self._codec
        lock = self._lock
        end = self._end
        while not end.ended:
            if outbox.partial is None and (not outbox.queued or codec.sending_fragments):
                wakeup = self._flusher_wakeup = trio.Event()
                await wakeup.wait()
                self._flusher_wakeup = None
                continue
            if lock.writing:
                await lock.wait()
            else:
                lock.writing = True
            try:
                await self._write_queued(outbox, None)
            except ConnectionClosed:
                return
            finally:
                lock.release()
            await trio.lowlevel.checkpoint()

    async def _write_queued(self, outbox: Outbox, before: int | None) -> None:
        """Holding the lock: finish a partly written frame, then write control frames and
        queued hub messages (those queued before the mark ``before``; all of them for the
        flusher, which stops early when another writer waits)."""
        codec = self._codec
        lock = self._lock
        hold = self.hold
        while True:
            partial = outbox.take_partial()
            if partial is not None:
                await lock.send(partial)
            if hold.frames or codec.has_data_to_send:  # pong or close: never behind queued data
                await lock.send(hold.take_output())
            if codec.state is not State.OPEN:
                outbox.discard()  # nothing may follow a close frame (RFC 6455 §5.5.1)
                return
            if codec.sending_fragments or (before is None and lock.writers):
                return  # no data frame inside a fragmented message (RFC 6455 §5.4)
            frame = outbox.pop(before)
            if frame is None:
                return
            await lock.send(frame)


async def flush_within(writer: Writer, timeout: float) -> None:
    """Write what the codec of ``writer`` has queued (the close frame we owe), at most
    ``timeout`` seconds; a write that fails or times out ends the connection.

    When the lock is free, nothing is queued before it and the socket takes it all at once
    (the usual case), it goes out in one non-waiting system call, with no cancel scope and no
    schedule point: the caller has just passed one, reading what it answers. Otherwise the
    write waits, bounded by ``timeout``.
    """
    lock = writer._lock
    send_nowait = lock.send_nowait
    outbox = writer.outbox
    if send_nowait is None or lock.writing or (outbox is not None and outbox.pending):
        with trio.move_on_after(timeout):
            await writer.write(None)
        return
    await trio.lowlevel.checkpoint_if_cancelled()
    data = writer.hold.take_output()
    try:
        sent = send_nowait(data)
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        lock.stream_lost()
        codec = writer._codec
        raise ConnectionClosed(codec.close_sent, codec.close_received) from None
    if sent == len(data):
        return
    lock.writing = True
    try:
        with trio.move_on_after(timeout):
            await lock.send(memoryview(data)[sent:])
    finally:
        lock.release()
