"""Tests for trioproto._sansio._codec: the RFC 6455 framing state machine.

Byte-exact and table-driven. Frames are built by hand with :func:`frame` (an independent
transcription of RFC 6455 §5.2, not the module's serialiser), and the codec's output is read
back with :func:`read_frames`. Every receive table goes through :func:`feed_every_way`: the same
bytes fed whole, in every 2-piece split and one byte at a time must give identical events,
identical output and the same final state, since TCP may cut a stream anywhere.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trioproto._config import Limits
from trioproto._exceptions import LocalProtocolError, PayloadTooBig
from trioproto._sansio._codec import Codec, Role, State
from trioproto._sansio._events import (
    CloseReceived,
    Event,
    Message,
    MessageFragment,
    Ping,
    Pong,
)

MASK = bytes.fromhex("37fa213d")  # RFC 6455 §5.7

CONT, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
RSV1, RSV2, RSV3 = 0x40, 0x20, 0x10

# ------------------------------------------------------------------------------ helpers


def xor_mask(data: bytes, mask: bytes) -> bytes:
    """RFC 6455 §5.3, byte by byte."""
    return bytes(byte ^ mask[i % 4] for i, byte in enumerate(data))


def frame(
    opcode: int,
    payload: bytes = b"",
    *,
    fin: bool = True,
    rsv: int = 0,
    mask: bytes | None = MASK,
    length: int | None = None,
) -> bytes:
    """Build a frame by hand (RFC 6455 §5.2); ``length`` overrides the header's length field."""
    size = len(payload) if length is None else length
    first = (0x80 if fin else 0) | rsv | opcode
    mask_bit = 0x80 if mask is not None else 0
    if size < 126:
        header = bytes([first, mask_bit | size])
    elif size < 1 << 16:
        header = bytes([first, mask_bit | 126]) + size.to_bytes(2, "big")
    else:
        header = bytes([first, mask_bit | 127]) + size.to_bytes(8, "big")
    if mask is None:
        return header + payload
    return header + mask + xor_mask(payload, mask)


def server_frame(opcode: int, payload: bytes = b"", **options: object) -> bytes:
    """A frame as a server sends it: unmasked (RFC 6455 §5.1)."""
    return frame(opcode, payload, mask=None, **options)  # type: ignore[arg-type]


def close_payload(code: int, reason: bytes = b"") -> bytes:
    return code.to_bytes(2, "big") + reason


@dataclasses.dataclass(frozen=True)
class WireFrame:
    first: int
    payload: bytes
    mask: bytes | None

    @property
    def opcode(self) -> int:
        return self.first & 0x0F

    def summary(self) -> tuple[int, bytes | int | None]:
        """(opcode, payload); close frames as (CLOSE, code or None) since reasons vary."""
        if self.opcode == CLOSE:
            code = int.from_bytes(self.payload[:2], "big") if self.payload else None
            return (CLOSE, code)
        return (self.opcode, self.payload)


def read_frames(data: bytes) -> list[WireFrame]:
    """Parse a complete byte string of frames (RFC 6455 §5.2), unmasking payloads."""
    frames = []
    position = 0
    while position < len(data):
        first, second = data[position], data[position + 1]
        position += 2
        length = second & 0x7F
        if length == 126:
            length = int.from_bytes(data[position : position + 2], "big")
            position += 2
        elif length == 127:
            length = int.from_bytes(data[position : position + 8], "big")
            position += 8
        mask = None
        if second & 0x80:
            mask = data[position : position + 4]
            position += 4
        payload = data[position : position + length]
        assert len(payload) == length, "truncated frame in the output"
        position += length
        frames.append(WireFrame(first, xor_mask(payload, mask) if mask else payload, mask))
    return frames


def fixed_mask(size: int) -> bytes:
    assert size == 4
    return MASK


def server(**options: object) -> Codec:
    return Codec(Role.SERVER, **options)  # type: ignore[arg-type]


def client(**options: object) -> Codec:
    return Codec(Role.CLIENT, mask_source=fixed_mask, **options)  # type: ignore[arg-type]


@dataclasses.dataclass(frozen=True)
class Outcome:
    events: list[Event]
    output: bytes
    state: State
    failure: int | None

    def summary(self) -> list[tuple[int, bytes | int | None]]:
        return [f.summary() for f in read_frames(self.output)]


def feed(codec: Codec, chunks: list[bytes]) -> Outcome:
    events: list[Event] = []
    for chunk in chunks:
        codec.receive_data(chunk)
        events += codec.events()
    failure = codec.failure.close_code if codec.failure is not None else None
    return Outcome(events, codec.data_to_send(), codec.state, failure)


def feed_every_way(make: Callable[[], Codec], data: bytes) -> Outcome:
    """Feed ``data`` whole, in every 2-piece split, and one byte at a time (RFC 6455 §5.2:
    frames may be cut anywhere by the transport); all must agree. Returns the outcome."""
    reference = feed(make(), [data])
    for cut in range(1, len(data)):
        assert feed(make(), [data[:cut], data[cut:]]) == reference, f"split at {cut}"
    trickle = [data[i : i + 1] for i in range(len(data))]
    assert feed(make(), trickle) == reference, "one byte at a time"
    return reference


def check_output_masking(outcome: Outcome, role: Role) -> None:
    """RFC 6455 §5.1: a client masks every frame, a server none."""
    for wire in read_frames(outcome.output):
        assert wire.mask == (MASK if role is Role.CLIENT else None)


# -------------------------------------------------------------------- receive: server

# (description, input bytes, expected events, expected output frames as summaries)
Row = tuple[str, bytes, list[Event], list[tuple[int, bytes | int | None]]]

