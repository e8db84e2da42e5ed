"""Tests for trioproto._handback: the watcher that gives the reading duty back to the reader
task once receivers have left. The duties here are minimal implementations of its protocol
that record what the watcher decides; tests/test_pull.py covers the real duty."""

from __future__ import annotations

import trio
import trio.testing

from trioproto._handback import note_receiver_left


class Duty:
    """A reading duty lent to a receiver that may or may not come back."""

    def __init__(self) -> None:
        self.lent = True
        self.pulling = False
        self.reclaims = 0

    @property
    def unattended(self) -> bool:
        return self.lent and not self.pulling

    def reclaim_if_unattended(self) -> None:
        if self.unattended:
            self.lent = False
            self.reclaims += 1


async def test_a_receiver_that_comes_back_keeps_the_duty() -> None:
    duty = Duty()
    note_receiver_left(duty)
    duty.pulling = True  # back in receive() before yielding: the echo case
    await trio.testing.wait_all_tasks_blocked()
    assert duty.reclaims == 0 and duty.lent


async def test_a_receiver_waiting_elsewhere_gives_the_duty_back() -> None:
    duty = Duty()
    note_receiver_left(duty)
    await trio.testing.wait_all_tasks_blocked()
    assert duty.reclaims == 1 and not duty.lent


async def test_a_receiver_runnable_when_noted_gets_a_second_look() -> None:
    """trio runs a batch in random order: the receiver is looked at again a pass later, so one
    that yields once (a checkpoint) and then comes back keeps the duty."""
    for _ in range(20):  # both orders of the batch
        duty = Duty()
        note_receiver_left(duty)
        await trio.lowlevel.cancel_shielded_checkpoint()  # runnable, not receiving
        duty.pulling = True
        await trio.testing.wait_all_tasks_blocked()
        assert duty.reclaims == 0


async def test_one_watcher_step_serves_every_duty_noted_in_a_pass() -> None:
    duties = [Duty() for _ in range(50)]
    for duty in duties:
        note_receiver_left(duty)
    await trio.testing.wait_all_tasks_blocked()
    assert [duty.reclaims for duty in duties] == [1] * 50
    # The watcher parks again, and wakes for the next note.
    again = Duty()
    note_receiver_left(again)
    await trio.testing.wait_all_tasks_blocked()
    assert again.reclaims == 1


async def test_the_watcher_is_one_system_task_per_run() -> None:
    for _ in range(3):
        note_receiver_left(Duty())
        await trio.testing.wait_all_tasks_blocked()

    def named(task: trio.lowlevel.Task) -> list[trio.lowlevel.Task]:
        own = [task] if task.name == "trioproto reading hand-back" else []
        return own + [
            found
            for nursery in task.child_nurseries
            for child in nursery.child_tasks
            for found in named(child)
        ]

    assert len(named(trio.lowlevel.current_root_task())) == 1  # type: ignore[arg-type]
