"""TLS test helpers: a peer whose every record a test controls, over a real socket pair."""

from __future__ import annotations

import contextlib
import socket as stdlib_socket
import ssl

import trio

from trioproto._tls_transport import TLSTransport
from trioproto._transport import SocketTransport


class HandDrivenPeer:
    """The other end driven by hand: an ``ssl.SSLObject`` over a plain trio socket, so a test
    decides exactly which bytes of which record go out, and when."""

    def __init__(
        self,
        sock: trio.socket.SocketType,
        context: ssl.SSLContext,
        *,
        server_side: bool = False,
    ) -> None:
        self.socket = sock
        self._incoming = ssl.MemoryBIO()
        self._outgoing = ssl.MemoryBIO()
        hostname = None if server_side else "localhost"
        self.tls = context.wrap_bio(
            self._incoming, self._outgoing, server_side=server_side, server_hostname=hostname
        )

    async def handshake(self) -> None:
        while True:
            try:
                self.tls.do_handshake()
                done = True
            except ssl.SSLWantReadError:
                done = False
            await self.send_raw(self._outgoing.read())
            if done:
                return
            await self.feed()

    def encrypt(self, data: bytes) -> bytes:
        """The ciphertext of ``data`` (one record per 16 KiB), not sent."""
        self.tls.write(data)
        return self._outgoing.read()

    def close_notify(self) -> bytes:
        """Our close_notify, not sent: an answer to the other end's, or not waiting for one."""
        with contextlib.suppress(ssl.SSLWantReadError):
            self.tls.unwrap()
        return self._outgoing.read()

    async def send_raw(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[await self.socket.send(view) :]

    async def feed(self) -> bool:
        """Read once from the socket into OpenSSL; False at the end of the stream."""
        data = await self.socket.recv(256 * 1024)
        if data:
            self._incoming.write(data)
        else:
            self._incoming.write_eof()
        return bool(data)

    async def read_until_closed(self) -> bytes:
        """Every plaintext byte until the TLS stream ends; raises if it ends uncleanly."""
        received = b""
        while True:
            try:
                chunk = self.tls.read(256 * 1024)
            except ssl.SSLWantReadError:
                await self.feed()
                continue
            except ssl.SSLZeroReturnError:  # close_notify, after ours
                return received
            if not chunk:
                return received  # close_notify
            received += chunk


async def connected(
    transport: TLSTransport, peer: HandDrivenPeer
) -> tuple[TLSTransport, HandDrivenPeer]:
    async with trio.open_nursery() as nursery:
        nursery.start_soon(transport.do_handshake)
        nursery.start_soon(peer.handshake)
    return transport, peer


async def server_with_hand_driven_client(
    server_context: ssl.SSLContext, client_context: ssl.SSLContext
) -> tuple[TLSTransport, HandDrivenPeer]:
    left, right = trio.socket.socketpair(stdlib_socket.AF_UNIX, stdlib_socket.SOCK_STREAM)
    transport = TLSTransport(SocketTransport(left), server_context, server_side=True)
    return await connected(transport, HandDrivenPeer(right, client_context))