SERVER_VALID: list[Row] = [
    ("text", frame(TEXT, b"Hello"), [Message("Hello")], []),
    ("binary", frame(BINARY, b"\x00\xff"), [Message(b"\x00\xff")], []),
    ("empty text", frame(TEXT), [Message("")], []),
    ("empty binary", frame(BINARY), [Message(b"")], []),
    ("non-ASCII text", frame(TEXT, "κόσμε".encode()), [Message("κόσμε")], []),
    ("16-bit length", frame(BINARY, bytes(range(200))), [Message(bytes(range(200)))], []),
    (
        "fragmented text (§5.7)",
        frame(TEXT, b"Hel", fin=False) + frame(CONT, b"lo"),
        [Message("Hello")],
        [],
    ),
    (
        "fragmented binary, 3 frames",
        frame(BINARY, b"a", fin=False) + frame(CONT, b"b", fin=False) + frame(CONT, b"c"),
        [Message(b"abc")],
        [],
    ),
    (
        "fragmented empty text",
        frame(TEXT, fin=False) + frame(CONT, fin=False) + frame(CONT),
        [Message("")],
        [],
    ),
    (
        "fragmented empty binary",
        frame(BINARY, fin=False) + frame(CONT, fin=False) + frame(CONT),
        [Message(b"")],
        [],
    ),
    (
        "empty fragments around data",
        frame(TEXT, fin=False) + frame(CONT, b"x", fin=False) + frame(CONT),
        [Message("x")],
        [],
    ),
    (
        "code point split across fragments",
        frame(TEXT, b"\xe2", fin=False) + frame(CONT, b"\x82\xac"),
        [Message("€")],
        [],
    ),
    (
        "two messages",
        frame(TEXT, b"a") + frame(BINARY, b"b"),
        [Message("a"), Message(b"b")],
        [],
    ),
    ("ping (§5.5.2)", frame(PING, b"Hello"), [Ping(b"Hello")], [(PONG, b"Hello")]),
    ("empty ping", frame(PING), [Ping(b"")], [(PONG, b"")]),
    ("125-byte ping", frame(PING, bytes(125)), [Ping(bytes(125))], [(PONG, bytes(125))]),
    (
        "ping between fragments (§5.4)",
        frame(TEXT, b"Hel", fin=False) + frame(PING, b"?") + frame(CONT, b"lo"),
        [Ping(b"?"), Message("Hello")],
        [(PONG, b"?")],
    ),
    (
        "pong between fragments",
        frame(BINARY, b"a", fin=False) + frame(PONG, b"!") + frame(CONT, b"b"),
        [Pong(b"!"), Message(b"ab")],
        [],
    ),
    ("unsolicited pong (§5.5.3)", frame(PONG, b"hb"), [Pong(b"hb")], []),
    ("close 1000", frame(CLOSE, close_payload(1000)), [CloseReceived(1000, "")], [(CLOSE, 1000)]),
    (
        "close with reason",
        frame(CLOSE, close_payload(1001, b"bye")),
        [CloseReceived(1001, "bye")],
        [(CLOSE, 1001)],
    ),
    (
        "close with UTF-8 reason",
        frame(CLOSE, close_payload(4000, "κόσμε".encode())),
        [CloseReceived(4000, "κόσμε")],
        [(CLOSE, 4000)],
    ),
    (
        "empty close: reply 1000 (§7.1.5)",
        frame(CLOSE),
        [CloseReceived(1005, "")],
        [(CLOSE, 1000)],
    ),
    (
        "close between fragments",
        frame(TEXT, b"a", fin=False) + frame(CLOSE, close_payload(1000)),
        [CloseReceived(1000, "")],
        [(CLOSE, 1000)],
    ),
    (
        "frames after close are ignored (§1.4)",
        frame(CLOSE, close_payload(1000)) + frame(TEXT, b"x") + frame(PING),
        [CloseReceived(1000, "")],
        [(CLOSE, 1000)],
    ),
    (
        "garbage after close is ignored",
        frame(CLOSE, close_payload(1000)) + b"\xff\xff\xff",
        [CloseReceived(1000, "")],
        [(CLOSE, 1000)],
    ),
]

SERVER_INVALID: list[Row] = [
    # §5.2: "MUST be 0 unless an extension is negotiated that defines meanings".
    ("RSV1 without extension", frame(TEXT, b"x", rsv=RSV1), [], [(CLOSE, 1002)]),
    ("RSV2", frame(TEXT, b"x", rsv=RSV2), [], [(CLOSE, 1002)]),
    ("RSV3", frame(BINARY, b"x", rsv=RSV3), [], [(CLOSE, 1002)]),
    ("all RSV bits", frame(BINARY, rsv=RSV1 | RSV2 | RSV3), [], [(CLOSE, 1002)]),
    ("RSV1 on ping", frame(PING, rsv=RSV1), [], [(CLOSE, 1002)]),
    (
        "RSV1 on continuation",
        frame(TEXT, b"a", fin=False) + frame(CONT, b"b", rsv=RSV1),
        [],
        [(CLOSE, 1002)],
    ),
    # §5.1: "The server MUST close the connection upon receiving a frame that is not masked."
    ("unmasked text", frame(TEXT, b"x", mask=None), [], [(CLOSE, 1002)]),
    ("unmasked ping", frame(PING, mask=None), [], [(CLOSE, 1002)]),
    ("unmasked close", server_frame(CLOSE, close_payload(1000)), [], [(CLOSE, 1002)]),
    # §5.5: control frames are at most 125 bytes and not fragmented.
    ("126-byte ping", frame(PING, bytes(126)), [], [(CLOSE, 1002)]),
    ("126-byte close", frame(CLOSE, close_payload(1000, bytes(124))), [], [(CLOSE, 1002)]),
    ("126-byte pong", frame(PONG, bytes(126)), [], [(CLOSE, 1002)]),
    ("fragmented ping", frame(PING, b"a", fin=False), [], [(CLOSE, 1002)]),
    ("fragmented pong", frame(PONG, fin=False), [], [(CLOSE, 1002)]),
    ("fragmented close", frame(CLOSE, close_payload(1000), fin=False), [], [(CLOSE, 1002)]),
    # §5.4: fragments of one message, in order, not interleaved with another message.
    ("continuation without message", frame(CONT, b"x"), [], [(CLOSE, 1002)]),
    ("non-final continuation without message", frame(CONT, fin=False), [], [(CLOSE, 1002)]),
    (
        "continuation after a complete message",
        frame(TEXT, b"a") + frame(CONT, b"b"),
        [Message("a")],
        [(CLOSE, 1002)],
    ),
    (
        "text while a text message is open",
        frame(TEXT, b"a", fin=False) + frame(TEXT, b"b"),
        [],
        [(CLOSE, 1002)],
    ),
    (
        "binary while a text message is open",
        frame(TEXT, fin=False) + frame(BINARY, fin=False),
        [],
        [(CLOSE, 1002)],
    ),
    # §5.2: 64-bit length with the most significant bit set.
    (
        "64-bit length MSB set",
        bytes.fromhex("82ff8000000000000000") + MASK,
        [],
        [(CLOSE, 1002)],
    ),
    # §5.5.1: a close payload is empty or at least 2 bytes.
    ("close payload of 1 byte", frame(CLOSE, b"\x03"), [], [(CLOSE, 1002)]),
    ("close reason not UTF-8", frame(CLOSE, close_payload(1000, b"\xff")), [], [(CLOSE, 1007)]),
    (
        "close reason truncated in a code point",
        frame(CLOSE, close_payload(1000, b"\xe2\x82")),
        [],
        [(CLOSE, 1007)],
    ),
    # §8.1: text must be UTF-8.
    ("invalid UTF-8 text", frame(TEXT, b"\xc0\x80"), [], [(CLOSE, 1007)]),
    ("surrogate in text", frame(TEXT, b"a\xed\xa0\x80"), [], [(CLOSE, 1007)]),
    (
        "invalid UTF-8 in a later fragment",
        frame(TEXT, b"ok", fin=False) + frame(CONT, b"\xff", fin=False) + frame(CONT),
        [],
        [(CLOSE, 1007)],
    ),
    ("text ends inside a code point", frame(TEXT, b"\xe2\x82"), [], [(CLOSE, 1007)]),
    (
        "last fragment leaves a code point unfinished",
        frame(TEXT, b"\xe2", fin=False) + frame(CONT, b"\x82"),
        [],
        [(CLOSE, 1007)],
    ),
    (
        "surrogate split across fragments",
        frame(TEXT, b"\xed", fin=False) + frame(CONT, b"\xa0\x80"),
        [],
        [(CLOSE, 1007)],
    ),
    (
        "events before a violation are kept",
        frame(TEXT, b"a") + frame(PING, b"p") + frame(TEXT, b"b", mask=None) + frame(TEXT, b"c"),
        [Message("a"), Ping(b"p")],
        [(PONG, b"p"), (CLOSE, 1002)],
    ),
]


