"""The opening handshake's two ways in (trioproto._opening), over real sockets.

A request that has fully arrived when the connection's task starts is answered at once, with
no handshake timeout (nothing waits); anything else goes on under the timeout from where the
first attempt stopped. The requests are written into a socket pair before the server runs, so
which way a handshake takes is decided, not left to timing.
"""

from __future__ import annotations

import json
import logging
import socket as stdlib_socket

import pytest
import trio

import trioproto
from helpers import StartServer, echo_registry, request_bytes, reset_tcp_socket, transport_pair
from reading_helpers import client_frames
from trioproto._connection_handler import ConnectionHandler
from trioproto._options import ServerOptions
from trioproto._sansio._codec import Codec, Role
from trioproto._sansio._events import Message
from trioproto._transport import SocketTransport

#: Far too short for any wait: a handshake that has to wait for bytes fails under it.
TINY = trioproto.Timeouts(handshake=1e-9, ping_interval=None)
NO_KEEPALIVE = trioproto.Timeouts(ping_interval=None)


async def _read_head(peer: SocketTransport) -> tuple[bytes, bytes]:
    """The server's answer head, and what came after it."""
    received = b""
    with trio.fail_after(5):
        while b"\r\n\r\n" not in received:
            data = await peer.receive_some()
            assert data, f"the server closed the connection: {received!r}"
            received += data
    head, _, rest = received.partition(b"\r\n\r\n")
    return head, rest


async def _echo(peer: SocketTransport, message: str, already: bytes = b"") -> None:
    """Check that the server echoes ``message`` (which the peer sent with its request);
    ``already``: what the peer received after the 101's head."""
    codec = Codec(Role.CLIENT)
    codec.receive_data(already)
    with trio.fail_after(5):
        while True:
            for event in codec.events():
                assert event == Message(message)
                return
            data = await peer.receive_some()
            assert data, "the server closed the connection"
            codec.receive_data(data)


async def _serve_one(
    nursery: trio.Nursery, handler: ConnectionHandler, server_end: SocketTransport
) -> trio.Event:
    """Serve ``server_end`` in a task; the event is set when it is done."""
    done = trio.Event()

    async def serve() -> None:
        await handler.handle_stream(server_end, "peer")
        done.set()

    nursery.start_soon(serve)
    return done


async def test_a_whole_request_is_answered_at_once_outside_the_timeout(
    nursery: trio.Nursery,
) -> None:
    """The request and a first frame, already there: 101 and the echo, although the handshake
    timeout would end any handshake that has to wait (the next test)."""
    handler = ConnectionHandler(echo_registry(), ServerOptions(timeouts=TINY, compression=None))
    peer, server_end = transport_pair()
    await peer.send_all(request_bytes() + client_frames("with the request"))
    await _serve_one(nursery, handler, server_end)
    head, rest = await _read_head(peer)
    assert head.startswith(b"HTTP/1.1 101 ")
    await _echo(peer, "with the request", rest)
    assert handler.statistics().failed_handshakes == 0
    await peer.aclose()


async def test_a_request_that_must_be_waited_for_is_bounded_by_the_timeout(
    nursery: trio.Nursery,
) -> None:
    handler = ConnectionHandler(echo_registry(), ServerOptions(timeouts=TINY, compression=None))
    peer, server_end = transport_pair()
    request = request_bytes()
    await peer.send_all(request[:20])  # half a request line: the server must wait for more
    done = await _serve_one(nursery, handler, server_end)
    with trio.fail_after(5):
        await done.wait()
        assert await peer.receive_some() == b""  # dropped, with nothing sent
    assert handler.statistics().failed_handshakes == 1
    await peer.aclose()


async def test_a_request_in_pieces_goes_on_from_the_first_piece(nursery: trio.Nursery) -> None:
    """The first attempt read part of the head; the rest, arriving later, completes it."""
    handler = ConnectionHandler(echo_registry(), ServerOptions(timeouts=NO_KEEPALIVE))
    peer, server_end = transport_pair()
    request = request_bytes()
    await peer.send_all(request[:30])
    await _serve_one(nursery, handler, server_end)
    await trio.testing.wait_all_tasks_blocked()  # the server has read the first piece
    await peer.send_all(request[30:] + client_frames("after the pieces"))
    head, rest = await _read_head(peer)
    assert head.startswith(b"HTTP/1.1 101 ")
    await _echo(peer, "after the pieces", rest)
    await peer.aclose()


async def test_a_request_not_there_yet_is_read_when_it_comes(nursery: trio.Nursery) -> None:
    handler = ConnectionHandler(echo_registry(), ServerOptions(timeouts=NO_KEEPALIVE))
    peer, server_end = transport_pair()
    await _serve_one(nursery, handler, server_end)
    await trio.testing.wait_all_tasks_blocked()
    await peer.send_all(request_bytes() + client_frames("late"))
    head, rest = await _read_head(peer)
    assert head.startswith(b"HTTP/1.1 101 ")
    await _echo(peer, "late", rest)
    await peer.aclose()


async def test_a_101_the_socket_does_not_take_at_once_is_sent_whole(
    nursery: trio.Nursery,
) -> None:
    """A 101 longer than the server socket's send buffer (an 8,000-character subprotocol):
    the first attempt writes what fits, the rest follows under the timeout."""
    name = "p" * 8000
    handler = ConnectionHandler(echo_registry(name), ServerOptions(timeouts=NO_KEEPALIVE))
    peer, server_end = transport_pair()
    server_end.socket.setsockopt(stdlib_socket.SOL_SOCKET, stdlib_socket.SO_SNDBUF, 1)
    buffer = server_end.socket.getsockopt(stdlib_socket.SOL_SOCKET, stdlib_socket.SO_SNDBUF)
    assert buffer < 8000  # the kernel's minimum: the 101 cannot fit in one write
    await peer.send_all(request_bytes(subprotocols=[name]) + client_frames("long"))
    await _serve_one(nursery, handler, server_end)
    await trio.testing.wait_all_tasks_blocked()  # the server waits for room to write
    head, rest = await _read_head(peer)
    assert head.startswith(b"HTTP/1.1 101 ")
    assert f"Sec-WebSocket-Protocol: {name}".encode() in head
    await _echo(peer, "long", rest)
    await peer.aclose()


