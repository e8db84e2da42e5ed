"""Errors met while running, as a person sees them: one line on standard error, exit status
1, no traceback. Each runs the real command line in a subprocess."""

from __future__ import annotations

import errno
import os
import signal
import socket as stdlib_socket
import subprocess
import sys
from pathlib import Path

import pytest
import trio
import trustme

from helpers import start_program, stop_program
from trioproto._cli_errors import describe, single_error

ROOT = Path(__file__).resolve().parent.parent


async def _cli(*args: str, cwd: Path = ROOT, stdin: bytes = b"") -> tuple[int, str, str]:
    """Run ``python -m trioproto ARGS`` to completion; return status, stdout and stderr."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with trio.fail_after(30):
        result = await trio.run_process(
            [sys.executable, "-m", "trioproto", *args],
            stdin=stdin,
            capture_stdout=True,
            capture_stderr=True,
            check=False,
            cwd=cwd,
            env=env,
        )
    return result.returncode, result.stdout.decode(), result.stderr.decode()


def _one_line_error(status: int, err: str, *fragments: str) -> None:
    assert status == 1, err
    assert err.count("\n") == 1, err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in err, err


@pytest.fixture(scope="module")
def authority() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def tls_files(authority: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("cli-tls")
    certificate = authority.issue_cert("127.0.0.1", "localhost")
    certificate.cert_chain_pems[0].write_to_path(str(directory / "cert.pem"))
    certificate.private_key_pem.write_to_path(str(directory / "key.pem"))
    authority.cert_pem.write_to_path(str(directory / "ca.pem"))
    other = trustme.CA().issue_cert("127.0.0.1")
    other.private_key_pem.write_to_path(str(directory / "other-key.pem"))
    (directory / "notes.txt").write_text("not a certificate\n")
    return directory


async def test_port_in_use() -> None:
    with stdlib_socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = str(taken.getsockname()[1])
        status, _out, err = await _cli("serve", "examples.echo:registry", "--port", busy)
    _one_line_error(status, err, f"cannot serve on 127.0.0.1:{busy}", "address already in use")


async def test_a_script_using_run_on_a_port_in_use() -> None:
    """``trioproto.run()`` (every example's ``__main__``) reports it the same way."""
    with stdlib_socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = str(taken.getsockname()[1])
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        with trio.fail_after(30):
            result = await trio.run_process(
                [sys.executable, "examples/echo.py", busy],
                capture_stderr=True,
                check=False,
                cwd=ROOT,
                env=env,
            )
    _one_line_error(
        result.returncode, result.stderr.decode(), f"cannot serve on 127.0.0.1:{busy}", "in use"
    )


async def test_unknown_host() -> None:
    status, _out, err = await _cli(
        "serve", "examples.echo:registry", "--host", "no-such-host.invalid", "--port", "0"
    )
    _one_line_error(status, err, "no-such-host.invalid", "unknown host")


@pytest.mark.parametrize(
    ("certfile", "keyfile", "fragments"),
    [
        ("missing.pem", "key.pem", ("missing.pem", "No such file or directory")),
        ("cert.pem", "missing.pem", ("missing.pem", "No such file or directory")),
        ("notes.txt", "key.pem", ("notes.txt is not a PEM file",)),
        ("key.pem", "key.pem", ("key.pem holds no certificate",)),
        ("cert.pem", "cert.pem", ("cert.pem holds no private key",)),
        ("cert.pem", "other-key.pem", ("cert.pem and", "other-key.pem", "key values mismatch")),
    ],
)
async def test_certificate_problems_name_the_file(
    tls_files: Path, certfile: str, keyfile: str, fragments: tuple[str, ...]
) -> None:
    status, _out, err = await _cli(
        "serve",
        "examples.echo:registry",
        "--port",
        "0",
        "--certfile",
        str(tls_files / certfile),
        "--keyfile",
        str(tls_files / keyfile),
    )
    _one_line_error(status, err, "cannot load the certificate", *fragments)


async def test_unreadable_certificate(tmp_path: Path) -> None:
    """A path that cannot be read as a file (here a directory: the tests run as root, who
    reads every file) is named with the system's reason."""
    status, _out, err = await _cli(
        "serve", "examples.echo:registry", "--certfile", str(tmp_path), "--keyfile", "k.pem"
    )
    _one_line_error(status, err, f"{tmp_path}: Is a directory")


async def test_import_error_inside_the_users_module_is_a_runtime_error(tmp_path: Path) -> None:
    (tmp_path / "myapp.py").write_text("import no_such_dependency\n")
    status, _out, err = await _cli("serve", "myapp:registry", cwd=tmp_path)
    _one_line_error(
        status, err, "importing myapp failed", "ModuleNotFoundError", "no_such_dependency"
    )


async def test_any_error_while_importing_names_the_module(tmp_path: Path) -> None:
    (tmp_path / "broken.py").write_text("registry = 1 / 0\n")
    status, _out, err = await _cli("serve", "broken:registry", cwd=tmp_path)
    _one_line_error(status, err, "importing broken failed: ZeroDivisionError")
    status, _out, err = await _cli("serve", "broken:registry", "--log-level", "debug", cwd=tmp_path)
    assert status == 1
    assert "Traceback" in err  # asked for with --log-level debug
    assert "1 / 0" in err


async def test_empty_registry_warns_and_still_serves(tmp_path: Path) -> None:
    (tmp_path / "emptyapp.py").write_text("import trioproto\nregistry = trioproto.Registry()\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = await trio.lowlevel.open_process(
        [sys.executable, "-m", "trioproto", "serve", "emptyapp:registry", "--port", "0"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert process.stdout is not None and process.stderr is not None
        with trio.fail_after(20):
            out = b""
            while b"\n" not in out:
                chunk = await process.stdout.receive_some()
                assert chunk
                out += chunk
        assert out.startswith(b"serving on ws://127.0.0.1:")
        process.send_signal(signal.SIGINT)
        with trio.fail_after(20):
            assert await process.wait() == 0
            err = b""
            while chunk := await process.stderr.receive_some():
                err += chunk
        assert b"warning: emptyapp:registry is empty: every request will be refused" in err
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_unix_path_of_a_live_server_is_refused(tmp_path: Path) -> None:
    path = str(tmp_path / "live.sock")
    process, url = await start_program("-m", "trioproto", "serve", "examples.echo:registry",
                                       "--unix", path)  # fmt: skip
    try:
        status, _out, err = await _cli("serve", "examples.echo:registry", "--unix", path)
        _one_line_error(status, err, f"cannot serve on {path}", "already listening")
        # The first server still has its socket; the URL it printed works with `connect`.
        status, out, _err = await _cli("connect", url, stdin=b"still served\n")
        assert status == 0
        assert out.splitlines() == [f"* connected to {url}", "< still served", "* closed: 1000"]
    finally:
        assert await stop_program(process) == 0


async def test_unix_path_that_is_not_a_socket_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "data.txt"
    path.write_text("keep me")
    status, _out, err = await _cli("serve", "examples.echo:registry", "--unix", str(path))
    _one_line_error(status, err, "data.txt", "not a socket")
    assert path.read_text() == "keep me"


async def test_connect_to_untrusted_certificate_then_with_cafile(tls_files: Path) -> None:
    process, url = await start_program(
        "-m", "trioproto", "serve", "examples.echo:registry", "--port", "0",
        "--certfile", str(tls_files / "cert.pem"), "--keyfile", str(tls_files / "key.pem"),
    )  # fmt: skip
    try:
        assert url.startswith("wss://127.0.0.1:")
        status, _out, err = await _cli("connect", url)
        assert status == 1
        assert err.count("\n") == 1, err
        assert "certificate is not trusted" in err
        assert "--cafile" in err
        status, out, _err = await _cli(
            "connect", url, "--cafile", str(tls_files / "ca.pem"), stdin=b"secure\n"
        )
        assert status == 0
        assert "< secure" in out.splitlines()
        status, _out, err = await _cli("connect", url, "--cafile", str(tls_files / "notes.txt"))
        assert status == 1
        assert "notes.txt is not a PEM file" in err
        status, _out, err = await _cli("connect", url.replace("wss://", "ws://"))
        _one_line_error(status, err, "(a wss:// server, seeing plain text?)")
    finally:
        assert await stop_program(process) == 0


async def test_connect_wss_to_a_plain_server() -> None:
    process, url = await start_program("-m", "trioproto", "serve", "examples.echo:registry",
                                       "--port", "0")  # fmt: skip
    try:
        status, _out, err = await _cli("connect", url.replace("ws://", "wss://"))
        _one_line_error(status, err, "the server does not speak TLS (ws://, not wss://?)")
    finally:
        assert await stop_program(process) == 0


async def test_connect_to_a_server_that_rejects_shows_its_reason() -> None:
    process, url = await start_program("-m", "trioproto", "serve", "examples.chat:registry",
                                       "--port", "0")  # fmt: skip
    try:
        status, _out, err = await _cli("connect", url, "--subprotocol", "mqtt")
        assert status == 1
        assert err.count("\n") == 1, err
        assert "400 Bad Request" in err
        assert "(mqtt)" in err
    finally:
        assert await stop_program(process) == 0


async def test_connect_to_nothing_says_connection_refused() -> None:
    with stdlib_socket.socket() as free:
        free.bind(("127.0.0.1", 0))  # bound, not listening: connecting is refused
        port = free.getsockname()[1]
        status, _out, err = await _cli("connect", f"ws://127.0.0.1:{port}/")
    _one_line_error(status, err, "cannot connect", "connection refused (is the server running?)")


def test_describe_unwraps_groups_of_one() -> None:
    inner = OSError(errno.EADDRINUSE, "bind failed")
    group = ExceptionGroup("outer", [ExceptionGroup("inner", [inner])])
    assert single_error(group) is inner
    assert describe(group) == "address already in use (is another server running there?)"
    two = ExceptionGroup("two", [inner, ValueError("x")])
    assert single_error(two) is two
    assert describe(two) is None
    assert describe(RuntimeError("a bug")) is None