@pytest.mark.parametrize(("description", "data", "events", "output"), SERVER_VALID)
def test_server_receives(description: str, data: bytes, events: list[Event], output: Row) -> None:
    """RFC 6455 §5-§7: valid client frames, at every split point."""
    outcome = feed_every_way(server, data)
    assert outcome.events == events
    assert outcome.summary() == output
    assert outcome.failure is None
    closed = any(isinstance(event, CloseReceived) for event in events)
    assert outcome.state is (State.CLOSED if closed else State.OPEN)
    check_output_masking(outcome, Role.SERVER)


@pytest.mark.parametrize(("description", "data", "events", "output"), SERVER_INVALID)
def test_server_fails(description: str, data: bytes, events: list[Event], output: Row) -> None:
    """RFC 6455 §7.1.7: each violation fails the connection with its close code."""
    outcome = feed_every_way(server, data)
    assert outcome.events == events
    assert outcome.summary() == output
    last = output[-1][1]
    assert outcome.failure == last
    assert outcome.state is State.CLOSED
    check_output_masking(outcome, Role.SERVER)


@pytest.mark.parametrize("opcode", [3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF])
@pytest.mark.parametrize("fin", [True, False])
def test_unknown_opcode(opcode: int, fin: bool) -> None:
    """RFC 6455 §5.2: "If an unknown opcode is received, the receiving endpoint MUST _Fail_"."""
    for make, mask in ((server, MASK), (client, None)):
        outcome = feed_every_way(make, frame(opcode, b"xy", fin=fin, mask=mask))
        assert outcome.events == []
        assert outcome.summary() == [(CLOSE, 1002)]
        assert outcome.failure == 1002


@pytest.mark.parametrize(
    "code", [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 4999]
)
def test_valid_close_code_is_echoed(code: int) -> None:
    """RFC 6455 §5.5.1: "the endpoint typically echos the status code it received"."""
    outcome = feed_every_way(server, frame(CLOSE, close_payload(code, b"why")))
    assert outcome.events == [CloseReceived(code, "why")]
    assert outcome.output == b"\x88\x02" + close_payload(code)
    assert outcome.failure is None


@pytest.mark.parametrize(
    "code", [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535]
)
def test_invalid_close_code(code: int) -> None:
    """RFC 6455 §7.4: reserved, unassigned and out-of-range codes fail with 1002."""
    outcome = feed_every_way(server, frame(CLOSE, close_payload(code)))
    assert outcome.events == []
    assert outcome.summary() == [(CLOSE, 1002)]
    assert outcome.failure == 1002


# -------------------------------------------------------------------- receive: client

CLIENT_TABLE: list[Row] = [
    ("text", server_frame(TEXT, b"Hello"), [Message("Hello")], []),
    ("empty binary", server_frame(BINARY), [Message(b"")], []),
    (
        "fragmented text",
        server_frame(TEXT, b"Hel", fin=False) + server_frame(CONT, b"lo"),
        [Message("Hello")],
        [],
    ),
    ("ping", server_frame(PING, b"Hello"), [Ping(b"Hello")], [(PONG, b"Hello")]),
    ("pong", server_frame(PONG, b"x"), [Pong(b"x")], []),
    (
        "close",
        server_frame(CLOSE, close_payload(1001)),
        [CloseReceived(1001, "")],
        [(CLOSE, 1001)],
    ),
    ("empty close", server_frame(CLOSE), [CloseReceived(1005, "")], [(CLOSE, 1000)]),
    # §5.1: "A client MUST close a connection if it detects a masked frame."
    ("masked text", frame(TEXT, b"Hello"), [], [(CLOSE, 1002)]),
    ("masked close", frame(CLOSE, close_payload(1000)), [], [(CLOSE, 1002)]),
    ("RSV1", server_frame(TEXT, rsv=RSV1), [], [(CLOSE, 1002)]),
    ("invalid UTF-8", server_frame(TEXT, b"\xff"), [], [(CLOSE, 1007)]),
    ("continuation first", server_frame(CONT), [], [(CLOSE, 1002)]),
    ("invalid close code", server_frame(CLOSE, close_payload(1005)), [], [(CLOSE, 1002)]),
]


@pytest.mark.parametrize(("description", "data", "events", "output"), CLIENT_TABLE)
def test_client_receives(description: str, data: bytes, events: list[Event], output: Row) -> None:
    """RFC 6455 §5.1: the client role reads unmasked frames and masks what it sends."""
    outcome = feed_every_way(client, data)
    assert outcome.events == events
    assert outcome.summary() == output
    check_output_masking(outcome, Role.CLIENT)


def test_receive_accepts_buffers() -> None:
    """receive_data takes bytes, bytearray or memoryview (what a transport hands over)."""
    codec = server()
    data = frame(TEXT, b"a") + frame(TEXT, b"b") + frame(TEXT, b"c")
    codec.receive_data(bytearray(data[:9]))
    codec.receive_data(memoryview(data)[9:])
    assert codec.events() == [Message("a"), Message("b"), Message("c")]
    assert codec.events() == []


# ------------------------------------------------------------------ fail-fast UTF-8


def test_invalid_fragment_fails_before_the_final_fragment() -> None:
    """RFC 6455 §8.1 (Autobahn 6.4.1): the bad fragment fails the connection on arrival."""
    codec = server()
    codec.receive_data(frame(TEXT, "κόσμε".encode(), fin=False))
    assert codec.failure is None
    codec.receive_data(frame(CONT, b"\xf4\x90\x80\x80", fin=False))
    assert codec.failure is not None
    assert codec.failure.close_code == 1007
    assert codec.state is State.CLOSED
    assert read_frames(codec.data_to_send())[0].summary() == (CLOSE, 1007)
    codec.receive_data(frame(CONT, b"edited"))  # never looked at
    assert codec.events() == []
    assert codec.data_to_send() == b""


