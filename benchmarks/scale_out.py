"""Scale-out measurements: the echo with worker processes, and the Redis backplane's hop.

    python -m benchmarks.scale_out            # both parts, about 2 minutes
    python -m benchmarks.scale_out workers    # 32 B x 100 connections: 1 process, 1 and 2 workers
    python -m benchmarks.scale_out backplane  # publish -> delivery through valkey-server

Unlike ``python -m benchmarks``, nothing is pinned: workers only help when they get cores, and
the load generator (picows on uvloop) shares the machine's cores with them. Read the figures as
what this machine shows, not as a property of trioproto. Results go to
``benchmarks/results/scale-out.md`` and ``scale-out.json``.
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import trio

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ------------------------------------------------------------------ workers


def _echo_run(workers: int | None, seconds: float) -> dict[str, Any]:
    port = _free_port()
    command = [
        sys.executable, "-m", "trioproto", "serve", "examples.echo:registry",
        "--port", str(port), "--compression", "none", "--log-level", "warning",
    ]  # fmt: skip
    if workers is not None:
        command += ["--workers", str(workers)]
    server = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        server.stdout.readline()
        result = subprocess.run(
            [sys.executable, "-m", "benchmarks.client", "echo", f"ws://127.0.0.1:{port}/",
             "--connections", "100", "--size", "32", "--seconds", str(seconds)],
            cwd=ROOT, capture_output=True, text=True, timeout=seconds + 120, check=True,
        )  # fmt: skip
        return json.loads(result.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]
    finally:
        server.terminate()
        server.wait(30)


def workers_part(rounds: int, seconds: float) -> list[dict[str, Any]]:
    records = []
    for round_number in range(rounds):
        for label, workers in (
            ("1 process (no supervisor)", None),
            ("1 worker", 1),
            ("2 workers", 2),
        ):
            result = _echo_run(workers, seconds)
            record = {"round": round_number, "server": label, **result}
            print(json.dumps(record), flush=True)
            records.append(record)
    return records


# ---------------------------------------------------------------- backplane


async def _backplane_latency(count: int, through_redis: bool) -> dict[str, float]:
    """Node B publishes ``count`` envelopes one at a time, each after the previous one arrived
    at node A: the publish-to-delivery time of one hop. Then B publishes ``count`` back to back:
    deliveries per second."""
    from tests.redis_process import redis_server
    from trioproto._backplane import Envelope, Kind
    from trioproto._envelope_codec import decode_envelope, encode_envelope
    from trioproto._redis_backplane import RedisBackplane

    arrived: list[float] = []
    arrival = trio.Event()

    def deliver(envelope: Envelope) -> None:
        nonlocal arrival
        arrived.append(time.perf_counter())
        arrival.set()

    async def measure(publish: Any) -> dict[str, float]:
        nonlocal arrival
        latencies = []
        for number in range(count):
            arrival = trio.Event()
            sent = time.perf_counter()
            await publish(Envelope(Kind.BROADCAST, "", b"%d" % number, False, "b" * 32))
            await arrival.wait()
            latencies.append(arrived[-1] - sent)
        arrived.clear()
        started = time.perf_counter()
        for number in range(count):
            await publish(Envelope(Kind.BROADCAST, "", b"%d" % number, False, "b" * 32))
        with trio.fail_after(60):
            while len(arrived) < count:  # noqa: ASYNC110 - counting, not waiting for one event
                await trio.sleep(0.001)
        elapsed = arrived[-1] - started
        latencies.sort()
        return {
            "p50_us": latencies[len(latencies) // 2] * 1e6,
            "p99_us": latencies[int(len(latencies) * 0.99)] * 1e6,
            "mean_us": statistics.fmean(latencies) * 1e6,
            "deliveries_per_s": count / elapsed,
        }

    if not through_redis:
        # In-process: the same envelope encoding and a trio memory channel hop between tasks.
        send, receive = trio.open_memory_channel[bytes](10_000)

        async def pump() -> None:
            async for data in receive:
                deliver(decode_envelope(data))

        async def publish_local(envelope: Envelope) -> None:
            await send.send(encode_envelope(envelope))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(pump)
            result = await measure(publish_local)
            nursery.cancel_scope.cancel()
        return result

    async with redis_server() as redis, trio.open_nursery() as nursery:
        a = RedisBackplane(redis.url, max_pending=count + 1)
        b = RedisBackplane(redis.url)
        await nursery.start(lambda task_status: a.run("a" * 32, deliver, task_status=task_status))
        await nursery.start(
            lambda task_status: b.run("b" * 32, lambda envelope: None, task_status=task_status)
        )
        result = await measure(b.publish)
        result["dropped"] = a.statistics().dropped
        nursery.cancel_scope.cancel()
    return result


def backplane_part(rounds: int, count: int) -> list[dict[str, Any]]:
    records = []
    for round_number in range(rounds):
        for label, through_redis in (("in-process", False), ("valkey-server", True)):
            result = trio.run(_backplane_latency, count, through_redis)
            record = {"round": round_number, "path": label, **result}
            print(json.dumps(record), flush=True)
            records.append(record)
    return records


# ------------------------------------------------------------------- report


def _median(records: list[dict[str, Any]], key: str, field: str, value: str) -> float:
    return statistics.median(r[field] for r in records if r[key] == value)


def report(workers: list[dict[str, Any]], backplane: list[dict[str, Any]]) -> str:
    recorded = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    lines = [
        "# Scale-out measurements",
        "",
        f"Recorded {recorded} on the shared 2-core development machine (other jobs running):",
        "medians of the rounds. Nothing pinned; the load generator shares the cores.",
    ]
    if workers:
        lines += [
            "",
            "## Echo, 32 B, 100 connections (picows client on the same 2 cores)",
            "",
            "| server | msg/s | p50 ms | p99 ms | client CPU |",
            "|---|---|---|---|---|",
        ]
        for label in dict.fromkeys(r["server"] for r in workers):
            lines.append(
                f"| {label} | {_median(workers, 'server', 'msg_per_s', label):,.0f} "
                f"| {_median(workers, 'server', 'p50_ms', label):.2f} "
                f"| {_median(workers, 'server', 'p99_ms', label):.2f} "
                f"| {_median(workers, 'server', 'client_cpu', label):.0%} |"
            )
    if backplane:
        lines += [
            "",
            "## Backplane hop: publish on node B to delivery on node A",
            "",
            "| path | p50 µs | p99 µs | deliveries/s (one publisher, back to back) |",
            "|---|---|---|---|",
        ]
        for label in dict.fromkeys(r["path"] for r in backplane):
            lines.append(
                f"| {label} | {_median(backplane, 'path', 'p50_us', label):,.0f} "
                f"| {_median(backplane, 'path', 'p99_us', label):,.0f} "
                f"| {_median(backplane, 'path', 'deliveries_per_s', label):,.0f} |"
            )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.scale_out", description=__doc__)
    parser.add_argument("parts", nargs="*", help="workers, backplane (default: both)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--count", type=int, default=5000, help="envelopes per backplane run")
    args = parser.parse_args(argv)
    parts = args.parts or ["workers", "backplane"]
    if not set(parts) <= {"workers", "backplane"}:
        parser.error(f"unknown part in {parts}: expected workers or backplane")
    sys.path.insert(0, str(ROOT))
    workers = workers_part(args.rounds, args.seconds) if "workers" in parts else []
    backplane = backplane_part(args.rounds, args.count) if "backplane" in parts else []
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "scale-out.json").write_text(
        json.dumps({"workers": workers, "backplane": backplane}, indent=1) + "\n"
    )
    (RESULTS / "scale-out.md").write_text(report(workers, backplane))
    print(report(workers, backplane))
    return 0


if __name__ == "__main__":
    sys.exit(main())
