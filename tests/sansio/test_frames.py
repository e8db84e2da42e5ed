"""Tests for trioproto._sansio._frames: the frame header and close payload (RFC 6455 §5).

Byte-exact and table-driven: the serialisation tables are RFC 6455 §5.7's examples, and every
header is also parsed from each of its proper prefixes to check that an incomplete header is
never mistaken for a complete one.
"""

from __future__ import annotations

import pytest

from trioproto._exceptions import RemoteProtocolError
from trioproto._sansio._frames import (
    MAX_CLOSE_REASON,
    MAX_CONTROL_PAYLOAD,
    CloseCode,
    Opcode,
    is_sendable_close_code,
    parse_close_payload,
    parse_header,
    serialize_close_payload,
    serialize_frame,
)

MASK = bytes.fromhex("37fa213d")  # the masking key of RFC 6455 §5.7

# --------------------------------------------------------------------------- vocabulary


@pytest.mark.parametrize(
    ("opcode", "value"),
    [
        (Opcode.CONTINUATION, 0x0),
        (Opcode.TEXT, 0x1),
        (Opcode.BINARY, 0x2),
        (Opcode.CLOSE, 0x8),
        (Opcode.PING, 0x9),
        (Opcode.PONG, 0xA),
    ],
)
def test_opcode_values(opcode: Opcode, value: int) -> None:
    """RFC 6455 §5.2 / §11.8: the defined opcodes and their values."""
    assert opcode == value


def test_opcode_classes() -> None:
    """RFC 6455 §5.5: control opcodes have the high bit of the opcode set; data ones do not
    (the codec tells them apart by that bit)."""
    control = {Opcode.CLOSE, Opcode.PING, Opcode.PONG}
    assert all(op & 0x8 for op in control)
    assert not any(op & 0x8 for op in set(Opcode) - control)


def test_control_payload_limits() -> None:
    """RFC 6455 §5.5: control payloads are at most 125 bytes, so a close reason at most 123."""
    assert MAX_CONTROL_PAYLOAD == 125
    assert MAX_CLOSE_REASON == 123


@pytest.mark.parametrize(
    ("code", "value"),
    [
        (CloseCode.NORMAL_CLOSURE, 1000),
        (CloseCode.GOING_AWAY, 1001),
        (CloseCode.PROTOCOL_ERROR, 1002),
        (CloseCode.UNSUPPORTED_DATA, 1003),
        (CloseCode.RESERVED, 1004),
        (CloseCode.NO_STATUS_RCVD, 1005),
        (CloseCode.ABNORMAL_CLOSURE, 1006),
        (CloseCode.INVALID_FRAME_PAYLOAD_DATA, 1007),
        (CloseCode.POLICY_VIOLATION, 1008),
        (CloseCode.MESSAGE_TOO_BIG, 1009),
        (CloseCode.MANDATORY_EXTENSION, 1010),
        (CloseCode.INTERNAL_ERROR, 1011),
        (CloseCode.SERVICE_RESTART, 1012),
        (CloseCode.TRY_AGAIN_LATER, 1013),
        (CloseCode.BAD_GATEWAY, 1014),
        (CloseCode.TLS_HANDSHAKE, 1015),
    ],
)
def test_close_code_values(code: CloseCode, value: int) -> None:
    """RFC 6455 §7.4.1 and the IANA "WebSocket Close Code Number" registry."""
    assert code == value


@pytest.mark.parametrize(
    ("code", "sendable"),
    [
        (0, False),
        (999, False),
        (1000, True),
        (1001, True),
        (1002, True),
        (1003, True),
        (1004, False),  # reserved (§7.4.1)
        (1005, False),  # "MUST NOT be set as a status code in a Close control frame"
        (1006, False),  # idem
        (1007, True),
        (1008, True),
        (1009, True),
        (1010, True),
        (1011, True),
        (1012, True),  # IANA: Service Restart
        (1013, True),  # IANA: Try Again Later
        (1014, True),  # IANA: Bad Gateway
        (1015, False),  # TLS handshake failure, never on the wire
        (1016, False),  # unassigned
        (2000, False),
        (2999, False),  # reserved for extensions (§7.4.2), none registered
        (3000, True),  # registered libraries/frameworks
        (3999, True),
        (4000, True),  # private use
        (4999, True),
        (5000, False),
        (65535, False),
    ],
)
def test_is_sendable_close_code(code: int, sendable: bool) -> None:
    """RFC 6455 §7.4.1-§7.4.2: which status codes may appear in a close frame."""
    assert is_sendable_close_code(code) is sendable


