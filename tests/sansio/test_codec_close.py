"""Tests for trioproto._sansio._codec: the close handshake, failing, and a peer's violation
(RFC 6455 §7).

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
    RSV2,
    TEXT,
    client,
    close_payload,
    feed_every_way,
    frame,
    read_frames,
    server,
    server_frame,
    xor_mask,
)
from trioproto._exceptions import LocalProtocolError
from trioproto._sansio._codec import Codec, Role, State
from trioproto._sansio._events import (
    CloseReceived,
    Message,
    Ping,
    Pong,
)

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


def _violation_recorded(codec: Codec) -> None:
    codec.receive_data(b"\x83\x00")  # unknown opcode


def _failed(codec: Codec) -> None:
    _violation_recorded(codec)
    if codec.state is State.FAILING:
        codec.fail_for_violation()


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
    (_violation_recorded, False, False),
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


# ------------------------------------------------------------------ deferred failure


DEFERRED_CASES = [
    # Autobahn 3.2: a message, then a frame with RSV2, then a ping.
    ("rsv2", frame(TEXT, b"Hello", mask=MASK) + frame(TEXT, b"x", rsv=RSV2, mask=MASK)),
    # Autobahn 4.1.3: a message, then a reserved non-control opcode, then a ping.
    ("opcode 5", frame(TEXT, b"Hello", mask=MASK) + frame(5, b"", mask=MASK)),
]


@pytest.mark.parametrize(("description", "data"), DEFERRED_CASES)
def test_violation_is_recorded_so_earlier_messages_can_be_answered(
    description: str, data: bytes
) -> None:
    """The violation stops parsing and moves the codec to FAILING, so the caller can answer
    what came before it, then fail (RFC 6455 §7.1.7)."""
    codec = server()
    ping = frame(PING, b"p", mask=MASK)
    outcome = feed_every_way(server, data + ping, caller_fails=False)
    assert outcome.events == [Message("Hello")]
    assert (outcome.output, outcome.state, outcome.failure) == (b"", State.FAILING, 1002)
    codec.receive_data(data + ping)
    assert codec.events() == [Message("Hello")]
    assert codec.state is State.FAILING
    assert not codec.should_close_transport
    codec.receive_data(frame(TEXT, b"ignored", mask=MASK))  # nothing more is parsed
    assert codec.events() == []
    codec.send_message("Hello")
    codec.fail_for_violation()
    assert [f.summary() for f in read_frames(codec.data_to_send())] == [
        (TEXT, b"Hello"),
        (CLOSE, 1002),
    ]
    assert codec.state is State.CLOSED and codec.should_close_transport


@pytest.mark.parametrize(("description", "data"), DEFERRED_CASES)
def test_caller_fails_after_taking_the_events(description: str, data: bytes) -> None:
    outcome = feed_every_way(server, data + frame(PING, b"p", mask=MASK))
    assert outcome.events == [Message("Hello")]
    assert outcome.summary() == [(CLOSE, 1002)]
    assert outcome.state is State.CLOSED


def test_closing_while_failing_closes_with_our_code() -> None:
    """A handler that closes while a violation is recorded sends its own close frame; nothing
    more is parsed, so the codec is CLOSED at once and failing adds nothing."""
    codec = server()
    codec.receive_data(b"\x83\x80" + MASK)  # unknown opcode, masked
    assert codec.state is State.FAILING
    codec.send_close(1000, "bye")
    assert codec.state is State.CLOSED
    codec.fail_for_violation()
    assert [f.summary() for f in read_frames(codec.data_to_send())] == [(CLOSE, 1000)]
    assert codec.close_sent == (1000, "bye")
    assert codec.should_close_transport


def test_local_fail_while_failing_sends_its_code() -> None:
    codec = server()
    codec.receive_data(b"\x83\x80" + MASK)
    codec.fail(1011, "keepalive ping timeout")
    assert [f.summary() for f in read_frames(codec.data_to_send())] == [(CLOSE, 1011)]
    assert codec.state is State.CLOSED


def peer_close(codec: Codec) -> bytes:
    """A close frame 1000 from ``codec``'s peer (masked when the peer is a client)."""
    payload = close_payload(1000)
    return frame(CLOSE, payload) if codec.role is Role.SERVER else server_frame(CLOSE, payload)


@pytest.mark.parametrize("make", [server, client])
def test_close_initiator_is_us_when_we_close_first(make: Callable[[], Codec]) -> None:
    """RFC 6455 §7.1.2: the end that sends the first close frame starts the handshake."""
    codec = make()
    assert codec.close_initiator is None
    codec.send_close(1000, "")
    codec.receive_data(peer_close(codec))
    assert codec.close_initiator is codec.role  # the peer's answer does not change it


@pytest.mark.parametrize(("make", "peer"), [(server, Role.CLIENT), (client, Role.SERVER)])
def test_close_initiator_is_the_peer_when_we_echo(make: Callable[[], Codec], peer: Role) -> None:
    """RFC 6455 §7.1.3: our close frame answers the peer's, which started the handshake."""
    codec = make()
    codec.receive_data(peer_close(codec))
    assert codec.close_sent is not None
    assert codec.close_initiator is peer


def test_close_initiator_stays_none_when_the_transport_ends_first() -> None:
    """A connection lost without any close frame (RFC 6455 §7.1.5: 1006) has no initiator."""
    codec = server()
    codec.receive_eof()
    assert codec.close_initiator is None
