"""Tests for trioproto._sansio._codec: a client and a server codec back to back.

See codec_helpers for how frames are built and fed.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from codec_helpers import (
    BINARY,
    TEXT,
    client,
    feed_every_way,
    frame,
    server,
    server_frame,
)
from trioproto._sansio._codec import Codec, Role, State
from trioproto._sansio._events import (
    CloseReceived,
    Event,
    Message,
    Ping,
    Pong,
)

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
    pair.server.fail_for_violation()
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