# ------------------------------------------------------------------------- parse_header

# (description, header bytes, (first byte, opcode, length, mask, header size))
HEADERS = [
    ("7-bit unmasked", bytes.fromhex("8105"), (0x81, 1, 5, None, 2)),
    ("7-bit masked", bytes.fromhex("8185") + MASK, (0x81, 1, 5, MASK, 6)),
    ("7-bit empty", bytes.fromhex("8200"), (0x82, 2, 0, None, 2)),
    ("7-bit 125", bytes.fromhex("827d"), (0x82, 2, 125, None, 2)),
    ("not final", bytes.fromhex("0103"), (0x01, 1, 3, None, 2)),
    ("rsv bits kept", bytes.fromhex("f100"), (0xF1, 1, 0, None, 2)),
    ("unknown opcode", bytes.fromhex("8300"), (0x83, 3, 0, None, 2)),
    ("16-bit 126", bytes.fromhex("827e007e"), (0x82, 2, 126, None, 4)),
    ("16-bit 256", bytes.fromhex("827e0100"), (0x82, 2, 256, None, 4)),
    ("16-bit 65535", bytes.fromhex("827effff"), (0x82, 2, 65535, None, 4)),
    ("16-bit masked", bytes.fromhex("82fe0100") + MASK, (0x82, 2, 256, MASK, 8)),
    ("64-bit 65536", bytes.fromhex("827f0000000000010000"), (0x82, 2, 65536, None, 10)),
    (
        "64-bit masked",
        bytes.fromhex("82ff0000000000010000") + MASK,
        (0x82, 2, 65536, MASK, 14),
    ),
    (
        "64-bit largest legal",
        bytes.fromhex("827f7fffffffffffffff"),
        (0x82, 2, 2**63 - 1, None, 10),
    ),
]


@pytest.mark.parametrize(("description", "data", "expected"), HEADERS)
def test_parse_header(description: str, data: bytes, expected: tuple[object, ...]) -> None:
    """RFC 6455 §5.2: 7-bit, 16-bit (126) and 64-bit (127) lengths, with and without a mask."""
    assert parse_header(data) == expected
    # Trailing payload bytes do not change the header, and bytearray works as well.
    assert parse_header(bytearray(data + b"payload")) == expected


@pytest.mark.parametrize(("description", "data", "expected"), HEADERS)
def test_parse_header_at_offset(
    description: str, data: bytes, expected: tuple[object, ...]
) -> None:
    """The header may start anywhere in the receive buffer."""
    assert parse_header(b"\xff\xff\xff" + data, 3) == expected


@pytest.mark.parametrize(("description", "data", "expected"), HEADERS)
def test_parse_incomplete_header(
    description: str, data: bytes, expected: tuple[object, ...]
) -> None:
    """RFC 6455 §5.2: every proper prefix of a header is incomplete (``None``)."""
    for end in range(len(data)):
        assert parse_header(data[:end]) is None, end
        assert parse_header(b"xx" + data[:end], 2) is None, end


def test_parse_header_returns_mask_as_bytes() -> None:
    """The masking key is copied out of the (mutable) receive buffer."""
    buffer = bytearray(bytes.fromhex("8185") + MASK)
    header = parse_header(buffer)
    assert header is not None
    mask = header[3]
    assert type(mask) is bytes
    buffer[2:6] = b"\0\0\0\0"
    assert mask == MASK


