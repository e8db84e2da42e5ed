"""Tests for trioproto._sansio._handshake: the opening handshake of RFC 6455 §4."""

from __future__ import annotations

import os
from typing import Any

import pytest

from trioproto import InvalidHandshake, Limits
from trioproto._sansio._handshake import (
    accept_key,
    accept_response,
    client_handshake,
    generate_key,
    reject_error,
    reject_response,
    select_subprotocol,
    serialize_handshake_request,
    validate_request,
    validate_response,
)
from trioproto._sansio._http import (
    Headers,
    Request,
    RequestHeadParser,
    Response,
    ResponseHeadParser,
    serialize_response,
)

KEY = "dGhlIHNhbXBsZSBub25jZQ=="  # RFC 6455 §1.3
ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
GOOD = [
    ("Host", "server.example.com"),
    ("Upgrade", "websocket"),
    ("Connection", "Upgrade"),
    ("Sec-WebSocket-Key", KEY),
    ("Sec-WebSocket-Version", "13"),
]


def request(
    headers: list[tuple[str, str]] = GOOD, method: str = "GET", target: str = "/chat"
) -> Request:
    return Request(method, target, "HTTP/1.1", Headers(headers))


def replace(name: str, value: str | None) -> list[tuple[str, str]]:
    kept = [(n, v) for n, v in GOOD if n.lower() != name.lower()]
    return kept if value is None else [*kept, (name, value)]


def test_accept_key_rfc_example() -> None:
    """RFC 6455 §1.3: dGhlIHNhbXBsZSBub25jZQ== gives s3pPLMBiTxaQ9kYGzzhZRbK+xOo=."""
    assert accept_key(KEY) == ACCEPT


def test_generate_key() -> None:
    assert generate_key(b"the sample nonce") == KEY
    with pytest.raises(ValueError, match="16 random bytes"):
        generate_key(b"short")


def test_valid_request() -> None:
    handshake = validate_request(
        request(
            [
                *replace("Connection", "keep-alive, Upgrade"),
                ("Sec-WebSocket-Protocol", "chat, superchat"),
                ("Sec-WebSocket-Protocol", "other"),
                ("Sec-WebSocket-Extensions", "permessage-deflate"),
                ("Origin", "http://example.com"),
            ],
            target="/ws/r%C3%A9sum%C3%A9?a=1&a=2&b=",
        )
    )
    assert handshake.path == "/ws/résumé"
    assert handshake.raw_path == "/ws/r%C3%A9sum%C3%A9"
    assert handshake.query == {"a": ["1", "2"], "b": [""]}
    assert handshake.raw_query == "a=1&a=2&b="
    assert handshake.key == KEY
    assert handshake.subprotocols == ("chat", "superchat", "other")
    assert handshake.extensions == ("permessage-deflate",)
    assert handshake.origin == "http://example.com"
    assert handshake.host == "server.example.com"
    assert handshake.headers.get("Upgrade") == "websocket"


def test_absolute_form_target() -> None:
    handshake = validate_request(request(target="http://server.example.com/chat?x=1"))
    assert handshake.path == "/chat"
    assert handshake.query == {"x": ["1"]}
    assert validate_request(request(target="ws://h")).path == "/"


@pytest.mark.parametrize("target", ["http://[::1/", "ws://[", "wss://a]b/"])
def test_absolute_form_with_a_broken_ip_literal_is_400(target: str) -> None:
    """RFC 3986 §3.2.2: an IP literal is enclosed in brackets. urlsplit raises ValueError on an
    unbalanced one; the answer must be a 400, not an internal error (found by stress fuzz)."""
    with pytest.raises(InvalidHandshake) as caught:
        validate_request(request(target=target))
    assert caught.value.http_status == 400


