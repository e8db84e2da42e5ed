"""Tests for trioproto._worker_metrics: ``serve --workers 2 --metrics /metrics`` as a real
supervisor with real worker processes; any worker's scrape shows both, by ``worker`` label."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import pytest
import trio
from worker_programs import supervisor

import trioproto
from metrics_helpers import Samples, parse, scrape


@asynccontextmanager
async def clients_on_both_workers(
    url: str, per_worker: int
) -> AsyncIterator[dict[int, list[trioproto.WebSocket]]]:
    """Connect until each of the two workers (told apart by the pid in their greeting) holds
    ``per_worker`` connections; the kernel picks the worker, so extra ones are closed."""
    async with AsyncExitStack() as stack:
        by_pid: dict[int, list[trioproto.WebSocket]] = {}
        for _ in range(200):
            if len(by_pid) == 2 and all(len(group) >= per_worker for group in by_pid.values()):
                break
            connection = AsyncExitStack()
            ws = await connection.enter_async_context(trioproto.open_websocket(url))
            greeting = await ws.receive()
            assert isinstance(greeting, str)
            group = by_pid.setdefault(int(greeting.split()[0]), [])
            if len(group) < per_worker:
                group.append(ws)
                stack.push_async_callback(connection.aclose)
            else:
                await connection.aclose()
        else:
            raise AssertionError(f"200 connections did not reach both workers: {by_pid}")
        yield by_pid


def by_worker(samples: Samples, name: str, **labels: str) -> dict[str, float]:
    """The values of ``name`` (with ``labels``) by ``worker`` label."""
    wanted = set(labels.items())
    return {
        dict(sample_labels)["worker"]: value
        for (sample, sample_labels), value in samples.items()
        if sample == name and wanted <= set(sample_labels)
    }


async def scrape_until(
    port: int, settled: Callable[[dict[str, float]], bool], name: str, **labels: str
) -> Samples:
    """Scrape (any worker answers) until ``settled`` holds for ``name`` by worker: another
    worker's figures are up to a second old. The last scrape's samples."""
    values: dict[str, float] = {}
    for _ in range(100):  # 10 s at most
        status, _, body = await scrape(port)
        assert status == 200
        samples = parse(body)
        values = by_worker(samples, name, **labels)
        if settled(values):
            return samples
        await trio.sleep(0.1)
    raise AssertionError(f"{name}{labels} by worker never settled: {values}")


def port_of(url: str) -> int:
    return int(url.rstrip("/").rsplit(":", 1)[1])


async def test_any_workers_scrape_shows_every_worker_by_label() -> None:
    with trio.fail_after(90):
        async with (
            supervisor("--port", "0", "--workers", "2", "--metrics", "/metrics") as (_, url),
            clients_on_both_workers(url, 3) as by_pid,
        ):
            # One worker's clients echo 2 messages each, the other's 5 each.
            for pid, count in zip(sorted(by_pid), (2, 5), strict=True):
                for ws in by_pid[pid]:
                    for number in range(count):
                        await ws.send(f"echo {number}")
                        assert await ws.receive() == f"echo {number}"
            samples = await scrape_until(
                port_of(url),
                lambda received: sum(received.values()) == 3 * 2 + 3 * 5,
                "trioproto_messages_total",
                direction="received",
            )
    received = by_worker(samples, "trioproto_messages_total", direction="received")
    assert set(received) == {"0", "1"}
    assert sorted(received.values()) == [3 * 2, 3 * 5]
    assert by_worker(samples, "trioproto_connections_open") == {"0": 3, "1": 3}
    # Every family carries the label, the hub's too.
    assert set(by_worker(samples, "trioproto_hub_subscriptions")) == {"0", "1"}


async def test_counts_sum_to_the_traffic_after_the_clients_leave() -> None:
    with trio.fail_after(90):
        async with supervisor("--port", "0", "--workers", "2", "--metrics", "/metrics") as (
            _,
            url,
        ):
            async with clients_on_both_workers(url, 2) as by_pid:
                for group in by_pid.values():
                    for ws in group:
                        await ws.send("x" * 10)
                        assert await ws.receive() == "x" * 10
            samples = await scrape_until(
                port_of(url),
                lambda received: set(received) == {"0", "1"} and sum(received.values()) == 4,
                "trioproto_messages_total",
                direction="received",
            )
    sent = by_worker(samples, "trioproto_message_bytes_total", direction="sent")
    received = by_worker(samples, "trioproto_message_bytes_total", direction="received")
    assert sum(received.values()) == 4 * 10
    # What was sent: the echoes, and each connection's greeting (extra connections included).
    assert sum(sent.values()) > 4 * 10
    connections = by_worker(samples, "trioproto_connections_total")
    assert set(connections) == {"0", "1"}
    assert all(count >= 2 for count in connections.values())


async def test_the_shared_directory_is_removed_when_the_supervisor_exits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    with trio.fail_after(60):
        async with supervisor("--port", "0", "--workers", "2", "--metrics", "/metrics") as (
            program,
            url,
        ):
            await scrape_until(
                port_of(url), lambda topics: set(topics) == {"0", "1"}, "trioproto_hub_topics"
            )
            [directory] = await trio.Path(tmp_path).iterdir()
            assert sorted(path.name for path in await directory.iterdir()) == [
                "metrics-%2Fmetrics-0.json",
                "metrics-%2Fmetrics-1.json",
            ]
            program.process.terminate()
            await program.process.wait()
    assert program.process.returncode == 0
    assert list(await trio.Path(tmp_path).iterdir()) == []
