"""The handler's view of a connection: trio channels of messages, and a stream view.

:class:`MessageReceiveChannel` and :class:`MessageSendChannel` are real
:class:`trio.abc.ReceiveChannel` / :class:`trio.abc.SendChannel` objects, so code written for
trio memory channels works unchanged; the two halves can be owned by different tasks. Closing
either half closes the whole connection (normal closure, 1000), as CAF's pull/push pair does.

End-of-stream semantics, following trio's channel contract:

* the peer closed normally (1000, 1001, or no code): ``receive()`` raises
  :class:`trio.EndOfChannel` once the queued messages are drained, so ``async for`` just ends;
* the connection broke or was failed: :class:`trioproto.ConnectionClosed` (a
  :class:`trio.BrokenResourceError`);
* this side closed the channel: :class:`trio.ClosedResourceError`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Protocol

import trio

from ._inbound import InboundQueue

__all__ = ["Connection", "MessageReceiveChannel", "MessageSendChannel", "WebSocketStream"]


class Connection(Protocol):
    """The connection the receive channel closes (kept as an object, its method looked up
    when called: a bound method kept would be one object more per connection)."""

    async def close(self) -> None:
        """Close the connection (1000)."""


class MessageReceiveChannel(trio.abc.ReceiveChannel[str | bytes]):
    """Received messages, unmasked and reassembled: ``str`` for text, ``bytes`` for binary.

    Args:
        queue: the connection's inbound queue.
        connection: closed (1000) by :meth:`aclose`.
    """

    __slots__ = ("_closed", "_connection", "_queue")

    def __init__(self, queue: InboundQueue, connection: Connection) -> None:
        self._queue = queue
        self._connection = connection
        self._closed = False

    def receive(self) -> Coroutine[Any, Any, str | bytes]:
        """Wait for the next message (``await`` it, as any channel's ``receive()``).

        Cancelling it is safe: no message is lost, a later ``receive()`` gets it.

        Raises:
            trio.EndOfChannel: the peer closed the connection normally (RFC 6455 §7.4.1).
            ConnectionClosed: the connection ended abnormally or with an error code.
            trio.ClosedResourceError: this channel was closed on this side.
        """
        # The queue's own coroutine, not one wrapped around it: a handler waits here for most
        # of an idle connection's life, and every frame of the wait is memory per connection.
        if self._closed:
            return _raise_closed()
        return self._queue.get()

    def __anext__(self) -> Coroutine[Any, Any, str | bytes]:
        """The next message for ``async for``, which ends once the peer closed normally.

        The queue's own coroutine, as :meth:`receive`'s: trio's ``__anext__`` would add a frame
        around it (memory held per idle connection) only to turn :class:`trio.EndOfChannel`
        into :class:`StopAsyncIteration`, which the queue raises itself here.
        """
        if self._closed:
            return _raise_closed()
        return self._queue.get(iterating=True)

    async def aclose(self) -> None:
        """Close this channel and, with it, the connection (close code 1000)."""
        self._closed = True
        await self._connection.close()


async def _raise_closed() -> str | bytes:
    await trio.lowlevel.checkpoint()
    raise trio.ClosedResourceError("the inbound channel was closed")


class MessageSendChannel(trio.abc.SendChannel[str | bytes]):
    """Messages to send: ``str`` goes out as a text message, bytes-like as binary.

    Args:
        send_message: sends one message on the connection.
        close_connection: closes the connection (1000), for :meth:`aclose`.
    """

    __slots__ = ("_close_connection", "_closed", "_send_message")

    def __init__(
        self,
        send_message: Callable[[str | bytes], Awaitable[None]],
        close_connection: Callable[[], Awaitable[None]],
    ) -> None:
        self._send_message = send_message
        self._close_connection = close_connection
        self._closed = False

    async def send(self, value: str | bytes) -> None:
        """Send one message; returns once its frame is handed to the transport (or held for
        the next write, mid-burst: see :meth:`WebSocket.send`).

        Raises:
            ConnectionClosed: the connection is closing or closed.
            trio.ClosedResourceError: this channel was closed on this side.
        """
        if self._closed:
            await trio.lowlevel.checkpoint()
            raise trio.ClosedResourceError("the outbound channel was closed")
        await self._send_message(value)

    async def aclose(self) -> None:
        """Close this channel and, with it, the connection (close code 1000)."""
        self._closed = True
        await self._close_connection()


class WebSocketStream(trio.abc.Stream):
    """A byte stream over binary messages, for protocols written against trio streams.

    It keeps :class:`trio.abc.Stream`'s contract (checked with
    :func:`trio.testing.check_two_way_stream`). It is not half-closeable: a WebSocket cannot
    close one direction alone, so there is no ``send_eof``.

    * ``send_all`` sends one binary message (``b""`` too: an empty message adds no bytes);
    * ``receive_some`` returns bytes of received messages (text messages as their UTF-8 bytes),
      and ``b""`` once the peer closed normally;
    * ``aclose`` closes the connection (1000); then this stream raises
      :class:`trio.ClosedResourceError`, and the peer's stream sees the end of file.

    Args:
        inbound: the connection's received messages.
        send_message: sends one binary message on the connection.
        close_connection: closes the connection (1000).
        abort_connection: drops the connection at once, for an ``aclose`` that is cancelled.
    """

    def __init__(
        self,
        inbound: trio.abc.ReceiveChannel[str | bytes],
        send_message: Callable[[bytes], Awaitable[None]],
        close_connection: Callable[[], Awaitable[None]],
        abort_connection: Callable[[], Awaitable[None]],
    ) -> None:
        self._inbound = inbound
        self._send_message = send_message
        self._close_connection = close_connection
        self._abort_connection = abort_connection
        self._pending = memoryview(b"")
        self._sending = False
        self._receiving = False
        self._closed = False

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        """Send ``data`` as one binary message.

        Raises:
            trio.BusyResourceError: another task is in ``send_all`` on this stream.
            trio.ClosedResourceError: this stream was closed.
            ConnectionClosed: the connection is closed.
        """
        if self._sending:
            raise trio.BusyResourceError("another task is sending on this stream")
        self._check_open()
        self._sending = True
        try:
            await self._send_message(bytes(data))
        except trio.BrokenResourceError:
            self._check_open()  # closed under us: say so, not "broken"
            raise
        finally:
            self._sending = False

    async def wait_send_all_might_not_block(self) -> None:
        """Return at once: sends block only while the transport pushes back.

        Raises:
            trio.ClosedResourceError: this stream was closed.
        """
        self._check_open()
        await trio.lowlevel.checkpoint()

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        """Return up to ``max_bytes`` received bytes, or ``b""`` after a normal close.

        Raises:
            ValueError: ``max_bytes`` is less than 1.
            TypeError: ``max_bytes`` is not an integer.
            trio.BusyResourceError: another task is in ``receive_some`` on this stream.
            trio.ClosedResourceError: this stream was closed.
            ConnectionClosed: the connection ended abnormally.
        """
        if max_bytes is not None:
            if not isinstance(max_bytes, int):
                raise TypeError(f"max_bytes must be an integer or None, not {max_bytes!r}")
            if max_bytes < 1:
                raise ValueError("max_bytes must be at least 1")
        if self._receiving:
            raise trio.BusyResourceError("another task is receiving on this stream")
        self._check_open()
        self._receiving = True
        try:
            while not self._pending:
                try:
                    message = await self._inbound.receive()
                except trio.EndOfChannel:
                    self._check_open()
                    return b""
                except trio.BrokenResourceError:
                    self._check_open()
                    raise
                self._pending = memoryview(
                    message.encode("utf-8") if isinstance(message, str) else message
                )
            if max_bytes is None or max_bytes >= len(self._pending):
                chunk, self._pending = self._pending, memoryview(b"")
            else:
                chunk, self._pending = self._pending[:max_bytes], self._pending[max_bytes:]
            await trio.lowlevel.checkpoint()
            return bytes(chunk)
        finally:
            self._receiving = False

    async def aclose(self) -> None:
        """Close the connection (close code 1000); idempotent. If cancelled, the connection
        is dropped instead, as trio's ``aclose`` contract requires."""
        self._closed = True
        try:
            await self._close_connection()
        except BaseException:
            await self._abort_connection()
            raise

    def _check_open(self) -> None:
        if self._closed:
            raise trio.ClosedResourceError("the stream was closed")
