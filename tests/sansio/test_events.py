"""Tests for trioproto._sansio._events: the codec's events (RFC 6455 §5.4-§5.6)."""

from __future__ import annotations

import dataclasses
import typing

import pytest

from trioproto._sansio import _events
from trioproto._sansio._events import (
    CloseReceived,
    Event,
    Message,
    Ping,
    Pong,
)

EXAMPLES = [
    Message("text"),
    Message(b"binary"),
    Ping(b"payload"),
    Pong(b""),
    CloseReceived(1000, "bye"),
]


@pytest.mark.parametrize("event", EXAMPLES, ids=repr)
def test_events_are_frozen_and_slotted(event: Event) -> None:
    """Events are values: immutable, compact and comparable."""
    field = dataclasses.fields(event)[0].name
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(event, field, None)
    assert not hasattr(event, "__dict__")
    assert event == dataclasses.replace(event)
    assert hash(event) == hash(dataclasses.replace(event))


def test_event_union_lists_every_event() -> None:
    """``Event`` is the union of every event class the module exports."""
    exported = {getattr(_events, name) for name in _events.__all__ if name != "Event"}
    assert set(typing.get_args(Event)) == exported


def test_fields() -> None:
    """RFC 6455 §5.5.1 and §7.1.5: a close event carries the code (1005: none) and reason."""
    assert CloseReceived(1005, "") == CloseReceived(code=1005, reason="")
    assert Message("a") != Message(b"a")