@pytest.mark.parametrize(
    ("req", "status", "header"),
    [
        (request(method="POST"), 405, ("Allow", "GET")),
        (request(replace("Host", None)), 400, None),
        (request([*GOOD, ("Host", "again")]), 400, None),
        (request(replace("Host", "")), 400, None),
        (request(replace("Upgrade", None)), 426, ("Upgrade", "websocket")),
        (request(replace("Upgrade", "h2c")), 426, ("Upgrade", "websocket")),
        (request(replace("Connection", "keep-alive")), 400, None),
        (request(replace("Sec-WebSocket-Key", None)), 400, None),
        (request(replace("Sec-WebSocket-Key", "not base64!")), 400, None),
        (request(replace("Sec-WebSocket-Key", "AAAAAAAAAAAAAAAAAAAA")), 400, None),  # 15 bytes
        (request(replace("Sec-WebSocket-Key", "AAAAAAAAAAAAAAAAAAAAAAA=")), 400, None),  # 17
        (request(replace("Sec-WebSocket-Key", "clé")), 400, None),
        (request([*GOOD, ("Sec-WebSocket-Key", KEY)]), 400, None),
        (request(replace("Sec-WebSocket-Version", None)), 426, ("Sec-WebSocket-Version", "13")),
        (request(replace("Sec-WebSocket-Version", "8")), 426, ("Sec-WebSocket-Version", "13")),
        (
            request([*GOOD, ("Sec-WebSocket-Version", "13")]),
            426,
            ("Sec-WebSocket-Version", "13"),
        ),
        (request(target="*"), 400, None),
        (request(target="chat"), 400, None),
        (request([*GOOD, ("Sec-WebSocket-Protocol", "bad name")]), 400, None),
    ],
)
def test_rejections(req: Request, status: int, header: tuple[str, str] | None) -> None:
    """Each rule of RFC 6455 §4.2.1 has its own status and a specific reason."""
    with pytest.raises(InvalidHandshake) as info:
        validate_request(req)
    assert info.value.http_status == status
    assert info.value.reason
    if header is not None:
        assert header in info.value.headers


def test_select_subprotocol() -> None:
    assert select_subprotocol(["a", "b"], ["b", "a"]) == "b"
    assert select_subprotocol(["a"], ["c"]) is None


def test_accept_response_rfc_example() -> None:
    handshake = validate_request(request())
    assert accept_response(handshake, subprotocol=None) == (
        b"HTTP/1.1 101 Switching Protocols\r\n"
        b"Upgrade: websocket\r\n"
        b"Connection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
    )
    full = accept_response(
        handshake,
        subprotocol="chat",
        extensions="permessage-deflate",
        extra_headers=[("X-Trace", "1")],
    )
    assert full.endswith(
        b"Sec-WebSocket-Protocol: chat\r\n"
        b"Sec-WebSocket-Extensions: permessage-deflate\r\n"
        b"X-Trace: 1\r\n\r\n"
    )


def test_the_usual_accept_response_is_the_general_one() -> None:
    """The template for an answer with no subprotocol, extension or extra header writes
    exactly what the general serializer writes."""
    for _ in range(20):
        key = generate_key(os.urandom(16))
        handshake = validate_request(request(replace("Sec-WebSocket-Key", key)))
        general = serialize_response(
            101,
            [
                ("Upgrade", "websocket"),
                ("Connection", "Upgrade"),
                ("Sec-WebSocket-Accept", accept_key(handshake.key)),
            ],
        )
        assert accept_response(handshake, subprotocol=None) == general


def test_reject_response_and_error() -> None:
    assert reject_response(403, "go away") == (
        b"HTTP/1.1 403 Forbidden\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n"
        b"Connection: close\r\n"
        b"Content-Length: 8\r\n\r\n"
        b"go away\n"
    )
    error = InvalidHandshake("bad version", 426, (("Sec-WebSocket-Version", "13"),))
    assert reject_error(error).startswith(
        b"HTTP/1.1 426 Upgrade Required\r\nSec-WebSocket-Version: 13\r\n"
    )


def test_426_with_upgrade_names_connection_once() -> None:
    """A 426 advertising ``Upgrade`` lists it in ``Connection`` (RFC 9110 §7.8) and does not
    contradict itself with a second ``Connection: close`` (RFC 9110 §7.6.1)."""
    with pytest.raises(InvalidHandshake) as info:
        validate_request(request(replace("Upgrade", None)))
    head = reject_error(info.value).split(b"\r\n\r\n")[0].split(b"\r\n")
    assert head[0] == b"HTTP/1.1 426 Upgrade Required"
    connection = [line for line in head if line.lower().startswith(b"connection:")]
    assert connection == [b"Connection: Upgrade"]
    assert b"Upgrade: websocket" in head


