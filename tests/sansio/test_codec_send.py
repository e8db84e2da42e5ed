"""Tests for trioproto._sansio._codec: sending, and the bytes received with the handshake
(RFC 6455 §5, §5.4).

See codec_helpers for how frames are built and fed.
"""

from __future__ import annotations

import pytest

from codec_helpers import (
    BINARY,
    CONT,
    PING,
    PONG,
    TEXT,
    client,
    fixed_mask,
    frame,
    read_frames,
    server,
    server_frame,
)
from trioproto._exceptions import LocalProtocolError
from trioproto._sansio._codec import Codec, Role, State
from trioproto._sansio._events import (
    Message,
    Ping,
)

# ------------------------------------------------------------------------ trailing_data


def test_trailing_data_parsed_at_once() -> None:
    """Bytes after the handshake head are frames; they are parsed by the constructor."""
    codec = Codec(Role.SERVER, trailing_data=frame(TEXT, b"Hi") + frame(PING, b"p"))
    assert codec.events() == [Message("Hi"), Ping(b"p")]
    assert codec.data_to_send() == bytes.fromhex("8a0170")


def test_trailing_data_partial_frame() -> None:
    """A partial frame in the trailing data completes with the next receive_data."""
    data = frame(TEXT, b"Hello")
    codec = Codec(Role.SERVER, trailing_data=data[:3])
    assert codec.events() == []
    codec.receive_data(data[3:])
    assert codec.events() == [Message("Hello")]


def test_trailing_data_violation() -> None:
    """A violation in the trailing data is recorded at once; failing sends its close frame."""
    codec = Codec(Role.SERVER, trailing_data=frame(TEXT, b"x", mask=None))
    assert codec.state is State.FAILING
    assert codec.failure is not None
    codec.fail_for_violation()
    assert codec.state is State.CLOSED
    sent = codec.data_to_send()
    assert sent[:1] == b"\x88"  # a close frame
    assert int.from_bytes(sent[2:4], "big") == 1002


def test_trailing_data_client_pong_uses_mask_source() -> None:
    """The client's auto-pong for a ping in the trailing data is masked as well."""
    codec = Codec(Role.CLIENT, trailing_data=server_frame(PING, b"Hello"), mask_source=fixed_mask)
    assert codec.data_to_send() == bytes.fromhex("8a8537fa213d7f9f4d5158")


# ------------------------------------------------------------------------------- send


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ("Hello", bytes.fromhex("810548656c6c6f")),
        ("", bytes.fromhex("8100")),
        ("é", bytes.fromhex("8102c3a9")),
        (b"Hello", bytes.fromhex("820548656c6c6f")),
        (bytearray(b"ab"), bytes.fromhex("82026162")),
        (memoryview(b"ab"), bytes.fromhex("82026162")),
        (b"", bytes.fromhex("8200")),
        (bytes(125), bytes.fromhex("827d") + bytes(125)),  # the longest 7-bit length
        ("x" * 126, bytes.fromhex("817e007e") + b"x" * 126),  # the shortest 16-bit one
        (bytes(256), bytes.fromhex("827e0100") + bytes(256)),
        (bytes(65536), bytes.fromhex("827f0000000000010000") + bytes(65536)),
    ],
)
def test_server_send_message(data: str | bytes, expected: bytes) -> None:
    """RFC 6455 §5.6, §5.7: str is a text frame, bytes-like a binary one, unmasked."""
    codec = server()
    codec.send_message(data)
    assert codec.data_to_send() == expected


def test_client_send_message_masks_with_mask_source() -> None:
    """RFC 6455 §5.7: "A single-frame masked text message" with key 37 fa 21 3d."""
    codec = client()
    codec.send_message("Hello")
    assert codec.data_to_send() == bytes.fromhex("818537fa213d7f9f4d5158")


def test_client_uses_a_fresh_key_per_frame() -> None:
    """RFC 6455 §5.3: "a new masking key for each frame", from the mask source."""
    keys = iter([b"\x01\x02\x03\x04", b"\x05\x06\x07\x08", b"\x09\x0a\x0b\x0c"])
    calls = []

    def source(size: int) -> bytes:
        calls.append(size)
        return next(keys)

    codec = Codec(Role.CLIENT, mask_source=source)
    codec.send_message(b"a")
    codec.send_ping(b"b")
    codec.send_close(1000)
    sent = read_frames(codec.data_to_send())
    assert calls == [4, 4, 4]
    assert [f.mask for f in sent] == [b"\x01\x02\x03\x04", b"\x05\x06\x07\x08", b"\t\n\x0b\x0c"]
    assert [f.payload for f in sent] == [b"a", b"b", b"\x03\xe8"]


