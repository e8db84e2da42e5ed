"""How to start each server under test; every command prints one line once it listens."""

from __future__ import annotations

import sys

NAMES = ["trioproto", "websockets-trio", "trio-websocket", "websockets-asyncio", "bare-trio"]
#: Variants run only when named with --servers: trioproto with Prometheus metrics on /metrics
#: (scraped once a second while measured, see run.py).
VARIANTS = ["trioproto-metrics"]
#: trioproto from another checkout (``--baseline DIR``): the same command run in DIR, so a
#: change is measured against the code before it in one interleaved run.
BASELINE = "trioproto-baseline"

METRICS_PATH = "/metrics"

_MODULES = {
    "websockets-trio": "websockets_trio",
    "websockets-asyncio": "websockets_asyncio",
    "trio-websocket": "trio_websocket_server",
    "bare-trio": "bare_trio",
}


def command(name: str, port: int, certfile: str | None) -> list[str]:
    """The command line that runs server ``name`` on 127.0.0.1:``port``."""
    if name in ("trioproto", "trioproto-metrics", BASELINE):
        args = [
            sys.executable, "-m", "trioproto", "serve", "examples.echo:registry",
            "--host", "127.0.0.1", "--port", str(port),
            "--max-message-size", str(16 * 1024 * 1024), "--compression", "none",
            "--log-level", "warning",
        ]  # fmt: skip
        if certfile:
            args += ["--certfile", certfile, "--keyfile", certfile]
        if name == "trioproto-metrics":
            args += ["--metrics", METRICS_PATH]
        return args
    args = [sys.executable, "-m", f"benchmarks.servers.{_MODULES[name]}", str(port)]
    if certfile:
        args += ["--certfile", certfile]
    return args
