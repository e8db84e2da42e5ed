"""A raw WebSocket client for fault injection: bytes built by hand, frames parsed by hand.

Deliberately independent of trioproto's codec (the thing under test): frames are serialized
and parsed here from RFC 6455 §5.2 directly, and compressed with zlib (RFC 7692 §7.2).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import socket
import struct
import zlib
from dataclasses import dataclass

import trio

__all__ = [
    "BINARY",
    "CLOSE",
    "PING",
    "PONG",
    "TEXT",
    "Frame",
    "HandshakeFailed",
    "RawClient",
    "close_payload",
    "deflate_message",
    "encode_frame",
    "expected_accept",
    "handshake_request",
    "parse_frame",
]

CONTINUATION, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_DEFLATE_TAIL = b"\x00\x00\xff\xff"


def handshake_request(
    key: bytes,
    *,
    path: str = "/",
    subprotocol: str | None = None,
    compress: bool = False,
    no_context_takeover: bool = False,
) -> bytes:
    """The bytes of an opening handshake request (RFC 6455 §4.1)."""
    lines = [
        f"GET {path} HTTP/1.1",
        "Host: 127.0.0.1",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key.decode()}",
        "Sec-WebSocket-Version: 13",
    ]
    if subprotocol is not None:
        lines.append(f"Sec-WebSocket-Protocol: {subprotocol}")
    if compress:
        # No client_max_window_bits: the client keeps the full 15-bit window, the worst case
        # for the server's inflater (RFC 7692 §7.1.2.2).
        offer = "permessage-deflate"
        if no_context_takeover:
            offer += "; client_no_context_takeover"
        lines.append(f"Sec-WebSocket-Extensions: {offer}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def expected_accept(key: bytes) -> bytes:
    """The Sec-WebSocket-Accept value the server must answer ``key`` with (RFC 6455 §4.2.2)."""
    return base64.b64encode(hashlib.sha1(key + _GUID).digest())


def encode_frame(
    opcode: int, payload: bytes, *, fin: bool = True, rsv1: bool = False, mask: bool = True
) -> bytes:
    """One frame, masked as a client must (RFC 6455 §5.2, §5.3)."""
    first = (0x80 if fin else 0) | (0x40 if rsv1 else 0) | opcode
    length = len(payload)
    mask_bit = 0x80 if mask else 0
    if length < 126:
        header = struct.pack("!BB", first, mask_bit | length)
    elif length < 1 << 16:
        header = struct.pack("!BBH", first, mask_bit | 126, length)
    else:
        header = struct.pack("!BBQ", first, mask_bit | 127, length)
    if not mask:
        return header + payload
    key = os.urandom(4)
    return header + key + _xor(payload, key)


def _xor(payload: bytes, key: bytes) -> bytes:
    if not payload:
        return b""
    repeated = (key * (len(payload) // 4 + 1))[: len(payload)]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(repeated, "big")).to_bytes(
        len(payload), "big"
    )


def close_payload(code: int, reason: bytes = b"") -> bytes:
    """A close frame's payload (RFC 6455 §5.5.1)."""
    return struct.pack("!H", code) + reason


def deflate_message(compressor: zlib._Compress, data: bytes) -> bytes:
    """Compress one message for a frame with RSV1 set (RFC 7692 §7.2.1)."""
    output = compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)
    return output[:-4]


@dataclass(frozen=True)
class Frame:
    """A frame received from the server (unmasked, RFC 6455 §5.1)."""

    opcode: int
    fin: bool
    rsv1: bool
    payload: bytes

    @property
    def close_code(self) -> int | None:
        """The status code of a close frame (1005 when it carries none)."""
        if self.opcode != CLOSE:
            return None
        return struct.unpack("!H", self.payload[:2])[0] if len(self.payload) >= 2 else 1005


class HandshakeFailed(Exception):
    """The server did not answer the opening handshake with a valid 101."""


