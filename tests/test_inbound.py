"""Tests for trioproto._inbound: the bounded queue between the reader and the handler."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from trioproto._inbound import InboundQueue


def make(max_queued: int = 2) -> InboundQueue:
    return InboundQueue(max_queued, lambda: trio.EndOfChannel())


async def get_until_end(queue: InboundQueue) -> None:
    while True:
        try:
            await queue.get()
        except trio.EndOfChannel:
            return


async def test_put_pushes_back_when_full_until_a_get_makes_room() -> None:
    queue = make(2)
    await queue.put("a")
    async with trio.open_nursery() as nursery:
        done = trio.Event()

        async def put_second() -> None:
            await queue.put("b")
            done.set()

        nursery.start_soon(put_second)
        await trio.testing.wait_all_tasks_blocked()
        assert not done.is_set() and len(queue) == 2
        assert await queue.get() == "a"
        with trio.fail_after(1):
            await done.wait()
    assert await queue.get() == "b"


async def test_put_without_push_back_never_waits() -> None:
    queue = make(1)
    with trio.fail_after(1):
        for message in ("a", "b", "c"):
            await queue.put(message, push_back=False)
    assert len(queue) == 3


async def test_finish_drains_then_raises_the_end() -> None:
    queue = make()
    await queue.put(b"last", push_back=False)
    queue.finish()
    assert await queue.get() == b"last"
    with pytest.raises(trio.EndOfChannel):
        await queue.get()


async def test_a_parked_getter_wakes_for_a_message_and_for_the_end() -> None:
    queue = make()
    got: list[object] = []

    async def get_all() -> None:
        try:
            while True:
                got.append(await queue.get())
        except trio.EndOfChannel:
            got.append("end")

    with trio.fail_after(1):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(get_all)
            await trio.testing.wait_all_tasks_blocked()
            await queue.put("x")
            await trio.testing.wait_all_tasks_blocked()
            queue.stop()  # a stop alone is not the end: the getter parks again
            await trio.testing.wait_all_tasks_blocked()
            assert got == ["x"]
            queue.finish()
    assert got == ["x", "end"]


async def test_stop_releases_a_reader_waiting_for_room() -> None:
    queue = make(1)
    with trio.fail_after(1):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(queue.put, "a")
            await trio.testing.wait_all_tasks_blocked()
            queue.stop()


async def test_wait_caught_up(autojump_clock: trio.testing.MockClock) -> None:
    """Before failing for a violation the reader waits until the handler asks for more."""
    queue = make()
    await queue.put("before the violation", push_back=False)
    start = trio.current_time()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(queue.wait_caught_up, 10)
        await trio.sleep(3)
        assert await queue.get() == "before the violation"
        nursery.start_soon(get_until_end, queue)  # asks for the next one: caught up
        await trio.testing.wait_all_tasks_blocked()
        queue.finish()
    assert trio.current_time() - start == pytest.approx(3)
    start = trio.current_time()
    await make().wait_caught_up(10)  # nothing queued, nobody asking: the full timeout
    assert trio.current_time() - start == pytest.approx(10)


async def test_wait_caught_up_returns_at_once_for_a_waiting_getter() -> None:
    queue = make()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(get_until_end, queue)
        await trio.testing.wait_all_tasks_blocked()
        with trio.fail_after(0.5):
            await queue.wait_caught_up(100)
        queue.finish()


async def test_claim_just_got_is_for_the_task_that_got_last() -> None:
    queue = make()
    await queue.put("a", push_back=False)
    await queue.get()
    assert queue.claim_just_got()
    assert not queue.claim_just_got()  # claimed once


async def test_has_room_until_one_more_message_would_fill_the_queue() -> None:
    queue = make(3)
    assert queue.has_room
    queue.put_nowait("a")
    assert queue.has_room
    queue.put_nowait("b")
    assert not queue.has_room  # a put of a third would push back: that one is the reader's
    assert await queue.get() == "a"
    assert queue.has_room


async def test_receiver_waiting_and_wake_receiver() -> None:
    queue = make(2)
    assert not queue.receiver_waiting
    async with trio.open_nursery() as nursery:
        got: list[str | bytes] = []

        async def take() -> None:
            got.append(await queue.get())

        nursery.start_soon(take)
        await trio.testing.wait_all_tasks_blocked()
        assert queue.receiver_waiting
        queue.wake_receiver()  # it looks again, finds nothing, and parks again
        await trio.testing.wait_all_tasks_blocked()
        assert queue.receiver_waiting and got == []
        queue.put_nowait("x")
        assert not queue.receiver_waiting
    assert got == ["x"]


async def test_the_park_listener_is_told_only_when_a_getter_is_about_to_park() -> None:
    queue = make(4)
    parks: list[int] = []

    class Listener:
        def flush_nowait(self) -> None:
            parks.append(len(queue))

    queue.park_listener = Listener()
    await queue.put("a")
    assert await queue.get() == "a"
    assert parks == []  # a message was waiting: no park
    async with trio.open_nursery() as nursery:
        nursery.start_soon(queue.get)
        await trio.testing.wait_all_tasks_blocked()
        assert parks == [0]
        await queue.put("b")


async def test_a_cancelled_get_stops_taking_and_leaves_the_message() -> None:
    queue = make(4)
    await queue.put("a")
    with trio.CancelScope() as scope:
        scope.cancel()
        await queue.get()  # cancelled at its checkpoint, with the message in sight
    assert queue.taking is False
    assert len(queue) == 1
    assert await queue.get() == "a"
