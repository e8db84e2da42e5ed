"""The end of a :class:`~trioproto._tls_transport.TLSTransport`: our close_notify alert (RFC 8446
§6.1, RFC 5246 §7.2.1), queued once, by a half-close or by the close.

Half-closing (:meth:`TLSShutdown.queue`) must not lose what the peer sent.
:meth:`ssl.SSLObject.unwrap` writes close_notify, then at once tries to read the peer's (it
calls ``SSL_shutdown`` twice); that second call reads from the incoming BIO, and a record of
application data found there -- or plaintext OpenSSL decrypted but was not asked for yet -- is
fatal (``APPLICATION_DATA_AFTER_CLOSE_NOTIFY``): the stream could not be read any more. So every
complete record already received is decrypted first and its plaintext kept (``held``) for the
transport to return before anything else; only then is ``unwrap`` called. With nothing complete
to read, its second call just asks for more, and a partial record stays in OpenSSL, to be
completed and read later. Reading then works until the peer's close_notify, which OpenSSL, now
that ours is sent, reports as :class:`ssl.SSLZeroReturnError` (the transport's ``b""``).

Closing (:meth:`TLSShutdown.close`) never waits: close_notify goes out if the socket takes it at
once, and the socket is closed.
"""

from __future__ import annotations

import contextlib
import ssl

import trio

from ._ciphertext_pump import CiphertextPump

__all__ = ["RECORD_PLAINTEXT_MAX", "TLSShutdown"]

#: The most plaintext one record carries (RFC 8446 §5.1, RFC 5246 §6.2.1).
RECORD_PLAINTEXT_MAX = 16 * 1024


class TLSShutdown:
    """Our close_notify on ``ssl_object``, written through ``pump``.

    Attributes:
        queued: close_notify is in the outgoing BIO or gone: nothing may be encrypted after it.
        held: plaintext decrypted by :meth:`queue`, to be returned before any other.
    """

    __slots__ = ("_pump", "_ssl_object", "held", "queued")

    def __init__(self, ssl_object: ssl.SSLObject, pump: CiphertextPump) -> None:
        self._ssl_object = ssl_object
        self._pump = pump
        self.queued = False
        self.held = b""

    def queue(self) -> None:
        """Put close_notify in the outgoing BIO (once), keeping the plaintext of the complete
        records received so far in ``held`` (see the module docstring).

        A TLS error in those records, or an end of stream without close_notify, breaks the
        stream and raises :class:`trio.BrokenResourceError`; nothing is queued then.
        """
        if self.queued:
            return
        ssl_object = self._ssl_object
        plaintext: list[bytes] = []
        while True:
            try:
                chunk = ssl_object.read(RECORD_PLAINTEXT_MAX)
            except ssl.SSLWantReadError:
                break  # nothing complete left
            except ssl.SSLError as exc:
                raise self._pump.fail(exc) from exc
            if not chunk:
                break  # the peer's close_notify came first: ours answers it
            plaintext.append(chunk)
        try:
            ssl_object.unwrap()  # ours written, and the peer's received already
        except ssl.SSLWantReadError:
            pass  # ours written; the peer's is still to come
        except ssl.SSLError as exc:
            raise self._pump.fail(exc) from exc
        self.queued = True
        self.held = b"".join(plaintext)

    def take(self, size: int) -> bytes:
        """Up to ``size`` bytes of ``held``, removed from it."""
        data, self.held = self.held[:size], self.held[size:]
        return data

    def close(self, *, handshake_done: bool) -> None:
        """Write close_notify if the socket takes it at once (queued first unless it is), and
        close the socket; no wait, for the socket or for the peer's answer."""
        pump = self._pump
        if pump.closed:
            return
        if handshake_done and not pump.broken:
            if not self.queued:
                with contextlib.suppress(ssl.SSLError):  # SSLWantReadError: no wait for a reply
                    self._ssl_object.unwrap()
                self.queued = True
            with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
                pump.write_what_fits()  # what does not fit now is dropped
        pump.close()
