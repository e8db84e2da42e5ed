"""Fan-out benchmark: one publisher, many subscribers, trioproto's hub against websockets.

``python -m benchmarks.fanout`` runs, for each server, subscriber count and message size:

1. the server on core 0 (``taskset -c 0``), as every benchmark here;
2. ``--processes`` subscriber processes (picows on uvloop, core 1) holding the subscribers;
   the server's RSS before and after they connect gives the memory per subscriber;
3. one publisher process (core 1) that sends messages to ``/pub``, each carrying its send time
   (``time.monotonic_ns()``, one clock for every process of the machine) and keeping
   ``--window`` messages in flight ahead of its own probe subscriber: a closed loop, so the
   rate is what the server sustains, not what a queue absorbs.

Subscribers count deliveries in 100 ms buckets and sample every 8th delivery's latency
(publish to delivery). The report gives deliveries per second over the publisher's run minus
its first half second, latency p50/p99, and KiB of server RSS per subscriber; with
``--stalled``, the same again with one more subscriber that never reads (a raw socket with a
4 KiB receive buffer).

Servers: ``trioproto`` (``hub.publish``), ``websockets-asyncio`` (``broadcast()``, no
backpressure), ``websockets-trio`` (``await broadcast()``, returns when every send is done).
The machine is shared and noisy: compare within one run, never across runs.

Roles (internal): ``python -m benchmarks.fanout sub URL --connections N`` and
``python -m benchmarks.fanout pub URL --size S --seconds T --window W``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import socket
import statistics
import struct
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVERS = {
    "trioproto": "benchmarks.servers.fanout_trioproto",
    "websockets-asyncio": "benchmarks.servers.fanout_websockets_asyncio",
    "websockets-trio": "benchmarks.servers.fanout_websockets_trio",
}
HEADER = struct.Struct("!qq")  # send time (monotonic ns), sequence number
BUCKET_NS = 100_000_000
SAMPLE_EVERY = 8


# ------------------------------------------------------------------ subscriber role


def subscriber_role(url: str, connections: int) -> None:
    import uvloop
    from picows import WSFrame, WSListener, WSMsgType, WSTransport, ws_connect

    buckets: dict[int, int] = {}
    latencies: list[float] = []
    counter = [0]

    class Subscriber(WSListener):
        def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
            if frame.msg_type != WSMsgType.BINARY:
                return
            now = time.monotonic_ns()
            bucket = now // BUCKET_NS
            buckets[bucket] = buckets.get(bucket, 0) + 1
            counter[0] += 1
            if counter[0] % SAMPLE_EVERY == 0:
                sent, _seq = HEADER.unpack_from(frame.get_payload_as_memoryview())
                latencies.append((now - sent) / 1e6)

    async def work() -> None:
        limit = asyncio.Semaphore(64)
        transports = []

        async def one() -> None:
            async with limit:
                transport, _ = await ws_connect(Subscriber, url)
                transports.append(transport)

        await asyncio.gather(*(one() for _ in range(connections)))
        print(json.dumps({"connected": len(transports)}), flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
        print(json.dumps({"buckets": buckets, "latencies_ms": latencies}), flush=True)
        for transport in transports:
            transport.disconnect()

    uvloop.run(work())


# ------------------------------------------------------------------- publisher role


def publisher_role(url: str, size: int, seconds: float, window: int) -> None:
    import uvloop
    from picows import WSFrame, WSListener, WSMsgType, WSTransport, ws_connect

    async def work() -> dict[str, object]:
        loop = asyncio.get_running_loop()
        seen = [-1]
        waiter: list[asyncio.Future[None] | None] = [None]

        class Probe(WSListener):
            def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
                if frame.msg_type == WSMsgType.BINARY:
                    seen[0] = HEADER.unpack_from(frame.get_payload_as_memoryview())[1]
                    if waiter[0] is not None and not waiter[0].done():
                        waiter[0].set_result(None)

        base = url.rstrip("/")
        probe, _ = await ws_connect(Probe, f"{base}/sub")
        publisher, _ = await ws_connect(WSListener, f"{base}/pub")
        await asyncio.sleep(0.2)  # the probe's subscription is in place
        padding = bytes(max(0, size - HEADER.size))
        start = time.monotonic_ns()
        deadline = start + int(seconds * 1e9)
        sequence = 0
        stalled = False
        while time.monotonic_ns() < deadline:
            if sequence - seen[0] > window:
                waiter[0] = loop.create_future()
                remaining = (deadline - time.monotonic_ns()) / 1e9
                try:
                    await asyncio.wait_for(waiter[0], min(max(remaining, 0.001), 1.0))
                except TimeoutError:
                    stalled = remaining > 1.0  # a whole second without a delivery
                    break
                continue
            publisher.send(WSMsgType.BINARY, HEADER.pack(time.monotonic_ns(), sequence) + padding)
            sequence += 1
            if sequence % window == 0:
                await asyncio.sleep(0)  # let the probe's frames in
        end = time.monotonic_ns()
        probe.disconnect()
        publisher.disconnect()
        return {"published": sequence, "start_ns": start, "end_ns": end, "stalled": stalled}

    print(json.dumps(uvloop.run(work())), flush=True)


# ------------------------------------------------------------------------ orchestrator


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def _raise_fd_limit() -> None:
    import resource

    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def _spawn(core: int, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        ["taskset", "-c", str(core), sys.executable, *args],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        preexec_fn=_raise_fd_limit,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def _stalled_subscriber(port: int) -> socket.socket:
    """A subscriber that completes the handshake and then never reads."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        f"GET /sub HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        .encode()
    )  # fmt: skip
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)  # byte by byte: nothing after the head is read
    assert head.startswith(b"HTTP/1.1 101"), head
    return sock


