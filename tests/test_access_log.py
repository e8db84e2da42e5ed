"""Tests for trioproto._access_log: one record per connection and per rejected handshake."""

from __future__ import annotations

import io
import json
import logging
import re

import pytest
import trio

import trioproto
from helpers import ROOT, StartServer, start_program, stop_program, ws_url


def make_router() -> trioproto.Router:
    registry = trioproto.Registry()

    @registry.handler("echo")
    async def echo(ws: trioproto.WebSocket) -> None:
        async for message in ws.inbound:
            await ws.send(message)

    router = trioproto.Router()
    router.websocket("/rooms/{name}", registry)
    return router


def access_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.name == "trioproto.access"]


async def wait_for_records(caplog: pytest.LogCaptureFixture, count: int) -> None:
    for _ in range(1000):  # 10 s at most
        if len(access_records(caplog)) >= count:
            return
        await trio.sleep(0.01)
    raise AssertionError(f"{len(access_records(caplog))} access records, not {count}")


async def test_one_record_per_connection_with_its_fields(
    start_server: StartServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="trioproto.access")
    server = await start_server(make_router(), access_log=True, compression=None)
    with trio.fail_after(20):
        async with trioproto.open_websocket(
            ws_url(server, "/rooms/lobby?x=1"), subprotocols=["echo"]
        ) as ws:
            await ws.send("hello")
            assert await ws.receive() == "hello"
            await ws.send(b"\x00" * 10)
            assert await ws.receive() == b"\x00" * 10
            assert access_records(caplog) == []  # the connection is open: nothing logged yet
        await wait_for_records(caplog, 1)
    [record] = access_records(caplog)
    assert record.levelno == logging.INFO
    fields = {
        name: getattr(record, name)
        for name in (
            "path",
            "route",
            "subprotocol",
            "messages_in",
            "messages_out",
            "bytes_in",
            "bytes_out",
            "close_sent",
            "close_received",
            "close_initiator",
        )
    }
    assert fields == {
        "path": "/rooms/lobby",
        "route": "/rooms/{name}",
        "subprotocol": "echo",
        "messages_in": 2,
        "messages_out": 2,
        "bytes_in": 15,
        "bytes_out": 15,
        "close_sent": 1000,  # the server's answer to the client's close
        "close_received": 1000,
        "close_initiator": "client",  # the client's close frame came first
    }
    assert record.remote.startswith("127.0.0.1:")  # type: ignore[attr-defined]
    assert 0 <= record.duration < 20  # type: ignore[attr-defined]
    assert len(record.connection_id) == 36  # type: ignore[attr-defined]
    message = record.getMessage()
    assert "/rooms/lobby" in message
    assert "in=2/15B out=2/15B" in message
    assert "by=client" in message


async def test_a_close_the_server_starts_logs_the_server_as_initiator(
    caplog: pytest.LogCaptureFixture, start_server: StartServer
) -> None:
    """The handler returns: the server sends 1000 first and the client answers (§7.1.2)."""
    registry = trioproto.Registry()

    @registry.handler("once")
    async def once(ws: trioproto.WebSocket) -> None:
        await ws.send(await ws.receive())

    caplog.set_level(logging.INFO, logger="trioproto.access")
    server = await start_server(registry, access_log=True)
    with trio.fail_after(20):
        async with trioproto.open_websocket(ws_url(server), subprotocols=["once"]) as ws:
            await ws.send("ping")
            assert await ws.receive() == "ping"
            with pytest.raises(trio.EndOfChannel):
                await ws.receive()
        await wait_for_records(caplog, 1)
    [record] = access_records(caplog)
    assert (record.close_sent, record.close_received) == (1000, 1000)  # type: ignore[attr-defined]
    assert record.close_initiator == "server"  # type: ignore[attr-defined]
    assert "by=server" in record.getMessage()