@pytest.mark.parametrize(
    "length",
    [
        bytes.fromhex("8000000000000000"),
        bytes.fromhex("8000000000000001"),
        bytes.fromhex("ffffffffffffffff"),
    ],
)
@pytest.mark.parametrize("mask", [b"", MASK])
def test_parse_header_64_bit_msb(length: bytes, mask: bytes) -> None:
    """RFC 6455 §5.2: "the most significant bit MUST be 0" in a 64-bit length; else 1002.

    Detected as soon as the 10 bytes of the length are there, before the masking key.
    """
    second = 0xFF if mask else 0x7F
    with pytest.raises(RemoteProtocolError) as info:
        parse_header(bytes([0x82, second]) + length)
    assert info.value.close_code == 1002


# ---------------------------------------------------------------------- serialize_frame

# (description, arguments, expected bytes)
FRAMES: list[tuple[str, tuple[int, bytes, dict[str, object]], bytes]] = [
    # RFC 6455 §5.7 examples.
    (
        "single-frame unmasked text",
        (Opcode.TEXT, b"Hello", {}),
        bytes.fromhex("810548656c6c6f"),
    ),
    (
        "single-frame masked text",
        (Opcode.TEXT, b"Hello", {"mask": MASK}),
        bytes.fromhex("818537fa213d7f9f4d5158"),
    ),
    (
        "fragmented unmasked text, first",
        (Opcode.TEXT, b"Hel", {"fin": False}),
        bytes.fromhex("010348656c"),
    ),
    (
        "fragmented unmasked text, last",
        (Opcode.CONTINUATION, b"lo", {}),
        bytes.fromhex("80026c6f"),
    ),
    (
        "unmasked ping",
        (Opcode.PING, b"Hello", {}),
        bytes.fromhex("890548656c6c6f"),
    ),
    (
        "masked pong",
        (Opcode.PONG, b"Hello", {"mask": MASK}),
        bytes.fromhex("8a8537fa213d7f9f4d5158"),
    ),
    (
        "256 bytes binary, unmasked",
        (Opcode.BINARY, bytes(256), {}),
        bytes.fromhex("827e0100") + bytes(256),
    ),
    (
        "64KiB binary, unmasked",
        (Opcode.BINARY, bytes(65536), {}),
        bytes.fromhex("827f0000000000010000") + bytes(65536),
    ),
    # Length-form boundaries.
    ("empty", (Opcode.BINARY, b"", {}), bytes.fromhex("8200")),
    ("empty masked", (Opcode.BINARY, b"", {"mask": MASK}), bytes.fromhex("8280") + MASK),
    ("125 bytes", (Opcode.BINARY, bytes(125), {}), bytes.fromhex("827d") + bytes(125)),
    (
        "126 bytes",
        (Opcode.BINARY, bytes(126), {}),
        bytes.fromhex("827e007e") + bytes(126),
    ),
    (
        "65535 bytes",
        (Opcode.BINARY, bytes(65535), {}),
        bytes.fromhex("827effff") + bytes(65535),
    ),
    (
        "256 bytes masked",
        (Opcode.BINARY, bytes(256), {"mask": MASK}),
        bytes.fromhex("82fe0100") + MASK + MASK * 64,
    ),
    (
        "64KiB masked",
        (Opcode.BINARY, bytes(65536), {"mask": MASK}),
        bytes.fromhex("82ff0000000000010000") + MASK + MASK * 16384,
    ),
    # First-byte flags.
    (
        "rsv1 (RFC 7692 §6)",
        (Opcode.TEXT, b"", {"rsv1": True}),
        bytes.fromhex("c100"),
    ),
    (
        "rsv1 not final",
        (Opcode.BINARY, b"", {"rsv1": True, "fin": False}),
        bytes.fromhex("4200"),
    ),
    ("close 1000", (Opcode.CLOSE, b"\x03\xe8", {}), bytes.fromhex("880203e8")),
]


