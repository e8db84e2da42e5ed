"""TLS over the socket transport: :class:`ssl.SSLObject` driven through two memory BIOs.

:class:`trio.SSLStream` works over any stream, which costs it a lock, a conflict detector and
a retry loop per call, and it reads at most one TLS record per call. This stream does what
asyncio's TLS layer does instead: ciphertext moves between the socket and two
:class:`ssl.MemoryBIO` buffers (:mod:`trioproto._ciphertext_pump`), and OpenSSL only ever sees
those buffers. This module drives OpenSSL and keeps the stream's contract.

Reading (:meth:`TLSTransport.receive_some`): decrypt what OpenSSL already holds; only when it
needs more, have the pump read up to 96 KiB of ciphertext into the incoming BIO, and decrypt
again. One call returns the plaintext of every complete record buffered (up to ``max_bytes``),
not one record per call as trio's stream does (a record carries at most 16 KiB, RFC 8446
§5.1). Two costs are avoided on purpose: each ``SSLObject.read`` asks for at most one record's
16 KiB (a larger request allocates the whole buffer, which glibc maps and unmaps past 128 KiB),
and when the BIO is empty after a read the next one is not tried (the ``SSLWantReadError`` it
would raise costs as much as the read). Decrypted bytes exist only between
``SSLObject.read`` and ``return``, with no checkpoint in between, so a cancelled receive loses
nothing: unread ciphertext stays in the BIO, undecrypted records in OpenSSL.

Writing (:meth:`TLSTransport.send_all`): encrypt into the outgoing BIO, then write everything
pending with one non-blocking system call; only if the socket is full, wait until it is
writable. Ciphertext moves between the socket and the BIOs in
:class:`~trioproto._ciphertext_pump.CiphertextPump`, which keeps what a cancelled write left for
the next one (the stream stays consistent) and lets one task at a time push ciphertext. A
receive that finds ciphertext pending (a TLS 1.3 KeyUpdate answer, RFC 8446 §4.6.3, or what a
cancelled send left) writes what the socket takes at once and never waits for more: the peer
may itself be blocked writing to us, waiting for this very receive to drain its data.

Handshake (:mod:`trioproto._tls_handshake`): done on first use (or by
:meth:`TLSTransport.do_handshake`), inside whatever timeout the caller holds; the server's is
``Timeouts.handshake``. Renegotiation (TLS 1.2; TLS 1.3 has
none) is refused: the transport sets ``ssl.OP_NO_RENEGOTIATION`` on any context it is given
(:func:`refuse_renegotiation`), so a renegotiation attempt gets a ``no_renegotiation`` alert.

Closing (:meth:`TLSTransport.aclose`): the close_notify alert (RFC 8446 §6.1) is written if the
socket takes it at once, and the socket closed: closing never waits, for the socket or for the
peer's answer. A peer's close_notify ends the stream (``b""``). An end of the TCP stream without
it, mid-record or not, is a truncation (RFC 8446 §6.1) and raises
:class:`trio.BrokenResourceError`; so does any TLS error, and the stream stays broken.

Half-closing (:meth:`TLSTransport.send_eof`): close_notify, written in full, then the end of
the TCP stream's sending direction, so that a peer closes at once whether it waits for the
alert (asyncio, browsers) or for the TCP end. Receiving still works until the peer's
close_notify (:mod:`trioproto._tls_shutdown` queues ours without losing what was received); a
TLS 1.2 peer answers with its own at once (RFC 5246 §7.2.1), which ends the stream. A failed
WebSocket connection needs this: the server half-closes, then reads until the peer has gone.
"""

from __future__ import annotations

import contextlib
import operator
import ssl
from collections.abc import Awaitable, Callable

import trio

from ._ciphertext_pump import CiphertextPump
from ._tls_handshake import TLSHandshake
from ._tls_shutdown import RECORD_PLAINTEXT_MAX, TLSShutdown
from ._transport import SocketTransport

__all__ = ["TLSTransport", "refuse_renegotiation", "send_after_yield_of"]

#: Plaintext returned by ``receive_some()`` without ``max_bytes``.
_DEFAULT_RECEIVE_SIZE = 64 * 1024
#: Plaintext encrypted per write by ``send_all``: bounds the ciphertext held at once.
_ENCRYPT_CHUNK = 256 * 1024


def refuse_renegotiation(context: ssl.SSLContext) -> ssl.SSLContext:
    """Set ``OP_NO_RENEGOTIATION`` on ``context`` and return it: a TLS 1.2 peer asking to
    renegotiate gets a ``no_renegotiation`` alert (RFC 5246 §7.2.2) and the handshake it wanted
    never happens. TLS 1.3 forbids renegotiation outright (RFC 8446 §4.1.2)."""
    context.options |= ssl.OP_NO_RENEGOTIATION
    return context