def measure(
    server_name: str, subscribers: int, size: int, args: argparse.Namespace, stalled: bool
) -> dict[str, object]:
    port = _free_port()
    server = _spawn(0, "-m", SERVERS[server_name], str(port))
    subs: list[subprocess.Popen[str]] = []
    stalled_socket = None
    try:
        assert server.stdout is not None
        if not server.stdout.readline():
            raise RuntimeError(f"{server_name} did not start")
        url = f"ws://127.0.0.1:{port}"
        rss_before = _rss_kib(server.pid)
        share = subscribers // args.processes
        for index in range(args.processes):
            count = share + (1 if index < subscribers % args.processes else 0)
            subs.append(_spawn(1, "-m", "benchmarks.fanout", "sub", f"{url}/sub",
                               "--connections", str(count)))  # fmt: skip
        connected = sum(json.loads(_readline(sub, 120))["connected"] for sub in subs)
        time.sleep(0.5)
        rss_per_subscriber = (_rss_kib(server.pid) - rss_before) / connected
        if stalled:
            stalled_socket = _stalled_subscriber(port)
        publisher = _spawn(1, "-m", "benchmarks.fanout", "pub", url, "--size", str(size),
                           "--seconds", str(args.seconds),
                           "--window", str(args.window))  # fmt: skip
        published = json.loads(_readline(publisher, args.seconds + 60))
        publisher.wait(10)
        buckets: dict[int, int] = {}
        latencies: list[float] = []
        for sub in subs:
            assert sub.stdin is not None
            sub.stdin.close()
        for sub in subs:
            result = json.loads(_readline(sub, 60))
            for bucket, count in result["buckets"].items():
                buckets[int(bucket)] = buckets.get(int(bucket), 0) + count
            latencies.extend(result["latencies_ms"])
        first = (published["start_ns"] + 500_000_000) // BUCKET_NS
        last = published["end_ns"] // BUCKET_NS  # the last, partial bucket is left out
        window_deliveries = sum(c for b, c in buckets.items() if first <= b < last)
        window_seconds = max((last - first) * BUCKET_NS / 1e9, 1e-9)
        latencies.sort()
        return {
            "server": server_name,
            "subscribers": connected,
            "size": size,
            "stalled_subscriber": stalled,
            "published": published["published"],
            "publisher_blocked": published["stalled"],
            "deliveries_per_s": window_deliveries / window_seconds,
            "latency_p50_ms": _percentile(latencies, 0.50),
            "latency_p99_ms": _percentile(latencies, 0.99),
            "server_rss_kib_per_subscriber": rss_per_subscriber,
            "server_rss_mib_after": _rss_kib(server.pid) / 1024,
        }
    finally:
        if stalled_socket is not None:
            stalled_socket.close()
        for process in [*subs, server]:
            if process.poll() is None:
                process.kill()
            process.wait()


def _readline(process: subprocess.Popen[str], timeout: float) -> str:
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    os.set_blocking(process.stdout.fileno(), True)
    import select

    while time.monotonic() < deadline:
        ready, _, _ = select.select([process.stdout], [], [], 0.5)
        if ready:
            line = process.stdout.readline()
            if not line:
                raise RuntimeError("the process ended without output")
            return line
    raise RuntimeError("timed out waiting for a line")


def _percentile(values: list[float], fraction: float) -> float | None:
    if not values:
        return None
    return values[min(len(values) - 1, int(len(values) * fraction))]


