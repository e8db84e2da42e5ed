"""Tests for trioproto._pings: which pings a pong acknowledges (RFC 6455 §5.5.3)."""

from __future__ import annotations

import trio
import trio.testing

from trioproto._pings import PingTracker


async def test_a_pong_acknowledges_its_ping_and_every_earlier_one() -> None:
    tracker = PingTracker()
    first, first_unsent = tracker.expect(b"1")
    second, _ = tracker.expect(b"2")
    third, _ = tracker.expect(b"3")
    assert first_unsent
    tracker.acknowledge(b"2")  # the peer may answer only the most recent ping it saw
    assert await tracker.wait(first) and await tracker.wait(second)
    assert not third.event.is_set()
    tracker.acknowledge(b"unsolicited")  # ignored
    assert not third.event.is_set()
    tracker.release_all()
    assert not await tracker.wait(third)  # the connection ended first


def test_the_same_payload_shares_one_ping() -> None:
    tracker = PingTracker()
    pending, unsent = tracker.expect(b"p")
    again, unsent_again = tracker.expect(b"p")
    assert unsent and not unsent_again
    assert again is pending


async def test_release_wakes_waiters_unacknowledged() -> None:
    tracker = PingTracker()
    pending, _ = tracker.expect(b"p")
    results: list[bool] = []

    async def waiter() -> None:
        results.append(await tracker.wait(pending))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(waiter)
        await trio.testing.wait_all_tasks_blocked()
        tracker.release_all()
    assert results == [False]