@pytest.mark.parametrize("make", [server, client])
def test_invalid_piece_of_one_frame_fails_on_arrival(make: Callable[[], Codec]) -> None:
    """RFC 6455 §8.1 (Autobahn 6.4.3/6.4.4): inside one frame whose payload arrives in pieces,
    the connection fails when the piece with the impossible byte arrives."""
    payload = b"a" * 40 + b"\xf4\x90\x80\x80" + b"b" * 40
    bad = 41  # F4 90 cannot start any valid sequence
    mask = MASK if make is server else None
    data = frame(TEXT, payload, mask=mask)
    header = len(data) - len(payload)
    for end in range(header, len(data)):
        codec = make()
        codec.receive_data(data[:end])
        failed = codec.failure is not None
        assert failed is (end - header > bad), end
        if failed:
            assert codec.failure is not None
            assert codec.failure.close_code == 1007


def test_surrogate_fails_before_the_frame_completes() -> None:
    """RFC 3629 §3 / RFC 6455 §8.1: ED A0 is rejected before its third byte arrives."""
    data = frame(TEXT, b"ok\xed\xa0\x80more")
    header = len(data) - 9
    codec = server()
    codec.receive_data(data[: header + 3])
    assert codec.failure is None
    codec.receive_data(data[header + 3 : header + 4])
    assert codec.failure is not None
    assert codec.failure.close_code == 1007


# ---------------------------------------------------------------------------- limits

LENGTH_FORMS = [5, 125, 126, 200, 65535, 65536]


@pytest.mark.parametrize("limit", LENGTH_FORMS)
@pytest.mark.parametrize("which", ["max_frame_size", "max_message_size"])
def test_frame_at_limit_is_accepted(limit: int, which: str) -> None:
    """style.md habit 4: a frame of exactly the limit is fine."""
    codec = server(limits=Limits(**{which: limit}))  # type: ignore[arg-type]
    codec.receive_data(frame(BINARY, bytes(limit)))
    assert codec.events() == [Message(bytes(limit))]
    assert codec.failure is None


@pytest.mark.parametrize("limit", LENGTH_FORMS)
@pytest.mark.parametrize("excess", [1, 2])
@pytest.mark.parametrize("which", ["max_frame_size", "max_message_size"])
@pytest.mark.parametrize("opcode", [TEXT, BINARY])
def test_frame_over_limit_fails_from_header(
    limit: int, excess: int, which: str, opcode: int
) -> None:
    """RFC 6455 §7.4.1 (1009), design.md: detected from the header before any payload."""
    header = frame(opcode, length=limit + excess)  # the header alone, no payload
    codec = server(limits=Limits(**{which: limit}))  # type: ignore[arg-type]
    codec.receive_data(header[:-1])
    assert codec.failure is None  # the header is not complete yet
    codec.receive_data(header[-1:])
    assert codec.failure is not None
    assert isinstance(codec.failure, PayloadTooBig)
    assert codec.failure.close_code == 1009
    assert codec.state is State.CLOSED
    assert [f.summary() for f in read_frames(codec.data_to_send())] == [(CLOSE, 1009)]


@pytest.mark.parametrize("length", [2**31, 2**40, 2**63 - 1])
def test_huge_length_fails_from_header(length: int) -> None:
    """RFC 6455 §5.2: a 64-bit length is checked against the limit, nothing is buffered."""
    codec = server()
    codec.receive_data(frame(BINARY, length=length))
    assert codec.failure is not None
    assert codec.failure.close_code == 1009


def test_no_limit_waits_for_payload() -> None:
    """``None`` disables the limits explicitly (design.md, Limits)."""
    codec = server(limits=Limits(max_message_size=None))
    codec.receive_data(frame(BINARY, length=2**40) + b"\0" * 10)
    assert codec.failure is None
    assert codec.state is State.OPEN
    assert codec.events() == []


@pytest.mark.parametrize(
    ("description", "limits", "data", "events", "failure"),
    [
        (
            "fragmented message at the limit",
            Limits(max_message_size=10),
            frame(BINARY, bytes(6), fin=False) + frame(CONT, bytes(4)),
            [Message(bytes(10))],
            None,
        ),
        (
            "fragmented message over the limit",
            Limits(max_message_size=10),
            frame(BINARY, bytes(6), fin=False) + frame(CONT, length=5),
            [],
            1009,
        ),
        (
            "fragmented message two over the limit",
            Limits(max_message_size=10),
            frame(TEXT, b"abcdef", fin=False) + frame(CONT, length=6),
            [],
            1009,
        ),
        (
            "empty fragments do not count",
            Limits(max_message_size=3),
            frame(TEXT, fin=False) + frame(CONT, b"abc", fin=False) + frame(CONT),
            [Message("abc")],
            None,
        ),
        (
            "frame limit below message limit",
            Limits(max_message_size=10, max_frame_size=4),
            frame(BINARY, bytes(4), fin=False) + frame(CONT, bytes(4), fin=False) + frame(CONT),
            [Message(bytes(8))],
            None,
        ),
        (
            "one frame over the frame limit",
            Limits(max_message_size=10, max_frame_size=4),
            frame(BINARY, bytes(4), fin=False) + frame(CONT, length=5),
            [],
            1009,
        ),
        (
            "frames within the frame limit, message over",
            Limits(max_message_size=10, max_frame_size=4),
            frame(BINARY, bytes(4), fin=False)
            + frame(CONT, bytes(4), fin=False)
            + frame(CONT, length=4),
            [],
            1009,
        ),
        (
            "text is counted in bytes, not characters",
            Limits(max_message_size=5),
            frame(TEXT, "€€".encode()),
            [],
            1009,
        ),
        (
            "text of exactly the limit in bytes",
            Limits(max_message_size=6),
            frame(TEXT, "€€".encode()),
            [Message("€€")],
            None,
        ),
        (
            "control frames do not count",
            Limits(max_message_size=5),
            frame(TEXT, b"abc", fin=False) + frame(PING, b"0123456789") + frame(CONT, b"de"),
            [Ping(b"0123456789"), Message("abcde")],
            None,
        ),
        (
            "each message starts from zero (slow path)",
            Limits(max_message_size=10),
            frame(BINARY, bytes(6), fin=False)
            + frame(CONT, bytes(2))
            + frame(BINARY, bytes(9))
            + frame(TEXT, b"x", fin=False)
            + frame(CONT, bytes(9)),
            [Message(bytes(8)), Message(bytes(9)), Message("x" + "\0" * 9)],
            None,
        ),
    ],
)
def test_message_limits(
    description: str,
    limits: Limits,
    data: bytes,
    events: list[Event],
    failure: int | None,
) -> None:
    """RFC 6455 §7.4.1 (1009): message and frame limits, at every split point."""
    outcome = feed_every_way(lambda: server(limits=limits), data)
    assert outcome.events == events
    assert outcome.failure == failure
    if failure is not None:
        assert outcome.summary()[-1] == (CLOSE, 1009)


