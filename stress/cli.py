"""``python -m stress``: run the stress scenarios against a real trioproto server.

Usage::

    python -m stress [--short] [--seed N] [--failures DIR] [SCENARIO ...]
    python -m stress list
    python -m stress replay PATH ...

Without scenario names every scenario runs, in the order listed by ``python -m stress list``.
The exit status is 0 when every scenario passed, 1 when one failed, 2 on bad usage.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from pathlib import Path
from types import ModuleType

import trio

from .common import Result, Settings, raise_descriptor_limit, render_table

__all__ = ["SCENARIOS", "main"]

#: Scenario name -> module under stress.scenarios, in running order.
SCENARIOS = {
    "slowloris": "slowloris",
    "idle": "idle",
    "disconnects": "disconnects",
    "fuzz": "fuzz",
    "memory": "memory",
    "handler-failures": "handler_failures",
    "shutdown": "shutdown",
    "close-frames": "close_frames",
}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["list"]:
        for name in SCENARIOS:
            print(f"{name:18} {_summary(_load(name))}")
        return 0
    if argv[:1] == ["replay"]:
        from .fuzz.replay import replay_main

        return replay_main(argv[1:])
    return _run_main(argv)


def _run_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m stress",
        description="Stress scenarios against a real trioproto server "
        "(also: 'python -m stress list', 'python -m stress replay PATH').",
    )
    parser.add_argument("scenarios", nargs="*", metavar="SCENARIO", help="default: all of them")
    parser.add_argument("--short", action="store_true", help="the CI size: under a minute")
    parser.add_argument("--seed", type=int, default=Settings.seed, help="the fuzzers' seed")
    parser.add_argument(
        "--failures",
        type=Path,
        default=Settings.failures_dir,
        help="where failing fuzz inputs are saved (default: %(default)s)",
    )
    args = parser.parse_args(argv)
    unknown = [name for name in args.scenarios if name not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario {unknown[0]!r}; choose from {', '.join(SCENARIOS)}")
    settings = Settings(short=args.short, seed=args.seed, failures_dir=args.failures)
    raise_descriptor_limit()
    results = [_run_one(name, settings) for name in args.scenarios or SCENARIOS]
    print(render_table(results))
    return 0 if all(result.passed for result in results) else 1


def _run_one(name: str, settings: Settings) -> Result:
    print(f"--- {name}", flush=True)
    module = _load(name)
    started = time.monotonic()
    try:
        result: Result = trio.run(module.run, settings)
    except Exception as exc:  # a scenario that breaks is a failure to report, not a traceback
        result = Result(name, failures=[f"the scenario itself failed: {exc!r}"])
    result.seconds = time.monotonic() - started
    print(render_table([result]).splitlines()[2], flush=True)
    return result


def _load(name: str) -> ModuleType:
    return importlib.import_module(f"stress.scenarios.{SCENARIOS[name]}")


def _summary(module: ModuleType) -> str:
    return (module.__doc__ or "").strip().splitlines()[0]
