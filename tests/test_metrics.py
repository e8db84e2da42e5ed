"""Tests for trioproto._metrics: /metrics scraped over a real socket after real traffic."""

from __future__ import annotations

import pytest
import trio

import trioproto
from helpers import ROOT, StartServer, start_program, stop_program, ws_url
from metrics_helpers import parse, scrape
from trioproto.metrics import ServerCollector, add_metrics_route


def make_registry() -> trioproto.Registry:
    registry = trioproto.Registry()

    @registry.handler("echo")
    async def echo(ws: trioproto.WebSocket) -> None:
        async for message in ws.inbound:
            await ws.send(message)

    @registry.handler("boom")
    async def boom(ws: trioproto.WebSocket) -> None:
        await ws.receive()
        raise RuntimeError("handler bug, on purpose")

    return registry


async def wait_open_connections(server: trioproto.WebSocketServer, count: int) -> None:
    for _ in range(1000):  # 10 s at most
        if server.statistics().open_connections == count:
            return
        await trio.sleep(0.01)
    raise AssertionError(f"{server.statistics().open_connections} connections open, not {count}")


async def test_scrape_after_traffic_counts_what_happened(start_server: StartServer) -> None:
    server = await start_server(add_metrics_route(make_registry()), compression=None)
    url = ws_url(server)
    with trio.fail_after(20):
        async with trioproto.open_websocket(url, subprotocols=["echo"]) as ws:
            for _ in range(3):
                await ws.send("abc")
                assert await ws.receive() == "abc"
        async with trioproto.open_websocket(url, subprotocols=["boom"]) as ws:
            await ws.send("x")
            with pytest.raises(trioproto.ConnectionClosed) as closed:
                await ws.receive()
            assert closed.value.code == 1011
        with pytest.raises(trioproto.HandshakeRejected) as rejected:
            async with trioproto.open_websocket(url, subprotocols=["nope"]):
                pass
        assert rejected.value.status == 400
        async with trioproto.open_websocket(url, subprotocols=["echo"]) as ws:
            await ws.send(b"hi")
            assert await ws.receive() == b"hi"
            await wait_open_connections(server, 1)
            status, content_type, body = await scrape(server.port)

    assert status == 200
    assert content_type.startswith("text/plain; version=")  # Prometheus' text format
    samples = parse(body)
    expected = {
        ("trioproto_connections_open", (("route", "*"), ("subprotocol", "echo"))): 1,
        ("trioproto_connections_total", (("route", "*"), ("subprotocol", "echo"))): 2,
        ("trioproto_connections_total", (("route", "*"), ("subprotocol", "boom"))): 1,
        ("trioproto_handshakes_total", (("outcome", "accepted"), ("status", "101"))): 3,
        ("trioproto_handshakes_total", (("outcome", "rejected"), ("status", "400"))): 1,
        ("trioproto_handshakes_total", (("outcome", "failed"), ("status", ""))): 0,
        ("trioproto_messages_total", (("direction", "received"),)): 5,
        ("trioproto_messages_total", (("direction", "sent"),)): 4,
        ("trioproto_message_bytes_total", (("direction", "received"),)): 3 * 3 + 1 + 2,
        ("trioproto_message_bytes_total", (("direction", "sent"),)): 3 * 3 + 2,
        ("trioproto_close_codes_total", (("code", "1000"), ("direction", "sent"))): 1,
        ("trioproto_close_codes_total", (("code", "1011"), ("direction", "sent"))): 1,
        ("trioproto_close_codes_total", (("code", "1000"), ("direction", "received"))): 1,
        ("trioproto_close_codes_total", (("code", "1011"), ("direction", "received"))): 1,
        ("trioproto_handler_failures_total", ()): 1,
    }
    assert {key: samples.get(key) for key in expected} == expected
    assert not any("worker" in dict(labels) for _, labels in samples)  # one process: no label
    statistics = server.statistics()
    assert (statistics.messages_received, statistics.messages_sent) == (5, 4)
    assert (statistics.bytes_received, statistics.bytes_sent) == (12, 11)
    # The connection still open is gone from the gauge once closed; its messages stay counted.
    await wait_open_connections(server, 0)
    samples = parse((await scrape(server.port))[2])
    assert not any(name == "trioproto_connections_open" for name, _ in samples)
    assert samples[("trioproto_messages_total", (("direction", "received"),))] == 5


async def test_routes_are_labelled_by_pattern_not_path(start_server: StartServer) -> None:
    router = trioproto.Router()
    router.websocket("/rooms/{name}", make_registry())
    add_metrics_route(router, "/internal/metrics")
    server = await start_server(router)
    with trio.fail_after(20):
        for room in ("a", "b"):
            async with trioproto.open_websocket(
                ws_url(server, f"/rooms/{room}"), subprotocols=["echo"]
            ):
                pass
        assert (await scrape(server.port, "/metrics"))[0] == 404
        status, _, body = await scrape(server.port, "/internal/metrics")
        assert status == 200
    key = ("trioproto_connections_total", (("route", "/rooms/{name}"), ("subprotocol", "echo")))
    assert parse(body)[key] == 2
    assert (
        parse(body)[("trioproto_handshakes_total", (("outcome", "rejected"), ("status", "404")))]
        == 1
    )


async def test_a_registry_keeps_serving_every_other_path(start_server: StartServer) -> None:
    server = await start_server(add_metrics_route(make_registry()))
    with trio.fail_after(20):
        async with trioproto.open_websocket(
            ws_url(server, "/any/path"), subprotocols=["echo"]
        ) as ws:
            await ws.send("still here")
            assert await ws.receive() == "still here"


def test_a_collector_for_an_exporter_of_your_own_needs_no_route() -> None:
    collector = ServerCollector(sources=[list])
    with pytest.raises(LookupError):
        list(collector.collect())  # no server given and no connection being served


async def test_more_sources_add_families(start_server: StartServer) -> None:
    from prometheus_client.core import GaugeMetricFamily

    def extra() -> list[GaugeMetricFamily]:
        return [GaugeMetricFamily("trioproto_test_extra", "An extra source.", value=7)]

    server = await start_server(add_metrics_route(make_registry(), sources=[extra]))
    with trio.fail_after(20):
        body = (await scrape(server.port))[2]
    assert parse(body)[("trioproto_test_extra", ())] == 7


async def test_command_line_metrics_flag() -> None:
    process, url = await start_program(
        "-m", "trioproto", "serve", "examples.echo:registry", "--port", "0",
        "--metrics", "/metrics",
    )  # fmt: skip
    try:
        with trio.fail_after(20):
            async with trioproto.open_websocket(url) as ws:
                await ws.send("one")
                assert await ws.receive() == "one"
            port = int(url.rstrip("/").rsplit(":", 1)[1])
            status, _, body = await scrape(port)
    finally:
        await stop_program(process)
    assert status == 200
    assert parse(body)[("trioproto_messages_total", (("direction", "received"),))] >= 1


@pytest.mark.parametrize(
    ("path", "message"),
    [("metrics", "starting with '/'")],
)
def test_command_line_metrics_flag_errors(
    path: str, message: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from trioproto._cli import main

    monkeypatch.chdir(ROOT)
    with pytest.raises(SystemExit) as info:
        main(["serve", "examples.echo:registry", "--metrics", path])
    assert info.value.code == 2
    assert message in capsys.readouterr().err