def test_message_size_resets_after_a_split_message() -> None:
    """Regression: the size of a message received in pieces was charged to the next one."""
    codec = server(limits=Limits(max_message_size=10))
    first = frame(BINARY, bytes(8))
    codec.receive_data(first[:5])
    codec.receive_data(first[5:])
    codec.receive_data(frame(BINARY, bytes(10)))
    assert codec.events() == [Message(bytes(8)), Message(bytes(10))]
    assert codec.failure is None


# ------------------------------------------------------------------------ auto-pong


def test_auto_pong_byte_exact() -> None:
    """RFC 6455 §5.5.3: the pong has the ping's "identical Application data"."""
    codec = server()
    codec.receive_data(frame(PING, b"Hello"))
    assert codec.events() == [Ping(b"Hello")]
    assert codec.data_to_send() == bytes.fromhex("8a0548656c6c6f")


def test_client_auto_pong_is_masked() -> None:
    """RFC 6455 §5.7: "A masked Pong response" is 8a 85 37 fa 21 3d 7f 9f 4d 51 58."""
    codec = client()
    codec.receive_data(server_frame(PING, b"Hello"))
    assert codec.events() == [Ping(b"Hello")]
    assert codec.data_to_send() == bytes.fromhex("8a8537fa213d7f9f4d5158")


def test_auto_pong_disabled() -> None:
    """With auto_pong=False the application answers; the ping is still reported."""
    codec = server(auto_pong=False)
    codec.receive_data(frame(PING, b"Hello") + frame(PING, b"again"))
    events = codec.events()
    assert events == [Ping(b"Hello"), Ping(b"again")]
    assert codec.data_to_send() == b""
    assert not codec.has_data_to_send
    ping = events[0]
    assert isinstance(ping, Ping)
    codec.send_pong(ping.response().payload)
    assert codec.data_to_send() == bytes.fromhex("8a0548656c6c6f")


def test_pings_answered_in_order() -> None:
    """RFC 6455 §5.5.2: every ping gets its pong, in the order received."""
    codec = server()
    codec.receive_data(frame(PING, b"1") + frame(PING, b"2") + frame(PING, b"3"))
    assert [f.summary() for f in read_frames(codec.data_to_send())] == [
        (PONG, b"1"),
        (PONG, b"2"),
        (PONG, b"3"),
    ]


# -------------------------------------------------------------------- close handshake


def test_peer_closes_server() -> None:
    """RFC 6455 §5.5.1, §7.1.1: echo the code, then the server closes TCP."""
    codec = server()
    codec.receive_data(frame(CLOSE, close_payload(4000, b"bye")))
    assert codec.events() == [CloseReceived(4000, "bye")]
    assert codec.data_to_send() == b"\x88\x02\x0f\xa0"
    assert codec.state is State.CLOSED
    assert codec.close_received == (4000, "bye")
    assert codec.close_sent == (4000, "")
    assert codec.failure is None
    assert codec.should_close_transport


def test_peer_closes_empty() -> None:
    """RFC 6455 §7.1.5: no status code received (1005); we answer 1000."""
    codec = server()
    codec.receive_data(frame(CLOSE))
    assert codec.events() == [CloseReceived(1005, "")]
    assert codec.data_to_send() == b"\x88\x02\x03\xe8"
    assert codec.close_received == (1005, "")
    assert codec.close_sent == (1000, "")


def test_peer_closes_client() -> None:
    """RFC 6455 §7.1.1: a client echoes the close (masked) and waits for the TCP close."""
    codec = client()
    codec.receive_data(server_frame(CLOSE, close_payload(1001)))
    assert codec.events() == [CloseReceived(1001, "")]
    assert codec.data_to_send() == b"\x88\x82" + MASK + xor_mask(close_payload(1001), MASK)
    assert codec.state is State.CLOSED
    assert not codec.should_close_transport
    codec.receive_eof()
    assert codec.should_close_transport


@pytest.mark.parametrize("make", [server, client])
def test_we_close(make: Callable[[], Codec]) -> None:
    """RFC 6455 §7.1.2: after our close, data is discarded, pings are not answered, and the
    peer's close ends the handshake without a second close frame."""
    codec = make()
    mask = MASK if make is server else None
    codec.send_close(1000, "bye")
    sent = read_frames(codec.data_to_send())
    assert [(f.opcode, f.payload) for f in sent] == [(CLOSE, b"\x03\xe8bye")]
    assert codec.state is State.CLOSING
    assert codec.close_sent == (1000, "bye")
    assert not codec.should_close_transport
    codec.receive_data(
        frame(TEXT, b"discarded", mask=mask)
        + frame(BINARY, b"x", fin=False, mask=mask)
        + frame(PING, b"p", mask=mask)
        + frame(CONT, b"y", mask=mask)
        + frame(TEXT, b"\xff", mask=mask)  # not even validated
        + frame(PONG, b"q", mask=mask)
    )
    assert codec.events() == [Ping(b"p"), Pong(b"q")]
    assert codec.data_to_send() == b""
    assert codec.state is State.CLOSING
    assert codec.failure is None
    codec.receive_data(frame(CLOSE, close_payload(1000), mask=mask))
    assert codec.events() == [CloseReceived(1000, "")]
    assert codec.data_to_send() == b""
    assert codec.state is State.CLOSED
    assert codec.close_received == (1000, "")
    assert codec.should_close_transport is (make is server)


def test_we_close_with_a_message_in_progress() -> None:
    """A fragmented message started before our close is discarded, fragments still parse."""
    codec = server()
    codec.receive_data(frame(TEXT, b"a", fin=False))
    codec.send_close()
    codec.receive_data(frame(CONT, b"b") + frame(TEXT, b"c") + frame(CLOSE))
    assert codec.events() == [CloseReceived(1005, "")]
    assert codec.data_to_send() == b"\x88\x02\x03\xe8"  # only our own close


@pytest.mark.parametrize(
    ("description", "data", "code"),
    [
        ("unmasked frame", frame(TEXT, mask=None), 1002),
        ("bad close code", frame(CLOSE, close_payload(1005)), 1002),
        ("bad close reason", frame(CLOSE, close_payload(1000, b"\xff")), 1007),
        ("too big", frame(BINARY, length=2**30), 1009),
    ],
)
def test_violation_while_closing(description: str, data: bytes, code: int) -> None:
    """RFC 6455 §7.1.7: a violation after our close fails without a second close frame."""
    codec = server()
    codec.send_close(1001)
    codec.data_to_send()
    codec.receive_data(data)
    assert codec.failure is not None
    assert codec.failure.close_code == code
    assert codec.state is State.CLOSED
    assert codec.data_to_send() == b""
    assert codec.close_sent == (1001, "")


def _open(codec: Codec) -> None:
    pass


def _closing(codec: Codec) -> None:
    codec.send_close()


def _peer_closed(codec: Codec) -> None:
    codec.receive_data(frame(CLOSE, mask=MASK if codec.role is Role.SERVER else None))


def _handshake_done(codec: Codec) -> None:
    codec.send_close()
    _peer_closed(codec)


