"""RedisBackplane through the backplane seam, against a real valkey-server/redis-server.

Two backplanes with different node ids stand for two nodes (processes or machines) sharing one
Redis. Faults are real: ``CLIENT KILL TYPE pubsub`` and a full server restart.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any

import pytest
import trio
from redis_process import RedisProcess, free_port, redis_server

from trioproto._backplane import BackplaneUnavailable, Envelope, Kind
from trioproto._envelope_codec import encode_envelope
from trioproto._redis_backplane import RedisBackplane

NODE_A = "a" * 32
NODE_B = "b" * 32


class Node:
    """A running backplane and the envelopes it delivered."""

    def __init__(self, backplane: RedisBackplane, node_id: str) -> None:
        self.backplane = backplane
        self.node_id = node_id
        self.delivered: list[Envelope] = []
        #: Seconds the first delivery blocks the whole trio thread (a node far too slow).
        self.stall_first = 0.0
        self.first_delivered = threading.Event()

    def deliver(self, envelope: Envelope) -> None:
        self.delivered.append(envelope)
        if not self.first_delivered.is_set():
            self.first_delivered.set()
            time.sleep(self.stall_first)

    async def wait_for(self, count: int) -> list[Envelope]:
        await _until(lambda: _is_value(len(self.delivered) >= count, True))
        return self.delivered

    async def publish(self, kind: Kind, target: str, payload: bytes, text: bool = False) -> None:
        await self.backplane.publish(Envelope(kind, target, payload, text, self.node_id))


@asynccontextmanager
async def node(url: str, node_id: str, **options: Any) -> AsyncIterator[Node]:
    running = Node(RedisBackplane(url, **options), node_id)
    async with trio.open_nursery() as nursery:
        await nursery.start(lambda task_status: running.backplane.run(
            node_id, running.deliver, task_status=task_status
        ))  # fmt: skip
        yield running
        nursery.cancel_scope.cancel()


@pytest.fixture
async def redis() -> AsyncIterator[RedisProcess]:
    async with redis_server() as server:
        yield server


async def _until(condition: Any, seconds: float = 10) -> None:
    """Poll ``condition`` (state in Redis or in another thread: nothing to wait on) until true."""
    with trio.fail_after(seconds):
        while not await condition():  # noqa: ASYNC110
            await trio.sleep(0.02)


async def test_publish_reaches_a_subscribed_node_once_and_never_its_origin(
    redis: RedisProcess,
) -> None:
    async with node(redis.url, NODE_A) as a, node(redis.url, NODE_B) as b:
        a.backplane.subscribe("room")
        b.backplane.subscribe("room")
        await _until(lambda: _is(redis.subscribers("trioproto:topic:room"), 2))
        await b.publish(Kind.PUBLISH, "room", "héllo".encode(), text=True)
        await a.publish(Kind.PUBLISH, "room", b"\x00\xff")
        [from_b] = await a.wait_for(1)
        assert from_b == Envelope(Kind.PUBLISH, "room", "héllo".encode(), True, NODE_B)
        # B got A's later envelope, so its own earlier one would have arrived before it.
        assert await b.wait_for(1) == [Envelope(Kind.PUBLISH, "room", b"\x00\xff", False, NODE_A)]
        await trio.sleep(0.1)
        assert len(a.delivered) == 1
        assert a.backplane.statistics().received == 1
        assert b.backplane.statistics().published == 1


async def test_broadcast_and_send_to_reach_nodes_without_subscriptions(
    redis: RedisProcess,
) -> None:
    async with node(redis.url, NODE_A) as a, node(redis.url, NODE_B) as b:
        await b.publish(Kind.BROADCAST, "chat", b"to everyone")
        await b.publish(Kind.SEND_TO, "5f1c0e9a-0000-4000-8000-000000000000", b"to one")
        assert await a.wait_for(2) == [
            Envelope(Kind.BROADCAST, "chat", b"to everyone", False, NODE_B),
            Envelope(
                Kind.SEND_TO, "5f1c0e9a-0000-4000-8000-000000000000", b"to one", False, NODE_B
            ),
        ]


async def test_order_per_publisher_and_topic_is_kept(redis: RedisProcess) -> None:
    async with node(redis.url, NODE_A) as a, node(redis.url, NODE_B) as b:
        a.backplane.subscribe("ticks")
        await _until(lambda: _is(redis.subscribers("trioproto:topic:ticks"), 1))
        for number in range(300):
            await b.publish(Kind.PUBLISH, "ticks", str(number).encode(), text=True)
        delivered = await a.wait_for(300)
        assert [int(envelope.payload) for envelope in delivered] == list(range(300))


async def test_subscribed_to_a_topic_only_while_the_hub_wants_it(redis: RedisProcess) -> None:
    async with node(redis.url, NODE_A) as a, node(redis.url, NODE_B) as b:
        channel = "trioproto:topic:news"
        assert await redis.subscribers(channel) == 0
        a.backplane.subscribe("news")
        await _until(lambda: _is(redis.subscribers(channel), 1))
        a.backplane.unsubscribe("news")
        await _until(lambda: _is(redis.subscribers(channel), 0))
        await b.publish(Kind.PUBLISH, "news", b"nobody listens")
        await b.publish(Kind.BROADCAST, "", b"but this arrives")
        assert [envelope.payload for envelope in await a.wait_for(1)] == [b"but this arrives"]
        await trio.sleep(0.1)
        assert len(a.delivered) == 1


async def test_client_kill_pubsub_reconnects_and_resubscribes(redis: RedisProcess) -> None:
    async with node(redis.url, NODE_A) as a, node(redis.url, NODE_B) as b:
        a.backplane.subscribe("room")
        await _until(lambda: _is(redis.subscribers("trioproto:topic:room"), 1))
        killed = await redis.command("CLIENT", "KILL", "TYPE", "pubsub")
        assert killed == b":2"
        started = trio.current_time()
        await _until(lambda: _is(redis.subscribers("trioproto:topic:room"), 1), seconds=5)
        await _deliver_again(b, a, b"after the kill")
        assert trio.current_time() - started < 5
        assert a.backplane.statistics().outages == 1
        assert a.backplane.statistics().connected


async def test_full_restart_fails_publishes_fast_then_recovers(
    redis: RedisProcess, caplog: pytest.LogCaptureFixture
) -> None:
    async with node(redis.url, NODE_A) as a, node(redis.url, NODE_B) as b:
        a.backplane.subscribe("room")
        await _until(lambda: _is(redis.subscribers("trioproto:topic:room"), 1))
        await redis.stop()
        await _until(lambda: _not_connected(b))
        for _ in range(50):
            before = time.monotonic()
            with pytest.raises(BackplaneUnavailable, match="not connected to Redis"):
                await b.publish(Kind.PUBLISH, "room", b"lost")
            assert time.monotonic() - before < 0.05  # fails fast, never waits for Redis
        assert b.backplane.statistics().publish_failures == 50
        await trio.sleep(0.5)  # several reconnection attempts fail meanwhile
        await redis.start()
        started = trio.current_time()
        await _deliver_again(b, a, b"after the restart")
        assert trio.current_time() - started < 5
        assert b.backplane.statistics().outages == 1
    lost = [r for r in caplog.records if "lost the connection to Redis" in r.getMessage()]
    assert len(lost) == 2  # once per node and outage, not once per failed publish or attempt


async def test_unreachable_redis_at_start_up_is_one_clear_error() -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"
    backplane = RedisBackplane(url)
    with trio.fail_after(10), pytest.raises(BackplaneUnavailable) as info:
        await backplane.run(NODE_A, lambda envelope: None)
    assert str(info.value).startswith(f"cannot reach Redis at {url}: ")
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://127.0.0.1:6379", "expected redis://host[:port][/db]"),
        ("redis://127.0.0.1:port/0", "the port is not a number"),
        ("redis:///0", "no host"),
        ("redis://127.0.0.1:6379/zero", "the database 'zero' is not a number"),
        ("unix://", "no socket path"),
    ],
)
def test_bad_urls_are_refused_with_the_reason(url: str, message: str) -> None:
    with pytest.raises(ValueError, match="invalid Redis URL") as info:
        RedisBackplane(url)
    assert message in str(info.value)


def test_missing_coredis_says_which_extra_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "coredis", None)  # as if it were not installed
    with pytest.raises(ModuleNotFoundError, match=r"pip install 'trioproto\[redis\]'"):
        RedisBackplane("redis://127.0.0.1:6379/0")


async def test_unknown_envelope_versions_are_rejected_and_counted(redis: RedisProcess) -> None:
    async with node(redis.url, NODE_A) as a:
        future = b"\x02" + encode_envelope(Envelope(Kind.BROADCAST, "", b"x", False, NODE_B))[1:]
        await _publish_raw(redis.port, "trioproto:broadcast", [future, b"junk"])
        await a.publish(Kind.BROADCAST, "", b"mine")  # ignored: own origin
        await _until(lambda: _is_value(a.backplane.statistics().rejected, 2))
        assert a.delivered == []


async def test_a_node_too_slow_for_its_messages_drops_them_within_its_bound(
    redis: RedisProcess,
) -> None:
    async with node(redis.url, NODE_A, max_pending=20) as a:
        a.stall_first = 0.5
        flood = [
            encode_envelope(Envelope(Kind.BROADCAST, "", b"%d" % n, False, NODE_B))
            for n in range(2000)
        ]
        # The first envelope stalls node A; the other 1999 arrive meanwhile, all at once.
        publisher = threading.Thread(
            target=_publish_blocking,
            args=(redis.port, "trioproto:broadcast", flood[1:], a.first_delivered),
        )
        publisher.start()
        await _publish_raw(redis.port, "trioproto:broadcast", flood[:1])
        await _until(lambda: _is_value(publisher.is_alive(), False))
        await trio.sleep(0.5)
        await _until(lambda: _is_value(a.backplane.statistics().connected, True))
        statistics = a.backplane.statistics()
        assert statistics.dropped > 0
        assert statistics.received + statistics.dropped <= 2000
        assert len(a.delivered) == statistics.received < 2000


# ------------------------------------------------------------------ helpers


async def _is(value: Any, expected: Any) -> bool:
    return bool(await value == expected)


async def _is_value(value: Any, expected: Any) -> bool:
    return bool(value == expected)


async def _not_connected(running: Node) -> bool:
    return not running.backplane.statistics().connected


async def _deliver_again(sender: Node, receiver: Node, payload: bytes) -> None:
    """Publish until ``receiver`` gets ``payload`` (publishes fail until ``sender`` is back)."""
    with trio.fail_after(10):
        while not any(envelope.payload == payload for envelope in receiver.delivered):
            with suppress(BackplaneUnavailable):
                await sender.publish(Kind.PUBLISH, "room", payload)
            await trio.sleep(0.05)


def _resp_publish(channel: str, data: bytes) -> bytes:
    parts = [b"PUBLISH", channel.encode(), data]
    return b"*3\r\n" + b"".join(b"$%d\r\n%s\r\n" % (len(part), part) for part in parts)


async def _publish_raw(port: int, channel: str, messages: list[bytes]) -> None:
    await trio.to_thread.run_sync(_publish_blocking, port, channel, messages, None)


def _publish_blocking(
    port: int, channel: str, messages: list[bytes], after: threading.Event | None
) -> None:
    """PUBLISH each message over a plain socket, from a thread (the trio thread may be stalled)."""
    if after is not None:
        after.wait(10)
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(b"".join(_resp_publish(channel, message) for message in messages))
        replies = b""
        while replies.count(b"\r\n") < len(messages):
            replies += sock.recv(65536)


def test_importing_trioproto_does_not_import_coredis() -> None:
    code = "import sys, trioproto; print('coredis' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "False", result.stderr