async def test_one_record_per_rejected_handshake(
    start_server: StartServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="trioproto.access")
    server = await start_server(make_router(), access_log=True)
    with trio.fail_after(20):
        with pytest.raises(trioproto.HandshakeRejected):
            async with trioproto.open_websocket(ws_url(server, "/nowhere")):
                pass
        with pytest.raises(trioproto.HandshakeRejected):
            async with trioproto.open_websocket(ws_url(server, "/rooms/a"), subprotocols=["x"]):
                pass
        await wait_for_records(caplog, 2)
    statuses = [(record.path, record.status) for record in access_records(caplog)]  # type: ignore[attr-defined]
    assert statuses == [("/nowhere", 404), ("/rooms/a", 400)]
    assert "rejected 404" in access_records(caplog)[0].getMessage()


async def test_off_by_default(start_server: StartServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="trioproto.access")
    server = await start_server(make_router())
    with trio.fail_after(20):
        async with trioproto.open_websocket(ws_url(server, "/rooms/a"), subprotocols=["echo"]):
            pass
        with pytest.raises(trioproto.HandshakeRejected):
            async with trioproto.open_websocket(ws_url(server, "/nowhere")):
                pass
        await trio.sleep(0.1)
    assert access_records(caplog) == []


async def test_command_line_access_log_flag() -> None:
    process, url = await start_program(
        "-m", "trioproto", "serve", "examples.echo:registry", "--port", "0", "--access-log",
        capture_stderr=True,
    )  # fmt: skip
    assert process.stderr is not None
    errors = b""
    try:
        with trio.fail_after(20):
            async with trioproto.open_websocket(url) as ws:
                await ws.send("one")
                assert await ws.receive() == "one"
            while b"trioproto.access" not in errors:
                chunk = await process.stderr.receive_some()
                assert chunk, errors
                errors += chunk
    finally:
        await stop_program(process)
    [line] = [text for text in errors.decode().splitlines() if "trioproto.access" in text]
    assert "INFO" in line
    assert "in=1/3B out=1/3B" in line


async def test_the_json_lines_recipe_of_the_monitoring_guide(start_server: StartServer) -> None:
    """The formatter shown in docs/howto/monitoring.md writes one JSON object per record."""
    guide = (ROOT / "docs" / "howto" / "monitoring.md").read_text(encoding="utf-8")
    [recipe] = [block for block in re.findall(r"```python\n(.*?)```", guide, re.DOTALL)
                if "class JsonLines" in block]  # fmt: skip
    namespace: dict[str, object] = {}
    exec(recipe, namespace)
    handler = namespace["handler"]
    assert isinstance(handler, logging.StreamHandler)
    output = io.StringIO()
    handler.setStream(output)
    access = logging.getLogger("trioproto.access")
    try:
        server = await start_server(make_router(), access_log=True)
        with trio.fail_after(20):
            async with trioproto.open_websocket(
                ws_url(server, "/rooms/a"), subprotocols=["echo"]
            ) as ws:
                await ws.send("hi")
                assert await ws.receive() == "hi"
            for _ in range(1000):
                if output.getvalue():
                    break
                await trio.sleep(0.01)
    finally:
        access.removeHandler(handler)
        access.propagate = True
        access.setLevel(logging.NOTSET)
    [line] = output.getvalue().splitlines()
    record = json.loads(line)
    assert record["path"] == "/rooms/a"
    assert record["route"] == "/rooms/{name}"
    assert (record["messages_in"], record["bytes_out"]) == (1, 2)
    assert (record["close_sent"], record["close_received"]) == (1000, 1000)
    assert record["close_initiator"] == "client"


async def test_a_dropped_connection_logs_no_close_received(
    start_server: StartServer, caplog: pytest.LogCaptureFixture
) -> None:
    """The peer vanished without a close frame (1006, RFC 6455 §7.1.5): nothing received."""
    caplog.set_level(logging.INFO, logger="trioproto.access")
    server = await start_server(make_router(), access_log=True)
    with trio.fail_after(20):
        async with trioproto.open_websocket(
            ws_url(server, "/rooms/a"), subprotocols=["echo"]
        ) as ws:
            await ws.send("hi")
            assert await ws.receive() == "hi"
            await ws.abort()
        await wait_for_records(caplog, 1)
    [record] = access_records(caplog)
    assert record.close_received is None  # type: ignore[attr-defined]
    assert record.close_initiator is None  # type: ignore[attr-defined]
    assert "received=None by=None" in record.getMessage()
