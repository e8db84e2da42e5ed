"""Tests for trioproto._hub_metrics: hub, backpressure and backplane families, scraped over a
real socket after real hub traffic (and, for the backplane, a real valkey-server)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import trio
from redis_process import redis_server

import trioproto
from helpers import StartServer, connect_hub_client
from metrics_helpers import Samples, parse, scrape
from trioproto.metrics import add_metrics_route

NO_COMPRESSION = {"compression": None}


def subscribing_app() -> trioproto.Router:
    """Connections subscribe to ``?topic=`` under ``?policy=``, say ``ready``, then idle."""
    registry = trioproto.Registry()

    @registry.handler(None)
    async def subscriber(ws: trioproto.WebSocket) -> None:
        query = ws.request.query
        for topic in query.get("topic", []):
            await ws.subscribe(topic, policy=query.get("policy", [None])[0])
        await ws.send("ready")
        async for _ in ws.inbound:
            pass

    return add_metrics_route(registry)


@asynccontextmanager
async def subscriber(
    server: trioproto.WebSocketServer, path: str, *, stalled: bool = False
) -> AsyncIterator[trioproto.WebSocket]:
    """A client subscribed as ``path`` says. A ``stalled`` one has a 4 KiB receive buffer and
    queues one message at most, so the server's writes to it soon stop going through."""
    async with trio.open_nursery() as nursery:
        ws = await connect_hub_client(nursery, server, path, stalled=stalled)
        assert await ws.receive() == "ready"
        yield ws
        await ws.abort()
        nursery.cancel_scope.cancel()


async def scraped(server: trioproto.WebSocketServer) -> Samples:
    status, _, body = await scrape(server.port)
    assert status == 200
    return parse(body)


def family(samples: Samples, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    return {labels: value for (sample, labels), value in samples.items() if sample == name}


async def test_publishes_deliveries_topics_and_subscriptions(start_server: StartServer) -> None:
    server = await start_server(subscribing_app(), **NO_COMPRESSION)
    hub = server.hub
    with trio.fail_after(20):
        async with (
            subscriber(server, "/?topic=a&topic=b") as first,
            subscriber(server, "/?topic=a") as second,
        ):
            for number in range(5):
                assert await hub.publish("a", f"a{number}") == 2
            assert await hub.publish("b", "b0") == 1
            assert await hub.publish("nobody", "lost") == 0
            assert await hub.broadcast(b"all") == 2
            target = next(iter(hub._connections)).id
            assert await hub.send_to(target, "one") is True
            for ws in (first, second):
                while await ws.receive() != b"all":
                    pass
            samples = await scraped(server)
    assert family(samples, "trioproto_hub_operations_total") == {
        (("operation", "publish"),): 7,
        (("operation", "broadcast"),): 1,
        (("operation", "send_to"),): 1,
    }
    assert samples[("trioproto_hub_deliveries_total", ())] == 5 * 2 + 1 + 2 + 1
    assert samples[("trioproto_hub_topics", ())] == 2
    assert samples[("trioproto_hub_subscriptions", ())] == 3
    assert samples[("trioproto_send_buffer_bytes", ())] == 0
    assert samples[("trioproto_hub_remote_envelopes_total", ())] == 0
    assert not any(name.startswith("trioproto_backplane_") for name, _ in samples)
    # Deliveries stay counted after the connections close; the gauges fall back to zero.
    with trio.fail_after(20):
        while server.statistics().open_connections:  # noqa: ASYNC110
            await trio.sleep(0.01)
        samples = await scraped(server)
    assert samples[("trioproto_hub_deliveries_total", ())] == 14
    assert (
        samples[("trioproto_hub_topics", ())],
        samples[("trioproto_hub_subscriptions", ())],
    ) == (
        0,
        0,
    )


@pytest.mark.parametrize("policy", ["drop_oldest", "drop_newest"])
async def test_drops_are_counted_by_policy_and_queued_bytes_shown(
    start_server: StartServer, policy: str
) -> None:
    limits = trioproto.Limits(max_send_buffer=32 * 1024)
    server = await start_server(subscribing_app(), limits=limits, **NO_COMPRESSION)
    with trio.fail_after(30):
        async with subscriber(server, f"/?topic=q&policy={policy}", stalled=True):
            for number in range(5000):  # far more than the socket buffers take
                await server.hub.publish("q", f"{number:05} {'y' * 1000}")
            statistics = server.statistics()
            samples = await scraped(server)
    dropped = family(samples, "trioproto_backpressure_dropped_messages_total")
    other = "drop_newest" if policy == "drop_oldest" else "drop_oldest"
    assert statistics.messages_dropped > 0
    assert dropped == {(("policy", policy),): statistics.messages_dropped, (("policy", other),): 0}
    queued = samples[("trioproto_send_buffer_bytes", ())]
    assert 0 < queued <= 32 * 1024
    assert queued == statistics.send_buffer_bytes
    assert samples[("trioproto_backpressure_closed_connections_total", ())] == 0


async def test_a_policy_close_is_counted(start_server: StartServer) -> None:
    limits = trioproto.Limits(max_send_buffer=16 * 1024)
    server = await start_server(subscribing_app(), limits=limits, **NO_COMPRESSION)
    with trio.fail_after(30):
        async with subscriber(server, "/?topic=q", stalled=True):
            for _ in range(10_000):
                await server.hub.publish("q", "z" * 1000)
                if server.statistics().backpressure_closes:
                    break
            samples = await scraped(server)
    assert samples[("trioproto_backpressure_closed_connections_total", ())] == 1
    assert samples[("trioproto_send_buffer_bytes", ())] == 0  # freed at the close


async def test_backplane_families_follow_the_backplane(start_server: StartServer) -> None:
    """Two servers, one Redis: messages sent and received, connected while Redis runs."""
    async with redis_server() as redis:
        first = await start_server(
            subscribing_app(),
            hub=trioproto.Hub(trioproto.RedisBackplane(redis.url)),
            **NO_COMPRESSION,
        )
        second = await start_server(
            subscribing_app(),
            hub=trioproto.Hub(trioproto.RedisBackplane(redis.url)),
            **NO_COMPRESSION,
        )
        with trio.fail_after(30):
            async with subscriber(second, "/?topic=t") as ws:
                while await redis.subscribers("trioproto:topic:t") != 1:  # noqa: ASYNC110
                    await trio.sleep(0.02)
                await first.hub.publish("t", "over redis")
                assert await ws.receive() == "over redis"
                publisher, receiver = await scraped(first), await scraped(second)
            await redis.stop()
            while first.statistics().backplane.connected:  # type: ignore[union-attr]  # noqa: ASYNC110
                await trio.sleep(0.02)
            await first.hub.publish("t", "during the outage")
            outage = await scraped(first)
    assert publisher[("trioproto_backplane_connected", ())] == 1
    assert publisher[("trioproto_backplane_messages_total", (("direction", "sent"),))] == 1
    assert receiver[("trioproto_backplane_messages_total", (("direction", "received"),))] == 1
    assert receiver[("trioproto_hub_remote_envelopes_total", ())] == 1
    assert receiver[("trioproto_hub_deliveries_total", ())] == 1
    assert receiver[("trioproto_backplane_rejected_messages_total", ())] == 0
    assert outage[("trioproto_backplane_connected", ())] == 0
    assert outage[("trioproto_backplane_outages_total", ())] == 1
    assert outage[("trioproto_backplane_publish_failures_total", ())] == 1
    assert outage[("trioproto_hub_remote_failures_total", ())] == 1
