"""Tests for trioproto._sansio._codec: permessage-deflate through the codec (RFC 7692 §6).

See codec_helpers for how frames are built and fed.
"""

from __future__ import annotations

import pytest

from codec_helpers import (
    BINARY,
    CLOSE,
    CONT,
    PING,
    RSV1,
    RSV2,
    RSV3,
    TEXT,
    feed_every_way,
    frame,
    server,
)
from trioproto._config import Limits
from trioproto._exceptions import PayloadTooBig
from trioproto._sansio._events import (
    Message,
)

# ------------------------------------------------------------------------ compression


class FlipCompressor:
    """A stand-in for permessage-deflate (RFC 7692): "compresses" by flipping every bit, which
    works piece by piece. Enforces ``max_length`` as the real one must."""

    def __init__(self, threshold: int = 0) -> None:
        self.threshold = threshold
        self.calls: list[tuple[bytes, bool, int | None]] = []

    def decompress(self, data: bytes, fin: bool, max_length: int | None) -> bytes:
        self.calls.append((data, fin, max_length))
        result = flip(data)
        if max_length is not None and len(result) > max_length:
            raise PayloadTooBig("inflated message too big")
        return result

    def compress(self, data: bytes) -> bytes:
        return flip(data)

    def should_compress(self, size: int) -> bool:
        return size >= self.threshold


def flip(data: bytes) -> bytes:
    return bytes(byte ^ 0xFF for byte in data)


def test_compressed_message() -> None:
    """RFC 7692 §6.2: RSV1 on the first frame marks a compressed message, inflated here."""
    compressor = FlipCompressor()
    codec = server(compression=compressor)
    codec.receive_data(frame(TEXT, flip(b"Hello"), rsv=RSV1))
    assert codec.events() == [Message("Hello")]
    assert compressor.calls == [(flip(b"Hello"), True, 2**20)]


def test_compressed_fragmented_message() -> None:
    """RFC 7692 §6.1: only the first frame has RSV1; continuations are inflated too, and the
    remaining allowance shrinks as the message grows."""
    compressor = FlipCompressor()
    codec = server(compression=compressor, limits=Limits(max_message_size=100))
    codec.receive_data(frame(BINARY, flip(b"ab"), rsv=RSV1, fin=False) + frame(CONT, flip(b"cd")))
    assert codec.events() == [Message(b"abcd")]
    assert compressor.calls == [(flip(b"ab"), False, 100), (flip(b"cd"), True, 98)]


def test_compressed_at_every_split_point() -> None:
    """The inflated message does not depend on how the compressed payload arrives."""
    data = frame(TEXT, flip("κόσμε".encode()), rsv=RSV1, fin=False) + frame(CONT, flip(b"!"))
    outcome = feed_every_way(lambda: server(compression=FlipCompressor()), data)
    assert outcome.events == [Message("κόσμε!")]


@pytest.mark.parametrize(
    ("description", "data", "code"),
    [
        (
            "RSV1 on a continuation",
            frame(TEXT, rsv=RSV1, fin=False) + frame(CONT, rsv=RSV1),
            1002,
        ),
        ("RSV1 on a ping", frame(PING, rsv=RSV1), 1002),
        ("RSV2 with compression", frame(TEXT, rsv=RSV2), 1002),
        ("RSV1 and RSV3", frame(TEXT, rsv=RSV1 | RSV3), 1002),
        ("inflates to invalid UTF-8", frame(TEXT, flip(b"\xff"), rsv=RSV1), 1007),
        ("inflates beyond the limit", frame(BINARY, flip(bytes(11)), rsv=RSV1), 1009),
    ],
)
def test_compressed_violations(description: str, data: bytes, code: int) -> None:
    """RFC 7692 §6: RSV1 only on a data message's first frame; limits apply after inflation."""
    outcome = feed_every_way(
        lambda: server(
            compression=FlipCompressor(), limits=Limits(max_message_size=10, max_frame_size=100)
        ),
        data,
    )
    assert outcome.failure == code
    assert outcome.summary() == [(CLOSE, code)]


def test_compressed_frame_limit_is_on_the_wire_size() -> None:
    """The header check for a compressed message uses the frame limit only; the message limit
    applies to the inflated size (RFC 7692 §8.1 leaves the limit to the implementation)."""
    codec = server(
        compression=FlipCompressor(), limits=Limits(max_message_size=10, max_frame_size=100)
    )
    codec.receive_data(frame(BINARY, flip(bytes(10)), rsv=RSV1))
    assert codec.events() == [Message(bytes(10))]
    codec.receive_data(frame(BINARY, length=101, rsv=RSV1))
    assert codec.failure is not None
    assert codec.failure.close_code == 1009


def test_compressed_without_message_limit() -> None:
    """With no message limit the inflater gets no cap."""
    compressor = FlipCompressor()
    codec = server(compression=compressor, limits=Limits(max_message_size=None))
    codec.receive_data(frame(BINARY, flip(b"x"), rsv=RSV1))
    assert codec.events() == [Message(b"x")]
    assert compressor.calls == [(flip(b"x"), True, None)]


def test_uncompressed_message_with_compression_negotiated() -> None:
    """RFC 7692 §6: a message without RSV1 is not compressed."""
    compressor = FlipCompressor()
    codec = server(compression=compressor)
    codec.receive_data(frame(TEXT, b"plain", fin=False) + frame(CONT, b"!"))
    assert codec.events() == [Message("plain!")]
    assert compressor.calls == []


def test_compressed_discarded_while_closing() -> None:
    """After our close, compressed data is dropped without inflating it."""
    compressor = FlipCompressor()
    codec = server(compression=compressor)
    codec.send_close()
    codec.receive_data(frame(BINARY, flip(b"x"), rsv=RSV1))
    assert codec.events() == []
    assert compressor.calls == []


def test_send_compressed() -> None:
    """RFC 7692 §6: a compressed message is sent with RSV1; small ones may stay plain, and
    fragments are never compressed."""
    codec = server(compression=FlipCompressor(threshold=3))
    codec.send_message("Hello")
    codec.send_message(b"Hi")
    codec.send_fragment("Hello", final=True)
    assert codec.data_to_send() == (b"\xc1\x05" + flip(b"Hello") + b"\x82\x02Hi" + b"\x81\x05Hello")
