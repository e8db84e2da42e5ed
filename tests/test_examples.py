"""The examples work in-process and as scripts (each prints its URL and stops on SIGINT)."""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from types import ModuleType

import pytest
import trio

import trioproto
from helpers import server_program
from trioproto.testing import open_test_client

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def examples(monkeypatch: pytest.MonkeyPatch) -> object:
    monkeypatch.syspath_prepend(str(ROOT))

    def load(name: str) -> ModuleType:
        return importlib.import_module(f"examples.{name}")

    return load


async def test_echo_example(examples: object) -> None:
    echo = examples("echo")  # type: ignore[operator]
    for offer in (["echo"], []):
        async with open_test_client(echo.registry, subprotocols=offer) as client:
            await client.send("hi")
            await client.expect("hi")


async def test_chat_example_broadcasts_and_lists_members(examples: object) -> None:
    chat = examples("chat")  # type: ignore[operator]
    hub = trioproto.Hub()  # the test clients' servers share one hub, as one server's do
    async with (
        open_test_client(
            chat.registry, "/?name=watcher", subprotocols=["chat.members"], hub=hub
        ) as watcher,
        open_test_client(chat.registry, "/?name=ann", subprotocols=["chat"], hub=hub) as ann,
        open_test_client(
            chat.registry, "/?name=other&room=elsewhere", subprotocols=["chat"], hub=hub
        ) as other,
    ):
        assert json.loads(await watcher.receive()) == []
        await ann.expect("* ann joined")
        assert json.loads(await watcher.receive()) == ["ann"]
        await other.expect("* other joined")
        async with open_test_client(
            chat.registry, "/?name=bob", subprotocols=["chat"], hub=hub
        ) as bob:
            await ann.expect("* bob joined")
            await bob.expect("* bob joined")
            assert json.loads(await watcher.receive()) == ["ann", "bob"]
            await bob.send("hello room")
            await ann.expect("bob: hello room")
            await bob.expect("bob: hello room")
            await ann.send("/members")
            await ann.expect("ann, bob")
        await ann.expect("* bob left")
        assert json.loads(await watcher.receive()) == ["ann"]
        await other.send("/members")
        await other.expect("other")  # the other room heard nothing of the lobby
    assert hub.statistics().topics == 0


async def test_chat_example_refuses_a_taken_name_with_1008(examples: object) -> None:
    chat = examples("chat")  # type: ignore[operator]
    async with open_test_client(chat.registry, "/?name=ann", subprotocols=["chat"]) as ann:
        await ann.expect("* ann joined")
        async with open_test_client(chat.registry, "/?name=ann", subprotocols=["chat"]) as again:
            await again.expect_close(1008, "the name 'ann' is taken")
            assert again.server.statistics().handler_errors == 0
        await ann.send("still here")
        await ann.expect("ann: still here")


async def test_quotes_example_one_feed_per_symbol(examples: object) -> None:
    quotes = examples("quotes")  # type: ignore[operator]
    quotes.feeds.interval = 0.001
    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            server = await nursery.start(quotes.serve_quotes, 0)
            url = f"ws://127.0.0.1:{server.port}/ws/quotes/acme"
            async with trioproto.open_websocket(url) as one, trioproto.open_websocket(url) as two:
                first = [json.loads(await one.receive()) for _ in range(5)]
                assert {quote["symbol"] for quote in first} == {"ACME"}
                assert isinstance(first[0]["price"], float)
                assert quotes.feeds.ticks.keys() == {"ACME"}  # one feed for both clients
                second = [json.loads(await two.receive()) for _ in range(5)]
                ticks = [quote["tick"] for quote in first + second]
                assert ticks[:5] == list(range(ticks[0], ticks[0] + 5))  # one price per tick
            with pytest.raises(trioproto.HandshakeRejected) as info:
                async with trioproto.open_websocket(f"ws://127.0.0.1:{server.port}/ws/other"):
                    pass  # pragma: no cover
            assert info.value.status == 404
            await server.aclose()
            nursery.cancel_scope.cancel()


async def test_quotes_example_without_its_feeds_says_so(examples: object) -> None:
    quotes = examples("quotes")  # type: ignore[operator]
    assert not quotes.feeds.running
    async with open_test_client(quotes.router, "/ws/quotes/acme") as client:
        await client.expect_close(1011, "no quote feeds here: run examples/quotes.py")


@pytest.mark.parametrize(
    "args",
    [
        ["examples/echo.py", "0"],
        ["-m", "trioproto", "serve", "examples.echo:registry", "--port", "0"],
        ["examples/embed.py", "0"],
    ],
    ids=["echo-script", "echo-cli", "embed-script"],
)
async def test_examples_run_as_programs(args: list[str]) -> None:
    """Each prints its URL, serves, and stops with status 0 on SIGINT."""
    async with server_program(*args) as url, trioproto.open_websocket(url) as ws:
        await ws.send("ping")
        assert await ws.receive() in ("ping", "you said: ping")


@pytest.mark.parametrize(
    "args",
    [
        ["examples/chat.py", "0"],
        ["-m", "trioproto", "serve", "examples.chat:registry", "--port", "0"],
        ["examples/quotes.py", "0"],
        ["examples/dashboard.py", "0"],
        ["-m", "trioproto", "serve", "examples.dashboard:router", "--port", "0"],
    ],
)
async def test_other_examples_start_and_stop(args: list[str]) -> None:
    async with server_program(*args) as url:
        assert url.startswith("ws://127.0.0.1:")
