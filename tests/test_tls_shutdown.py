"""Tests for trioproto._tls_shutdown through TLSTransport.send_eof, over real socket pairs with
trustme certificates: close_notify then the TCP end go out, and nothing the peer sent before or
after is lost; the peer's close_notify, a truncation and a TLS error end the stream as usual."""

from __future__ import annotations

import socket as stdlib_socket
import ssl

import pytest
import trio
import trustme

from tls_helpers import HandDrivenPeer, server_with_hand_driven_client
from trioproto._tls_transport import TLSTransport

VERSIONS = [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3]


@pytest.fixture(scope="module")
def authority() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(params=VERSIONS, ids=lambda version: version.name)
def contexts(
    authority: trustme.CA, request: pytest.FixtureRequest
) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A server context, and a client context limited to one TLS version."""
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("localhost").configure_cert(server)
    client = ssl.create_default_context()
    authority.configure_trust(client)
    client.maximum_version = request.param
    return server, client


async def connect(
    contexts: tuple[ssl.SSLContext, ssl.SSLContext],
) -> tuple[TLSTransport, HandDrivenPeer]:
    return await server_with_hand_driven_client(*contexts)


async def receive_all(transport: TLSTransport, count: int) -> bytes:
    received = b""
    while len(received) < count:
        chunk = await transport.receive_some()
        assert chunk, received
        received += chunk
    return received


async def test_records_received_before_send_eof_are_still_returned(
    contexts: tuple[ssl.SSLContext, ssl.SSLContext],
) -> None:
    """Whole records waiting in the transport, plaintext OpenSSL holds, and half a record are
    all returned after send_eof (unwrap alone would have failed on them), then what follows,
    then the peer's close_notify ends the stream."""
    transport, peer = await connect(contexts)
    records = [peer.encrypt(data) for data in (b"first", b"second", b"split record")]
    last = records.pop()
    await peer.send_raw(b"".join(records) + last[:10])
    with trio.fail_after(10):
        assert await transport.receive_some(2) == b"fi"  # "rst" stays decrypted in OpenSSL
        await transport.send_eof()
        # The peer gets close_notify, then the end of the TCP stream.
        assert await peer.read_until_closed() == b""
        assert not await peer.feed()
        assert await receive_all(transport, 9) == b"rstsecond"
        await peer.send_raw(last[10:] + peer.encrypt(b"after our close_notify"))
        assert await receive_all(transport, 34) == b"split recordafter our close_notify"
        await peer.send_raw(peer.close_notify())
        assert await transport.receive_some() == b""
        assert await transport.receive_some() == b""
    await transport.aclose()
    peer.socket.close()


async def test_after_send_eof_sending_is_refused_and_the_stream_stays_whole(
    contexts: tuple[ssl.SSLContext, ssl.SSLContext],
) -> None:
    transport, peer = await connect(contexts)
    with trio.fail_after(10):
        await transport.send_all(b"last words")
        await transport.send_eof()
        for data in (b"more", b""):
            with pytest.raises(trio.ClosedResourceError, match="after sending EOF"):
                await transport.send_all(data)
        await transport.send_eof()  # again: nothing left to do
        assert await peer.read_until_closed() == b"last words"
        assert not await peer.feed()  # then the end of the TCP stream
        await peer.send_raw(peer.encrypt(b"still readable"))
        assert await transport.receive_some() == b"still readable"
    await transport.aclose()
    peer.socket.close()


async def test_send_eof_answers_a_close_notify_already_received(
    contexts: tuple[ssl.SSLContext, ssl.SSLContext],
) -> None:
    transport, peer = await connect(contexts)
    await peer.send_raw(peer.encrypt(b"bye"))
    with trio.fail_after(10):
        assert await transport.receive_some() == b"bye"
        await peer.send_raw(peer.encrypt(b"unread") + peer.close_notify())
        # "nread" stays decrypted in OpenSSL, the close_notify in the transport's buffer.
        assert await transport.receive_some(1) == b"u"
        await transport.send_eof()
        assert await peer.read_until_closed() == b""
        assert await transport.receive_some() == b"nread"
        assert await transport.receive_some() == b""
    await transport.aclose()
    peer.socket.close()


async def test_an_end_of_stream_after_send_eof_is_still_a_truncation(
    contexts: tuple[ssl.SSLContext, ssl.SSLContext],
) -> None:
    transport, peer = await connect(contexts)
    with trio.fail_after(10):
        await transport.send_eof()
        assert await peer.read_until_closed() == b""
        await peer.send_raw(peer.encrypt(b"complete record"))
        peer.socket.shutdown(stdlib_socket.SHUT_WR)  # the end, without close_notify
        assert await transport.receive_some() == b"complete record"
        with pytest.raises(trio.BrokenResourceError, match="without close_notify"):
            await transport.receive_some()
    await transport.aclose()
    peer.socket.close()


async def test_a_corrupt_record_waiting_breaks_send_eof(
    contexts: tuple[ssl.SSLContext, ssl.SSLContext],
) -> None:
    """A record that fails to decrypt while close_notify is being queued breaks the stream:
    no close_notify goes out, and the stream stays broken."""
    transport, peer = await connect(contexts)
    good = peer.encrypt(b"a") + peer.encrypt(b"b")
    corrupt = bytearray(peer.encrypt(b"tampered"))
    corrupt[-1] ^= 1
    await peer.send_raw(good + bytes(corrupt))
    with trio.fail_after(10):
        assert await transport.receive_some(1) == b"a"  # "b" and the bad record wait
        with pytest.raises(trio.BrokenResourceError, match="TLS error"):
            await transport.send_eof()
        with pytest.raises(trio.BrokenResourceError):
            await transport.receive_some()
    await transport.aclose()
    peer.socket.close()