def _failed(codec: Codec) -> None:
    codec.receive_data(b"\x83\x00")  # unknown opcode


def _failed_while_closing(codec: Codec) -> None:
    codec.send_close()
    _failed(codec)


def _eof(codec: Codec) -> None:
    codec.receive_eof()


def _closing_then_eof(codec: Codec) -> None:
    codec.send_close()
    codec.receive_eof()


SCENARIOS = [
    (_open, False, False),
    (_closing, False, False),
    (_peer_closed, True, False),
    (_handshake_done, True, False),
    (_failed, True, True),
    (_failed_while_closing, True, True),
    (_eof, True, True),
    (_closing_then_eof, True, True),
]


@pytest.mark.parametrize(("scenario", "for_server", "for_client"), SCENARIOS)
def test_should_close_transport(
    scenario: Callable[[Codec], None], for_server: bool, for_client: bool
) -> None:
    """RFC 6455 §7.1.1: "the server MUST close the underlying TCP connection immediately";
    the client waits for it, unless the connection failed or the transport is gone."""
    for make, expected in ((server, for_server), (client, for_client)):
        codec = make()
        scenario(codec)
        assert codec.should_close_transport is expected, make


def test_local_fail_server_should_close() -> None:
    """RFC 6455 §7.1.7: after fail() the server closes the transport."""
    codec = server()
    codec.fail(1011)
    assert codec.should_close_transport


@pytest.mark.parametrize("make", [server, client])
def test_receive_eof_before_close(make: Callable[[], Codec]) -> None:
    """RFC 6455 §7.1.5: EOF before the close handshake is an abnormal closure (1006)."""
    codec = make()
    mask = MASK if make is server else None
    codec.receive_data(frame(TEXT, b"partial", fin=False, mask=mask) + b"\x81")
    codec.receive_eof()
    assert codec.state is State.CLOSED
    assert codec.eof_received
    assert codec.close_received is None
    assert codec.close_sent is None
    assert codec.failure is None
    assert codec.events() == []
    assert codec.data_to_send() == b""
    assert codec.should_close_transport
    codec.receive_data(frame(TEXT, b"late", mask=mask))
    assert codec.events() == []
    with pytest.raises(LocalProtocolError):
        codec.send_message("too late")


SENDERS: list[tuple[str, Callable[[Codec], None]]] = [
    ("send_message text", lambda c: c.send_message("x")),
    ("send_message binary", lambda c: c.send_message(b"x")),
    ("send_fragment", lambda c: c.send_fragment("x", final=False)),
    ("send_ping", lambda c: c.send_ping(b"x")),
    ("send_pong", lambda c: c.send_pong(b"x")),
    ("send_close", lambda c: c.send_close(1000)),
    ("send_close empty", lambda c: c.send_close(None)),
]


@pytest.mark.parametrize(("name", "send"), SENDERS)
@pytest.mark.parametrize(
    "scenario", [_closing, _peer_closed, _handshake_done, _failed, _eof], ids=lambda f: f.__name__
)
def test_sending_after_close_raises(
    name: str, send: Callable[[Codec], None], scenario: Callable[[Codec], None]
) -> None:
    """RFC 6455 §5.5.1: "the endpoint MUST NOT send any more data frames" after a close."""
    codec = server()
    scenario(codec)
    codec.data_to_send()
    state = codec.state
    with pytest.raises(LocalProtocolError):
        send(codec)
    assert codec.state is state
    assert codec.data_to_send() == b""


# -------------------------------------------------------------------------- send_close


@pytest.mark.parametrize(
    ("code", "reason", "expected"),
    [
        (1000, "", "880203e8"),
        (1001, "bye", "880503e9627965"),
        (1012, "", "880203f4"),
        (3000, "", "88020bb8"),
        (4999, "", "88021387"),
        (None, "", "8800"),
    ],
)
def test_send_close(code: int | None, reason: str, expected: str) -> None:
    """RFC 6455 §5.5.1: the close frame's payload, byte for byte."""
    codec = server()
    codec.send_close(code, reason)
    assert codec.data_to_send() == bytes.fromhex(expected)
    assert codec.state is State.CLOSING
    assert codec.close_sent == (code, reason)


def test_send_close_default_is_normal_closure() -> None:
    """RFC 6455 §7.4.1: 1000 "indicates a normal closure"."""
    codec = server()
    codec.send_close()
    assert codec.data_to_send() == bytes.fromhex("880203e8")


@pytest.mark.parametrize("code", [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000])
def test_send_close_rejects_unsendable_codes(code: int) -> None:
    """RFC 6455 §7.4.1: 1005, 1006 and 1015 "MUST NOT be set as a status code"."""
    codec = server()
    with pytest.raises(LocalProtocolError):
        codec.send_close(code)
    assert codec.state is State.OPEN
    assert codec.data_to_send() == b""


@pytest.mark.parametrize(
    ("reason", "ok"),
    [
        ("r" * 123, True),
        ("r" * 124, False),
        ("é" * 61 + "r", True),  # 123 bytes
        ("é" * 62, False),  # 124 bytes, 62 characters
        ("€" * 41, True),  # 123 bytes
        ("€" * 41 + "r", False),
    ],
)
def test_send_close_reason_length(reason: str, ok: bool) -> None:
    """RFC 6455 §5.5: 125 bytes of control payload, so at most 123 bytes of reason."""
    codec = server()
    if ok:
        codec.send_close(1000, reason)
        sent = read_frames(codec.data_to_send())
        assert sent[0].payload == b"\x03\xe8" + reason.encode()
    else:
        with pytest.raises(LocalProtocolError):
            codec.send_close(1000, reason)
        assert codec.state is State.OPEN
        assert codec.data_to_send() == b""


def test_send_close_reason_needs_code() -> None:
    """RFC 6455 §5.5.1: a reason follows a status code, it cannot come alone."""
    codec = server()
    with pytest.raises(LocalProtocolError):
        codec.send_close(None, "why")
    assert codec.state is State.OPEN


# -------------------------------------------------------------------------------- fail


@pytest.mark.parametrize(
    ("code", "reason", "expected"),
    [
        (1002, "", "880203ea"),
        (1011, "oops", "880603f36f6f7073"),
        (1009, "", "880203f1"),
        (4000, "", "88020fa0"),
        (1005, "ignored", "8800"),  # codes that may not be sent: an empty close
        (1006, "", "8800"),
        (1015, "", "8800"),
        (999, "", "8800"),
    ],
)
def test_fail(code: int, reason: str, expected: str) -> None:
    """RFC 6455 §7.1.7: _Fail the WebSocket Connection_ sends a close (if none yet), and
    nothing more is read."""
    codec = server()
    codec.fail(code, reason)
    assert codec.data_to_send() == bytes.fromhex(expected)
    assert codec.state is State.CLOSED
    assert codec.failure is None  # the peer did nothing wrong
    codec.receive_data(frame(PING))
    assert codec.events() == []
    assert codec.data_to_send() == b""


