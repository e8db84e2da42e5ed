"""Run every workload against every server, interleaved, and write the report.

Method: servers run pinned to core 0 (``taskset -c 0``), the load generator to core 1. Each
round starts every server fresh, then for each workload measures the servers one after the
other (A B C D E), so slow drifts of the machine hit all of them alike; the report gives the
median of the rounds. Server CPU comes from ``/proc/PID/stat`` (utime + stime) around each
measurement, resident memory from ``/proc/PID/status`` (VmRSS).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.report import write_report
from benchmarks.servers.launch import BASELINE, METRICS_PATH, NAMES, VARIANTS, command

ROOT = Path(__file__).resolve().parent.parent
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Workload:
    """One measurement: ``kind`` is echo, handshakes or idle; ``params`` go to the client."""

    name: str
    kind: str
    params: dict[str, int] = field(default_factory=dict)
    tls: bool = False


WORKLOADS = [
    Workload("32 B ping-pong, 1 connection", "echo", {"connections": 1, "size": 32}),
    Workload("32 B, 100 connections", "echo", {"connections": 100, "size": 32}),
    Workload(
        "32 B pipelined x16, 10 connections", "echo", {"connections": 10, "size": 32, "depth": 16}
    ),
    Workload("64 KiB, 10 connections", "echo", {"connections": 10, "size": 65536}),
    Workload("1 MiB, 1 connection", "echo", {"connections": 1, "size": 1048576}),
    Workload("handshakes, 1000 x 64 at a time", "handshakes", {"total": 1000, "concurrency": 64}),
    Workload("idle connections: memory", "idle", {"total": 10000}),
    Workload("TLS 32 B, 100 connections", "echo", {"connections": 100, "size": 32}, tls=True),
    Workload("TLS 64 KiB, 10 connections", "echo", {"connections": 10, "size": 65536}, tls=True),
]  # fmt: skip


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


class Server:
    """A server process on core 0."""

    def __init__(self, name: str, certfile: str | None, baseline: Path | None = None) -> None:
        self.name = name
        self.port = _free_port()
        self.process = subprocess.Popen(
            ["taskset", "-c", "0", *command(name, self.port, certfile)],
            # `python -m` puts the working directory first on sys.path: the baseline server
            # imports trioproto and the example from its own checkout.
            cwd=baseline if name == BASELINE and baseline is not None else ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            preexec_fn=_raise_fd_limit,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"{name} did not start")
        self.url = f"{'wss' if certfile else 'ws'}://127.0.0.1:{self.port}/"

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _raise_fd_limit() -> None:
    import resource

    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def _client(workload: Workload, url: str, seconds: float, timeout: float) -> dict[str, float]:
    args = [sys.executable, "-m", "benchmarks.client", workload.kind, url]
    for key, value in workload.params.items():
        args += [f"--{key}", str(value)]
    args += ["--seconds", str(seconds)]
    result = subprocess.run(
        ["taskset", "-c", "1", *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout,
        preexec_fn=_raise_fd_limit,
    )  # fmt: skip
    if result.returncode != 0:
        raise RuntimeError(result.stderr.strip().splitlines()[-1] if result.stderr else "failed")
    return json.loads(result.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def _idle(server: Server, count: int) -> dict[str, float]:
    before = _rss_kib(server.process.pid)
    client = subprocess.Popen(
        ["taskset", "-c", "1", sys.executable, "-m", "benchmarks.client", "idle", server.url,
         "--total", str(count)],
        cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        preexec_fn=_raise_fd_limit,
    )  # fmt: skip
    assert client.stdout is not None
    assert client.stdin is not None
    connected = json.loads(client.stdout.readline())["connected"]
    time.sleep(1.0)
    after = _rss_kib(server.process.pid)
    client.stdin.close()
    client.wait(60)
    return {"connections": connected, "kib_per_connection": (after - before) / connected}


@contextmanager
def _scraping(server: Server, interval: float = 1.0) -> Iterator[list[str]]:
    """For a server with metrics: GET its metrics every ``interval`` s, as Prometheus would
    (Prometheus' default is once a minute; once a second makes any cost visible). Yields the
    list of scrape failures."""
    failures: list[str] = []
    if not server.name.endswith("-metrics"):
        yield failures
        return
    scheme = "https" if server.url.startswith("wss") else "http"
    url = f"{scheme}://127.0.0.1:{server.port}{METRICS_PATH}"
    # The TLS workloads' certificate is a throwaway one: no verification for this local GET.
    context = ssl._create_unverified_context() if scheme == "https" else None
    stop = threading.Event()

    def scrape() -> None:
        while not stop.wait(interval):
            try:
                with urllib.request.urlopen(url, timeout=10, context=context) as response:
                    if b"trioproto_messages_total" not in response.read():
                        failures.append("a scrape without trioproto_messages_total")
            except OSError as exc:
                failures.append(f"scrape failed: {exc}")

    thread = threading.Thread(target=scrape, daemon=True)
    thread.start()
    try:
        yield failures
    finally:
        stop.set()
        thread.join()


def measure(
    server: Server, workload: Workload, seconds: float, idle_count: int
) -> dict[str, float]:
    """One measurement of one workload against one running server."""
    if workload.kind == "idle":
        return _idle(server, idle_count)
    cpu_before = _cpu_seconds(server.process.pid)
    with _scraping(server) as scrape_failures:
        result = _client(workload, server.url, seconds, timeout=seconds + 120)
    if scrape_failures:
        raise RuntimeError(scrape_failures[0])
    cpu = _cpu_seconds(server.process.pid) - cpu_before
    count = result.get("messages_total") or result.get("handshakes") or 1
    result["server_cpu_us_per_op"] = cpu / count * 1e6
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="1 round of 1 s: a smoke run")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--servers", nargs="*", default=NAMES, choices=NAMES + VARIANTS)
    parser.add_argument("--workloads", nargs="*", help="substrings selecting workloads")
    parser.add_argument("--idle", type=int, default=10000, help="idle connections to open")
    parser.add_argument(
        "--baseline",
        type=Path,
        metavar="DIR",
        help="also run trioproto from the checkout DIR (as trioproto-baseline), for before/after",
    )
    parser.add_argument(
        "--output", type=Path, default=ROOT / "benchmarks" / "results", help="report directory"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.seconds, args.idle = 1, 1.0, 1000
    if args.baseline is not None:
        problem = _baseline_problem(args.baseline)
        if problem:
            parser.error(problem)
        if BASELINE not in args.servers:
            args.servers = [*args.servers, BASELINE]
    workloads = [
        w for w in WORKLOADS if not args.workloads or any(s in w.name for s in args.workloads)
    ]
    records: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory() as directory:
        certfile = _make_certificate(directory) if any(w.tls for w in workloads) else None
        for round_number in range(args.rounds):
            for tls in (False, True):
                selected = [w for w in workloads if w.tls is tls]
                if not selected:
                    continue
                for workload in selected:
                    for name in args.servers:
                        record: dict[str, object] = {
                            "round": round_number, "workload": workload.name, "server": name,
                        }  # fmt: skip
                        server = Server(name, certfile if tls else None, args.baseline)
                        try:
                            record.update(measure(server, workload, args.seconds, args.idle))
                        except Exception as exc:
                            record["error"] = str(exc)[:200]
                        finally:
                            server.stop()
                        records.append(record)
                        print(json.dumps(record), flush=True)
    meta = {key: str(value) if isinstance(value, Path) else value
            for key, value in vars(args).items() if key != "output"}  # fmt: skip
    paths = write_report(records, args.output, meta)
    print("\n".join(f"wrote {path}" for path in paths))
    return 0


def _baseline_problem(directory: Path) -> str | None:
    """Why ``directory`` cannot serve as the baseline checkout, or ``None``."""
    if not (directory / "trioproto" / "__init__.py").is_file():
        return f"--baseline {directory}: no trioproto package there (give a checkout's root)"
    ours = list((ROOT / "trioproto" / "_sansio").glob("_speedups*.so"))
    theirs = list((directory / "trioproto" / "_sansio").glob("_speedups*.so"))
    if ours and not theirs and (directory / "trioproto" / "_sansio" / "_speedups.c").is_file():
        return (
            f"--baseline {directory}: its C speedups are not built (this checkout's are): "
            "build them there first (python setup.py build_ext --inplace)"
        )
    return None


def _make_certificate(directory: str) -> str:
    import trustme

    authority = trustme.CA()
    path = str(Path(directory) / "server.pem")
    authority.issue_cert("127.0.0.1").private_key_and_cert_chain_pem.write_to_path(path)
    return path
