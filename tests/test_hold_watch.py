"""Tests for trioproto._hold_watch: the one task per trio run that looks at every hold once per
scheduler batch. The holds here are minimal implementations of its protocol that record the
looks; tests/test_burst_hold.py covers the real hold over sockets."""

from __future__ import annotations

import trio
import trio.testing

from trioproto._hold_watch import hold_watch


class Hold:
    """A hold that keeps its frames for ``batches`` looks, then lets them go."""

    def __init__(self, batches: int) -> None:
        self.batches = batches
        self.looks = 0

    def check_held(self) -> bool:
        self.looks += 1
        return self.looks < self.batches


def watch_tasks(task: trio.lowlevel.Task) -> int:
    """How many hold watch tasks run in the tree under ``task``."""
    own = int(task.name == "trioproto hold watch")
    return own + sum(
        watch_tasks(child) for nursery in task.child_nurseries for child in nursery.child_tasks
    )


async def test_a_hold_is_looked_at_once_per_batch_until_it_lets_go() -> None:
    hold = Hold(batches=3)
    hold_watch().watch(hold)
    assert hold.looks == 0  # not before the handler that held has yielded
    await trio.lowlevel.checkpoint()
    await trio.testing.wait_all_tasks_blocked()
    assert hold.looks == 3  # kept twice, then let go: no more looks
    await trio.testing.wait_all_tasks_blocked()
    assert hold.looks == 3


async def test_one_look_of_the_watch_serves_every_hold() -> None:
    holds = [Hold(batches=1) for _ in range(5)]
    for hold in holds:
        hold_watch().watch(hold)
    await trio.testing.wait_all_tasks_blocked()
    assert [hold.looks for hold in holds] == [1] * 5


async def test_the_watch_parks_and_wakes_for_the_next_hold() -> None:
    first, second = Hold(batches=1), Hold(batches=2)
    hold_watch().watch(first)
    await trio.testing.wait_all_tasks_blocked()
    hold_watch().watch(second)
    await trio.testing.wait_all_tasks_blocked()
    assert (first.looks, second.looks) == (1, 2)


async def test_the_watch_is_one_system_task_per_run() -> None:
    assert hold_watch() is hold_watch()
    for _ in range(3):
        hold_watch().watch(Hold(batches=1))
    await trio.testing.wait_all_tasks_blocked()
    assert watch_tasks(trio.lowlevel.current_root_task()) == 1  # type: ignore[arg-type]
