"""Valid inputs the mutator starts from: request heads and client frame sequences."""

from __future__ import annotations

import zlib

from ..wire import BINARY, CLOSE, CONTINUATION, PING, PONG, TEXT, close_payload, encode_frame

__all__ = ["DEFLATE_SEEDS", "FRAME_SEEDS", "HEAD_SEEDS", "TOKENS"]

_KEY = "dGhlIHNhbXBsZSBub25jZQ=="


def _head(*extra: str, target: str = "/chat") -> bytes:
    lines = [
        f"GET {target} HTTP/1.1",
        "Host: server.example.com",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {_KEY}",
        "Sec-WebSocket-Version: 13",
        *extra,
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


HEAD_SEEDS: list[bytes] = [
    _head(),
    _head("Origin: http://example.com", "Sec-WebSocket-Protocol: chat, superchat"),
    _head("Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits"),
    _head(
        "Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=10; "
        'client_max_window_bits="12"; server_no_context_takeover, permessage-deflate',
    ),
    _head("User-Agent: fuzz/1.0", "Cookie: a=b; c=d", target="/a/b%20c?x=1&y=&z"),
    _head(target="ws://server.example.com/absolute?q"),
    _head("Sec-WebSocket-Protocol: echo") + encode_frame(TEXT, b"frames in the same segment"),
]

#: Fragments the mutator splices into heads: tokens the parser and the validator care about.
TOKENS: list[bytes] = [
    b"\r\n",
    b"\n",
    b"\r",
    b":",
    b" ",
    b"\t",
    b",",
    b";",
    b"=",
    b'"',
    b"\x00",
    b"\x7f",
    b"\xff",
    b"GET",
    b"HTTP/1.1",
    b"HTTP/1.0",
    b"HTTP/2.0",
    b"Upgrade",
    b"websocket",
    b"Connection",
    b"Sec-WebSocket-Key",
    b"Sec-WebSocket-Version: 13",
    b"Sec-WebSocket-Extensions",
    b"permessage-deflate",
    b"client_max_window_bits",
    b"server_max_window_bits=8",
    b"server_no_context_takeover",
    b"Host: a\r\nHost: b",
    b"%00",
    b"%2F",
    b"//",
    b"?",
    b"#",
    b"[",
    b"]",
    b"[::1]",
    b"@",
    b"http://",
    b"ws://[",
    b"wss://a:99999",
    b"A" * 9000,
    b"x: y\r\n" * 120,
]


def _compressed_messages(*messages: bytes, takeover: bool = True) -> bytes:
    compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
    frames = []
    for message in messages:
        if not takeover:
            compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
        data = (compressor.compress(message) + compressor.flush(zlib.Z_SYNC_FLUSH))[:-4]
        frames.append(encode_frame(TEXT, data, rsv1=True))
    return b"".join(frames)


FRAME_SEEDS: list[bytes] = [
    encode_frame(TEXT, b"Hello, world"),
    encode_frame(BINARY, bytes(range(256)) * 2),
    encode_frame(TEXT, "caf\u00e9 \u2603 \U0001f600".encode()) + encode_frame(PING, b"ping"),
    encode_frame(TEXT, b"frag", fin=False)
    + encode_frame(PING, b"")
    + encode_frame(CONTINUATION, b"mented", fin=False)
    + encode_frame(CONTINUATION, b" text"),
    encode_frame(BINARY, b"x" * 300) + encode_frame(BINARY, b"y" * 70000),
    encode_frame(PONG, b"unsolicited") + encode_frame(CLOSE, close_payload(1000, b"bye")),
    encode_frame(CLOSE, close_payload(4000, "r\u00e9ason".encode())),
    encode_frame(CLOSE, b""),
    encode_frame(TEXT, b"a") + encode_frame(TEXT, b"b") + encode_frame(CLOSE, close_payload(1001)),
]

DEFLATE_SEEDS: list[bytes] = [
    _compressed_messages(b"Hello, world", b"Hello, world, again"),
    _compressed_messages(b"A" * 5000, b"B" * 100, takeover=False),
    _compressed_messages("\u2603 snow".encode() * 50) + encode_frame(TEXT, b"plain"),
    encode_frame(BINARY, b"", rsv1=True),
    *FRAME_SEEDS[:3],
]
