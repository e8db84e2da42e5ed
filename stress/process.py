"""Start :mod:`stress.target` in a subprocess, measure it, stop it.

Memory is the process's resident set (``VmRSS`` in ``/proc/PID/status``); growth is measured
from a baseline taken before the load, so the interpreter's own footprint does not count.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import trio

__all__ = ["MemorySampler", "TargetServer", "start_target"]

_SERVING = re.compile(rb"serving on ws://[^:]+:(\d+)/")
#: Log messages that mean trioproto itself failed (not a handler).
_CRASH_MARKERS = ("internal error", "Traceback (most recent call last)")
_RECORD_START = re.compile(r"(DEBUG|INFO|WARNING|ERROR|CRITICAL):")
_EXCEPTION_LINE = re.compile(r"^[\s|+]*[A-Za-z_][\w.]*(Error|Exception|Group|Interrupt)\b.*")
_START_TIMEOUT = 20.0


@dataclass
class TargetServer:
    """A running :mod:`stress.target` process."""

    process: trio.Process
    port: int
    stderr_path: str
    #: Lines printed on standard output after the ``serving on`` line.
    output: list[str] = field(default_factory=list)
    #: Set once the server closed its standard output (it exited).
    output_complete: trio.Event = field(default_factory=trio.Event)
    _more_output: trio.Event = field(default_factory=trio.Event)

    async def wait_for_line(self, line: str) -> None:
        """Wait until the server prints ``line`` on standard output."""
        while line not in self.output:
            await self._more_output.wait()

    def rss(self) -> int:
        """The server's resident set size, in bytes."""
        with open(f"/proc/{self.process.pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        raise RuntimeError("no VmRSS line in /proc status")

    def log(self) -> str:
        """Everything the server wrote on standard error so far."""
        with open(self.stderr_path, encoding="utf-8", errors="replace") as stderr:
            return stderr.read()

    def crashes(self) -> list[str]:
        """The internal errors of trioproto in the server's log, one line each: the log
        message and the exception that ended its traceback."""
        crashes = []
        for record in _log_records(self.log()):
            if any(marker in record[0] for marker in _CRASH_MARKERS):
                exceptions = [line.strip(" |") for line in record if _is_exception_line(line)]
                crashes.append(" / ".join([record[0], *exceptions[-2:]]))
        return crashes

    def count_in_log(self, text: str) -> int:
        """How many lines of the server's log contain ``text``."""
        return sum(text in line for line in self.log().splitlines())

    def terminate(self) -> None:
        """Send SIGTERM: the server closes every connection with 1001 and exits."""
        self.process.send_signal(signal.SIGTERM)


def _log_records(log: str) -> list[list[str]]:
    """The log split into records: a ``LEVEL:logger:message`` line and what follows it."""
    records: list[list[str]] = []
    for line in log.splitlines():
        if _RECORD_START.match(line) or not records:
            records.append([line])
        else:
            records[-1].append(line)
    return records


def _is_exception_line(line: str) -> bool:
    return bool(_EXCEPTION_LINE.match(line))


async def _read_output(server: TargetServer, stdout: trio.abc.ReceiveStream) -> None:
    buffer = b""
    while data := await stdout.receive_some(65536):
        buffer += data
        *lines, buffer = buffer.split(b"\n")
        server.output.extend(line.decode("utf-8", "replace") for line in lines)
        server._more_output.set()
        server._more_output = trio.Event()
    server.output_complete.set()


@asynccontextmanager
async def start_target(
    *,
    compression: bool = True,
    handshake_timeout: float = 10.0,
    close_timeout: float = 10.0,
) -> AsyncIterator[TargetServer]:
    """Run the target server for the duration of the block; kill it on the way out."""
    command = [
        sys.executable,
        "-m",
        "stress.target",
        f"--handshake-timeout={handshake_timeout}",
        f"--close-timeout={close_timeout}",
    ]
    if not compression:
        command.append("--no-compression")
    with tempfile.NamedTemporaryFile("wb", prefix="stress-target-", suffix=".log") as stderr:
        process = await trio.lowlevel.open_process(
            command,
            stdout=subprocess.PIPE,
            stderr=stderr,
            env={**os.environ, "PYTHONPATH": _root()},
        )
        assert process.stdout is not None
        try:
            async with trio.open_nursery() as nursery:
                port = await _wait_for_port(process.stdout)
                server = TargetServer(process, port, stderr.name)
                nursery.start_soon(_read_output, server, process.stdout)
                yield server
                nursery.cancel_scope.cancel()
        finally:
            if process.returncode is None:
                process.kill()
            with trio.CancelScope(shield=True):
                await process.wait()


async def _wait_for_port(stdout: trio.abc.ReceiveStream) -> int:
    received = b""
    with trio.fail_after(_START_TIMEOUT):
        while not (match := _SERVING.search(received)):
            data = await stdout.receive_some(4096)
            if not data:
                raise RuntimeError(f"the target server exited before listening: {received!r}")
            received += data
    return int(match.group(1))


def _root() -> str:
    """The directory holding the ``stress`` and ``trioproto`` packages."""
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class MemorySampler:
    """Samples a server's RSS in the background and keeps the peak."""

    def __init__(self, server: TargetServer, interval: float = 0.05) -> None:
        self.server = server
        self.interval = interval
        self.baseline = server.rss()
        self.peak = self.baseline

    @property
    def growth(self) -> int:
        """Peak RSS minus the baseline, in bytes."""
        return self.peak - self.baseline

    def sample(self) -> int:
        rss = self.server.rss()
        self.peak = max(self.peak, rss)
        return rss

    async def run(self) -> None:
        """Sample until cancelled."""
        while True:
            self.sample()
            await trio.sleep(self.interval)