def write_report(records: list[dict[str, object]], settings: dict[str, object]) -> list[Path]:
    directory = ROOT / "benchmarks" / "results"
    directory.mkdir(exist_ok=True)
    lines = [
        "# Fan-out benchmark",
        "",
        f"Settings: {json.dumps(settings)}. Medians of the rounds. Ratios: trioproto / peer.",
        "",
        "| server | subscribers | size | stalled one | deliveries/s | p50 ms | p99 ms "
        "| KiB/subscriber | publisher blocked |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    groups: dict[tuple[object, ...], list[dict[str, object]]] = {}
    for record in records:
        if "error" in record:
            continue
        key = (
            record["server"],
            record["subscribers"],
            record["size"],
            record["stalled_subscriber"],
        )
        groups.setdefault(key, []).append(record)
    medians: dict[tuple[object, ...], dict[str, object]] = {}
    for key, group in groups.items():
        merged: dict[str, object] = dict(group[0])
        for field in ("deliveries_per_s", "latency_p50_ms", "latency_p99_ms",
                      "server_rss_kib_per_subscriber"):  # fmt: skip
            values = [float(r[field]) for r in group if r[field] is not None]  # type: ignore[arg-type]
            merged[field] = statistics.median(values) if values else None
        merged["publisher_blocked"] = any(r["publisher_blocked"] for r in group)
        medians[key] = merged
        lines.append(
            f"| {key[0]} | {key[1]} | {key[2]} B | {'yes' if key[3] else 'no'} "
            f"| {_fmt(merged['deliveries_per_s'], 0)} | {_fmt(merged['latency_p50_ms'], 2)} "
            f"| {_fmt(merged['latency_p99_ms'], 2)} "
            f"| {_fmt(merged['server_rss_kib_per_subscriber'], 1)} "
            f"| {'yes' if merged['publisher_blocked'] else 'no'} |"
        )
    lines += ["", "| ratio (deliveries/s) | subscribers | size | stalled one | trioproto / peer |",
              "|---|---|---|---|---|"]  # fmt: skip
    for key, merged in medians.items():
        if key[0] == "trioproto":
            continue
        ours = medians.get(("trioproto", *key[1:]))
        if ours and ours["deliveries_per_s"] and merged["deliveries_per_s"]:
            ratio = float(ours["deliveries_per_s"]) / float(merged["deliveries_per_s"])  # type: ignore[arg-type]
            lines.append(f"| vs {key[0]} | {key[1]} | {key[2]} B | "
                         f"{'yes' if key[3] else 'no'} | {ratio:.2f}x |")  # fmt: skip
    errors = [r for r in records if "error" in r]
    if errors:
        lines += ["", "Errors:", *[f"- {json.dumps(r)}" for r in errors]]
    markdown = directory / "fanout-latest.md"
    markdown.write_text("\n".join(lines) + "\n")
    raw = directory / "fanout-latest.json"
    raw.write_text(json.dumps({"settings": settings, "records": records}, indent=1) + "\n")
    return [markdown, raw]


def _fmt(value: object, digits: int) -> str:
    return "-" if value is None else f"{float(value):,.{digits}f}"  # type: ignore[arg-type]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.fanout",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="role")
    role_sub = sub.add_parser("sub")
    role_sub.add_argument("url")
    role_sub.add_argument("--connections", type=int, required=True)
    role_pub = sub.add_parser("pub")
    role_pub.add_argument("url")
    role_pub.add_argument("--size", type=int, required=True)
    role_pub.add_argument("--seconds", type=float, required=True)
    role_pub.add_argument("--window", type=int, required=True)
    parser.add_argument("--servers", nargs="*", default=list(SERVERS), choices=list(SERVERS))
    parser.add_argument("--subscribers", type=int, nargs="*", default=[1000, 10000])
    parser.add_argument("--sizes", type=int, nargs="*", default=[32, 1024])
    parser.add_argument("--processes", type=int, default=4, help="subscriber processes")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--window", type=int, default=4, help="messages ahead of the probe")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--stalled", action="store_true", help="add the stalled-subscriber runs")
    args = parser.parse_args(argv)
    if args.role == "sub":
        subscriber_role(args.url, args.connections)
        return 0
    if args.role == "pub":
        publisher_role(args.url, args.size, args.seconds, args.window)
        return 0
    records: list[dict[str, object]] = []
    for round_number in range(args.rounds):
        for subscribers in args.subscribers:
            for size in args.sizes:
                for stalled in (False, True) if args.stalled else (False,):
                    for name in args.servers:
                        record: dict[str, object] = {"round": round_number, "server": name,
                            "subscribers": subscribers, "size": size,
                            "stalled_subscriber": stalled}  # fmt: skip
                        try:
                            record.update(measure(name, subscribers, size, args, stalled))
                        except Exception as exc:
                            record["error"] = f"{type(exc).__name__}: {exc}"[:200]
                        records.append(record)
                        print(json.dumps(record), flush=True)
    settings = {k: v for k, v in vars(args).items() if k != "role"}
    for path in write_report(records, settings):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