async def test_end_of_file_before_a_request_is_a_failed_handshake(nursery: trio.Nursery) -> None:
    handler = ConnectionHandler(echo_registry(), ServerOptions(timeouts=NO_KEEPALIVE))
    peer, server_end = transport_pair()
    await peer.send_eof()
    done = await _serve_one(nursery, handler, server_end)
    with trio.fail_after(5):
        await done.wait()
    assert handler.statistics().failed_handshakes == 1
    await peer.aclose()


async def test_a_reset_before_a_request_is_a_failed_handshake(nursery: trio.Nursery) -> None:
    """A TCP client that connects and resets: the first read fails with the reset."""
    handler = ConnectionHandler(echo_registry(), ServerOptions(timeouts=NO_KEEPALIVE))
    done = await _serve_one(nursery, handler, SocketTransport(await reset_tcp_socket()))
    with trio.fail_after(5):
        await done.wait()
    assert handler.statistics().failed_handshakes == 1


@pytest.mark.parametrize(
    ("request_head", "status"),
    [
        (b"NONSENSE\r\n\r\n", 400),  # refused by the parser
        (request_bytes().replace(b"Version: 13", b"Version: 8"), 426),  # by the validation
        (request_bytes(subprotocols=["unknown"]), 400),  # no handler for the subprotocol
    ],
)
async def test_a_whole_request_to_refuse_is_refused(
    nursery: trio.Nursery, request_head: bytes, status: int
) -> None:
    handler = ConnectionHandler(
        echo_registry("chat") if b"unknown" in request_head else echo_registry(),
        ServerOptions(timeouts=NO_KEEPALIVE),
    )
    peer, server_end = transport_pair()
    await peer.send_all(request_head)
    done = await _serve_one(nursery, handler, server_end)
    head, _ = await _read_head(peer)
    assert head.startswith(f"HTTP/1.1 {status} ".encode()), head
    with trio.fail_after(5):
        await done.wait()
    assert handler.statistics().rejected_handshakes == 1
    await peer.aclose()


async def test_a_whole_request_with_a_hook_is_parsed_once_and_decided(
    nursery: trio.Nursery,
) -> None:
    seen: list[str] = []

    async def hook(
        request: trioproto.WebSocketRequest, subprotocol: str | None
    ) -> trioproto.Accept:
        seen.append(request.path)
        return trioproto.Accept(headers=(("X-Decided", "yes"),))

    options = ServerOptions(timeouts=NO_KEEPALIVE, on_handshake=hook)
    handler = ConnectionHandler(echo_registry(), options)
    peer, server_end = transport_pair()
    await peer.send_all(request_bytes("/hooked") + client_frames("decided"))
    await _serve_one(nursery, handler, server_end)
    head, rest = await _read_head(peer)
    assert head.startswith(b"HTTP/1.1 101 ")
    assert b"X-Decided: yes" in head
    assert seen == ["/hooked"]
    await _echo(peer, "decided", rest)
    await peer.aclose()


async def test_a_whole_request_for_an_http_route_is_answered(nursery: trio.Nursery) -> None:
    router = trioproto.Router()
    router.websocket("/ws", echo_registry())

    @router.get("/status")
    async def status(request: trioproto.HttpRequest) -> trioproto.HttpResponse:
        return trioproto.HttpResponse.json({"query": request.query})

    handler = ConnectionHandler(router, ServerOptions(timeouts=NO_KEEPALIVE))
    peer, server_end = transport_pair()
    await peer.send_all(b"GET /status?a=1 HTTP/1.1\r\nHost: x\r\n\r\n")
    await _serve_one(nursery, handler, server_end)
    head, body = await _read_head(peer)
    assert head.startswith(b"HTTP/1.1 200 ")
    with trio.fail_after(5):
        while data := await peer.receive_some():
            body += data
    assert json.loads(body) == {"query": {"a": ["1"]}}
    await peer.aclose()


async def test_a_whole_request_while_shutting_down_gets_503(nursery: trio.Nursery) -> None:
    handler = ConnectionHandler(echo_registry(), ServerOptions(timeouts=NO_KEEPALIVE))
    handler.refuse_new_connections()
    peer, server_end = transport_pair()
    await peer.send_all(request_bytes())
    await _serve_one(nursery, handler, server_end)
    head, _ = await _read_head(peer)
    assert head.startswith(b"HTTP/1.1 503 ")
    await peer.aclose()


async def test_a_silent_tcp_client_is_dropped_after_the_handshake_timeout(
    start_server: StartServer, caplog: pytest.LogCaptureFixture
) -> None:
    """Over TCP, no TLS: a client that connects and sends nothing (the first read finds
    nothing) is dropped once the handshake timeout has passed, not before."""
    caplog.set_level(logging.DEBUG, logger="trioproto")
    timeouts = trioproto.Timeouts(handshake=0.3)
    server = await start_server(echo_registry(), timeouts=timeouts)
    silent = await trio.open_tcp_stream("127.0.0.1", server.port)
    opened = trio.current_time()
    with trio.fail_after(5):
        assert await silent.receive_some() == b""
    assert trio.current_time() - opened >= 0.25
    assert server.statistics().failed_handshakes == 1
    assert "timed out" in caplog.text
    await silent.aclose()