class RawClient:
    """One TCP connection driven byte by byte.

    Received bytes are buffered; :meth:`receive_frame` parses frames out of them and inflates
    compressed messages when compression was negotiated.
    """

    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self.buffer = bytearray()
        self.compressor: zlib._Compress | None = None
        self._inflater: zlib._Decompress | None = None
        #: Set by whoever sends a close frame, so a server's close is answered only once.
        self.close_sent = False
        self._fresh_context = False

    @classmethod
    async def connect(cls, port: int) -> RawClient:
        return cls(await trio.open_tcp_stream("127.0.0.1", port))

    async def send(self, data: bytes) -> None:
        await self.stream.send_all(data)

    async def handshake(
        self,
        *,
        path: str = "/",
        subprotocol: str | None = None,
        compress: bool = False,
        no_context_takeover: bool = False,
    ) -> bytes:
        """Send an opening handshake and read the 101; returns the response head.

        With ``no_context_takeover`` the client compresses each message afresh (RFC 7692
        §7.1.1.2), so a message compressed once can be sent any number of times.

        Raises:
            HandshakeFailed: another status, a wrong accept key, or the connection ended.
        """
        key = base64.b64encode(os.urandom(16))
        request = handshake_request(
            key,
            path=path,
            subprotocol=subprotocol,
            compress=compress,
            no_context_takeover=no_context_takeover,
        )
        await self.send(request)
        head = await self.receive_head()
        if not head.startswith(b"HTTP/1.1 101 "):
            raise HandshakeFailed(head.split(b"\r\n", 1)[0].decode("latin-1"))
        if _header(head, b"sec-websocket-accept") != expected_accept(key):
            raise HandshakeFailed("wrong Sec-WebSocket-Accept: a response for another client?")
        if b"permessage-deflate" in (_header(head, b"sec-websocket-extensions") or b""):
            self.compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
            self._fresh_context = no_context_takeover
            self._inflater = zlib.decompressobj(-15)
        return head

    async def receive_head(self) -> bytes:
        """Read an HTTP response head; raises HandshakeFailed at end of file."""
        while (end := self.buffer.find(b"\r\n\r\n")) < 0:
            if not await self.receive_more():
                raise HandshakeFailed(
                    f"connection closed during the handshake ({bytes(self.buffer[:40])!r})"
                )
        head = bytes(self.buffer[: end + 4])
        del self.buffer[: end + 4]
        return head

    async def send_message(self, data: str | bytes) -> None:
        opcode = TEXT if isinstance(data, str) else BINARY
        payload = data.encode() if isinstance(data, str) else data
        if self.compressor is not None:
            if self._fresh_context:
                self.compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
            await self.send(
                encode_frame(opcode, deflate_message(self.compressor, payload), rsv1=True)
            )
        else:
            await self.send(encode_frame(opcode, payload))

    async def receive_frame(self) -> Frame | None:
        """The next frame, inflated if compressed (the server sends compressed messages in one
        frame each); ``None`` at end of file.

        Raises:
            trio.BrokenResourceError: the connection was reset.
        """
        while (parsed := parse_frame(self.buffer)) is None:
            if not await self.receive_more():
                return None
        frame, size = parsed
        del self.buffer[:size]
        if frame.rsv1 and self._inflater is not None:
            payload = self._inflater.decompress(frame.payload + _DEFLATE_TAIL)
            frame = Frame(frame.opcode, frame.fin, False, payload)
        return frame

    async def receive_message(self) -> str | bytes | Frame | None:
        """The next data message, or the control frame that came first, or ``None`` at EOF."""
        frame = await self.receive_frame()
        if frame is None or frame.opcode in (CLOSE, PING, PONG):
            return frame
        opcode, payload = frame.opcode, frame.payload
        while not frame.fin:
            frame = await self.receive_frame()
            if frame is None:
                return None
            payload += frame.payload
        return payload.decode() if opcode == TEXT else payload

    async def receive_until_end(self, timeout: float) -> tuple[list[Frame], str]:
        """Every frame until the connection ends, answering a close the server starts.

        Returns:
            The frames, and how the connection ended: ``"eof"`` (TCP closed), ``"reset"``
            (TCP RST) or ``"timeout"`` (still open after ``timeout`` seconds: a stall).
        """
        frames: list[Frame] = []
        with trio.move_on_after(timeout):
            try:
                while (frame := await self.receive_frame()) is not None:
                    frames.append(frame)
                    if frame.opcode == CLOSE:
                        await self._answer_close(frame)
            except trio.BrokenResourceError:
                return frames, "reset"
            return frames, "eof"
        return frames, "timeout"

    async def _answer_close(self, frame: Frame) -> None:
        """Echo the server's close code (RFC 6455 §5.5.1), unless the peer is already gone."""
        if self.close_sent:
            return
        self.close_sent = True
        # The peer may be gone, or this side may have half-closed already.
        with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
            await self.send(encode_frame(CLOSE, frame.payload[:2]))

    async def receive_more(self) -> bool:
        """Read what has arrived into :attr:`buffer`; ``False`` at end of file."""
        data = await self.stream.receive_some(262144)
        self.buffer += data
        return bool(data)

    def reset(self) -> None:
        """Abort with a TCP RST (SO_LINGER with a zero timeout), as a crashed client does."""
        self.stream.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.stream.socket.close()

    async def aclose(self) -> None:
        await trio.aclose_forcefully(self.stream)


def _header(head: bytes, name: bytes) -> bytes | None:
    """The value of header ``name`` (lower case) in a response head."""
    for line in head.split(b"\r\n")[1:]:
        field_name, _, value = line.partition(b":")
        if field_name.strip().lower() == name:
            return value.strip()
    return None


def parse_frame(buffer: bytearray) -> tuple[Frame, int] | None:
    """The first frame in ``buffer`` and its size, or ``None`` while it is incomplete.

    Raises:
        ValueError: the frame is masked (a server must not mask, RFC 6455 §5.1).
    """
    if len(buffer) < 2:
        return None
    first, second = buffer[0], buffer[1]
    length = second & 0x7F
    offset = 2
    if length == 126:
        if len(buffer) < 4:
            return None
        length = struct.unpack_from("!H", buffer, 2)[0]
        offset = 4
    elif length == 127:
        if len(buffer) < 10:
            return None
        length = struct.unpack_from("!Q", buffer, 2)[0]
        offset = 10
    if second & 0x80:
        raise ValueError("the server sent a masked frame (RFC 6455 §5.1 forbids it)")
    if len(buffer) < offset + length:
        return None
    frame = Frame(
        first & 0x0F,
        bool(first & 0x80),
        bool(first & 0x40),
        bytes(buffer[offset : offset + length]),
    )
    return frame, offset + length