def client_request(**options: Any) -> bytes:
    return serialize_handshake_request(client_handshake(**options))


def test_client_request_bytes() -> None:
    assert client_request(host="h:8080", resource="/x?y=1", key=KEY) == (
        b"GET /x?y=1 HTTP/1.1\r\n"
        b"Host: h:8080\r\n"
        b"Upgrade: websocket\r\n"
        b"Connection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        b"Sec-WebSocket-Version: 13\r\n\r\n"
    )
    full = client_request(
        host="h",
        resource="/",
        key=KEY,
        subprotocols=["a", "b"],
        extensions="permessage-deflate",
        origin="http://o",
        extra_headers=[("X", "1")],
    )
    assert full.endswith(
        b"Sec-WebSocket-Protocol: a, b\r\n"
        b"Sec-WebSocket-Extensions: permessage-deflate\r\n"
        b"Origin: http://o\r\nX: 1\r\n\r\n"
    )
    with pytest.raises(ValueError, match="token"):
        client_request(host="h", resource="/", key=KEY, subprotocols=["not a token"])


def test_client_handshake_describes_what_a_server_would_see() -> None:
    """The client's own view of its request (a client connection's ``ws.request``) equals what
    the server's validator makes of the same bytes."""
    sent = client_handshake(
        host="h:8080",
        resource="/room%201?name=ann&name=bob&empty=",
        key=KEY,
        subprotocols=["chat", "mqtt"],
        extensions="permessage-deflate",
        origin="http://o",
        extra_headers=[("Authorization", "Bearer x")],
    )
    parsed = RequestHeadParser(Limits()).feed(serialize_handshake_request(sent))
    assert parsed is not None
    assert validate_request(parsed) == sent
    assert sent.path == "/room 1"
    assert sent.query == {"name": ["ann", "bob"], "empty": [""]}
    assert sent.headers.get("authorization") == "Bearer x"
    with pytest.raises(ValueError, match="not a path"):
        client_handshake(host="h", resource="chat", key=KEY)


def _round_trip(subprotocol: str | None, extensions: str | None) -> Response:
    parsed = RequestHeadParser(Limits()).feed(
        client_request(host="h", resource="/", key=KEY, subprotocols=["chat"])
    )
    assert parsed is not None
    answer = accept_response(
        validate_request(parsed), subprotocol=subprotocol, extensions=extensions
    )
    response = ResponseHeadParser(Limits()).feed(answer)
    assert response is not None
    return response


def test_validate_response_round_trip() -> None:
    response = _round_trip("chat", "permessage-deflate")
    assert validate_response(
        response, key=KEY, offered_subprotocols=["chat"], offered_extensions=True
    ) == ("chat", "permessage-deflate")
    assert validate_response(
        _round_trip(None, None), key=KEY, offered_subprotocols=[], offered_extensions=False
    ) == (None, None)


def _response(headers: list[tuple[str, str]], status: int = 101) -> Response:
    return Response(status, "", "HTTP/1.1", Headers(headers))


OK_RESPONSE = [
    ("Upgrade", "websocket"),
    ("Connection", "Upgrade"),
    ("Sec-WebSocket-Accept", ACCEPT),
]


@pytest.mark.parametrize(
    ("response", "offered_extensions"),
    [
        (_response(OK_RESPONSE, 200), False),
        (_response(OK_RESPONSE[1:]), False),
        (_response([OK_RESPONSE[0], OK_RESPONSE[2]]), False),
        (_response([*OK_RESPONSE[:2], ("Sec-WebSocket-Accept", "wrong")]), False),
        (_response([*OK_RESPONSE, ("Sec-WebSocket-Accept", ACCEPT)]), False),
        (_response([*OK_RESPONSE, ("Sec-WebSocket-Protocol", "never-offered")]), False),
        (_response([*OK_RESPONSE, ("Sec-WebSocket-Protocol", "chat, chat2")]), False),
        (_response([*OK_RESPONSE, ("Sec-WebSocket-Extensions", "permessage-deflate")]), False),
    ],
)
def test_validate_response_rejects(response: Response, offered_extensions: bool) -> None:
    with pytest.raises(InvalidHandshake):
        validate_response(
            response,
            key=KEY,
            offered_subprotocols=["chat", "chat2"],
            offered_extensions=offered_extensions,
        )
