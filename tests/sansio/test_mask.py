"""Tests for trioproto._sansio._mask: payload masking (RFC 6455 §5.3).

The pure-Python implementation is compared with a naive byte loop that transcribes §5.3
("octet i of the transformed data is the XOR of octet i of the original data with octet at
index i modulo 4 of the masking key"); whichever ``apply_mask`` is active must agree with it.
"""

from __future__ import annotations

import pytest

from trioproto._sansio import _mask
from trioproto._sansio._mask import apply_mask, apply_mask_python, rotate_mask

MASKS = [
    bytes.fromhex("37fa213d"),  # RFC 6455 §5.7
    bytes.fromhex("00000000"),
    bytes.fromhex("ffffffff"),
    bytes.fromhex("01020304"),
    bytes.fromhex("80000001"),
]
LENGTHS = [*range(71), 125, 126, 127, 1000, 4093, 65535, 65536, 65539]


def reference_mask(data: bytes, mask: bytes) -> bytes:
    """RFC 6455 §5.3, written out byte by byte."""
    return bytes(byte ^ mask[i % 4] for i, byte in enumerate(data))


def sample(length: int) -> bytes:
    """Bytes that are neither constant nor periodic with period 4."""
    return bytes((i * 131 + (i >> 8) * 7 + 13) & 0xFF for i in range(length))


def test_rfc_example() -> None:
    """RFC 6455 §5.7: "Hello" masked with 37 fa 21 3d is 7f 9f 4d 51 58."""
    mask = bytes.fromhex("37fa213d")
    assert apply_mask_python(b"Hello", mask) == bytes.fromhex("7f9f4d5158")
    assert apply_mask(b"Hello", mask) == bytes.fromhex("7f9f4d5158")


@pytest.mark.parametrize("mask", MASKS)
@pytest.mark.parametrize("length", LENGTHS)
def test_apply_mask_python(length: int, mask: bytes) -> None:
    """RFC 6455 §5.3: the int-XOR implementation equals the byte loop at every length."""
    data = sample(length)
    expected = reference_mask(data, mask)
    result = apply_mask_python(data, mask)
    assert type(result) is bytes
    assert result == expected
    # Masking is its own inverse ("the same algorithm applies regardless of the direction").
    assert apply_mask_python(result, mask) == data


@pytest.mark.parametrize("length", [0, 1, 5, 64])
@pytest.mark.parametrize("kind", [bytes, bytearray, memoryview])
def test_apply_mask_python_accepts_buffers(length: int, kind: type) -> None:
    """The receive path may hand over a bytearray or a memoryview of its buffer."""
    mask = MASKS[0]
    data = sample(length)
    assert apply_mask_python(kind(data), mask) == reference_mask(data, mask)


def test_apply_mask_keeps_leading_and_trailing_zeros() -> None:
    """Little-endian int conversion must not lose zero bytes at either end."""
    mask = bytes.fromhex("00000000")
    for data in (b"\0", b"\0\0\0\0\0", b"\0a\0", b"a\0\0\0\0\0\0"):
        assert apply_mask_python(data, mask) == data
    assert apply_mask_python(b"\x37\xfa", MASKS[0]) == b"\0\0"


@pytest.mark.parametrize("mask", MASKS)
@pytest.mark.parametrize("length", LENGTHS)
def test_active_apply_mask_matches_python(length: int, mask: bytes) -> None:
    """RFC 6455 §5.3: the active implementation (C speedup or fallback) equals the Python one."""
    data = sample(length)
    assert apply_mask(data, mask) == apply_mask_python(data, mask)


def test_module_exports() -> None:
    """apply_mask is either the compiled speedup or exactly the Python fallback."""
    assert set(_mask.__all__) == {"apply_mask", "apply_mask_python", "rotate_mask"}
    if apply_mask is not apply_mask_python:  # only with the C speedup
        assert apply_mask.__module__.endswith("_speedups")


def test_compiled_apply_mask_refuses_bad_arguments() -> None:
    """The C speedup takes its two arguments without a tuple to parse (it runs once per frame):
    it still checks them as strictly as the argument parser did."""
    if apply_mask is apply_mask_python:
        pytest.skip("the C speedup is not built")
    with pytest.raises(TypeError, match="exactly 2 arguments"):
        apply_mask(b"data")  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        apply_mask("text", MASKS[0])  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        apply_mask(b"data", "mask")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="4 bytes"):
        apply_mask(b"data", b"key")
    assert apply_mask(memoryview(b"\x37\xfa"), MASKS[0]) == b"\0\0"


@pytest.mark.parametrize(
    ("offset", "expected"),
    [
        (0, "01020304"),
        (1, "02030401"),
        (2, "03040102"),
        (3, "04010203"),
        (4, "01020304"),
        (5, "02030401"),
        (7, "04010203"),
        (1001, "02030401"),
    ],
)
def test_rotate_mask(offset: int, expected: str) -> None:
    """The key for payload bytes that start ``offset`` bytes into the frame (RFC 6455 §5.3)."""
    assert rotate_mask(bytes.fromhex("01020304"), offset) == bytes.fromhex(expected)


@pytest.mark.parametrize("mask", MASKS)
@pytest.mark.parametrize("length", [0, 1, 2, 3, 4, 5, 9, 31, 130])
def test_rotate_mask_unmasks_pieces(length: int, mask: bytes) -> None:
    """A payload unmasked piece by piece with rotated keys equals the whole payload unmasked."""
    data = sample(length)
    masked = reference_mask(data, mask)
    for cut in range(length + 1):
        first = apply_mask(masked[:cut], mask)
        second = apply_mask(masked[cut:], rotate_mask(mask, cut))
        assert first + second == data, cut


def test_codec_round_trip_on_the_pure_python_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """Both masking paths run through the codec: here the C accelerator (when built) is
    replaced by the pure-Python fallback for a client/server round trip."""
    from trioproto._sansio import _codec, _frames, _mask
    from trioproto._sansio._codec import Codec, Role
    from trioproto._sansio._events import Message

    monkeypatch.setattr(_codec, "apply_mask", _mask.apply_mask_python)
    monkeypatch.setattr(_frames, "apply_mask", _mask.apply_mask_python)
    client, server = Codec(Role.CLIENT), Codec(Role.SERVER)
    messages: list[str | bytes] = ["text", b"\x00" * 70_000, "", b"x" * 125]
    for message in messages:
        client.send_message(message)
    data = client.data_to_send()
    for start in range(0, len(data), 999):
        server.receive_data(data[start : start + 999])
    assert server.events() == [Message(m) for m in messages]
