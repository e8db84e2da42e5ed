"""Tests for trioproto._tls_transport over real sockets, with trustme certificates: the stream
contract, records split or batched, close_notify both ways, truncation and resets, refused
renegotiation, and cancellation that loses nothing."""

from __future__ import annotations

import logging
import shutil
import socket as stdlib_socket
import ssl
import struct
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trio
import trio.testing
import trustme

import trioproto
from helpers import StartServer, echo_registry, transport_pair
from tls_helpers import HandDrivenPeer, connected, server_with_hand_driven_client
from trioproto._tls_transport import TLSTransport, refuse_renegotiation
from trioproto._transport import SocketTransport


@pytest.fixture(scope="module")
def authority() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def pem_files(authority: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("tls-transport")
    certificate = authority.issue_cert("localhost", "127.0.0.1")
    certificate.private_key_and_cert_chain_pem.write_to_path(str(directory / "server.pem"))
    authority.cert_pem.write_to_path(str(directory / "ca.pem"))
    return directory


@pytest.fixture
def server_context(pem_files: Path) -> ssl.SSLContext:
    return trioproto.server_ssl_context(str(pem_files / "server.pem"))


@pytest.fixture
def client_context(pem_files: Path) -> ssl.SSLContext:
    return trioproto.client_ssl_context(str(pem_files / "ca.pem"))


def tls_pair(
    server_context: ssl.SSLContext, client_context: ssl.SSLContext
) -> tuple[TLSTransport, TLSTransport]:
    """Server and client ends over a connected Unix socket pair; no handshake yet."""
    left, right = transport_pair()
    server = TLSTransport(left, server_context, server_side=True)
    client = TLSTransport(right, client_context, server_side=False, server_hostname="localhost")
    return server, client


async def test_stream_contract(
    server_context: ssl.SSLContext, client_context: ssl.SSLContext
) -> None:
    async def make() -> tuple[TLSTransport, TLSTransport]:
        return tls_pair(server_context, client_context)

    async def make_clogged() -> tuple[TLSTransport, TLSTransport]:
        server, client = tls_pair(server_context, client_context)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(server.do_handshake)
            nursery.start_soon(client.do_handshake)
            await trio.testing.wait_all_tasks_blocked()
        # Fill the socket buffers both ways (check_two_way_stream also flips the pair): the
        # sends block, and their cancellation leaves the streams whole.
        for transport in (server, client):
            with trio.move_on_after(0.1):
                await transport.send_all(b"x" * (8 * 1024 * 1024))
        return server, client

    with trio.fail_after(60):
        await trio.testing.check_half_closeable_stream(make, make_clogged)


async def test_handshake_agrees_on_alpn_and_version(
    server_context: ssl.SSLContext, client_context: ssl.SSLContext
) -> None:
    server, client = tls_pair(server_context, client_context)
    assert server.selected_alpn_protocol() is None
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(server.do_handshake)
            nursery.start_soon(client.do_handshake)
    assert server.selected_alpn_protocol() == client.selected_alpn_protocol() == "http/1.1"
    assert server.version() == "TLSv1.3"
    await client.do_handshake()  # done already: a checkpoint, nothing else
    await server.aclose()
    await client.aclose()


async def test_untrusted_certificate_breaks_the_handshake_on_both_sides(
    server_context: ssl.SSLContext,
) -> None:
    stranger = trioproto.client_ssl_context(cafile=None)  # system CAs: not our trustme CA
    server, client = tls_pair(server_context, stranger)
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:

            async def expect_broken(transport: TLSTransport) -> None:
                with pytest.raises(trio.BrokenResourceError):
                    await transport.do_handshake()

            nursery.start_soon(expect_broken, server)
            nursery.start_soon(expect_broken, client)
    with pytest.raises(trio.BrokenResourceError):
        await client.send_all(b"x")  # stays broken
    await server.aclose()
    await client.aclose()


async def test_record_fed_byte_by_byte(
    server_context: ssl.SSLContext, client_context: ssl.SSLContext
) -> None:
    """A record arriving one byte at a time yields nothing until it is whole, and a receive
    cancelled meanwhile loses none of it."""
    transport, peer = await server_with_hand_driven_client(server_context, client_context)
    record = peer.encrypt(b"split into single bytes")
    received: list[bytes] = []
    with trio.fail_after(10):
        for index in range(len(record) - 1):
            await peer.send_raw(record[index : index + 1])
            with trio.move_on_after(0.01):  # a cancelled receive, every time
                received.append(await transport.receive_some())
            assert received == []
        await peer.send_raw(record[-1:])
        assert await transport.receive_some() == b"split into single bytes"
    await transport.aclose()
    peer.socket.close()


async def test_buffered_records_come_back_in_one_call(
    server_context: ssl.SSLContext, client_context: ssl.SSLContext
) -> None:
    """48 KiB is three records (at most 16 KiB each, RFC 8446 §5.1); once they are in the
    socket, one receive returns all they hold, and ``max_bytes`` still bounds it."""
    transport, peer = await server_with_hand_driven_client(server_context, client_context)
    message = bytes(range(256)) * 192
    await peer.send_raw(peer.encrypt(message))
    with trio.fail_after(10):
        assert await transport.receive_some(1000) == message[:1000]
        assert await transport.receive_some(20_000) == message[1000:21000]
        assert await transport.receive_some() == message[21000:]
    await transport.aclose()
    peer.socket.close()


async def test_a_cancelled_receive_raises_and_loses_nothing(
    server_context: ssl.SSLContext, client_context: ssl.SSLContext
) -> None:
    """Cancelled before it starts, a receive raises Cancelled both when a record is already
    buffered (it checks before decrypting) and when it must read the socket (the read
    checks before reading); the next receive returns every byte."""
    transport, peer = await server_with_hand_driven_client(server_context, client_context)

    async def cancelled_receive() -> None:
        with trio.CancelScope() as scope:
            scope.cancel()
            with pytest.raises(trio.Cancelled):
                await transport.receive_some()

    await peer.send_raw(peer.encrypt(b"first") + peer.encrypt(b"second"))
    with trio.fail_after(10):
        assert await transport.receive_some(5) == b"first"  # "second" stays buffered
        await cancelled_receive()
        assert await transport.receive_some() == b"second"  # nothing left buffered
        await peer.send_raw(peer.encrypt(b"third"))  # in the socket, not read yet
        await cancelled_receive()
        assert await transport.receive_some() == b"third"
    await transport.aclose()
    peer.socket.close()


async def test_close_notify_is_sent_on_close(
    server_context: ssl.SSLContext, client_context: ssl.SSLContext
) -> None:
    transport, peer = await server_with_hand_driven_client(server_context, client_context)
    await transport.send_all(b"last words")
    await transport.aclose()
    with trio.fail_after(10):
        # read_until_closed returns only on close_notify; an end of stream without it raises.
        assert await peer.read_until_closed() == b"last words"
    with pytest.raises(trio.ClosedResourceError):
        await transport.receive_some()
    peer.socket.close()


async def test_close_notify_received_ends_the_stream(
    server_context: ssl.SSLContext, client_context: ssl.SSLContext
) -> None:
    """The peer's close_notify alone (its socket stays open) is the end of the stream."""
    transport, peer = await server_with_hand_driven_client(server_context, client_context)
    await peer.send_raw(peer.encrypt(b"bye") + peer.close_notify())
    with trio.fail_after(10):
        assert await transport.receive_some() == b"bye"
        assert await transport.receive_some() == b""
        assert await transport.receive_some() == b""
    await transport.aclose()
    peer.socket.close()


async def test_end_of_stream_without_close_notify_is_a_truncation(
    server_context: ssl.SSLContext, client_context: ssl.SSLContext
) -> None:
    transport, peer = await server_with_hand_driven_client(server_context, client_context)
    await peer.send_raw(peer.encrypt(b"complete record"))
    peer.socket.shutdown(stdlib_socket.SHUT_WR)
    with trio.fail_after(10):
        assert await transport.receive_some() == b"complete record"
        with pytest.raises(trio.BrokenResourceError, match="without close_notify"):
            await transport.receive_some()
    await transport.aclose()
    peer.socket.close()


async def tcp_pair() -> tuple[trio.socket.SocketType, trio.socket.SocketType]:
    listener = trio.socket.socket()
    await listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    client = trio.socket.socket()
    await client.connect(listener.getsockname())
    accepted, _ = await listener.accept()
    listener.close()
    return accepted, client


def vanish(sock: trio.socket.SocketType, how: str) -> None:
    """Close without a word (EOF) or with a TCP reset (SO_LINGER 0)."""
    if how == "reset":
        sock.setsockopt(stdlib_socket.SOL_SOCKET, stdlib_socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


@pytest.mark.parametrize("how", ["eof", "reset"])
async def test_peer_vanishing_mid_record_breaks_the_stream(
    server_context: ssl.SSLContext, client_context: ssl.SSLContext, how: str
) -> None:
    accepted, client_socket = await tcp_pair()
    transport = TLSTransport(SocketTransport(accepted), server_context, server_side=True)
    transport, peer = await connected(transport, HandDrivenPeer(client_socket, client_context))
    record = peer.encrypt(b"this record never arrives whole")
    await peer.send_raw(record[: len(record) // 2])
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:

            async def receive() -> None:
                with pytest.raises(trio.BrokenResourceError):
                    await transport.receive_some()

            nursery.start_soon(receive)
            await trio.testing.wait_all_tasks_blocked()
            vanish(peer.socket, how)
        with pytest.raises(trio.BrokenResourceError):
            await transport.send_all(b"x")  # it stays broken
    await transport.aclose()


async def test_corrupt_record_breaks_the_stream(
    server_context: ssl.SSLContext, client_context: ssl.SSLContext
) -> None:
    transport, peer = await server_with_hand_driven_client(server_context, client_context)
    record = bytearray(peer.encrypt(b"tampered with"))
    record[-1] ^= 0xFF  # the authentication tag no longer matches (RFC 8446 §5.2)
    await peer.send_raw(bytes(record))
    with trio.fail_after(10):
        with pytest.raises(trio.BrokenResourceError, match="TLS error"):
            await transport.receive_some()
        with pytest.raises(trio.BrokenResourceError):
            await transport.receive_some()
    await transport.aclose()
    peer.socket.close()


async def test_cancelled_send_keeps_the_stream_whole(
    server_context: ssl.SSLContext, client_context: ssl.SSLContext
) -> None:
    """A send cancelled while the socket is full loses no half record: the peer reads a prefix
    of it, then the next message intact."""
    transport, peer = await server_with_hand_driven_client(server_context, client_context)
    big = b"a" * (4 * 1024 * 1024)
    with trio.move_on_after(0.1) as scope:
        await transport.send_all(big)
    assert scope.cancelled_caught
    async with trio.open_nursery() as nursery:
        nursery.start_soon(transport.send_all, b"!next")
        received = bytearray()
        with trio.fail_after(10):
            while not received.endswith(b"!next"):
                try:
                    received += peer.tls.read(1 << 20)
                except ssl.SSLWantReadError:
                    await peer.feed()
    prefix = bytes(received.removesuffix(b"!next"))
    assert prefix and big.startswith(prefix)
    await transport.aclose()
    peer.socket.close()


async def test_send_all_after_yield_yields_only_when_the_socket_is_full(
    server_context: ssl.SSLContext, client_context: ssl.SSLContext
) -> None:
    """The write path's variant of send_all (see WebSocket._write): a cancellation point, but
    no schedule point unless the socket makes it wait."""
    transport, peer = await server_with_hand_driven_client(server_context, client_context)
    others_ran = False

    async def other() -> None:
        nonlocal others_ran
        others_ran = True

    async with trio.open_nursery() as nursery:
        nursery.start_soon(other)
        await transport.send_all_after_yield(b"hello")
        assert not others_ran  # not yet scheduled: send_all_after_yield did not yield
    with trio.CancelScope() as scope:
        scope.cancel()
        with pytest.raises(trio.Cancelled):
            await transport.send_all_after_yield(b"never encrypted")
    big = b"y" * (4 * 1024 * 1024)  # more than the socket takes: it waits, then finishes
    async with trio.open_nursery() as nursery:
        nursery.start_soon(transport.send_all_after_yield, big)
        received = bytearray()
        with trio.fail_after(10):
            while len(received) < 5 + len(big):
                try:
                    received += peer.tls.read(1 << 20)
                except ssl.SSLWantReadError:
                    await peer.feed()
    assert received == b"hello" + big
    await transport.aclose()
    peer.socket.close()


async def test_close_never_waits_for_a_full_socket(
    server_context: ssl.SSLContext, client_context: ssl.SSLContext
) -> None:
    transport, peer = await server_with_hand_driven_client(server_context, client_context)
    with trio.move_on_after(0.1):
        await transport.send_all(b"b" * (8 * 1024 * 1024))  # nobody reads: the socket fills
    with trio.testing.assert_no_checkpoints():
        transport.close()  # close_notify does not fit; it is dropped, nothing waits
    with pytest.raises(trio.ClosedResourceError):
        await transport.send_all(b"x")
    peer.socket.close()


async def test_contexts_refuse_renegotiation(pem_files: Path) -> None:
    assert trioproto.server_ssl_context(str(pem_files / "server.pem")).options & (
        ssl.OP_NO_RENEGOTIATION
    )
    assert trioproto.client_ssl_context().options & ssl.OP_NO_RENEGOTIATION
    any_context = ssl.create_default_context()
    assert not any_context.options & ssl.OP_NO_RENEGOTIATION
    assert refuse_renegotiation(any_context) is any_context
    assert any_context.options & ssl.OP_NO_RENEGOTIATION
    other = ssl.create_default_context()
    left, right = transport_pair()
    transport = TLSTransport(left, other, server_side=False, server_hostname="localhost")
    assert other.options & ssl.OP_NO_RENEGOTIATION  # the transport sets it on any context
    await transport.aclose()
    await right.aclose()


async def receive_until_the_end(transport: TLSTransport) -> None:
    while await transport.receive_some():
        pass


@pytest.fixture
async def tls12_listener(
    server_context: ssl.SSLContext,
) -> AsyncIterator[trio.socket.SocketType]:
    listener = trio.socket.socket()
    await listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    yield listener
    listener.close()


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
async def test_renegotiation_is_refused(
    server_context: ssl.SSLContext, pem_files: Path, tls12_listener: trio.socket.SocketType
) -> None:
    """Python's ssl cannot start a renegotiation, so ``openssl s_client`` does (its ``R``
    command, TLS 1.2): the attempt fails and the connection is never renegotiated."""
    port = tls12_listener.getsockname()[1]
    command = [
        "openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-tls1_2",
        "-CAfile", str(pem_files / "ca.pem"), "-servername", "localhost",
    ]  # fmt: skip
    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            process = await trio.lowlevel.open_process(
                command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
            )
            assert process.stdin is not None and process.stdout is not None
            output = bytearray()

            async def collect(stream: trio.abc.ReceiveStream) -> None:
                async for chunk in stream:
                    output.extend(chunk)

            nursery.start_soon(collect, process.stdout)
            sock, _ = await tls12_listener.accept()
            transport = TLSTransport(SocketTransport(sock), server_context, server_side=True)
            await process.stdin.send_all(b"before\n")
            assert await transport.receive_some() == b"before\n"
            assert transport.version() == "TLSv1.2"
            await process.stdin.send_all(b"R\n")
            with pytest.raises(trio.BrokenResourceError):
                await receive_until_the_end(transport)
            await transport.aclose()
            await process.stdin.aclose()
            await process.wait()
    text = output.decode(errors="replace")
    assert "RENEGOTIATING" in text
    assert "no renegotiation" in text.lower() or "no_renegotiation" in text.lower(), text


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
async def test_renegotiation_requested_by_the_server_is_refused(
    pem_files: Path, client_context: ssl.SSLContext
) -> None:
    """Our client end, against ``openssl s_server`` sending a HelloRequest (its ``r``
    command, TLS 1.2): the client answers no_renegotiation, the server gives up."""
    command = [
        "openssl", "s_server", "-accept", "127.0.0.1:0", "-tls1_2",
        "-cert", str(pem_files / "server.pem"),
    ]  # fmt: skip
    output = bytearray()
    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            process = await trio.lowlevel.open_process(
                command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
            )
            assert process.stdin is not None and process.stdout is not None
            output_changed = trio.Event()

            async def collect(stream: trio.abc.ReceiveStream) -> None:
                nonlocal output_changed
                async for chunk in stream:
                    output.extend(chunk)
                    output_changed.set()
                    output_changed = trio.Event()

            nursery.start_soon(collect, process.stdout)
            while b"ACCEPT 127.0.0.1:" not in output:
                await output_changed.wait()
            port = int(output.split(b"ACCEPT 127.0.0.1:")[1].split(b"\n")[0])
            sock = trio.socket.socket()
            await sock.connect(("127.0.0.1", port))
            client = TLSTransport(
                SocketTransport(sock),
                client_context,
                server_side=False,
                server_hostname="localhost",
            )
            await client.send_all(b"before\n")
            assert client.version() == "TLSv1.2"
            while b"before" not in output:
                await output_changed.wait()
            await process.stdin.send_all(b"r\n")
            with pytest.raises(trio.BrokenResourceError):
                await receive_until_the_end(client)
            await client.aclose()
            while b"no renegotiation" not in output:  # the server's reason for giving up
                await output_changed.wait()
            process.kill()
            await process.wait()


async def test_server_survives_a_client_vanishing_mid_record(
    start_server: StartServer,
    server_context: ssl.SSLContext,
    client_context: ssl.SSLContext,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A wss client that resets the connection in the middle of a record (in the opening
    handshake, then in a frame) is dropped quietly: no traceback, nothing above debug."""
    caplog.set_level(logging.DEBUG, logger="trioproto")
    registry = trioproto.Registry()
    handler_done = trio.Event()

    @registry.handler(None)
    async def echo(ws: trioproto.WebSocket) -> None:
        try:
            async for message in ws.inbound:
                await ws.send(message)
        finally:
            handler_done.set()

    server = await start_server(registry, ssl_context=server_context)
    request = (
        b"GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    with trio.fail_after(10):
        for upgraded in (False, True):
            sock = trio.socket.socket()
            await sock.connect(("127.0.0.1", server.port))
            peer = HandDrivenPeer(sock, client_context)
            await peer.handshake()
            if upgraded:
                await peer.send_raw(peer.encrypt(request))
                response = b""
                while b"\r\n\r\n" not in response:
                    try:
                        response += peer.tls.read(4096)
                    except ssl.SSLWantReadError:
                        await peer.feed()
                assert response.startswith(b"HTTP/1.1 101 ")
                masked_frame = b"\x81\x85\x00\x00\x00\x00hello"
                record = peer.encrypt(masked_frame)
            else:
                record = peer.encrypt(request)
            await peer.send_raw(record[: len(record) // 2])
            await trio.testing.wait_all_tasks_blocked()
            vanish(sock, "reset")
        await handler_done.wait()  # the upgraded connection ended
        async with trioproto.open_websocket(
            f"wss://localhost:{server.port}/", ssl_context=client_context
        ) as ws:
            await ws.send("still serving")
            assert await ws.receive() == "still serving"
    assert server.statistics().failed_handshakes == 1
    records = [r for r in caplog.records if r.name == "trioproto"]
    assert all(r.exc_info is None for r in records)
    # Nothing above DEBUG but the server's own start line.
    assert [r.getMessage().split()[0] for r in records if r.levelno > logging.DEBUG] == [
        "listening"
    ]


@pytest.mark.parametrize("own_socket", [True, False])
async def test_client_wss_over_its_own_socket_or_a_given_stream(
    start_server: StartServer,
    server_context: ssl.SSLContext,
    client_context: ssl.SSLContext,
    nursery: trio.Nursery,
    own_socket: bool,
) -> None:
    """The client puts the TLS transport on a socket it opened itself; a stream the caller
    hands in (someone else may close it) keeps trio.SSLStream. Both talk to the server."""
    server = await start_server(echo_registry(), ssl_context=server_context)
    given = None if own_socket else await trio.open_tcp_stream("127.0.0.1", server.port)
    with trio.fail_after(10):
        ws = await trioproto.connect_websocket(
            nursery, f"wss://localhost:{server.port}/", ssl_context=client_context, stream=given
        )
        expected = TLSTransport if own_socket else trio.SSLStream
        assert type(ws._writer._lock._stream) is expected
        await ws.send(b"x" * 100_000)
        assert await ws.receive() == b"x" * 100_000
        await ws.aclose()
