"""Tests for trioproto._worker_metrics: ``serve --workers 2 --metrics /metrics`` as a real
supervisor with real worker processes; any worker's scrape shows both, by ``worker`` label."""

from __future__ import annotations

import os
import signal
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import pytest
import trio
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from worker_programs import supervisor

import trioproto
from metrics_helpers import Samples, parse, scrape
from trioproto._worker_context import WorkerContext
from trioproto._worker_metrics import AllWorkers, read_other_snapshots, share_snapshots


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
        try:
            status, _, body = await scrape(port)
        except ConnectionResetError:  # sent to a worker's socket as that worker was killed
            await trio.sleep(0.1)
            continue
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


async def test_a_restarted_worker_starts_its_counters_again_under_its_label() -> None:
    with trio.fail_after(90):
        async with (
            supervisor("--port", "0", "--workers", "2", "--metrics", "/metrics") as (_, url),
            clients_on_both_workers(url, 1) as by_pid,
        ):
            victim, survivor = sorted(by_pid)
            for pid, count in ((victim, 2), (survivor, 5)):
                for number in range(count):
                    await by_pid[pid][0].send(str(number))
                    assert await by_pid[pid][0].receive() == str(number)
            before = await scrape_until(
                port_of(url),
                lambda received: sorted(received.values()) == [2, 5],
                "trioproto_messages_total",
                direction="received",
            )
            os.kill(victim, signal.SIGKILL)
            with pytest.raises(trioproto.ConnectionClosed):
                await by_pid[victim][0].receive()
            # The replacement writes its own snapshot, from zero, under the same label.
            after = await scrape_until(
                port_of(url),
                lambda received: sorted(received.values()) == [0, 5],
                "trioproto_messages_total",
                direction="received",
            )
    received_before = by_worker(before, "trioproto_messages_total", direction="received")
    received_after = by_worker(after, "trioproto_messages_total", direction="received")
    assert set(received_after) == set(received_before) == {"0", "1"}
    [restarted] = [worker for worker, count in received_before.items() if count == 2]
    assert received_after[restarted] == 0


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


async def test_snapshots_round_trip_through_the_shared_directory(tmp_path: Path) -> None:
    """Worker 1's snapshot file, read by worker 0's scrape, keeps every family and sample."""

    def figures(value: int) -> list[CounterMetricFamily | GaugeMetricFamily]:
        counter = CounterMetricFamily("demo_events", "Events.", labels=("kind",))
        counter.add_metric(("a",), value)
        return [counter, GaugeMetricFamily("demo_level", "Level.", value=value * 10)]

    class Live:
        def collect(self) -> list[CounterMetricFamily | GaugeMetricFamily]:
            return figures(1)

    first = WorkerContext(0, "n0", str(tmp_path))
    second = WorkerContext(1, "n1", str(tmp_path))
    with trio.move_on_after(0.2):  # one snapshot, then the final one when cancelled
        await share_snapshots(lambda: figures(7), second, "/metrics")
    others = await read_other_snapshots(first, "/metrics")
    merged = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in AllWorkers(Live(), first, others).collect()
        for sample in family.samples
    }
    assert merged == {
        ("demo_events_total", (("kind", "a"), ("worker", "0"))): 1,
        ("demo_events_total", (("kind", "a"), ("worker", "1"))): 7,
        ("demo_level", (("worker", "0"),)): 10,
        ("demo_level", (("worker", "1"),)): 70,
    }
    assert await read_other_snapshots(second, "/other") == []  # another endpoint's


async def test_a_snapshot_that_cannot_be_written_is_logged_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    gone = WorkerContext(0, "n0", str(tmp_path / "removed"))
    with trio.move_on_after(2.5):  # three attempts, then the final one
        await share_snapshots(list, gone, "/metrics")
    warnings = [record for record in caplog.records if "cannot write" in record.getMessage()]
    assert len(warnings) == 1
