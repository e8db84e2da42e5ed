"""stress.wire: frames built and parsed by hand, checked against trioproto's own codec."""

from __future__ import annotations

import pytest

from stress.wire import BINARY, CLOSE, TEXT, close_payload, encode_frame, parse_frame
from trioproto._sansio._codec import Codec, Role
from trioproto._sansio._events import CloseReceived, Message


@pytest.mark.parametrize("size", [0, 125, 126, 65535, 65536, 70000])
def test_unmasked_frames_round_trip(size: int) -> None:
    payload = bytes(range(256)) * (size // 256) + bytes(size % 256)
    data = bytearray(encode_frame(BINARY, payload, mask=False) + b"next")
    parsed = parse_frame(data)
    assert parsed is not None
    frame, length = parsed
    assert (frame.opcode, frame.fin, frame.payload) == (BINARY, True, payload)
    assert data[length:] == b"next"
    assert parse_frame(data[: length - 1]) is None


def test_masked_client_frames_are_what_a_server_codec_reads() -> None:
    codec = Codec(Role.SERVER)
    codec.receive_data(
        encode_frame(TEXT, "h\u00e9llo".encode()) + encode_frame(CLOSE, close_payload(4000, b"x"))
    )
    assert codec.events() == [Message("h\u00e9llo"), CloseReceived(4000, "x")]


def test_a_masked_server_frame_is_refused() -> None:
    with pytest.raises(ValueError, match="masked"):
        parse_frame(bytearray(encode_frame(TEXT, b"hi")))