def send_after_yield_of(
    stream: trio.abc.Stream,
) -> Callable[[bytes | bytearray | memoryview], Awaitable[None]] | None:
    """The write of our own transports for a caller that has just passed a schedule point
    (it yields only when the socket is full), or ``None`` for any other stream."""
    if type(stream) is SocketTransport or type(stream) is TLSTransport:
        return stream.send_all_after_yield
    return None


class TLSTransport(trio.abc.HalfCloseableStream):
    """TLS over a :class:`SocketTransport`, with :class:`trio.SSLStream`'s error contract.

    Args:
        transport: the connected socket transport; this stream owns and closes it.
        context: the TLS context (its certificates, ALPN, versions apply as given); it is set
            to refuse renegotiation.
        server_side: the server end of the handshake.
        server_hostname: for a client, the name the certificate must match (and SNI).

    A reset or broken connection and every TLS error raise :class:`trio.BrokenResourceError`
    (and the stream stays broken); using the stream after :meth:`aclose`, or sending after
    :meth:`send_eof`, raises :class:`trio.ClosedResourceError`; two tasks sending (or
    receiving) at once raise :class:`trio.BusyResourceError`.
    """

    def __init__(
        self,
        transport: SocketTransport,
        context: ssl.SSLContext,
        *,
        server_side: bool,
        server_hostname: str | None = None,
    ) -> None:
        self.transport = transport
        if not context.options & ssl.OP_NO_RENEGOTIATION:
            refuse_renegotiation(context)
        self._pump = pump = CiphertextPump(transport)
        self.ssl_object = context.wrap_bio(
            pump.incoming,
            pump.outgoing,
            server_side=server_side,
            server_hostname=server_hostname,
        )
        self._handshake = TLSHandshake(self.ssl_object, pump)
        self._may_decrypt = True  # OpenSSL may hold a record: False once it asked for more
        self._shutdown = TLSShutdown(self.ssl_object, pump)
        self._receiving = False
        self._sending = False

    # ------------------------------------------------------------------ handshake

    async def do_handshake(self) -> None:
        """Run the TLS handshake now (it otherwise runs on first use); a no-op once done.

        A failure (a certificate not trusted, no common version or cipher, a plaintext peer,
        an end of stream) raises :class:`trio.BrokenResourceError`.
        """
        self._pump.check_usable()
        if self._handshake.done:
            await trio.lowlevel.checkpoint()
            return
        await self._handshake.run()

    def selected_alpn_protocol(self) -> str | None:
        """The protocol both sides agreed on with ALPN (RFC 7301), if any."""
        return self.ssl_object.selected_alpn_protocol()

    def version(self) -> str | None:
        """The TLS version negotiated (``"TLSv1.3"``), or ``None`` before the handshake."""
        return self.ssl_object.version()

    # ------------------------------------------------------------------ receiving

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        """Return decrypted bytes (at most ``max_bytes``), waiting for some; ``b""`` once the
        peer sent close_notify. Cancelling it is safe: no byte is consumed unless returned."""
        if max_bytes is None:
            size = _DEFAULT_RECEIVE_SIZE
        else:
            size = operator.index(max_bytes)
            if size < 1:
                raise ValueError("max_bytes must be at least 1")
        if self._receiving:
            raise trio.BusyResourceError("another task is receiving on this stream")
        self._receiving = True
        try:
            pump = self._pump
            if pump.closed or pump.broken:
                pump.check_usable()
            if not self._handshake.done:
                await self._handshake.run()  # a schedule point
                data = self._decrypt(size)
            elif self._may_decrypt:
                await trio.lowlevel.checkpoint_if_cancelled()
                data = self._decrypt(size)
                if data is not None:
                    # Reading the socket was the schedule point otherwise (trio's rule).
                    await trio.lowlevel.cancel_shielded_checkpoint()
            else:
                data = None  # reading the socket, below, checks for cancellation first
            while data is None:
                if not pump.writing and pump.pending:
                    # What decrypting produced (a KeyUpdate answer), or what a cancelled send
                    # left: written if the socket takes it now, never waited for, since the
                    # peer may itself be waiting for us to read (both socket buffers full).
                    # ClosedResourceError: a TLS alert after our send_eof; it cannot go out.
                    with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
                        pump.write_what_fits()
                await pump.receive()
                self._may_decrypt = True
                data = self._decrypt(size)
            return data
        finally:
            self._receiving = False

    def _decrypt(self, size: int) -> bytes | None:
        """Up to ``size`` bytes of plaintext from the records buffered; ``b""`` after the
        peer's close_notify; ``None`` when a whole record has yet to arrive. Called only while
        OpenSSL may hold a record (``_may_decrypt``: something arrived since it last asked for
        more)."""
        if self._shutdown.held:  # what send_eof decrypted comes first
            return self._shutdown.take(size)
        ssl_object = self.ssl_object
        incoming = self._pump.incoming
        parts: list[bytes] = []
        total = 0
        while total < size:
            try:
                # One record at most per call, so a bigger buffer would only be allocated
                # (and, past glibc's mmap threshold, mapped) to be shrunk again.
                chunk = ssl_object.read(min(size - total, RECORD_PLAINTEXT_MAX))
            except ssl.SSLWantReadError:
                self._may_decrypt = False
                break
            except ssl.SSLZeroReturnError:  # the peer's close_notify, after ours
                chunk = b""
            except ssl.SSLError as exc:
                failure = self._pump.fail(exc)
                if parts:
                    break  # the plaintext before it first; the next call raises
                raise failure from exc
            if not chunk:  # close_notify
                if parts:
                    break  # the next call returns b""
                return b""
            if not incoming.pending and not ssl_object.pending():
                # Neither a complete record nor decrypted bytes left: spare the exception
                # OpenSSL would raise to say so (it costs as much as the read).
                self._may_decrypt = False
                if not parts:
                    return chunk  # one record, the common case
                parts.append(chunk)
                break
            parts.append(chunk)
            total += len(chunk)
        if not parts:
            return None
        return parts[0] if len(parts) == 1 else b"".join(parts)

    # ------------------------------------------------------------------ sending

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        """Encrypt and write all of ``data``. If cancelled midway, what was already encrypted
        is still written by the next operation; the stream stays usable."""
        await self.send_all_after_yield(data, yielded=False)

    async def send_all_after_yield(
        self, data: bytes | bytearray | memoryview, *, yielded: bool = True
    ) -> None:
        """:meth:`send_all` for a caller that has just passed a schedule point: it checks for
        cancellation, and yields only if the socket cannot take everything now (with
        ``yielded=False`` it is :meth:`send_all`, a schedule point in any case)."""
        if self._sending:
            raise trio.BusyResourceError("another task is sending on this stream")
        self._sending = True
        try:
            pump = self._pump
            if pump.closed or pump.broken:
                pump.check_usable()
            if not self._handshake.done:
                await self._handshake.run()
            else:
                await trio.lowlevel.checkpoint_if_cancelled()
            if len(data) <= _ENCRYPT_CHUNK:
                try:
                    self.ssl_object.write(data)  # b"" too: refused after send_eof
                except ssl.SSLError as exc:
                    raise self._write_failure(exc) from exc
                # Written at once when no other task is writing and the socket takes it all.
                waited = (pump.writing or not pump.write_what_fits()) and await pump.flush()
            else:
                view = memoryview(data)
                waited = False
                for start in range(0, len(view), _ENCRYPT_CHUNK):
                    self._encrypt(view[start : start + _ENCRYPT_CHUNK])
                    waited = await pump.flush() or waited
            if not (yielded or waited):
                await trio.lowlevel.cancel_shielded_checkpoint()
        finally:
            self._sending = False

    def _encrypt(self, data: bytes | bytearray | memoryview) -> None:
        try:
            self.ssl_object.write(data)
        except ssl.SSLError as exc:
            raise self._write_failure(exc) from exc

    def _write_failure(self, exc: ssl.SSLError) -> Exception:
        if self._shutdown.queued:  # OpenSSL's "protocol is shutdown": not a failure
            return trio.ClosedResourceError("can't send data after sending EOF")
        return self._pump.fail(exc)

    async def wait_send_all_might_not_block(self) -> None:
        """Wait until the socket can take more ciphertext."""
        if self._sending:
            raise trio.BusyResourceError("another task is sending on this stream")
        self._sending = True
        try:
            self._pump.check_usable()
            await self.transport.wait_send_all_might_not_block()
        finally:
            self._sending = False

    # ------------------------------------------------------------------ closing

    async def send_eof(self) -> None:
        """Send close_notify (RFC 8446 §6.1), waiting until the socket took all of it, then end
        the TCP stream's sending direction; receiving still works (see the module docstring).
        Calling it again finishes what a cancelled call left, if anything."""
        if self._sending:
            raise trio.BusyResourceError("another task is sending on this stream")
        self._sending = True
        try:
            pump = self._pump
            pump.check_usable()
            if not self._handshake.done:
                await self._handshake.run()
            else:
                await trio.lowlevel.checkpoint_if_cancelled()
            if not self._shutdown.queued:
                self._shutdown.queue()
                self._may_decrypt = True  # its plaintext (held), or more records
            await pump.flush()
            await self.transport.send_eof()  # a schedule point in any case
        finally:
            self._sending = False

    async def aclose(self) -> None:
        """Send close_notify if the socket takes it at once, then close; idempotent, and
        done even in a cancelled scope (the only checkpoint comes last)."""
        self.close()
        await trio.lowlevel.checkpoint()

    def close(self) -> None:
        """:meth:`aclose` without the checkpoint: nothing here waits."""
        self._shutdown.close(handshake_done=self._handshake.done)
