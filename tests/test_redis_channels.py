"""The Redis channel names under one prefix, and which one each kind of envelope takes."""

from __future__ import annotations

import pytest

from trioproto._backplane import Envelope, Kind
from trioproto._redis_channels import RedisChannels


def test_the_default_prefix_names() -> None:
    channels = RedisChannels("trioproto:")
    assert channels.fixed == ["trioproto:broadcast", "trioproto:direct"]
    assert channels.topic("room") == "trioproto:topic:room"


@pytest.mark.parametrize(
    ("kind", "target", "channel"),
    [
        (Kind.PUBLISH, "news:today", "app1/topic:news:today"),
        (Kind.PUBLISH, "", "app1/topic:"),
        (Kind.BROADCAST, "chat", "app1/broadcast"),  # the subprotocol is in the envelope
        (Kind.SEND_TO, "5f1c0e9a-0000-4000-8000-000000000000", "app1/direct"),
    ],
)
def test_each_envelope_goes_to_the_channel_of_its_kind(
    kind: Kind, target: str, channel: str
) -> None:
    envelope = Envelope(kind, target, b"payload", False, "a" * 32)
    assert RedisChannels("app1/").for_envelope(envelope) == channel


def test_prefixes_keep_applications_apart() -> None:
    one, two = RedisChannels("one:"), RedisChannels("two:")
    assert not set(one.fixed) & set(two.fixed)
    assert one.topic("room") != two.topic("room")
