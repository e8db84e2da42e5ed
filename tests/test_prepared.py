"""Framed once: one bytes object per wire form, shared by every connection that takes it."""

from __future__ import annotations

import zlib

import pytest

from trioproto._prepared import PreparedMessage
from trioproto._sansio._codec import Codec, Role
from trioproto._sansio._deflate import DeflateParameters, PerMessageDeflate
from trioproto._sansio._events import Message


def deflate(*, no_context_takeover: bool, window: int = 12, level: int = 6) -> PerMessageDeflate:
    params = DeflateParameters(
        server_no_context_takeover=no_context_takeover, server_max_window_bits=window
    )
    return PerMessageDeflate(params, is_client=False, compress_level=level)


def received(frame: bytes, compression: PerMessageDeflate | None) -> object:
    """What a real client codec makes of ``frame``."""
    params = compression.params if compression is not None else None
    client = Codec(
        Role.CLIENT,
        compression=PerMessageDeflate(params, is_client=True) if params is not None else None,
    )
    client.receive_data(frame)
    (event,) = client.events()
    assert isinstance(event, Message)
    return event.data


def test_plain_frame_is_built_once_and_shared() -> None:
    message = PreparedMessage.of("hello " * 20)
    first = message.frame_for(None)
    assert message.frame_for(None) is first
    assert message.frame_for(deflate(no_context_takeover=False)) is first  # context takeover
    assert received(first, None) == "hello " * 20


def test_compressed_frame_shared_by_equal_settings_only() -> None:
    message = PreparedMessage.of(b"data " * 100)
    one, two = deflate(no_context_takeover=True), deflate(no_context_takeover=True)
    frame = message.frame_for(one)
    assert message.frame_for(two) is frame
    assert frame[0] & 0x40  # RSV1: compressed (RFC 7692 §6)
    assert len(frame) < 100
    assert received(frame, two) == b"data " * 100
    other = message.frame_for(deflate(no_context_takeover=True, window=10))
    assert other is not frame
    assert received(other, deflate(no_context_takeover=True, window=10)) == b"data " * 100


def test_compressed_alone_equals_what_the_connection_would_send() -> None:
    compression = deflate(no_context_takeover=True)
    payload = b"abc" * 200
    frame = PreparedMessage(payload, False).frame_for(compression)
    assert frame[2:] == compression.compress(payload)  # a 2-byte header: short payload
    inflater = zlib.decompressobj(-12)
    assert inflater.decompress(frame[2:] + b"\x00\x00\xff\xff") == payload


def test_short_messages_stay_uncompressed() -> None:
    message = PreparedMessage.of("hi")
    frame = message.frame_for(deflate(no_context_takeover=True))
    assert frame == b"\x81\x02hi"


def test_only_str_and_bytes_like() -> None:
    assert PreparedMessage.of(bytearray(b"ab")).payload == b"ab"
    assert not PreparedMessage.of(memoryview(b"ab")).text
    with pytest.raises(TypeError, match="a message is str or bytes-like, not int"):
        PreparedMessage.of(1)  # type: ignore[arg-type]
