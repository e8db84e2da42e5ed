"""Tests for worker processes behind one port: real supervisor, real workers, real clients."""

from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
import sys
from pathlib import Path

import pytest
import trio
import trustme
from worker_programs import clients, read_line, supervisor

import trioproto
from helpers import ROOT

# 20 clients are enough for the kernel to use both workers (the chance that 20 connections all
# land on one of two SO_REUSEPORT sockets is 2 x 2**-20).
CLIENTS = 20


async def _echoes(ws: trioproto.WebSocket, text: str) -> bool:
    await ws.send(text)
    return await ws.receive() == text


async def test_two_workers_share_one_port_and_both_serve() -> None:
    with trio.fail_after(60):
        async with (
            supervisor("--port", "0", "--workers", "2") as (_program, url),
            clients(url, CLIENTS) as opened,
        ):
            pids = {pid for _ws, pid in opened}
            assert len(pids) == 2, "the kernel should spread 20 connections over both workers"
            for ws, _pid in opened:
                assert await _echoes(ws, "hello")


async def test_sigterm_closes_every_client_with_1001_after_acknowledged_messages() -> None:
    with trio.fail_after(60):
        async with supervisor("--port", "0", "--workers", "2") as (program, url):
            async with clients(url, CLIENTS) as opened:
                for ws, _pid in opened:
                    assert await _echoes(ws, "acknowledged")
                program.process.send_signal(signal.SIGTERM)
                for ws, _pid in opened:
                    with pytest.raises(trio.EndOfChannel):
                        await ws.receive()
                    assert ws.closed is not None
                    assert ws.closed.code == 1001
            assert await program.process.wait() == 0


async def test_a_killed_worker_is_replaced_and_the_other_workers_clients_stay() -> None:
    with trio.fail_after(60):
        async with (
            supervisor("--port", "0", "--workers", "2") as (_program, url),
            clients(url, CLIENTS) as opened,
        ):
            victim = opened[0][1]
            survivors = [ws for ws, pid in opened if pid != victim]
            assert survivors
            os.kill(victim, signal.SIGKILL)
            for ws, pid in opened:
                if pid == victim:
                    with pytest.raises(trioproto.ConnectionClosed):
                        await ws.receive()  # the worker's socket was reset
            for ws in survivors:
                assert await _echoes(ws, "still here")
                assert ws.closed is None
            # The replacement: a worker with a new pid answers new connections.
            known = {pid for _ws, pid in opened}
            while True:
                async with clients(url, 1) as (fresh,):
                    if fresh[1] not in known:
                        break
                await trio.sleep(0.05)


async def _run_to_the_end(*args: str) -> subprocess.CompletedProcess[bytes]:
    with trio.fail_after(60):
        return await trio.run_process(
            [sys.executable, "-m", "trioproto", "serve", *args],
            cwd=ROOT,
            capture_stdout=True,
            capture_stderr=True,
            check=False,
        )


async def test_port_in_use_is_one_line_and_exit_1() -> None:
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    try:
        result = await _run_to_the_end(
            "tests.worker_app:registry", "--port", str(port), "--workers", "2"
        )
    finally:
        taken.close()
    assert result.returncode == 1
    lines = result.stderr.decode().strip().splitlines()
    assert lines == [f"error: cannot listen on 127.0.0.1:{port}: Address already in use"]


async def test_a_worker_that_cannot_start_stops_everything_with_one_line() -> None:
    result = await _run_to_the_end(
        "tests.worker_app_broken:registry", "--port", "0", "--workers", "2", "--log-level", "error"
    )
    assert result.returncode == 1
    assert result.stdout == b""
    lines = result.stderr.decode().strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("error: worker ")
    assert "could not start: RuntimeError: this app refuses to run in a worker" in lines[0]


