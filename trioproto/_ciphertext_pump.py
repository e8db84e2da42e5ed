"""The ciphertext side of :class:`~trioproto._tls_transport.TLSTransport`: TLS records moved
between the socket and the two :class:`ssl.MemoryBIO` buffers OpenSSL reads and writes.

OpenSSL never touches the socket: it decrypts what is in the incoming BIO and encrypts into the
outgoing one. :class:`CiphertextPump` is what fills and empties them, over a
:class:`~trioproto._transport.SocketTransport`, so every system call keeps that module's rule (no
call on a descriptor number after its socket was closed): the pump never touches the descriptor,
it only calls the transport.

Incoming (:meth:`CiphertextPump.receive`): up to 96 KiB of ciphertext read at once into the
incoming BIO; the end of the TCP stream becomes the BIO's end, so OpenSSL can tell a
close_notify from a truncation (RFC 8446 §6.1).

Outgoing: what fits in the socket now, or waiting for the rest.

- :meth:`CiphertextPump.write_what_fits` writes pending ciphertext while the socket takes it,
  never waiting; what it does not take is kept (``_unsent``), taken out of the BIO but not yet
  written, and goes first next time. A half-written record is never dropped, so a cancelled
  write leaves the TLS stream consistent.
- :meth:`CiphertextPump.flush` writes all of it, waiting until the socket is writable whenever
  it is full. One task at a time pushes ciphertext (a hand-over lock: the task done writing
  hands the duty to the next one parked, in order); in the common case nobody waits and the
  lock costs nothing. Cancelled, it loses nothing: the rest goes with the next write.

State: the pump is usable until the TLS stream is broken (a socket error on reading, or a TLS
error the transport reports with :meth:`CiphertextPump.fail`) or closed; every operation checks
that first, and a broken stream stays broken.
"""

from __future__ import annotations

import ssl

import trio

from ._transport import SocketTransport

__all__ = ["CiphertextPump"]

#: Ciphertext read from the socket at once: a 64 KiB message with its record overhead in one
#: system call, and still a buffer glibc takes from its heap (a 256 KiB one it maps and unmaps
#: on every read: 16 us instead of 2.5 for a small record).
_CIPHERTEXT_READ_SIZE = 96 * 1024


class CiphertextPump:
    """Ciphertext between a :class:`SocketTransport` and an :class:`ssl.SSLObject`'s BIOs.

    Args:
        transport: the connected socket transport; the pump owns and closes it.

    ``incoming`` and ``outgoing`` are the BIOs to give :meth:`ssl.SSLContext.wrap_bio`.
    """

    __slots__ = (
        "_unsent",
        "_writers",
        "broken",
        "closed",
        "incoming",
        "outgoing",
        "transport",
        "writing",
    )

    def __init__(self, transport: SocketTransport) -> None:
        self.transport = transport
        self.incoming = ssl.MemoryBIO()
        self.outgoing = ssl.MemoryBIO()
        self._unsent: bytes | memoryview = b""  # taken from the outgoing BIO, not yet written
        #: A task is pushing ciphertext to the socket (others park until it hands over).
        self.writing = False
        self._writers = trio.lowlevel.ParkingLot()
        self.broken = False
        self.closed = False

    @property
    def pending(self) -> bool:
        """Whether ciphertext waits to be written (in the BIO, or left by an earlier write)."""
        return bool(self._unsent or self.outgoing.pending)

    def check_usable(self) -> None:
        """Raise :class:`trio.ClosedResourceError` once closed, and
        :class:`trio.BrokenResourceError` once broken."""
        if self.closed:
            raise trio.ClosedResourceError("the stream was closed")
        if self.broken:
            raise trio.BrokenResourceError("the TLS connection is broken")

    def fail(self, exc: ssl.SSLError) -> trio.BrokenResourceError:
        """Mark the stream broken by the TLS error ``exc``; return the error to raise."""
        self.broken = True
        if isinstance(exc, ssl.SSLEOFError):
            return trio.BrokenResourceError("the peer ended the connection without close_notify")
        return trio.BrokenResourceError(f"TLS error: {exc.reason or exc}")

    async def receive(self) -> None:
        """Move what the socket has into the incoming BIO, waiting for some (the end of the
        stream too). Cancelling it is safe: nothing is consumed unless it returns."""
        try:
            ciphertext = await self.transport.receive_some(_CIPHERTEXT_READ_SIZE)
        except trio.BrokenResourceError:
            self.broken = True
            raise
        if ciphertext:
            self.incoming.write(ciphertext)
        else:
            self.incoming.write_eof()  # OpenSSL then reports the truncation, or close_notify

    async def flush(self) -> bool:
        """Write every byte of ciphertext pending, in order, one task at a time; return
        whether it had to wait (a schedule point). Nothing is lost if it is cancelled."""
        if self.writing:
            await self._writers.park()  # the writing task hands the duty over when done
            full = False  # the socket may have room by now
        elif self.write_what_fits():
            return False  # all of it at once: no schedule point, so nobody came to park
        else:
            self.writing = True
            full = True
        try:
            if full:
                await self.transport.wait_send_all_might_not_block()
            while not self.write_what_fits():
                await self.transport.wait_send_all_might_not_block()
            return True
        finally:
            if self._writers:
                self._writers.unpark()
            else:
                self.writing = False

    def write_what_fits(self) -> bool:
        """Write pending ciphertext, in order, while the socket takes it, without waiting;
        keep the rest for later. Return whether nothing is left."""
        while True:
            if not self._unsent:
                if not self.outgoing.pending:
                    return True
                self._unsent = self.outgoing.read()
            if self.closed or self.broken:
                self.check_usable()
            sent = self.transport.send_nowait(self._unsent)  # a broken socket stays broken
            if sent < len(self._unsent):
                self._unsent = memoryview(self._unsent)[sent:]
                return False
            self._unsent = b""

    def close(self) -> None:
        """Mark the stream closed and close the socket, without waiting."""
        self.closed = True
        self.transport.close()
