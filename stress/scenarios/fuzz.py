"""Mutation fuzzing: request heads and frame sequences, in process and over sockets.

Most inputs go to the sans-IO layer in process (the HTTP head parser with handshake
validation and compression negotiation, and the codec with and without permessage-deflate),
judged by :mod:`stress.fuzz.oracles`; a smaller sample (heads, frames, and frames after
negotiating deflate) goes over real sockets to the server, judged by
:mod:`stress.fuzz.sockets`. Inputs derive from valid seeds with a fixed random seed
(``--seed``); every failing one is saved under ``--failures`` and replays with
``python -m stress replay DIR``.
"""

from __future__ import annotations

import time

import trio

from ..common import Result, Settings
from ..fuzz import corpus
from ..fuzz.mutate import Mutator
from ..fuzz.oracles import judge
from ..fuzz.seeds import DEFLATE_SEEDS, FRAME_SEEDS, HEAD_SEEDS, TOKENS
from ..fuzz.sockets import check_over_socket
from ..process import start_target

NAME = "fuzz"
_SOCKET_CONCURRENCY = 8
#: The share of in-process inputs per kind.
_SHARES = {"head": 0.4, "frames": 0.4, "deflate": 0.2}
_SEEDS = {"head": HEAD_SEEDS, "frames": FRAME_SEEDS, "deflate": DEFLATE_SEEDS}


def _mutator(kind: str, seed: int) -> Mutator:
    return Mutator(_SEEDS[kind], TOKENS if kind == "head" else [], seed)


async def run(settings: Settings) -> Result:
    result = Result(NAME)
    total = settings.size(30_000, 1_000_000)
    failures: list[str] = []
    started = time.monotonic()
    for offset, (kind, share) in enumerate(_SHARES.items()):
        mutator = _mutator(kind, settings.seed + offset)
        for data in mutator.inputs(int(total * share)):
            reason = judge(kind, data)
            if reason is not None:
                path = corpus.save(settings.failures_dir, kind, data, reason)
                failures.append(f"{path}: {reason}")
            await trio.lowlevel.checkpoint()
    rate = total / (time.monotonic() - started)
    sample = settings.size(200, 5000)
    socket_failures = await _fuzz_sockets(settings, sample)
    result.figures["in process"] = f"{total:,} inputs ({rate:,.0f}/s)"
    result.figures["over sockets"] = f"{sample:,}"
    result.figures["failing inputs"] = str(len(failures) + len(socket_failures))
    result.count_failures("failing inputs in process", _distinct(failures))
    result.count_failures("failing inputs over sockets", _distinct(socket_failures))
    return result


async def _fuzz_sockets(settings: Settings, count: int) -> list[str]:
    failures: list[str] = []
    kinds = ("head", "frames", "deflate")
    mutators = {
        kind: _mutator(kind, settings.seed + 100 + index) for index, kind in enumerate(kinds)
    }
    inputs = [
        (kinds[index % len(kinds)], mutators[kinds[index % len(kinds)]].mutate_next())
        for index in range(count)
    ]
    async with start_target() as server:  # compression on, as the oracle negotiates it
        limiter = trio.CapacityLimiter(_SOCKET_CONCURRENCY)

        async def one(kind: str, data: bytes) -> None:
            async with limiter:
                try:
                    reason = await check_over_socket(server.port, kind, data)
                except Exception as exc:
                    reason = f"the client failed: {exc!r}"
                if reason is not None:
                    path = corpus.save(settings.failures_dir, f"socket_{kind}", data, reason)
                    failures.append(f"{path}: {reason}")

        with trio.fail_after(count * 4 / _SOCKET_CONCURRENCY + 30):
            async with trio.open_nursery() as nursery:
                for kind, data in inputs:
                    nursery.start_soon(one, kind, data)
        crashes = server.crashes()
    failures.extend(f"server log: {line}" for line in crashes)
    return failures


def _distinct(failures: list[str]) -> list[str]:
    """Failures with their reasons deduplicated (the path of the first of each kept)."""
    seen: dict[str, str] = {}
    for failure in failures:
        reason = failure.split(": ", 1)[-1]
        seen.setdefault(reason[:80], failure)
    return list(seen.values()) + [f"({len(failures) - len(seen)} more with the same reasons)"] * (
        len(failures) > len(seen)
    )
