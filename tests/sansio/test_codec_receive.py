"""Tests for trioproto._sansio._codec: receiving data and control frames, UTF-8 checks, limits
and auto-pong (RFC 6455 §5).

See codec_helpers for how frames are built and fed.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from codec_helpers import (
    BINARY,
    CLOSE,
    CONT,
    MASK,
    PING,
    PONG,
    RSV1,
    RSV2,
    RSV3,
    TEXT,
    check_output_masking,
    client,
    close_payload,
    feed_every_way,
    frame,
    read_frames,
    server,
    server_frame,
)
from trioproto._config import Limits
from trioproto._exceptions import PayloadTooBig
from trioproto._sansio._codec import Codec, Role, State
from trioproto._sansio._events import (
    CloseReceived,
    Event,
    Message,
    Ping,
    Pong,
)

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
    assert codec.state is State.FAILING
    codec.fail_for_violation()
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
    """Design rule 4: a frame of exactly the limit is fine."""
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
    """RFC 6455 §7.4.1 (1009), design rule 4: detected from the header before any payload."""
    header = frame(opcode, length=limit + excess)  # the header alone, no payload
    codec = server(limits=Limits(**{which: limit}))  # type: ignore[arg-type]
    codec.receive_data(header[:-1])
    assert codec.failure is None  # the header is not complete yet
    codec.receive_data(header[-1:])
    assert codec.failure is not None
    assert isinstance(codec.failure, PayloadTooBig)
    assert codec.failure.close_code == 1009
    assert codec.state is State.FAILING
    codec.fail_for_violation()
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
    """``None`` disables the limits explicitly (design rule 4)."""
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
    codec.send_pong(ping.payload)
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