def test_default_mask_source_is_random() -> None:
    """RFC 6455 §10.3: masking keys come from a strong source of entropy (os.urandom)."""
    codec = Codec(Role.CLIENT)
    for _ in range(4):
        codec.send_message(b"same payload")
    masks = {f.mask for f in read_frames(codec.data_to_send())}
    assert None not in masks
    assert len(masks) > 1


def test_send_fragments_byte_exact() -> None:
    """RFC 6455 §5.7: "A fragmented unmasked text message"."""
    codec = server()
    codec.send_fragment("Hel", final=False)
    codec.send_fragment("lo", final=True)
    assert codec.data_to_send() == bytes.fromhex("010348656c80026c6f")


def test_send_fragments_binary_with_control_between() -> None:
    """RFC 6455 §5.4: control frames may be injected between fragments."""
    codec = server()
    codec.send_fragment(bytearray(b"a"), final=False)
    codec.send_ping(b"p")
    codec.send_fragment(memoryview(b"b"), final=False)
    codec.send_fragment(b"", final=True)
    assert codec.data_to_send() == bytes.fromhex("0201618901700001628000")
    codec.send_message("next")
    assert codec.data_to_send() == bytes.fromhex("81046e657874")


def test_send_single_final_fragment() -> None:
    """A first fragment that is also final is a whole message."""
    codec = server()
    codec.send_fragment("x", final=True)
    codec.send_fragment(b"y", final=True)
    assert codec.data_to_send() == bytes.fromhex("810178820179")


@pytest.mark.parametrize(("first", "second"), [("text", b"bytes"), (b"bytes", "text")])
def test_send_fragment_type_mismatch(first: str | bytes, second: str | bytes) -> None:
    """RFC 6455 §5.4: a message has one type; its fragments cannot change it."""
    codec = server()
    codec.send_fragment(first, final=False)
    with pytest.raises(LocalProtocolError):
        codec.send_fragment(second, final=True)
    codec.send_fragment(first, final=True)  # the message can still be finished
    frames = read_frames(codec.data_to_send())
    assert [f.first for f in frames] == [
        (TEXT if isinstance(first, str) else BINARY),
        0x80 | CONT,
    ]


def test_send_message_during_fragmented_send() -> None:
    """RFC 6455 §5.4: "the fragments of one message MUST NOT be interleaved"."""
    codec = server()
    codec.send_fragment("a", final=False)
    with pytest.raises(LocalProtocolError):
        codec.send_message("b")
    with pytest.raises(LocalProtocolError):
        codec.send_message(b"b")
    codec.send_fragment("c", final=True)
    codec.send_message("d")
    assert [f.payload for f in read_frames(codec.data_to_send())] == [b"a", b"c", b"d"]


@pytest.mark.parametrize("method", ["send_ping", "send_pong"])
def test_control_payload_limit(method: str) -> None:
    """RFC 6455 §5.5: "All control frames MUST have a payload length of 125 bytes or less"."""
    codec = server()
    send = getattr(codec, method)
    send(bytes(125))
    with pytest.raises(LocalProtocolError):
        send(bytes(126))
    opcode = PING if method == "send_ping" else PONG
    assert codec.data_to_send() == bytes([0x80 | opcode, 125]) + bytes(125)


def test_send_ping_pong_byte_exact() -> None:
    """RFC 6455 §5.7: "Unmasked Ping request"; pong and defaults."""
    codec = server()
    codec.send_ping(b"Hello")
    codec.send_pong(bytearray(b"Hello"))
    codec.send_ping()
    codec.send_pong()
    assert codec.data_to_send() == bytes.fromhex("890548656c6c6f8a0548656c6c6f89008a00")


def test_data_to_send_collects_and_forgets() -> None:
    """data_to_send returns everything queued since the last call, then nothing."""
    codec = server()
    assert not codec.has_data_to_send
    assert codec.data_to_send() == b""
    codec.send_message("a")
    assert codec.has_data_to_send
    codec.send_message(b"b")
    assert codec.data_to_send() == bytes.fromhex("810161820162")
    assert not codec.has_data_to_send
    assert codec.data_to_send() == b""


def test_initial_state() -> None:
    """The codec starts OPEN (RFC 6455 §4.1: "The WebSocket Connection is Established")."""
    for role in Role:
        codec = Codec(role)
        assert codec.role is role
        assert codec.state is State.OPEN
        assert codec.close_sent is None
        assert codec.close_received is None
        assert codec.failure is None
        assert not codec.eof_received
        assert not codec.should_close_transport
