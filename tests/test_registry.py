"""Tests for trioproto._registry: names, duplicates, negotiation (RFC 6455 §4.2.2)."""

from __future__ import annotations

import pytest

from trioproto import InvalidHandshake, Registry, WebSocket


async def _handler(ws: WebSocket) -> None:  # pragma: no cover - never called here
    pass


async def _other(ws: WebSocket) -> None:  # pragma: no cover - never called here
    pass


def test_decorator_returns_function_and_stacks() -> None:
    registry = Registry()
    decorated = registry.handler("echo")(registry.handler(None)(_handler))
    assert decorated is _handler
    assert "echo" in registry
    assert None in registry
    assert len(registry) == 2
    assert registry.subprotocols == ("echo",)


@pytest.mark.parametrize("name", ["", "two words", "a/b", "semi;colon", "é", "a,b", '"q"'])
def test_names_must_be_tokens(name: str) -> None:
    """Subprotocol names are RFC 7230 tokens (RFC 6455 §4.1, §11.3.4)."""
    with pytest.raises(ValueError, match="token"):
        Registry().register(name, _handler)


@pytest.mark.parametrize("name", ["chat", "v2.chat.example.com", "mqtt", "x-y_z~1!#$%&'*+^`|"])
def test_token_names_accepted(name: str) -> None:
    registry = Registry()
    registry.register(name, _handler)
    assert registry.select([name]).subprotocol == name


@pytest.mark.parametrize("name", ["chat", None])
def test_duplicate_registration_is_an_error(name: str | None) -> None:
    registry = Registry()
    registry.register(name, _handler)
    with pytest.raises(ValueError, match="already registered"):
        registry.register(name, _other)


def test_bad_activation_and_handler() -> None:
    registry = Registry()
    with pytest.raises(ValueError, match="activation"):
        registry.register("a", _handler, activation="later")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        registry.register("b", "not callable")  # type: ignore[arg-type]


def test_server_preference_wins() -> None:
    """The server picks its own preferred name among the client's offers (RFC 6455 §4.2.2)."""
    registry = Registry()
    registry.register("v2", _handler)
    registry.register("v1", _other, activation="delayed")
    selection = registry.select(["v1", "v2"])
    assert selection.subprotocol == "v2"
    assert selection.entry.handler is _handler
    selection = registry.select(["v1", "unknown"])
    assert selection.subprotocol == "v1"
    assert selection.entry.activation == "delayed"


def test_no_offer_uses_default_handler() -> None:
    registry = Registry()
    registry.register(None, _other)
    registry.register("chat", _handler)
    selection = registry.select([])
    assert selection.subprotocol is None
    assert selection.entry.handler is _other


def test_no_offer_without_default_is_400_listing_names() -> None:
    registry = Registry()
    registry.register("chat", _handler)
    registry.register("echo", _handler)
    with pytest.raises(InvalidHandshake) as info:
        registry.select([])
    assert info.value.http_status == 400
    assert "chat, echo" in str(info.value)


def test_unknown_offers_are_400_listing_names() -> None:
    registry = Registry()
    registry.register("chat", _handler)
    registry.register(None, _other)
    with pytest.raises(InvalidHandshake) as info:
        registry.select(["mqtt", "stomp"])
    assert info.value.http_status == 400
    assert "mqtt, stomp" in str(info.value)
    assert "served: chat" in str(info.value)


def test_empty_registry_says_so() -> None:
    with pytest.raises(InvalidHandshake, match="serves no subprotocol"):
        Registry().select(["x"])


def test_fallback_to_default() -> None:
    registry = Registry(fallback_to_default=True)
    registry.register(None, _other)
    registry.register("chat", _handler)
    selection = registry.select(["mqtt"])
    assert selection.subprotocol is None
    assert selection.entry.handler is _other
    assert registry.select(["chat"]).subprotocol == "chat"


def test_fallback_without_default_still_rejects() -> None:
    registry = Registry(fallback_to_default=True)
    registry.register("chat", _handler)
    with pytest.raises(InvalidHandshake):
        registry.select(["mqtt"])