@pytest.mark.parametrize(("description", "arguments", "expected"), FRAMES)
def test_serialize_frame(
    description: str, arguments: tuple[int, bytes, dict[str, object]], expected: bytes
) -> None:
    """RFC 6455 §5.2 and the examples of §5.7, byte for byte."""
    opcode, payload, options = arguments
    assert serialize_frame(opcode, payload, **options) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(("description", "arguments", "expected"), FRAMES)
def test_serialized_header_parses_back(
    description: str, arguments: tuple[int, bytes, dict[str, object]], expected: bytes
) -> None:
    """RFC 6455 §5.2: what we serialise, the parser reads back identically."""
    opcode, payload, options = arguments
    header = parse_header(expected)
    assert header is not None
    first, parsed_opcode, length, mask, size = header
    assert parsed_opcode == opcode
    assert length == len(payload)
    assert bool(first & 0x80) is options.get("fin", True)
    assert bool(first & 0x40) is options.get("rsv1", False)
    assert mask == options.get("mask")
    assert len(expected) == size + length


# -------------------------------------------------------------------- close payloads

# (description, payload, (code, reason))
CLOSE_PAYLOADS = [
    ("empty: no status code (§7.1.5)", b"", (1005, "")),
    ("code only", b"\x03\xe8", (1000, "")),
    ("code and reason", b"\x03\xe9bye", (1001, "bye")),
    ("UTF-8 reason", b"\x0f\xa0" + "κόσμε".encode(), (4000, "κόσμε")),
    ("IANA 1014", b"\x03\xf6", (1014, "")),
    ("3000", b"\x0b\xb8", (3000, "")),
    ("4999", b"\x13\x87", (4999, "")),
    ("123-byte reason", b"\x03\xe8" + b"r" * 123, (1000, "r" * 123)),
]


@pytest.mark.parametrize(("description", "payload", "expected"), CLOSE_PAYLOADS)
def test_parse_close_payload(description: str, payload: bytes, expected: tuple[int, str]) -> None:
    """RFC 6455 §5.5.1: a close payload is empty or a 2-byte code and a UTF-8 reason."""
    assert parse_close_payload(payload) == expected


@pytest.mark.parametrize(
    ("description", "payload", "close_code"),
    [
        ("1 byte", b"\x03", 1002),
        ("code 0", b"\x00\x00", 1002),
        ("code 999", b"\x03\xe7", 1002),
        ("code 1004", b"\x03\xec", 1002),
        ("code 1005", b"\x03\xed", 1002),
        ("code 1006", b"\x03\xee", 1002),
        ("code 1015", b"\x03\xf7", 1002),
        ("code 1016", b"\x03\xf8", 1002),
        ("code 2999", b"\x0b\xb7", 1002),
        ("code 5000", b"\x13\x88", 1002),
        ("code 65535", b"\xff\xff", 1002),
        ("invalid code wins over invalid reason", b"\x03\xed\xff", 1002),
        ("reason not UTF-8", b"\x03\xe8\xff", 1007),
        ("reason with a surrogate", b"\x03\xe8\xed\xa0\x80", 1007),
        ("reason truncated in a code point", b"\x03\xe8\xe2\x82", 1007),
    ],
)
def test_parse_invalid_close_payload(description: str, payload: bytes, close_code: int) -> None:
    """RFC 6455 §5.5.1, §7.4.1: bad lengths and codes fail with 1002, bad reasons with 1007."""
    with pytest.raises(RemoteProtocolError) as info:
        parse_close_payload(payload)
    assert info.value.close_code == close_code


@pytest.mark.parametrize(
    ("code", "reason", "expected"),
    [
        (None, "", b""),
        (1000, "", b"\x03\xe8"),
        (1001, "bye", b"\x03\xe9bye"),
        (4000, "é", b"\x0f\xa0\xc3\xa9"),
        (CloseCode.GOING_AWAY, "", b"\x03\xe9"),
    ],
)
def test_serialize_close_payload(code: int | None, reason: str, expected: bytes) -> None:
    """RFC 6455 §5.5.1: the code in network byte order, then the UTF-8 reason."""
    assert serialize_close_payload(code, reason) == expected
    if code is not None:
        assert parse_close_payload(expected) == (code, reason)
