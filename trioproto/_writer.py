"""The write side of one connection: one FIFO lock over the stream, and the hub's send buffer.

Theory of operation
-------------------
Writes come from the handler (messages), the reader (pongs, the close reply), the keepalive
task (pings) and the hub (messages for many connections). Frames queued in the codec go out
through :meth:`Writer.write`, holding one FIFO lock; a writer that holds it keeps writing until
the codec has nothing left, so the reader never blocks behind a slow handler send to queue a
pong: it leaves the pong in the codec when the lock is taken, and the holder writes it. A
handler's send returns once its frame is handed to the stream (the kernel's socket buffer), so
a peer that stops reading pushes the handler back.

Hub messages never wait (:meth:`Writer.deliver`): when the lock is free and nothing is queued,
the shared frame goes out in one non-blocking system call; otherwise it is queued in the
bounded :class:`~trioproto._outbox.Outbox`, which a flusher task (started on first need)
drains holding the lock. Whoever holds the lock first finishes a frame partly on the wire,
then writes pending control frames before any queued data frame. A handler's data send first
writes the hub messages queued before it was called (sequence marks), so the peer sees handler
and hub messages in the order they were issued; the flusher hands the lock to a waiting writer
between frames. No queued message is written inside a fragmented message (RFC 6455 §5.4) nor
after a close frame (RFC 6455 §5.5.1): those are discarded.

Bursts: when a handler answers a message while more received messages wait in the inbound
queue, it will be back for the next one at once, so its answer is *held* (no system call) and
goes out with the next write: the send that finds the queue empty writes every held frame with
its own in one system call. Only on the plain socket transport, and while at most
:data:`HOLD_LIMIT` bytes are held. Whoever writes next (a pong, a ping, a close, the hub's
flusher) writes the held frames first, so they keep their place; and no frame is held while a
control frame or a hub message waits (that send writes them all), so none waits behind one.
Two things end a hold without a send: a ``receive()`` about to park on an empty queue writes
the held frames without waiting (:meth:`Writer.flush_held_nowait`; a task writes what the
socket did not take), and the run's :class:`~trioproto._hold_watch.HoldWatch` writes them as
soon as the handler, mid-burst, yields anywhere but at the start of its next ``receive()`` (it
sleeps, waits on something else).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import trio

from ._closed import ConnectionClosed
from ._exceptions import LocalProtocolError
from ._hold_watch import HoldWatch, hold_watch
from ._inbound import InboundQueue
from ._outbox import BackpressurePolicy, Outbox, Verdict
from ._sansio._codec import Codec, State
from ._tls_transport import TLSTransport
from ._transport import SocketTransport

__all__ = ["HOLD_LIMIT", "Writer"]

#: At most this many bytes of a burst's answers are held before they are written (then the
#: send that went over writes them all, and a peer that does not read pushes back as ever).
HOLD_LIMIT = 64 * 1024


class Writer:
    """Writes one connection's frames to its stream.

    Args:
        stream: the connection's stream.
        codec: the connection's codec (frames are queued there, then written here).
        nursery: where the flusher and a policy close run (the connection's nursery).
        outbox: the send buffer for hub messages; ``None`` on client connections.
        inbound: the connection's inbound queue (whether the handler is taking a message).
        lost: called when the stream breaks or a write is cancelled midway (the connection
            is over).
        fail: ``fail(code, reason)`` fails the connection (for the ``close`` policy).
        closed: set once the connection has ended (the flusher then stops).
    """

    __slots__ = (
        "_closed",
        "_codec",
        "_fail",
        "_flusher_started",
        "_flusher_wakeup",
        "_held",
        "_held_size",
        "_inbound",
        "_lost",
        "_nursery",
        "_send_after_yield",
        "_send_nowait",
        "_stream",
        "_watch",
        "_writers",
        "_writing",
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
        lost: Callable[[], None],
        fail: Callable[[int, str], Awaitable[None]],
        closed: trio.Event,
    ) -> None:
        self._stream = stream
        self._codec = codec
        self._nursery = nursery
        self.outbox = outbox
        self._inbound = inbound
        self._lost = lost
        self._fail = fail
        self._closed = closed
        self._writing = False
        # Tasks waiting for the lock; made by the first one (most connections have none).
        self._writers: trio.lowlevel.ParkingLot | None = None
        # The fast paths of our own transports, decided once: a non-waiting write (plain
        # sockets) for hub messages, and a write that skips the second yield after receive().
        self._send_nowait = stream.send_nowait if type(stream) is SocketTransport else None
        self._send_after_yield = (
            stream.send_all_after_yield
            if type(stream) is SocketTransport or type(stream) is TLSTransport
            else None
        )
        self._flusher_started = False
        self._flusher_wakeup: trio.Event | None = None
        # The frames of a burst held for a later write, their size, and the run's watch over
        # them (looked up on the first hold).
        self._held: list[bytes] | None = None
        self._held_size = 0
        self._watch: HoldWatch | None = None
        #: Hub messages written or queued.
        self.hub_messages = 0

    async def flush(self, only_if_idle: bool = False) -> None:
        """Write what the codec has queued (a pong, a close frame); with ``only_if_idle``,
        leave it to the task that holds the lock (it writes until the codec has nothing
        left)."""
        if only_if_idle and self._writing:
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
        is still a cancellation point. With ``may_hold`` (a data message), if more received
        messages are queued, the frame may be held for a later write (see the module
        docstring).
        """
        just_yielded = self._inbound.claim_just_got()
        in_burst = may_hold and just_yielded and len(self._inbound) > 0
        queued = False
        if in_burst and self._may_hold():
            await trio.lowlevel.checkpoint_if_cancelled()  # no schedule point: the lock stays free
            self._queue(queue_frame, args)
            if self._hold():
                return
            queued = True  # too much is held: write it all now
        if self._writing:
            await self._wait_for_lock()
            just_yielded = True
        else:
            self._writing = True
        try:
            outbox = self.outbox
            if outbox is not None and outbox.pending:
                await self._write_queued(outbox, hub_mark)
            if not queued:
                self._queue(queue_frame, args)
            while data := self._take_output():
                await self._send(data, nowait_first=just_yielded)
                just_yielded = False
        finally:
            self._release()

    def deliver(self, frame: bytes, policy: BackpressurePolicy | None) -> bool:
        """Take a hub frame without waiting: write it now if the socket is idle, else queue it
        under ``policy`` (the outbox's default if ``None``). Whether it was written or queued."""
        outbox = self.outbox
        codec = self._codec
        if outbox is None or outbox.closed or codec.state is not State.OPEN:
            return False
        send_nowait = self._send_nowait
        if (
            send_nowait is not None
            and not self._writing
            and not outbox.pending
            and not codec.has_data_to_send
            and not self._held
            and not codec.sending_fragments
        ):
            try:
                sent = send_nowait(frame)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                codec.receive_eof()
                self._lost()
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
            self._nursery.start_soon(self._fail, policy.close_code, policy.close_reason)
        return False

    def flush_held_nowait(self) -> None:
        """Write the held frames without waiting (the handler is about to park in
        ``receive()``): what the socket does not take now, a task of the connection writes,
        holding the lock."""
        send_nowait = self._send_nowait
        if self._writing or not self._held or send_nowait is None:
            return
        data = self._take_output()
        try:
            sent = send_nowait(data)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            self._codec.receive_eof()
            self._lost()
            return
        if sent < len(data):
            self._writing = True  # the lock passes to the task that writes the rest
            self._nursery.start_soon(self._write_rest, memoryview(data)[sent:])

    def check_held(self) -> bool:
        """For the :class:`~trioproto._hold_watch.HoldWatch`, once the handler has yielded:
        keep holding while it is about to take its next queued message, else write the held
        frames now. Whether frames are still held."""
        if self._writing or not self._held or self._closed.is_set():
            return False  # nothing held (a writer took them along), or the end
        if self._inbound.taking:
            return True
        self.flush_held_nowait()
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
        codec = self._codec
        try:
            queue_frame(*args)  # type: ignore[operator]
        except LocalProtocolError:
            if codec.state is not State.OPEN:
                raise ConnectionClosed(codec.close_sent, codec.close_received) from None
            raise

    def _may_hold(self) -> bool:
        """Whether a burst's frame may be held now: the lock is free and nobody waits for it,
        no control frame or hub message waits, and the transport can write held frames
        without waiting."""
        outbox = self.outbox
        codec = self._codec
        return (
            not self._writing
            and self._send_nowait is not None
            and (outbox is None or not outbox.pending)
            and not codec.has_data_to_send
            and not codec.sending_fragments
        )

    def _hold(self) -> bool:
        """Move the frame just queued to the held frames; whether they may stay held (at
        most :data:`HOLD_LIMIT` bytes), and if so have the run's watch look at them."""
        frame = self._codec.data_to_send()
        held = self._held
        if held is None:
            held = self._held = []
        held.append(frame)
        self._held_size += len(frame)
        if self._held_size > HOLD_LIMIT:
            return False
        watch = self._watch
        if watch is None:
            watch = self._watch = hold_watch()
        watch.watch(self)
        return True

    def _take_output(self) -> bytes:
        """Take the held frames, then what the codec has queued, as one chunk."""
        data = self._codec.data_to_send()
        held = self._held
        if not held:
            return data
        self._held = None
        self._held_size = 0
        if data:
            held.append(data)
        return held[0] if len(held) == 1 else b"".join(held)

    async def _write_rest(self, rest: memoryview) -> None:
        """Holding the lock (handed over by :meth:`flush_held_nowait`): write the rest of the
        held frames, then what the codec has queued meanwhile. A failure has ended the
        connection (the handler's next call raises :class:`ConnectionClosed`)."""
        try:
            await self._send(rest)
            while data := self._take_output():
                await self._send(data)
        except ConnectionClosed:
            pass
        finally:
            self._release()

    async def _wait_for_lock(self) -> None:
        """Park until the holder hands the lock over (ownership passes in :meth:`_release`)."""
        writers = self._writers
        if writers is None:
            writers = self._writers = trio.lowlevel.ParkingLot()
        await writers.park()

    def _release(self) -> None:
        if self._writers:
            self._writers.unpark()
        else:
            self._writing = False

    async def _send(self, data: bytes | memoryview, *, nowait_first: bool = False) -> None:
        """Write ``data`` to the stream; a failure ends the connection."""
        codec = self._codec
        send_after_yield = self._send_after_yield
        try:
            if nowait_first and send_after_yield is not None:
                await send_after_yield(data)
            else:
                await self._stream.send_all(data)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            codec.receive_eof()
            self._lost()
            raise ConnectionClosed(codec.close_sent, codec.close_received) from None
        except trio.Cancelled:
            # A frame may be half written: the stream is unusable from here on.
            codec.receive_eof()
            self._lost()
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
        while not self._closed.is_set():
            if outbox.partial is None and (not outbox.queued or codec.sending_fragments):
                wakeup = self._flusher_wakeup = trio.Event()
                await wakeup.wait()
                self._flusher_wakeup = None
                continue
            if self._writing:
                await self._wait_for_lock()
            else:
                self._writing = True
            try:
                await self._write_queued(outbox, None)
            except ConnectionClosed:
                return
            finally:
                self._release()
            await trio.lowlevel.checkpoint()

    async def _write_queued(self, outbox: Outbox, before: int | None) -> None:
        """Holding the lock: finish a partly written frame, then write control frames and
        queued hub messages (those queued before the mark ``before``; all of them for the
        flusher, which stops early when another writer waits)."""
        codec = self._codec
        while True:
            partial = outbox.take_partial()
            if partial is not None:
                await self._send(partial)
            if self._held or codec.has_data_to_send:  # pong or close: never behind queued data
                await self._send(self._take_output())
            if codec.state is not State.OPEN:
                outbox.discard()  # nothing may follow a close frame (RFC 6455 §5.5.1)
                return
            if codec.sending_fragments or (before is None and self._writers):
                return  # no data frame inside a fragmented message (RFC 6455 §5.4)
            frame = outbox.pop(before)
            if frame is None:
                return
            await self._send(frame)
