"""``python -m stress replay PATH ...``: judge saved failing inputs again.

In-process kinds (``head``, ``frames``, ``deflate``) replay against the sans-IO layer;
``socket_head``, ``socket_frames`` and ``socket_deflate`` against a fresh target server.
Prints one line per input; the exit status is 1 while any still fails, 0 once all pass.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import trio

from ..process import start_target
from . import corpus
from .oracles import ORACLES, judge
from .sockets import check_over_socket

__all__ = ["replay_main"]


def replay_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m stress replay", description=__doc__)
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="files or directories")
    args = parser.parse_args(argv)
    missing = [path for path in args.paths if not path.exists()]
    if missing:
        parser.error(f"no such file or directory: {missing[0]}")
    saved = list(corpus.load(args.paths))
    if not saved:
        parser.error("no saved inputs (*.bin) there")
    still_failing = 0
    for path, kind, data in saved:
        if kind in ORACLES:
            reason = judge(kind, data)
        elif kind.startswith("socket_"):
            reason = trio.run(_replay_over_socket, kind.removeprefix("socket_"), data)
        else:
            reason = f"unknown input kind {kind!r} (from the file name)"
        still_failing += reason is not None
        print(f"{'FAIL' if reason else 'ok  '} {path}" + (f": {reason}" if reason else ""))
    print(f"{still_failing} of {len(saved)} inputs still fail")
    return 1 if still_failing else 0


async def _replay_over_socket(kind: str, data: bytes) -> str | None:
    async with start_target() as server:  # compression on, as the oracle negotiates it
        reason = await check_over_socket(server.port, kind, data)
        crashes = server.crashes()
    if reason is None and crashes:
        return f"server log: {crashes[0]}"
    return reason
