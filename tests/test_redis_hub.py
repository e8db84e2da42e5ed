"""``--backplane redis://...``: hub messages across worker processes and across "machines"
(separate servers sharing one Redis), with real processes and a real valkey-server."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import pytest
import trio
from redis_process import RedisProcess, free_port, redis_server
from worker_programs import supervisor

import trioproto
from helpers import ROOT


@pytest.fixture
async def redis() -> AsyncIterator[RedisProcess]:
    async with redis_server() as server:
        yield server


class Client:
    """A connection to tests.worker_app, with what its greeting said."""

    def __init__(self, ws: trioproto.WebSocket, greeting: str) -> None:
        self.ws = ws
        pid, self.node_id, self.id = greeting.split()
        self.pid = int(pid)

    async def command(self, text: str) -> None:
        """Send a command; wait for its ``ok`` (messages arriving before it are kept)."""
        await self.ws.send(text)
        self.early: list[str | bytes] = []
        while (message := await self.ws.receive()) != "ok":
            self.early.append(message)

    async def nothing_more(self) -> None:
        """Whatever arrived already, an echo sent now comes back next: no duplicate pending."""
        await self.ws.send("ping")
        assert await self.ws.receive() == "ping"


@asynccontextmanager
async def connected(url: str, count: int) -> AsyncIterator[list[Client]]:
    async with AsyncExitStack() as stack:
        opened = []
        for _ in range(count):
            ws = await stack.enter_async_context(trioproto.open_websocket(url))
            greeting = await ws.receive()
            assert isinstance(greeting, str)
            opened.append(Client(ws, greeting))
        yield opened


async def _subscribed_nodes(redis: RedisProcess, topic: str, nodes: int) -> None:
    """Wait until ``nodes`` nodes have subscribed ``topic`` in Redis (subscribing a topic
    reaches Redis a moment after the hub's first local subscriber; publishing before that
    would rightly miss those nodes: delivery is at most once)."""
    with trio.fail_after(10):
        while await redis.subscribers(f"trioproto:topic:{topic}") != nodes:  # noqa: ASYNC110
            await trio.sleep(0.02)


async def test_a_publish_reaches_all_20_clients_across_two_workers_once(
    redis: RedisProcess,
) -> None:
    with trio.fail_after(60):
        async with (
            supervisor("--port", "0", "--workers", "2", "--backplane", redis.url) as (_p, url),
            connected(url, 20) as clients,
        ):
            assert len({client.pid for client in clients}) == 2
            for client in clients:
                await client.command("sub room")
            await _subscribed_nodes(redis, "room", 2)
            publisher = clients[0]
            await publisher.command("pub room hello everyone")
            assert publisher.early == ["hello everyone"]  # its own node delivered it at once
            for client in clients[1:]:
                assert await client.ws.receive() == "hello everyone"
            for client in clients:
                await client.nothing_more()


async def test_two_machines_publish_broadcast_and_send_to(redis: RedisProcess) -> None:
    args = ("--port", "0", "--workers", "1", "--backplane", redis.url)
    with trio.fail_after(60):
        async with (
            supervisor(*args) as (_one, url_one),
            supervisor(*args) as (_two, url_two),
            connected(url_one, 1) as [alice],
            connected(url_two, 1) as [bob],
        ):
            assert alice.node_id != bob.node_id
            await alice.command("sub news")
            await bob.command("sub news")
            await _subscribed_nodes(redis, "news", 2)
            await alice.command("pub news from alice")
            assert alice.early == ["from alice"]
            assert await bob.ws.receive() == "from alice"

            await bob.command("all to everyone")
            assert bob.early == ["to everyone"]
            assert await alice.ws.receive() == "to everyone"

            await alice.command(f"to {bob.id} just for bob")
            assert alice.early == []
            assert await bob.ws.receive() == "just for bob"
            await alice.nothing_more()
            await bob.nothing_more()


async def _serve_to_the_end(*args: str) -> subprocess.CompletedProcess[bytes]:
    with trio.fail_after(60):
        return await trio.run_process(
            [sys.executable, "-m", "trioproto", "serve", "tests.worker_app:registry", *args],
            cwd=ROOT,
            capture_stdout=True,
            capture_stderr=True,
            check=False,
        )


@pytest.mark.parametrize("workers", [(), ("--workers", "2")])
async def test_unreachable_redis_at_start_up_is_one_line_and_exit_1(
    workers: tuple[str, ...],
) -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"
    result = await _serve_to_the_end("--port", "0", "--backplane", url, *workers)
    assert result.returncode == 1
    assert result.stdout == b""
    lines = result.stderr.decode().strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("error: ")
    assert f"cannot reach Redis at {url}: " in lines[0]


async def test_a_bad_backplane_url_is_one_line_and_exit_1() -> None:
    result = await _serve_to_the_end("--port", "0", "--backplane", "http://127.0.0.1:6379/")
    assert result.returncode == 1
    [line] = result.stderr.decode().strip().splitlines()
    assert line.startswith("error: invalid Redis URL 'http://127.0.0.1:6379/': expected redis://")


async def test_server_statistics_say_whether_the_backplane_is_connected(
    redis: RedisProcess, nursery: trio.Nursery
) -> None:
    from trioproto._redis_hub import redis_hub

    hub = redis_hub(redis.url)
    server: trioproto.WebSocketServer = await nursery.start(
        lambda task_status: trioproto.serve(
            trioproto.Registry(), 0, host="127.0.0.1", hub=hub, task_status=task_status
        )
    )
    assert server.node_id == hub.node_id == server.statistics().node_id
    backplane = server.statistics().backplane
    assert backplane is not None
    assert backplane.connected
    await redis.stop()
    with trio.fail_after(10):
        while server.statistics().backplane.connected:  # type: ignore[union-attr]  # noqa: ASYNC110
            await trio.sleep(0.02)
    await redis.start()
    with trio.fail_after(10):
        while not server.statistics().backplane.connected:  # type: ignore[union-attr]  # noqa: ASYNC110
            await trio.sleep(0.02)
    await server.aclose()


async def test_a_redis_outage_never_fails_a_publisher_and_local_delivery_goes_on(
    redis: RedisProcess, nursery: trio.Nursery
) -> None:
    from trioproto._redis_hub import redis_hub

    registry = trioproto.Registry()

    @registry.handler(None)
    async def subscriber(ws: trioproto.WebSocket) -> None:
        await ws.subscribe("news")
        await ws.send("subscribed")
        await ws.wait_closed()

    hub = redis_hub(redis.url)
    server: trioproto.WebSocketServer = await nursery.start(
        lambda task_status: trioproto.serve(
            registry, 0, host="127.0.0.1", hub=hub, task_status=task_status
        )
    )
    async with trioproto.open_websocket(f"ws://127.0.0.1:{server.port}/") as client:
        assert await client.receive() == "subscribed"
        await redis.stop()
        with trio.fail_after(10):
            while hub.backplane.statistics().connected:  # type: ignore[union-attr]  # noqa: ASYNC110
                await trio.sleep(0.02)
        assert await hub.publish("news", "during the outage") == 1  # no exception
        assert await client.receive() == "during the outage"
        assert hub.statistics().remote_failures == 1
    await server.aclose()
