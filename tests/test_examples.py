"""The examples work in-process and as scripts (each prints its URL and stops on SIGINT)."""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from types import ModuleType

import pytest

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
    async with (
        open_test_client(chat.registry, "/?name=watcher", subprotocols=["chat.members"]) as watcher,
        open_test_client(chat.registry, "/?name=ann", subprotocols=["chat"]) as ann,
    ):
        assert json.loads(await watcher.receive()) == []
        await ann.expect("* ann joined")
        assert json.loads(await watcher.receive()) == ["ann"]
        async with open_test_client(chat.registry, "/?name=bob", subprotocols=["chat"]) as bob:
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


async def test_quotes_example_path_parameter_picks_feed(examples: object) -> None:
    quotes = examples("quotes")  # type: ignore[operator]
    async with open_test_client(quotes.router, "/ws/quotes/acme?interval=0.001") as client:
        first = json.loads(await client.receive())
        second = json.loads(await client.receive())
        assert first["symbol"] == second["symbol"] == "ACME"
        assert isinstance(first["price"], float)
    with pytest.raises(trioproto.HandshakeRejected) as info:
        async with open_test_client(quotes.router, "/ws/other"):
            pass  # pragma: no cover
    assert info.value.status == 404


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
        ["-m", "trioproto", "serve", "examples.quotes:router", "--port", "0"],
    ],
)
async def test_other_examples_start_and_stop(args: list[str]) -> None:
    async with server_program(*args) as url:
        assert url.startswith("ws://127.0.0.1:")
