"""ServerOptions: one frozen, validated set of per-connection options and defaults."""

from __future__ import annotations

import dataclasses
import inspect

import pytest

import trioproto
import trioproto.testing


def test_defaults_are_the_documented_ones() -> None:
    options = trioproto.ServerOptions()
    assert options.limits is trioproto.DEFAULT_LIMITS
    assert options.timeouts is trioproto.DEFAULT_TIMEOUTS
    assert options.compression is trioproto.DEFAULT_COMPRESSION
    assert options.origins is None
    assert options.on_handshake is None
    assert options.backpressure == trioproto.BackpressurePolicy("close", 1013)


def test_backpressure_from_its_name() -> None:
    options = trioproto.ServerOptions(backpressure="drop_oldest")
    assert options.backpressure == trioproto.BackpressurePolicy("drop_oldest")
    with pytest.raises(ValueError, match="on_limit must be one of"):
        trioproto.ServerOptions(backpressure="drop_all")


def test_frozen_and_origins_become_a_frozenset() -> None:
    options = trioproto.ServerOptions(origins=["https://a.example", None])
    assert options.origins == frozenset({"https://a.example", None})
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.compression = None  # type: ignore[misc]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"limits": 5}, "limits must be a Limits"),
        ({"timeouts": trioproto.Limits()}, "timeouts must be a Timeouts"),
        ({"compression": True}, "compression must be a DeflatePolicy or None"),
        ({"origins": "https://a.example"}, "not one string"),
        ({"on_handshake": "hook"}, "on_handshake must be"),
        ({"backpressure": 3}, "a BackpressurePolicy or str"),
    ],
)
def test_wrong_types_are_refused(arguments: dict[str, object], message: str) -> None:
    with pytest.raises(TypeError, match=message):
        trioproto.ServerOptions(**arguments)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "function",
    [
        trioproto.serve,
        trioproto.serve_until_signal,
        trioproto.run,
        trioproto.upgrade_stream,
        trioproto.open_websocket,
        trioproto.connect_websocket,
        trioproto.testing.open_test_client,
        trioproto.testing.open_test_server,
    ],
)
def test_every_entry_point_shares_the_defaults(function: object) -> None:
    """Compression is on everywhere by default, with the same policy object; limits too."""
    parameters = inspect.signature(function).parameters  # type: ignore[arg-type]
    assert parameters["compression"].default is trioproto.DEFAULT_COMPRESSION
    assert parameters["limits"].default is trioproto.DEFAULT_LIMITS
    assert "max_message_size" not in parameters
    assert not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())


@pytest.mark.parametrize(
    "function",
    [
        trioproto.serve,
        trioproto.serve_until_signal,
        trioproto.run,
        trioproto.testing.open_test_server,
    ],
)
def test_every_server_entry_point_takes_a_hub_and_a_policy(function: object) -> None:
    parameters = inspect.signature(function).parameters  # type: ignore[arg-type]
    assert parameters["hub"].default is None
    assert parameters["backpressure"].default == trioproto.BackpressurePolicy()