async def test_unix_socket_is_shared_by_the_workers(tmp_path: Path) -> None:
    path = str(tmp_path / "ws.sock")
    with trio.fail_after(60):
        async with supervisor("--unix", path, "--workers", "2") as (program, url):
            assert url == f"ws+unix://{path}"
            stream = await trio.open_unix_socket(path)
            async with trio.open_nursery() as nursery:
                ws = await trioproto.connect_websocket(nursery, "ws://localhost/", stream=stream)
                greeting = await ws.receive()
                assert isinstance(greeting, str)
                assert await _echoes(ws, "over unix")
                await ws.close()
            program.process.send_signal(signal.SIGTERM)
            assert await program.process.wait() == 0
        assert not await trio.Path(path).exists()


def test_workers_option_rejects_nonsense(capsys: pytest.CaptureFixture[str]) -> None:
    from trioproto._cli import main

    with pytest.raises(SystemExit) as info:
        main(["serve", "examples.echo:registry", "--workers", "many"])
    assert info.value.code == 2
    assert "expected a number or 'auto', got 'many'" in capsys.readouterr().err


async def test_tls_works_with_workers(tmp_path: Path) -> None:
    authority = trustme.CA()
    pem = str(tmp_path / "server.pem")
    authority.issue_cert("127.0.0.1").private_key_and_cert_chain_pem.write_to_path(pem)
    authority.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    client_context = trioproto.client_ssl_context(str(tmp_path / "ca.pem"))
    args = ("--port", "0", "--workers", "2", "--certfile", pem, "--keyfile", pem)
    with trio.fail_after(60):
        async with supervisor(*args) as (_program, url):
            assert url.startswith("wss://127.0.0.1:")
            async with trioproto.open_websocket(url, ssl_context=client_context) as ws:
                assert isinstance(await ws.receive(), str)
                assert await _echoes(ws, "encrypted")


async def test_a_worker_not_stopping_in_time_is_killed_and_the_exit_status_says_so() -> None:
    with trio.fail_after(60):
        async with supervisor("--port", "0", "--workers", "1", "--graceful-timeout", "0.5") as (
            program,
            url,
        ):
            # A client that completes the handshake, then never answers the close frame: the
            # worker waits for it (Timeouts.close, 10 s) longer than the supervisor allows.
            port = int(url.rsplit(":", 1)[1].rstrip("/"))
            stream = await trio.open_tcp_stream("127.0.0.1", port)
            await stream.send_all(
                b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
            )
            assert b" 101 " in await stream.receive_some()
            program.process.send_signal(signal.SIGTERM)
            assert await program.process.wait() == 1
            await stream.aclose()
    assert b"did not stop within 0.5 s; killed" in program.stderr


async def test_workers_stop_by_themselves_when_the_supervisor_is_killed() -> None:
    with trio.fail_after(60):
        async with (
            supervisor("--port", "0", "--workers", "2") as (program, url),
            clients(url, 4) as opened,
        ):
            program.process.kill()  # SIGKILL: the supervisor cannot forward anything
            await program.process.wait()
            for ws, _pid in opened:
                with pytest.raises(trio.EndOfChannel):
                    await ws.receive()
                assert ws.closed is not None
                assert ws.closed.code == 1001


async def test_run_with_workers_from_a_script() -> None:
    with trio.fail_after(60):
        process = await trio.lowlevel.open_process(
            [sys.executable, "tests/worker_app.py"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": str(ROOT)},  # this checkout's trioproto
        )
        try:
            line = await read_line(process)
            assert line.endswith(" with 2 workers"), line
            async with clients(line.split()[2], 1) as [(ws, _pid)]:
                assert await _echoes(ws, "from a script")
            process.send_signal(signal.SIGINT)  # as Ctrl-C would
            assert await process.wait() == 0
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()


def test_an_ssl_context_cannot_go_to_workers() -> None:
    with pytest.raises(TypeError, match="pass ssl_context as a function"):
        trioproto.run(trioproto.Registry(), 0, ssl_context=ssl.create_default_context(), workers=2)
