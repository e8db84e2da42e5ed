"""Worker programs for tests: ``python -m trioproto serve tests.worker_app:registry ...`` as
a real subprocess, and clients greeted by the worker that serves them."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import trio

import trioproto
from helpers import ROOT


class Program:
    """A running ``python -m trioproto serve ... --workers N``: its process and its stderr."""

    def __init__(self, process: trio.Process) -> None:
        self.process = process
        self.stderr = b""

    async def collect_stderr(self) -> None:
        assert self.process.stderr is not None
        while chunk := await self.process.stderr.receive_some():
            self.stderr += chunk


async def read_line(process: trio.Process) -> str:
    assert process.stdout is not None
    buffer = b""
    with trio.fail_after(30):
        while b"\n" not in buffer:
            chunk = await process.stdout.receive_some()
            if not chunk:
                return buffer.decode()
            buffer += chunk
    return buffer.split(b"\n")[0].decode()


@asynccontextmanager
async def supervisor(*args: str) -> AsyncIterator[tuple[Program, str]]:
    """Start the CLI with workers; yield it and its URL; kill it if the test left it running."""
    process = await trio.lowlevel.open_process(
        [sys.executable, "-m", "trioproto", "serve", "tests.worker_app:registry", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    program = Program(process)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(program.collect_stderr)
        try:
            line = await read_line(process)
            assert line.startswith("serving on "), (line, program.stderr)
            yield program, line.split()[2]
        finally:
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
                with trio.move_on_after(20):
                    await process.wait()
                if process.returncode is None:
                    process.kill()
                    await process.wait()


@asynccontextmanager
async def clients(url: str, count: int) -> AsyncIterator[list[tuple[trioproto.WebSocket, int]]]:
    """``count`` open connections, each with the pid of the worker that greeted it."""
    async with AsyncExitStack() as stack:
        opened = []
        for _ in range(count):
            ws = await stack.enter_async_context(trioproto.open_websocket(url))
            greeting = await ws.receive()
            assert isinstance(greeting, str)
            pid, node_id, _connection_id = greeting.split()
            assert len(node_id) == 32
            opened.append((ws, int(pid)))
        yield opened
