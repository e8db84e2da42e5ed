"""The TLS handshake of :class:`~trioproto._tls_transport.TLSTransport` (RFC 8446 §4; for wss://,
RFC 6455 §4.1: it precedes the opening handshake).

OpenSSL runs the handshake over the memory BIOs of a
:class:`~trioproto._ciphertext_pump.CiphertextPump`: each step either finishes or wants more
from the peer; what it wrote (a flight of handshake messages) is flushed to the socket,
waiting while the socket is full, then the next step reads more ciphertext. It runs once, on
the stream's first use or when asked, inside whatever timeout the caller holds (the server's is
``Timeouts.handshake``): the task that gets there first runs it, and any other waits for its
outcome.

A failure (a certificate not trusted, no common version or cipher, a plaintext peer, an end of
stream) raises :class:`trio.BrokenResourceError` and leaves the stream broken; the alert telling
the peer why is written first if the socket takes it at once. ALPN (RFC 7301) is negotiated
here too: no protocol in common is not a failure, the agreed protocol is then ``None``.
"""

from __future__ import annotations

import contextlib
import ssl

import trio

from ._ciphertext_pump import CiphertextPump

__all__ = ["TLSHandshake"]


class TLSHandshake:
    """The handshake of ``ssl_object``, run once over ``pump``; ``done`` once it succeeded."""

    __slots__ = ("_pump", "_running", "_ssl_object", "done")

    def __init__(self, ssl_object: ssl.SSLObject, pump: CiphertextPump) -> None:
        self._ssl_object = ssl_object
        self._pump = pump
        self._running: trio.Event | None = None  # set while a task runs the handshake
        #: The handshake succeeded: the stream may carry application data.
        self.done = False

    async def run(self) -> None:
        """Run the handshake, or wait for the task already running it; return once done.

        Raises :class:`trio.BrokenResourceError` if it fails (here or in that other task),
        :class:`trio.ClosedResourceError` if the stream was closed meanwhile. Cancelling it
        loses nothing (the pump keeps what it has not written): a later call carries on.
        """
        pump = self._pump
        if self._running is not None:  # another task is at it: wait for its outcome
            await self._running.wait()
            pump.check_usable()
            if not self.done:
                raise trio.BrokenResourceError("the TLS handshake failed in another task")
            return
        self._running = trio.Event()
        try:
            await trio.lowlevel.checkpoint_if_cancelled()
            while True:
                try:
                    self._ssl_object.do_handshake()
                    finished = True
                except ssl.SSLWantReadError:
                    finished = False
                except ssl.SSLError as exc:
                    with contextlib.suppress(trio.BrokenResourceError):
                        pump.write_what_fits()  # the alert telling the peer why, if it fits
                    raise pump.fail(exc) from exc
                try:
                    await pump.flush()
                except trio.BrokenResourceError:
                    if not finished:
                        raise
                    # A peer that sent its last flight and hung up cannot take ours (TLS 1.3
                    # session tickets, say): what it sent before leaving is still readable.
                if finished:
                    break
                await pump.receive()
            self.done = True
        finally:
            self._running.set()
            self._running = None
