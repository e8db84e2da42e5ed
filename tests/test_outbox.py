"""The send buffer's accounting and policies, byte-exact (no sockets needed: pure Python)."""

from __future__ import annotations

import logging

import pytest

from trioproto._outbox import BackpressurePolicy, DeliveryCounters, Outbox, Verdict

CLOSE = BackpressurePolicy("close")
OLDEST = BackpressurePolicy("drop_oldest")
NEWEST = BackpressurePolicy("drop_newest")


def frames(outbox: Outbox) -> list[bytes]:
    taken = []
    while (frame := outbox.pop()) is not None:
        taken.append(frame)
    return taken


def test_within_the_limit_everything_is_queued_in_order() -> None:
    outbox = Outbox(10)
    assert [outbox.put(frame) for frame in (b"aaa", b"bbb", b"cccc")] == [Verdict.QUEUED] * 3
    assert outbox.size == 10 and outbox.pending and outbox.queued == 3
    assert frames(outbox) == [b"aaa", b"bbb", b"cccc"]
    assert outbox.size == 0 and not outbox.pending


class Owner:
    def __init__(self, id: str) -> None:  # the attribute logs read
        self.id = id


def test_close_policy_frees_the_buffer_and_counts(caplog: pytest.LogCaptureFixture) -> None:
    counters = DeliveryCounters()
    outbox = Outbox(8, CLOSE, counters, owner=Owner("c1"))
    outbox.put(b"12345")
    with caplog.at_level(logging.WARNING, logger="trioproto"):
        assert outbox.put(b"6789") is Verdict.CLOSE
    assert "connection c1: over 8 bytes" in caplog.text
    assert outbox.closed and outbox.closed_for_limit and outbox.size == 0
    assert counters.closes == 1 and counters.dropped == 0


def test_drop_newest_keeps_the_queue(caplog: pytest.LogCaptureFixture) -> None:
    counters = DeliveryCounters()
    outbox = Outbox(8, NEWEST, counters)
    outbox.put(b"12345")
    with caplog.at_level(logging.INFO, logger="trioproto"):
        assert outbox.put(b"6789") is Verdict.DROPPED
        assert outbox.put(b"abcd") is Verdict.DROPPED
    assert caplog.text.count("dropping") == 1  # logged once, counted always
    assert outbox.dropped == counters.dropped == 2
    assert counters.dropped_by_policy == {"drop_newest": 2}
    assert frames(outbox) == [b"12345"]


def test_drop_oldest_evicts_until_the_new_message_fits() -> None:
    counters = DeliveryCounters()
    outbox = Outbox(8, OLDEST, counters)
    for frame in (b"aa", b"bb", b"cc", b"dd"):
        outbox.put(frame)
    assert outbox.put(b"eeee") is Verdict.QUEUED
    assert outbox.dropped == 2
    assert counters.dropped_by_policy == {"drop_oldest": 2}
    assert frames(outbox) == [b"cc", b"dd", b"eeee"]


def test_drop_oldest_never_evicts_messages_queued_under_close() -> None:
    outbox = Outbox(8, OLDEST)
    outbox.put(b"AA", CLOSE)  # must be delivered or the connection closed
    outbox.put(b"bb")
    outbox.put(b"CC", CLOSE)
    outbox.put(b"dd")
    assert outbox.put(b"eeee") is Verdict.QUEUED
    assert frames(outbox) == [b"AA", b"CC", b"eeee"]
    outbox.put(b"FFFFFF", CLOSE)
    assert outbox.put(b"gggg") is Verdict.DROPPED  # nothing it may evict makes room


def test_a_message_larger_than_the_limit_evicts_nothing() -> None:
    counters = DeliveryCounters()
    outbox = Outbox(4, OLDEST, counters)
    outbox.put(b"ab")
    assert outbox.put(b"too large") is Verdict.DROPPED
    assert frames(outbox) == [b"ab"]
    assert counters.dropped_by_policy == {"drop_oldest": 1}  # the policy in force, not newest


def test_unbounded_and_marks() -> None:
    outbox = Outbox(None)
    for index in range(3):
        outbox.put(bytes(1000 * index))
    mark = outbox.next_seq
    outbox.put(b"after the mark")
    assert outbox.pop(mark) is not None
    assert outbox.pop(mark) is not None
    assert outbox.pop(mark) is not None
    assert outbox.pop(mark) is None  # queued after the mark: not for this writer
    assert outbox.pop() == b"after the mark"


def test_partial_frame_and_discard() -> None:
    outbox = Outbox(10)
    outbox.partial = memoryview(b"rest")
    assert outbox.pending
    assert outbox.take_partial() == b"rest"
    assert outbox.take_partial() is None
    outbox.put(b"x")
    outbox.discard()
    assert outbox.closed and not outbox.pending and outbox.size == 0


def test_policy_from_string() -> None:
    assert BackpressurePolicy.coerce("drop_newest") == NEWEST
    assert BackpressurePolicy.coerce(OLDEST) is OLDEST
    with pytest.raises(TypeError, match="BackpressurePolicy or str"):
        BackpressurePolicy.coerce(3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at most 123 bytes"):
        BackpressurePolicy(close_reason="x" * 124)
