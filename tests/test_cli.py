"""Tests for the command line: the echo example as a subprocess, SIGINT stops it cleanly."""

from __future__ import annotations

import logging
import signal
import sys
from pathlib import Path

import pytest
import trio

import trioproto
from helpers import start_program, stop_program
from trioproto._cli import _build_parser, load_target, main

ROOT = Path(__file__).resolve().parent.parent


async def _start(*args: str) -> tuple[trio.Process, str]:
    return await start_program("-m", "trioproto", *args)


async def _stop(process: trio.Process) -> int:
    return await stop_program(process)


async def test_serve_echo_example_then_sigint() -> None:
    process, url = await _start(
        "serve", "examples.echo:registry", "--port", "0", "--max-message-size", "16777216"
    )
    try:
        assert url.startswith("ws://127.0.0.1:")
        async with trioproto.open_websocket(
            url, limits=trioproto.Limits(max_message_size=None)
        ) as ws:
            await ws.send("hello")
            assert await ws.receive() == "hello"
            big = b"\xab" * (2 * 1024 * 1024)  # over the default 1 MiB, under 16 MiB
            await ws.send(big)
            assert await ws.receive() == big
        async with trioproto.open_websocket(url) as ws:
            assert await _stop(process) == 0
            with pytest.raises(trio.EndOfChannel):
                await ws.receive()  # the server said 1001 going away
            assert ws.closed is not None and ws.closed.code == 1001
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_serve_with_a_backpressure_policy() -> None:
    process, url = await _start(
        "serve", "examples.chat:registry", "--port", "0",
        "--backpressure", "drop_oldest", "--max-send-buffer", "65536",
    )  # fmt: skip
    try:
        with trio.fail_after(20):
            async with trioproto.open_websocket(f"{url}?name=ann", subprotocols=["chat"]) as ws:
                assert await ws.receive() == "* ann joined"
                await ws.send("hi")
                assert await ws.receive() == "ann: hi"
        assert await _stop(process) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_sigterm_also_stops_gracefully() -> None:
    process, _url = await _start("serve", "examples.echo:registry", "--port", "0")
    assert await stop_program(process, signal.SIGTERM) == 0


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["serve", "nocolon"], "expected MODULE:ATTR"),
        (["serve", "examples/echo.py"], "for instance examples.echo:registry (a module name"),
        (["serve", "examples.echo:nothing"], "has no attribute"),
        (["serve", "examples.echo:sys"], "not a trioproto.Registry or Router"),
        (["serve", "no_such_module_here:x"], "no module named 'no_such_module_here'"),
        (["serve", "no_such_package.sub:x"], "no module named 'no_such_package'"),
        (["serve", "examples.echo:registry", "--certfile", "c.pem"], "go together"),
        (["serve", "examples.echo:registry", "--max-message-size", "-1"], "not a size: '-1'"),
        (["serve", "examples.echo:registry", "--max-message-size", "1X"], "not a size: '1X'"),
        (["serve", "examples.echo:registry", "--port", "99999"], "port 99999 is out of range"),
        (["serve", "examples.echo:registry", "--port", "-1"], "port -1 is out of range"),
        (["serve", "examples.echo:registry", "--port", "http"], "not a port number: 'http'"),
        (["serve", "examples.echo:registry", "--log-level", "loud"], "unknown log level"),
        (["serve", "examples.echo:registry", "--unix", "/tmp/a:/b"], "cannot carry"),
        (["connect"], "required: URL"),
        (["serve", "examples.echo:registry", "--backpressure", "drop"], "invalid choice"),
        (["serve", "examples.echo:registry", "--max-send-buffer", "1X"], "not a size: '1X'"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(
    argv: list[str],
    message: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(ROOT)
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1, err  # one line, no usage block, no traceback


def test_log_level_in_any_case() -> None:
    parser = _build_parser()
    for text in ("debug", "DEBUG", "Debug"):
        args = parser.parse_args(["serve", "examples.echo:registry", "--log-level", text])
        assert args.log_level == logging.DEBUG


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out == f"trioproto {trioproto.__version__}\n"


def test_help_describes_the_commands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    assert "Serve WebSocket handlers" in text
    assert "python -m trioproto serve examples.echo:registry" in text
    assert "argparse" not in text
    with pytest.raises(SystemExit):
        main(["serve", "--help"])
    text = capsys.readouterr().out
    assert "MODULE is imported from the current directory" in text
    assert "16MiB" in text


def test_load_target_accepts_registry_and_router(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    assert isinstance(load_target("examples.echo:registry"), trioproto.Registry)
    assert isinstance(load_target("examples.quotes:router"), trioproto.Router)


async def test_connect_sends_lines_and_prints_replies() -> None:
    server, url = await _start("serve", "examples.echo:registry", "--port", "0")
    try:
        with trio.fail_after(20):
            result = await trio.run_process(
                [sys.executable, "-m", "trioproto", "connect", url, "--subprotocol", "echo"],
                stdin=b"hello\nw\xc3\xb6rld\n",
                capture_stdout=True,
                cwd=ROOT,
            )
        lines = result.stdout.decode().splitlines()
        assert lines == [
            f"* connected to {url} (subprotocol echo)",
            "< hello",
            "< wörld",
            "* closed: 1000",
        ]
    finally:
        assert await _stop(server) == 0


async def test_connect_reports_unreachable_server() -> None:
    with trio.fail_after(20):
        result = await trio.run_process(
            [sys.executable, "-m", "trioproto", "connect", "ws://127.0.0.1:1/"],
            stdin=b"",
            capture_stderr=True,
            check=False,
            cwd=ROOT,
        )
    assert result.returncode == 1
    assert b"cannot connect" in result.stderr


async def test_serve_on_a_unix_socket(tmp_path: Path) -> None:
    path = str(tmp_path / "echo.sock")
    process, url = await _start("serve", "examples.echo:registry", "--unix", path)
    try:
        assert url == f"ws+unix://{path}"
        stream = await trio.open_unix_socket(path)
        async with trio.open_nursery() as nursery:
            ws = await trioproto.connect_websocket(nursery, "ws://localhost/", stream=stream)
            await ws.send("unix")
            assert await ws.receive() == "unix"
            await ws.close()
    finally:
        assert await _stop(process) == 0
