"""wss:// (RFC 6455 §4.1: TLS before the opening handshake) with certificates from trustme."""

from __future__ import annotations

import logging
import ssl
import sys
import warnings
from pathlib import Path

import pytest
import trio
import trustme
from websockets.exceptions import ConnectionClosedError
from websockets.trio.client import connect

import trioproto
from helpers import StartServer, echo_registry, request_bytes, server_program
from trioproto._sansio._frames import serialize_frame
from trioproto._sansio._http import ResponseHeadParser

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def authority() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def cert_files(authority: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("tls")
    certificate = authority.issue_cert("127.0.0.1", "localhost")
    pem = directory / "server.pem"
    certificate.private_key_and_cert_chain_pem.write_to_path(str(pem))
    authority.cert_pem.write_to_path(str(directory / "ca.pem"))
    return directory


@pytest.fixture
def server_context(cert_files: Path) -> ssl.SSLContext:
    return trioproto.server_ssl_context(str(cert_files / "server.pem"))


@pytest.fixture
def client_context(cert_files: Path) -> ssl.SSLContext:
    return trioproto.client_ssl_context(str(cert_files / "ca.pem"))


async def test_wss_echo_with_websockets_client(
    start_server: StartServer, server_context: ssl.SSLContext, client_context: ssl.SSLContext
) -> None:
    server = await start_server(echo_registry(), ssl_context=server_context)
    async with connect(f"wss://127.0.0.1:{server.port}/", ssl=client_context) as client:
        await client.send("secret")
        assert await client.recv() == "secret"
        await client.send(b"\x00" * 70_000)
        assert await client.recv() == b"\x00" * 70_000


async def test_wss_with_our_client(
    start_server: StartServer, server_context: ssl.SSLContext, client_context: ssl.SSLContext
) -> None:
    server = await start_server(echo_registry(), ssl_context=server_context)
    async with trioproto.open_websocket(
        f"wss://localhost:{server.port}/", ssl_context=client_context
    ) as ws:
        await ws.send("over tls")
        assert await ws.receive() == "over tls"


#: A close timeout no test may wait out: a failed connection must end long before it.
LONG_CLOSE = trioproto.Timeouts(close=600)


async def test_failed_wss_connection_ends_with_close_notify_at_once(
    start_server: StartServer, server_context: ssl.SSLContext, client_context: ssl.SSLContext
) -> None:
    """A protocol violation (a reserved opcode: close 1002, RFC 6455 §7.1.7) gets the close
    frame, then close_notify: the server half-closes the TLS stream, as it sends a FIN over
    TCP, instead of waiting for the client to close first until its close timeout."""
    server = await start_server(echo_registry(), ssl_context=server_context, timeouts=LONG_CLOSE)
    tcp = await trio.open_tcp_stream("127.0.0.1", server.port)
    tls = trio.SSLStream(tcp, client_context, server_hostname="127.0.0.1")
    parser = ResponseHeadParser(trioproto.DEFAULT_LIMITS)
    try:
        with trio.fail_after(10):
            await tls.send_all(request_bytes())
            while (response := parser.feed(await tls.receive_some())) is None:
                pass
            assert response.status_code == 101
            reserved_opcode = bytes([0x83]) + serialize_frame(0x1, b"bad", mask=b"abcd")[1:]
            await tls.send_all(reserved_opcode)
            received = bytearray(parser.trailing_data)
            # trio.SSLStream returns b"" only after close_notify; a bare end of TCP raises.
            while chunk := await tls.receive_some():
                received += chunk
    finally:
        await trio.aclose_forcefully(tls)  # else, failing, the server would drain for 600 s
    assert received[0] == 0x88  # one close frame, nothing after it
    assert int.from_bytes(received[2:4], "big") == 1002
    assert len(received) == 2 + received[1]


async def test_websockets_client_of_a_failed_wss_connection_closes_at_once(
    start_server: StartServer, server_context: ssl.SSLContext, client_context: ssl.SSLContext
) -> None:
    """A message over the size limit fails the connection (1009); the websockets client
    answers the close frame, gets close_notify and closes, long before either close timeout."""
    limits = trioproto.Limits(max_message_size=1024)
    server = await start_server(
        echo_registry(), ssl_context=server_context, limits=limits, timeouts=LONG_CLOSE
    )
    url = f"wss://127.0.0.1:{server.port}/"
    with trio.fail_after(10):
        async with connect(url, ssl=client_context, close_timeout=600) as client:
            await client.send(b"x" * 4096)
            with pytest.raises(ConnectionClosedError) as failure:
                await client.recv()
    assert failure.value.rcvd is not None and failure.value.rcvd.code == 1009


async def test_alpn_and_minimum_version(
    start_server: StartServer, server_context: ssl.SSLContext, client_context: ssl.SSLContext
) -> None:
    """ALPN http/1.1 (RFC 7301) is offered; TLS older than 1.2 is refused."""
    server = await start_server(echo_registry(), ssl_context=server_context)
    assert server_context.minimum_version == ssl.TLSVersion.TLSv1_2
    tcp = await trio.open_tcp_stream("127.0.0.1", server.port)
    tls = trio.SSLStream(tcp, client_context, server_hostname="127.0.0.1")
    await tls.do_handshake()
    assert tls.selected_alpn_protocol() == "http/1.1"
    await tls.aclose()
    old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    old.check_hostname = False
    old.verify_mode = ssl.CERT_NONE
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # TLS 1.1 is deprecated: the point
        old.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
        old.maximum_version = ssl.TLSVersion.TLSv1_1
    tcp = await trio.open_tcp_stream("127.0.0.1", server.port)
    tls = trio.SSLStream(tcp, old, server_hostname="127.0.0.1")
    with pytest.raises(trio.BrokenResourceError):
        await tls.do_handshake()
    await trio.aclose_forcefully(tls)


async def test_silent_client_is_dropped_while_others_are_served(
    start_server: StartServer,
    server_context: ssl.SSLContext,
    client_context: ssl.SSLContext,
) -> None:
    """A client that connects and sends nothing cannot hold its slot past the handshake
    timeout (TLS included), and does not delay anyone else meanwhile."""
    timeouts = trioproto.Timeouts(handshake=0.5)
    server = await start_server(echo_registry(), ssl_context=server_context, timeouts=timeouts)
    silent = await trio.open_tcp_stream("127.0.0.1", server.port)
    opened = trio.current_time()
    async with trioproto.open_websocket(
        f"wss://127.0.0.1:{server.port}/", ssl_context=client_context
    ) as ws:
        await ws.send("served meanwhile")
        assert await ws.receive() == "served meanwhile"
    assert trio.current_time() - opened < 0.5  # served while the silent client was pending
    with trio.fail_after(5):
        assert await silent.receive_some() == b""  # dropped by the server
    assert trio.current_time() - opened >= 0.45
    assert server.statistics().failed_handshakes == 1
    await silent.aclose()


async def test_plaintext_client_on_tls_port_is_quietly_dropped(
    start_server: StartServer,
    server_context: ssl.SSLContext,
    client_context: ssl.SSLContext,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="trioproto")
    server = await start_server(echo_registry(), ssl_context=server_context)
    plain = await trio.open_tcp_stream("127.0.0.1", server.port)
    await plain.send_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    with trio.fail_after(5):
        while await plain.receive_some():
            pass
    await plain.aclose()
    async with trioproto.open_websocket(
        f"wss://127.0.0.1:{server.port}/", ssl_context=client_context
    ) as ws:
        await ws.send("still fine")
        assert await ws.receive() == "still fine"
    records = [r for r in caplog.records if r.name == "trioproto"]
    assert any("handshake with" in r.getMessage() for r in records), "logged at debug level"
    # Nothing about it above DEBUG: only the server's start is at INFO.
    assert [r.getMessage().split()[0] for r in records if r.levelno > logging.DEBUG] == [
        "listening"
    ]
    assert server.statistics().failed_handshakes == 1


async def _run_and_echo(args: list[str], client_context: ssl.SSLContext) -> None:
    async with server_program(*args) as url:
        assert url.startswith("wss://127.0.0.1:")
        async with trioproto.open_websocket(url, ssl_context=client_context) as ws:
            await ws.send("program over tls")
            assert await ws.receive() == "program over tls"


async def test_cli_certfile_keyfile(cert_files: Path, client_context: ssl.SSLContext) -> None:
    pem = str(cert_files / "server.pem")
    await _run_and_echo(
        [
            "-m", "trioproto", "serve", "examples.echo:registry", "--port", "0",
            "--certfile", pem, "--keyfile", pem,
        ],
        client_context,
    )  # fmt: skip


async def test_wss_echo_example(cert_files: Path, client_context: ssl.SSLContext) -> None:
    pem = str(cert_files / "server.pem")
    await _run_and_echo(
        ["examples/wss_echo.py", "0", "--certfile", pem, "--keyfile", pem], client_context
    )


def test_wss_echo_example_makes_its_own_certificate(tmp_path: Path) -> None:
    sys.path.insert(0, str(ROOT))
    try:
        from examples.wss_echo import throwaway_context
    finally:
        sys.path.remove(str(ROOT))
    context = throwaway_context(str(tmp_path / "ca.pem"))
    assert isinstance(context, ssl.SSLContext)
    assert (tmp_path / "ca.pem").read_bytes().startswith(b"-----BEGIN CERTIFICATE-----")


async def test_serve_takes_a_ready_ssl_listener(
    nursery: trio.Nursery, server_context: ssl.SSLContext, client_context: ssl.SSLContext
) -> None:
    """A trio.SSLListener is a listener like any other: the TLS is its own, not the server's."""
    (inner,) = await trio.open_tcp_listeners(0, host="127.0.0.1")
    listener = trio.SSLListener(inner, server_context, https_compatible=True)
    server: trioproto.WebSocketServer = await nursery.start(
        lambda task_status: trioproto.serve(
            echo_registry(), listeners=[listener], task_status=task_status
        )
    )
    port = inner.socket.getsockname()[1]
    with trio.fail_after(10):
        async with trioproto.open_websocket(
            f"wss://localhost:{port}/", ssl_context=client_context
        ) as ws:
            await ws.send("through an SSLListener")
            assert await ws.receive() == "through an SSLListener"
        await server.aclose()
