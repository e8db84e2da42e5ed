"""The ceiling for any trio server: a minimal handshake, then frames are only unmasked and sent
back as server frames. No validation at all: not a WebSocket server, a yardstick."""

from __future__ import annotations

import base64
import functools
import hashlib
import ssl

import trio

from benchmarks.servers._common import parse_args, ready, server_context

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def unmask(data: bytes, mask: bytes) -> bytes:
    length = len(data)
    key = (mask * (length // 4 + 1))[:length]
    return (int.from_bytes(data, "little") ^ int.from_bytes(key, "little")).to_bytes(
        length, "little"
    )


def server_header(opcode_byte: int, length: int) -> bytes:
    if length < 126:
        return bytes([opcode_byte, length])
    if length < 65536:
        return bytes([opcode_byte, 126]) + length.to_bytes(2, "big")
    return bytes([opcode_byte, 127]) + length.to_bytes(8, "big")


async def echo(stream: trio.abc.Stream) -> None:
    buffer = bytearray()
    while b"\r\n\r\n" not in buffer:
        data = await stream.receive_some()
        if not data:
            return
        buffer += data
    head, _, rest = bytes(buffer).partition(b"\r\n\r\n")
    key = next(
        line.split(b":", 1)[1].strip()
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"sec-websocket-key:")
    )
    accept = base64.b64encode(hashlib.sha1(key + GUID).digest())
    await stream.send_all(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n"
    )
    buffer = bytearray(rest)
    while True:
        while True:
            if len(buffer) < 2:
                break
            length = buffer[1] & 0x7F
            offset = 2
            if length == 126:
                length, offset = int.from_bytes(buffer[2:4], "big"), 4
            elif length == 127:
                length, offset = int.from_bytes(buffer[2:10], "big"), 10
            if len(buffer) < offset + 4 + length:
                break
            first = buffer[0]
            mask = bytes(buffer[offset : offset + 4])
            payload = unmask(bytes(buffer[offset + 4 : offset + 4 + length]), mask)
            del buffer[: offset + 4 + length]
            if first & 0x0F == 0x8:
                await stream.send_all(server_header(0x88, len(payload)) + payload)
                return
            await stream.send_all(server_header(first, len(payload)) + payload)
        data = await stream.receive_some(262144)
        if not data:
            return
        buffer += data


async def main() -> None:
    args = parse_args()
    context: ssl.SSLContext | None = server_context(args.certfile)
    handler = echo
    if context is not None:

        async def handler(stream: trio.abc.Stream) -> None:  # type: ignore[no-redef]
            await echo(trio.SSLStream(stream, context, server_side=True))

    async with trio.open_nursery() as nursery:
        await nursery.start(functools.partial(trio.serve_tcp, handler, args.port, host="127.0.0.1"))
        ready(args.port)


trio.run(main)
