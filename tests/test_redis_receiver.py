"""RedisReceiver on a real pubsub of a real valkey-server/redis-server: what passes, what is
rejected, dropped or skipped, and how each is counted."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import coredis
import pytest
import trio
from coredis.patterns.pubsub import PubSub
from redis_process import redis_server

from trioproto._backplane import Envelope, Kind
from trioproto._envelope_codec import encode_envelope
from trioproto._redis_connection import lost_connection, open_connection
from trioproto._redis_receiver import RedisReceiver, TooFarBehind, coredis_backlog

NODE_A = "a" * 32  # the receiving node
NODE_B = "b" * 32
CHANNEL = "test:envelopes"


@dataclass
class Subscribed:
    """A pubsub subscribed to :data:`CHANNEL`, and a client of the same Redis."""

    client: coredis.Redis[bytes]
    pubsub: PubSub[bytes]

    async def publish(self, *messages: bytes) -> None:
        for message in messages:
            await self.client.publish(CHANNEL, message)


@asynccontextmanager
async def subscribed() -> AsyncIterator[Subscribed]:
    async with (
        redis_server() as redis,
        open_connection(redis.url, connect_timeout=2, channels=[CHANNEL]) as (client, pubsub),
    ):
        yield Subscribed(client, pubsub)


@asynccontextmanager
async def receiving(
    receiver: RedisReceiver, size: int
) -> AsyncIterator[tuple[Subscribed, trio.MemoryReceiveChannel[Envelope]]]:
    """``receiver.receive`` running as node A into a memory channel of ``size`` envelopes."""
    to_deliver, pending = trio.open_memory_channel[Envelope](size)
    async with subscribed() as redis, trio.open_nursery() as nursery:
        nursery.start_soon(receiver.receive, redis.pubsub, NODE_A, to_deliver)
        yield redis, pending
        nursery.cancel_scope.cancel()


def envelope(payload: bytes, origin: str = NODE_B) -> Envelope:
    return Envelope(Kind.BROADCAST, "", payload, False, origin)


async def _until(condition: Callable[[], bool]) -> None:
    """Poll ``condition`` (what coredis reads happens in its own tasks: nothing to wait on)."""
    with trio.fail_after(10):
        while not condition():  # noqa: ASYNC110
            await trio.sleep(0.02)


async def test_envelopes_of_other_nodes_pass_in_order_and_its_own_are_skipped() -> None:
    receiver = RedisReceiver(max_pending=10)
    async with receiving(receiver, 10) as (redis, pending):
        sent = [envelope(b"1"), envelope(b"mine", origin=NODE_A), envelope(b"2")]
        await redis.publish(*(encode_envelope(each) for each in sent))
        with trio.fail_after(5):
            assert [await pending.receive(), await pending.receive()] == [sent[0], sent[2]]
        assert (receiver.received, receiver.rejected, receiver.dropped) == (0, 0, 0)


async def test_unreadable_messages_are_counted_and_the_first_one_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    receiver = RedisReceiver(max_pending=10)
    async with receiving(receiver, 10) as (redis, pending):
        future = b"\x02" + encode_envelope(envelope(b"x"))[1:]
        await redis.publish(future, b"junk", encode_envelope(envelope(b"readable")))
        with trio.fail_after(5):
            assert (await pending.receive()).payload == b"readable"
        assert receiver.rejected == 2
    ignored = [r for r in caplog.records if r.getMessage().startswith("ignoring a message on")]
    assert len(ignored) == 1
    assert repr(CHANNEL.encode()) in ignored[0].getMessage()


async def test_envelopes_beyond_a_full_channel_are_dropped_counted_and_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    receiver = RedisReceiver(max_pending=100)
    async with receiving(receiver, 2) as (redis, pending):
        await redis.publish(*(encode_envelope(envelope(b"%d" % n)) for n in range(5)))
        await _until(lambda: receiver.dropped == 3)
        assert [pending.receive_nowait().payload for _ in range(2)] == [b"0", b"1"]
    not_keeping_up = [r for r in caplog.records if "not keeping up" in r.getMessage()]
    assert len(not_keeping_up) == 1
    assert "beyond 100 pending" in not_keeping_up[0].getMessage()


async def test_a_backlog_in_coredis_past_max_pending_is_dropped_as_a_lost_connection(
    caplog: pytest.LogCaptureFixture,
) -> None:
    receiver = RedisReceiver(max_pending=5)
    to_deliver, pending = trio.open_memory_channel[Envelope](5)
    async with subscribed() as redis:
        await redis.publish(*(encode_envelope(envelope(b"%d" % n)) for n in range(50)))
        await _until(lambda: coredis_backlog(redis.pubsub) >= 50)  # read, not taken yet
        with trio.fail_after(5), pytest.raises(TooFarBehind) as info:
            await receiver.receive(redis.pubsub, NODE_A, to_deliver)
    assert lost_connection(info.value)  # so the backplane reconnects, freeing coredis' buffers
    assert 5 < receiver.dropped < 50
    assert pending.statistics().current_buffer_used == 0
    [too_slow] = [r for r in caplog.records if "too slow" in r.getMessage()]
    assert too_slow.getMessage().startswith(f"{receiver.dropped} messages from Redis waiting")


async def test_deliver_counts_each_envelope_and_outlives_a_failing_hub(
    caplog: pytest.LogCaptureFixture,
) -> None:
    receiver = RedisReceiver(max_pending=10)
    to_deliver, pending = trio.open_memory_channel[Envelope](10)
    delivered: list[bytes] = []

    def deliver(each: Envelope) -> None:
        delivered.append(each.payload)
        if each.payload == b"fails":
            raise RuntimeError("a hub bug")

    for payload in (b"1", b"fails", b"3"):
        to_deliver.send_nowait(envelope(payload))
    to_deliver.close()
    with trio.fail_after(5):
        await receiver.deliver(pending, deliver)  # returns once the channel is closed
    assert delivered == [b"1", b"fails", b"3"]
    assert receiver.received == 3
    [failed] = [r for r in caplog.records if r.exc_info]
    assert failed.getMessage() == f"delivering an envelope from node {NODE_B} failed"