def test_fail_default_code() -> None:
    """RFC 6455 §7.4.1: 1002 "protocol error" by default."""
    codec = server()
    codec.fail()
    assert codec.data_to_send() == bytes.fromhex("880203ea")


@pytest.mark.parametrize(
    ("reason", "sent"),
    [
        ("r" * 200, "r" * 123),
        ("é" * 100, "é" * 61),  # 122 bytes: the 62nd é would straddle the limit
        ("€" * 50, "€" * 41),  # exactly 123 bytes
        ("a" + "€" * 50, "a" + "€" * 40),  # 121 bytes
        ("😀" * 40, "😀" * 30),  # 120 bytes
        ("short", "short"),
    ],
)
def test_fail_truncates_reason_at_character_boundary(reason: str, sent: str) -> None:
    """RFC 6455 §5.5: the reason is cut to 123 bytes without splitting a character."""
    codec = server()
    codec.fail(1008, reason)
    (close,) = read_frames(codec.data_to_send())
    assert close.payload == b"\x03\xf0" + sent.encode()
    assert len(close.payload) <= 125
    assert codec.close_sent == (1008, sent)


def test_fail_after_close_sent_sends_nothing() -> None:
    """RFC 6455 §7.1.7: "if the endpoint has not already sent a Close frame"."""
    codec = server()
    codec.send_close(1000)
    codec.data_to_send()
    codec.fail(1011)
    assert codec.data_to_send() == b""
    assert codec.state is State.CLOSED
    codec.fail(1011)
    assert codec.data_to_send() == b""


def test_fail_clears_buffered_input() -> None:
    """After a failure nothing more is parsed, even bytes already buffered."""
    codec = server()
    data = frame(TEXT, b"complete later")
    codec.receive_data(data[:-1])
    codec.fail(1001)
    codec.receive_data(data[-1:])
    assert codec.events() == []


# ---------------------------------------------------------------------- fragments mode

FRAGMENT_TABLE: list[tuple[str, bytes, list[Event]]] = [
    ("single text frame", frame(TEXT, b"Hello"), [MessageFragment("Hello", True)]),
    ("single binary frame", frame(BINARY, b"\x00"), [MessageFragment(b"\x00", True)]),
    ("single empty frame", frame(TEXT), [MessageFragment("", True)]),
    (
        "two fragments",
        frame(TEXT, b"Hel", fin=False) + frame(CONT, b"lo"),
        [MessageFragment("Hel", False), MessageFragment("lo", True)],
    ),
    (
        "empty binary fragments",
        frame(BINARY, fin=False) + frame(CONT, fin=False) + frame(CONT),
        [MessageFragment(b"", False), MessageFragment(b"", False), MessageFragment(b"", True)],
    ),
    (
        "code point split between frames",
        frame(TEXT, b"a\xe2", fin=False) + frame(CONT, b"\x82\xacb"),
        [MessageFragment("a", False), MessageFragment("€b", True)],
    ),
    (
        "code point over three frames",
        frame(TEXT, b"\xf0\x9f", fin=False)
        + frame(CONT, b"\x98", fin=False)
        + frame(CONT, b"\x80"),
        [MessageFragment("", False), MessageFragment("", False), MessageFragment("😀", True)],
    ),
    (
        "ping between fragments",
        frame(BINARY, b"a", fin=False) + frame(PING, b"p") + frame(CONT, b"b"),
        [MessageFragment(b"a", False), Ping(b"p"), MessageFragment(b"b", True)],
    ),
    (
        "fragments then a whole message",
        frame(TEXT, b"a", fin=False) + frame(CONT, b"b") + frame(TEXT, b"c"),
        [MessageFragment("a", False), MessageFragment("b", True), MessageFragment("c", True)],
    ),
    (
        "invalid UTF-8 after a good fragment",
        frame(TEXT, b"ok", fin=False) + frame(CONT, b"\xff", fin=False),
        [MessageFragment("ok", False)],
    ),
]


@pytest.mark.parametrize(("description", "data", "events"), FRAGMENT_TABLE)
def test_fragments_mode(description: str, data: bytes, events: list[Event]) -> None:
    """RFC 6455 §5.4: with fragments=True every data frame is one MessageFragment, final on
    the frame with FIN, text carried to the frame where each code point completes."""
    outcome = feed_every_way(lambda: server(fragments=True), data)
    assert outcome.events == events


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
    """A violation in the trailing data fails the connection right away."""
    codec = Codec(Role.SERVER, trailing_data=frame(TEXT, b"x", mask=None))
    assert codec.state is State.CLOSED
    assert codec.failure is not None
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


# ------------------------------------------------------------------------- codec pair


class CodecPair:
    """A client and a server codec back to back (h11's ConnectionPair)."""

    def __init__(self, **options: object) -> None:
        self.client = client(**options)
        self.server = server(**options)

    def peer(self, codec: Codec) -> Codec:
        return self.server if codec is self.client else self.client

    def deliver(self, sender: Codec, *, every_way: bool = False) -> list[Event]:
        """Move ``sender``'s output to its peer; return the peer's events."""
        receiver = self.peer(sender)
        data = sender.data_to_send()
        if every_way and data:
            role = receiver.role
            outcome = feed_every_way(server if role is Role.SERVER else client, data)
            receiver.receive_data(data)
            events = receiver.events()
            assert events == outcome.events
            return events
        receiver.receive_data(data)
        return receiver.events()


@pytest.mark.parametrize(
    "message",
    ["Hello", "", "κόσμε😀", b"", b"\x00\xff" * 100, bytes(70000), "x" * 126],
    ids=repr,
)
@pytest.mark.parametrize("direction", ["client to server", "server to client"])
def test_pair_round_trip(message: str | bytes, direction: str) -> None:
    """RFC 6455 §5.6: a message arrives as it was sent, type and all."""
    pair = CodecPair()
    sender = pair.client if direction == "client to server" else pair.server
    sender.send_message(message)
    assert pair.deliver(sender, every_way=len(message) < 300) == [Message(message)]


@pytest.mark.parametrize("direction", ["client to server", "server to client"])
def test_pair_fragments(direction: str) -> None:
    """RFC 6455 §5.4: a fragmented message arrives whole once the final fragment is in."""
    pair = CodecPair()
    sender = pair.client if direction == "client to server" else pair.server
    sender.send_fragment("€", final=False)
    assert pair.deliver(sender) == []
    sender.send_fragment("", final=False)
    sender.send_ping(b"mid")
    # Not every_way: a fresh codec would not know the message in progress.
    assert pair.deliver(sender) == [Ping(b"mid")]
    assert pair.deliver(pair.peer(sender)) == [Pong(b"mid")]
    sender.send_fragment("llo", final=True)
    assert pair.deliver(sender) == [Message("€llo")]


