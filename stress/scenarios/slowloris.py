"""Slowloris: slow and silent clients hold connections while a probe must be served in 1 s.

Slow clients trickle a valid request head one byte at a time and never finish it; silent
clients connect and send nothing. While they all hold their connections, a probe connects
every 250 ms until a second after the timeout, completes a handshake and gets an echo; each
probe must take under 1 s. The server must drop every slow and silent client once
``Timeouts.handshake`` expires (plus 3 s).
"""

from __future__ import annotations

import time

import trio

from ..common import Result, Settings
from ..process import start_target
from ..wire import RawClient, handshake_request

NAME = "slowloris"
PROBE_BOUND = 1.0
_DROP_SLACK = 3.0


async def _hold(
    port: int,
    trickle: float | None,
    dropped_after: list[float],
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Connect, trickle the head (or stay silent), and record when the server hangs up."""
    client = await RawClient.connect(port)
    connected = time.monotonic()
    task_status.started()
    head = handshake_request(b"dGhlIHNhbXBsZSBub25jZQ==")
    try:
        async with trio.open_nursery() as nursery:
            if trickle is not None:
                nursery.start_soon(_trickle, client, head, trickle)
            try:
                while await client.stream.receive_some(4096):
                    pass
            except trio.BrokenResourceError:
                pass
            nursery.cancel_scope.cancel()
        dropped_after.append(time.monotonic() - connected)
    finally:
        await client.aclose()


async def _trickle(client: RawClient, head: bytes, interval: float) -> None:
    try:
        for index in range(len(head) - 4):  # never the final CRLF CRLF
            await client.send(head[index : index + 1])
            await trio.sleep(interval)
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        pass


async def _probe(port: int) -> float:
    started = time.monotonic()
    client = await RawClient.connect(port)
    try:
        await client.handshake()
        await client.send_message("probe")
        if await client.receive_message() != "probe":
            raise ValueError("wrong echo")
    finally:
        await client.aclose()
    return time.monotonic() - started


async def run(settings: Settings) -> Result:
    result = Result(NAME)
    count = settings.size(200, 1000)
    timeout = settings.size(2.0, 10.0)
    slow_dropped: list[float] = []
    silent_dropped: list[float] = []
    probes: list[float] = []
    probe_failures: list[str] = []
    async with start_target(handshake_timeout=timeout) as server:
        with trio.fail_after(timeout * 3 + 60):
            async with trio.open_nursery() as nursery:
                for index in range(2 * count):
                    trickle = 1.0 if index % 2 == 0 else None
                    dropped = slow_dropped if trickle else silent_dropped
                    await nursery.start(_hold, server.port, trickle, dropped)
                # Probe through the timeout, and for a second after it, when they are dropped.
                deadline = trio.current_time() + timeout + 1.0
                while trio.current_time() < deadline:
                    try:
                        with trio.fail_after(PROBE_BOUND * 5):
                            probes.append(await _probe(server.port))
                    except Exception as exc:
                        probe_failures.append(repr(exc))
                    await trio.sleep(0.25)
                # The nursery ends as soon as the server has dropped every client.
                nursery.cancel_scope.deadline = trio.current_time() + _DROP_SLACK
        crashes = server.crashes()
    late = [delay for delay in probes if delay > PROBE_BOUND]
    held = 2 * count - len(slow_dropped) - len(silent_dropped)
    result.figures["slow + silent"] = f"{count} + {count}"
    result.figures["probes"] = str(len(probes))
    result.figures["slowest probe"] = f"{max(probes, default=0) * 1000:.0f} ms"
    result.figures["dropped after"] = (
        f"{min(slow_dropped + silent_dropped, default=0):.1f}-"
        f"{max(slow_dropped + silent_dropped, default=0):.1f} s (timeout {timeout:.0f} s)"
    )
    result.count_failures(f"probes slower than {PROBE_BOUND:.0f} s", [f"{d:.2f} s" for d in late])
    result.count_failures("probes failed", probe_failures)
    result.count_failures(
        f"clients dropped later than the timeout + {_DROP_SLACK:.0f} s",
        [f"{d:.1f} s" for d in slow_dropped + silent_dropped if d > timeout + _DROP_SLACK],
    )
    result.check(held == 0, f"{held} slow or silent clients still connected after the timeout")
    result.count_failures("internal errors in the server log", crashes)
    return result
