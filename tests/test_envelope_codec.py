"""The backplane envelope's wire form: round trips, and a clear refusal of anything else."""

from __future__ import annotations

import pytest

from trioproto._backplane import Envelope, Kind
from trioproto._envelope_codec import UnsupportedEnvelope, decode_envelope, encode_envelope

ORIGIN = "0123456789abcdef0123456789abcdef"


@pytest.mark.parametrize(
    "envelope",
    [
        Envelope(Kind.PUBLISH, "room:1", "héllo".encode(), True, ORIGIN),
        Envelope(Kind.BROADCAST, "", b"", False, ORIGIN),
        Envelope(Kind.SEND_TO, "5f1c0e9a-0000-4000-8000-000000000000", b"\x00" * 70000, False, ""),
    ],
)
def test_round_trip(envelope: Envelope) -> None:
    assert decode_envelope(encode_envelope(envelope)) == envelope


def test_layout_is_compact() -> None:
    data = encode_envelope(Envelope(Kind.PUBLISH, "t", b"xy", True, "o"))
    assert data == b"\x01\x00\x01\x01\x00\x01otxy"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x02\x00\x00\x00\x00\x00", "envelope version 2 (this node reads 1)"),
        (b"\x01\x00", "truncated envelope (2 bytes)"),
        (b"\x01\x07\x00\x00\x00\x00", "unknown envelope kind 7"),
        (b"\x01\x00\x00\x05\x00\x00ab", "truncated envelope header fields"),
        (b"\x01\x00\x00\x01\x00\x00\xff", "not UTF-8"),
    ],
)
def test_anything_else_is_refused_with_the_reason(data: bytes, message: str) -> None:
    with pytest.raises(UnsupportedEnvelope, match=message.replace("(", r"\(").replace(")", r"\)")):
        decode_envelope(data)


def test_an_origin_too_long_for_the_format_is_refused() -> None:
    with pytest.raises(ValueError, match="too long"):
        encode_envelope(Envelope(Kind.PUBLISH, "t", b"", False, "x" * 256))