def test_pair_fragments_mode() -> None:
    """With fragments=True the receiver sees each frame the sender sent."""
    pair = CodecPair(fragments=True)
    pair.client.send_fragment(b"ab", final=False)
    pair.client.send_fragment(b"cd", final=True)
    pair.client.send_message(b"e")
    assert pair.deliver(pair.client, every_way=False) == [
        MessageFragment(b"ab", False),
        MessageFragment(b"cd", True),
        MessageFragment(b"e", True),
    ]


def test_pair_ping_pong() -> None:
    """RFC 6455 §5.5.2-§5.5.3: a ping comes back as a pong with the same payload."""
    pair = CodecPair()
    pair.client.send_ping(b"are you there")
    assert pair.deliver(pair.client, every_way=True) == [Ping(b"are you there")]
    assert pair.deliver(pair.server, every_way=True) == [Pong(b"are you there")]
    pair.server.send_ping()
    assert pair.deliver(pair.server) == [Ping(b"")]
    assert pair.deliver(pair.client) == [Pong(b"")]


def test_pair_client_closes() -> None:
    """RFC 6455 §7.1.2-§7.1.3: client closes, server echoes and drops TCP, client sees EOF."""
    pair = CodecPair()
    pair.client.send_close(1000, "done")
    assert pair.deliver(pair.client, every_way=True) == [CloseReceived(1000, "done")]
    assert pair.server.state is State.CLOSED
    assert pair.server.should_close_transport
    assert pair.deliver(pair.server, every_way=True) == [CloseReceived(1000, "")]
    assert pair.client.state is State.CLOSED
    assert not pair.client.should_close_transport
    pair.client.receive_eof()
    assert pair.client.should_close_transport
    assert pair.client.close_received == (1000, "")


def test_pair_server_closes() -> None:
    """RFC 6455 §7.1.2: server closes with 1001 (going away), client echoes it."""
    pair = CodecPair()
    pair.server.send_close(1001, "restart")
    assert pair.deliver(pair.server) == [CloseReceived(1001, "restart")]
    assert not pair.client.should_close_transport
    assert pair.deliver(pair.client) == [CloseReceived(1001, "")]
    assert pair.server.state is State.CLOSED
    assert pair.server.should_close_transport


def test_pair_simultaneous_close() -> None:
    """RFC 6455 §7.1.3: both sides close at once; each close answers the other."""
    pair = CodecPair()
    pair.client.send_close(1000)
    pair.server.send_close(1001)
    assert pair.deliver(pair.client) == [CloseReceived(1000, "")]
    assert pair.deliver(pair.server) == [CloseReceived(1001, "")]
    assert pair.server.data_to_send() == b""
    assert pair.client.data_to_send() == b""
    assert pair.client.state is pair.server.state is State.CLOSED


def test_pair_failure_reaches_peer() -> None:
    """RFC 6455 §7.1.7: the failing side's close code and reason reach the peer."""
    pair = CodecPair()
    pair.server.fail(1008, "policy")
    assert pair.deliver(pair.server) == [CloseReceived(1008, "policy")]
    assert pair.deliver(pair.client) == []  # the failed side reads nothing more


def test_pair_violation_reported_to_peer() -> None:
    """A client's violation (an unmasked frame) comes back as a 1002 close."""
    pair = CodecPair()
    pair.server.receive_data(server_frame(TEXT, b"unmasked"))
    assert pair.deliver(pair.server)[0] == CloseReceived(1002, "client frame is not masked")


@settings(max_examples=200, deadline=None, database=None)
@given(
    messages=st.lists(st.one_of(st.text(max_size=40), st.binary(max_size=300)), max_size=8),
    to_server=st.booleans(),
    data=st.data(),
)
def test_round_trip_property(
    messages: list[str | bytes], to_server: bool, data: st.DataObject
) -> None:
    """Property: any messages, any chunking of the stream, arrive unchanged and in order."""
    pair = CodecPair()
    sender = pair.client if to_server else pair.server
    for message in messages:
        sender.send_message(message)
    stream = sender.data_to_send()
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=10)))
    receiver = pair.peer(sender)
    received: list[Event] = []
    for start, end in itertools.pairwise([0, *cuts, len(stream)]):
        receiver.receive_data(stream[start:end])
        received += receiver.events()
    assert received == [Message(message) for message in messages]
    assert receiver.failure is None


def _chunks(data: bytes, size: int) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


@pytest.mark.parametrize("size", [1, 3, 7, 1000])
def test_large_masked_frame_in_chunks(size: int) -> None:
    """RFC 6455 §5.3: unmasking continues at the right key offset across reads."""
    payload = bytes(range(256)) * 20
    codec = server()
    for chunk in _chunks(frame(BINARY, payload), size):
        codec.receive_data(chunk)
    assert codec.events() == [Message(payload)]


# ------------------------------------------------------------------ deferred failure


DEFERRED_CASES = [
    # Autobahn 3.2: a message, then a frame with RSV2, then a ping.
    ("rsv2", frame(TEXT, b"Hello", mask=MASK) + frame(TEXT, b"x", rsv=RSV2, mask=MASK)),
    # Autobahn 4.1.3: a message, then a reserved non-control opcode, then a ping.
    ("opcode 5", frame(TEXT, b"Hello", mask=MASK) + frame(5, b"", mask=MASK)),
]


@pytest.mark.parametrize(("description", "data"), DEFERRED_CASES)
def test_deferred_failure_lets_earlier_messages_be_answered(description: str, data: bytes) -> None:
    """With ``defer_failure`` the violation stops parsing but leaves the codec OPEN, so the
    caller can answer what came before it, then fail (RFC 6455 §7.1.7)."""
    codec = server(defer_failure=True)
    ping = frame(PING, b"p", mask=MASK)
    outcome = feed_every_way(lambda: server(defer_failure=True), data + ping)
    assert outcome.events == [Message("Hello")]
    assert (outcome.output, outcome.state, outcome.failure) == (b"", State.OPEN, 1002)
    codec.receive_data(data + ping)
    assert codec.events() == [Message("Hello")]
    assert codec.failure_pending
    codec.receive_data(frame(TEXT, b"ignored", mask=MASK))  # nothing more is parsed
    assert codec.events() == []
    codec.send_message("Hello")
    codec.fail_for_violation()
    assert not codec.failure_pending
    assert [f.summary() for f in read_frames(codec.data_to_send())] == [
        (TEXT, b"Hello"),
        (CLOSE, 1002),
    ]
    assert codec.state is State.CLOSED and codec.should_close_transport


@pytest.mark.parametrize(("description", "data"), DEFERRED_CASES)
def test_failure_is_immediate_by_default(description: str, data: bytes) -> None:
    outcome = feed_every_way(server, data + frame(PING, b"p", mask=MASK))
    assert outcome.events == [Message("Hello")]
    assert outcome.summary() == [(CLOSE, 1002)]
    assert outcome.state is State.CLOSED
