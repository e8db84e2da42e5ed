"""Accepting from a listening socket in batches: no schedule point per connection.

trio's ``SocketType.accept()`` passes a schedule point after every connection it accepts, and
when none is waiting it raises and catches ``BlockingIOError`` before it waits. Under a burst
of connections that was a scheduler step and ~500 bytecodes per connection (measured on
handshakes, 64 clients at a time: 0.7 steps per connection). :class:`BatchAcceptor` takes
what the listen backlog holds with one system call each, and yields once per batch: when the
backlog is empty (the wait for readability is the schedule point), and after
:data:`BATCH` connections in a row, so that a flood of connections does not keep the other
tasks from running (asyncio's accept loop takes at most its backlog argument per pass, for the
same reason).

It accepts through a second Python socket object on the listener's file descriptor
(``socket.socket(fileno=...)``); trio's socket keeps owning the descriptor. The second object
never closes it: :meth:`BatchAcceptor.close` detaches it, and before every ``accept()`` the
listener's own socket is checked (a closed trio socket's ``fileno()`` is -1), so no system call
reaches a descriptor number that may belong to something else by then. A listener closed while
the acceptor waits wakes it with :class:`trio.ClosedResourceError` (trio's ``notify_closing``
goes by descriptor).

Network errors of a connection still in the backlog are passed on by Linux's ``accept()``
(accept(2), "Error handling"): for those the acceptor goes on to the next connection, as
trio's ``SocketListener`` does.
"""

from __future__ import annotations

import errno
import socket as stdlib_socket

import trio

__all__ = ["BATCH", "BatchAcceptor"]

#: Connections accepted in a row before a schedule point.
BATCH = 64

#: accept() errors that belong to the connection being accepted, not to the listener: the
#: ones trio's SocketListener skips (accept(2): retry as for EAGAIN).
_CONNECTION_ERRNOS = frozenset(
    getattr(errno, name)
    for name in (
        "ECONNABORTED",
        "EPROTO",
        "ENETDOWN",
        "ENOPROTOOPT",
        "EHOSTDOWN",
        "ENONET",
        "EHOSTUNREACH",
        "EOPNOTSUPP",
        "ENETUNREACH",
    )
    if hasattr(errno, name)
)


class BatchAcceptor:
    """Accepts connections from a listening trio socket (see the module docstring).

    Args:
        listener: a listening, non-blocking trio socket (a :class:`trio.SocketListener`'s).
    """

    __slots__ = ("_in_a_row", "_listener", "_raw")

    def __init__(self, listener: trio.socket.SocketType) -> None:
        self._listener = listener
        self._raw = stdlib_socket.socket(fileno=listener.fileno())
        self._raw.setblocking(False)
        self._in_a_row = 0

    async def accept(self) -> tuple[trio.socket.SocketType, object]:
        """The next connection and its peer's address, waiting when none is pending.

        A schedule point only when it waits, and after every :data:`BATCH` connections in a
        row.

        Raises:
            trio.ClosedResourceError: the listener was closed.
            OSError: ``accept()`` failed for the listener (out of file descriptors, say).
        """
        if self._in_a_row >= BATCH:
            self._in_a_row = 0
            await trio.lowlevel.checkpoint()
        while True:
            if self._listener.fileno() == -1:
                raise trio.ClosedResourceError("the listener was closed")
            try:
                sock, address = self._raw.accept()
            except BlockingIOError:
                self._in_a_row = 0
                await trio.lowlevel.wait_readable(self._raw)
                continue
            except OSError as exc:
                if exc.errno in _CONNECTION_ERRNOS:
                    continue
                raise
            self._in_a_row += 1
            return trio.socket.from_stdlib_socket(sock), address

    def close(self) -> None:
        """Let go of the descriptor without closing it (trio's socket owns it)."""
        self._raw.detach()
