"""The load generator: picows (a Cython WebSocket client) on uvloop, run on its own core.

``python -m benchmarks.client WORKLOAD URL [options]`` prints one JSON object with what it
measured. Every echo is checked against what was sent; a wrong or missing echo is an error.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import ssl
import sys
import time

import uvloop
from picows import WSCloseCode, WSFrame, WSListener, WSMsgType, WSTransport, ws_connect


class EchoChecker(WSListener):
    """Sends ``payload``, expects it back; keeps ``depth`` messages in flight."""

    def __init__(self, payload: bytes, depth: int, deadline: float) -> None:
        self.payload = payload
        self.depth = depth
        self.deadline = deadline
        self.count = 0
        self.latencies: list[float] = []
        self.sent_at: list[float] = []
        self.partial = bytearray()
        self.done = asyncio.get_running_loop().create_future()
        self.error: str | None = None

    def on_ws_connected(self, transport: WSTransport) -> None:
        self.transport = transport

    def start(self) -> None:
        for _ in range(self.depth):
            self._send()

    def _send(self) -> None:
        self.sent_at.append(time.perf_counter())
        self.transport.send(WSMsgType.BINARY, self.payload)

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        if frame.msg_type in (WSMsgType.BINARY, WSMsgType.CONTINUATION):
            if not frame.fin or self.partial:
                self.partial += frame.get_payload_as_bytes()
                if not frame.fin:
                    return
                ok = self.partial == self.payload
                self.partial.clear()
            else:
                ok = frame.get_payload_as_bytes() == self.payload
            if not ok:
                self._finish("wrong echo")
                return
            now = time.perf_counter()
            self.latencies.append(now - self.sent_at.pop(0))
            self.count += 1
            if now < self.deadline:
                self._send()
            elif not self.sent_at:
                self._finish(None)
        elif frame.msg_type == WSMsgType.CLOSE:
            self._finish(f"server closed: {frame.get_close_code()}")

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        self._finish("disconnected")

    def _finish(self, error: str | None) -> None:
        if not self.done.done():
            self.error = error
            self.done.set_result(None)


def _context(url: str) -> ssl.SSLContext | None:
    if not url.startswith("wss"):
        return None
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


async def echo_workload(
    url: str, connections: int, size: int, depth: int, seconds: float
) -> dict[str, object]:
    payload = os.urandom(size)
    checkers: list[EchoChecker] = []
    for _ in range(connections):
        _, listener = await ws_connect(
            lambda: EchoChecker(payload, depth, 0.0),
            url,
            ssl_context=_context(url),
            max_frame_size=2 * size + 1024,
        )
        checkers.append(listener)  # type: ignore[arg-type]
    warmup = 0.3
    start = time.perf_counter() + warmup
    cpu_start = time.process_time()
    for checker in checkers:
        checker.deadline = start + seconds
        checker.start()
    await asyncio.sleep(warmup)
    counted_before = sum(c.count for c in checkers)
    for checker in checkers:
        checker.latencies.clear()
    await asyncio.wait_for(asyncio.gather(*(c.done for c in checkers)), seconds + 30)
    elapsed = time.perf_counter() - start
    total = sum(c.count for c in checkers)
    errors = [c.error for c in checkers if c.error]
    if errors:
        raise SystemExit(f"echo check failed: {errors[:3]}")
    messages = sum(c.count for c in checkers) - counted_before
    latencies = sorted(x for c in checkers for x in c.latencies)
    for checker in checkers:
        checker.transport.send_close(WSCloseCode.OK)
        checker.transport.disconnect()
    return {
        "messages": messages,
        "seconds": elapsed,
        "msg_per_s": messages / elapsed,
        "mb_per_s": messages * size / elapsed / 1e6,
        "p50_ms": latencies[len(latencies) // 2] * 1e3 if latencies else None,
        "p99_ms": latencies[int(len(latencies) * 0.99)] * 1e3 if latencies else None,
        "client_cpu": (time.process_time() - cpu_start) / (elapsed + warmup),
        "messages_total": total,
    }


class Quiet(WSListener):
    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        pass


async def handshake_workload(url: str, total: int, concurrency: int) -> dict[str, object]:
    """Open ``total`` connections, ``concurrency`` at a time: handshake, then close handshake."""
    semaphore = asyncio.Semaphore(concurrency)

    async def one() -> None:
        async with semaphore:
            transport, _ = await ws_connect(Quiet, url, ssl_context=_context(url))
            # A normal closure: picows' default close code (0, "no info") is sent as the code
            # 0 on the wire, which RFC 6455 §7.4.2 forbids and every server fails with 1002.
            transport.send_close(WSCloseCode.OK)
            await transport.wait_disconnected()

    start = time.perf_counter()
    cpu_start = time.process_time()
    await asyncio.gather(*(one() for _ in range(total)))
    elapsed = time.perf_counter() - start
    return {
        "handshakes": total,
        "seconds": elapsed,
        "handshakes_per_s": total / elapsed,
        "client_cpu": (time.process_time() - cpu_start) / elapsed,
    }


async def idle_workload(url: str, count: int) -> dict[str, object]:
    """Open ``count`` connections and hold them until standard input closes."""
    transports = []
    semaphore = asyncio.Semaphore(64)

    async def one() -> None:
        async with semaphore:
            transport, _ = await ws_connect(Quiet, url, ssl_context=_context(url))
            transports.append(transport)

    await asyncio.gather(*(one() for _ in range(count)))
    print(json.dumps({"connected": len(transports)}), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    for transport in transports:
        transport.disconnect()
    return {"connected": len(transports)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("workload", choices=("echo", "handshakes", "idle"))
    parser.add_argument("url")
    parser.add_argument("--connections", type=int, default=1)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--depth", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--total", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=64)
    args = parser.parse_args()
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if args.workload == "echo":
        work = echo_workload(args.url, args.connections, args.size, args.depth, args.seconds)
    elif args.workload == "handshakes":
        work = handshake_workload(args.url, args.total, args.concurrency)
    else:
        work = idle_workload(args.url, args.total)
    print(json.dumps(uvloop.run(work)), flush=True)


if __name__ == "__main__":
    main()
