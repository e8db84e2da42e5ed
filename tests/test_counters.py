"""Tests for trioproto._counters: the totals a server keeps per connection and handshake."""

from __future__ import annotations

import time

from trioproto import ConnectionStatistics
from trioproto._counters import ServerCounters


def statistics(messages: int, size: int) -> ConnectionStatistics:
    return ConnectionStatistics(
        messages,
        messages + 1,
        messages * size,
        (messages + 1) * size,
        time.time(),
        0,
        "closed",
        hub_messages=messages + 2,
    )


def test_open_and_closed_connections_by_route_and_subprotocol() -> None:
    counters = ServerCounters()
    counters.connection_opened(("/a", "chat"))
    counters.connection_opened(("/a", "chat"))
    counters.connection_opened(("*", ""))
    assert counters.connections_open == {("/a", "chat"): 2, ("*", ""): 1}
    counters.connection_closed(("*", ""), statistics(2, 10), (1000, ""), (1000, ""))
    assert counters.connections_open == {("/a", "chat"): 2}  # no key left at zero
    assert counters.connections_opened == {("/a", "chat"): 2, ("*", ""): 1}
    assert counters.total_connections == 3
    assert (counters.closed_messages_received, counters.closed_messages_sent) == (2, 3)
    assert (counters.closed_bytes_received, counters.closed_bytes_sent) == (20, 30)
    assert counters.closed_hub_messages == 4


def test_close_frames_counted_as_sent_and_received() -> None:
    """An empty close frame (RFC 6455 §5.5.1) is counted under ``None``; a dropped
    connection (no close frame either way, 1006) under neither."""
    counters = ServerCounters()
    sent_and_received: list[tuple[tuple[int | None, str] | None, tuple[int, str] | None]] = [
        ((1011, "internal error"), (1011, "")),
        ((None, ""), None),
        (None, None),
    ]
    for sent, received in sent_and_received:
        counters.connection_opened(("*", ""))
        counters.connection_closed(("*", ""), statistics(0, 0), sent, received)
    assert counters.close_codes_sent == {1011: 1, None: 1}
    assert counters.close_codes_received == {1011: 1}


def test_rejections_by_status() -> None:
    counters = ServerCounters()
    counters.handshakes_rejected[404] += 2
    counters.handshakes_rejected[400] += 1
    assert counters.rejected_handshakes == 3
