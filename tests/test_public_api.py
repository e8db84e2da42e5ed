"""The public surface: everything in __all__ exists once, nothing private leaks."""

from __future__ import annotations

import collections.abc
import inspect
import ssl
import typing
import uuid
from collections.abc import Callable, Iterator

import trio

import trioproto
import trioproto.metrics
import trioproto.testing


def test_all_is_complete_and_unique() -> None:
    assert len(trioproto.__all__) == len(set(trioproto.__all__))
    public = {name for name in vars(trioproto) if not name.startswith("_")}
    submodules = {"testing", "metrics"}
    assert public - submodules == set(trioproto.__all__)


def test_public_objects_claim_the_public_module() -> None:
    for name in trioproto.__all__:
        obj = getattr(trioproto, name)
        if typing.get_origin(obj) is not None:
            continue  # a type alias such as Handler is a typing object, not a definition
        if hasattr(obj, "__qualname__"):
            assert obj.__module__ == "trioproto", name


def _annotated_callables() -> Iterator[tuple[str, Callable[..., object]]]:
    for module in (trioproto, trioproto.testing):
        for name in module.__all__:
            obj = getattr(module, name)
            if inspect.isclass(obj):
                yield name, obj
                for attribute, value in vars(obj).items():
                    if isinstance(value, property) and value.fget is not None:
                        yield f"{name}.{attribute}", value.fget
                    elif not attribute.startswith("_") and inspect.isfunction(value):
                        yield f"{name}.{attribute}", value
                if "__init__" in vars(obj):
                    yield f"{name}.__init__", obj.__init__
            elif inspect.isfunction(obj):
                yield name, inspect.unwrap(obj)


def _classes_in(hint: object) -> Iterator[type]:
    if isinstance(hint, type):
        yield hint
    for argument in typing.get_args(hint):
        yield from _classes_in(argument)


#: Built by trioproto only (documented so): their constructors take private parts (the codec,
#: the inbound queue).
BUILT_BY_THE_LIBRARY = {"WebSocket.__init__", "MessageReceiveChannel.__init__"}


def test_every_type_in_a_public_signature_is_exported() -> None:
    """A user can name every type they are handed or asked for (``trioproto.Request``...)."""
    namespace = {
        **vars(collections.abc),
        **vars(typing),
        **vars(trio),
        **vars(trioproto),
        **vars(trioproto.testing),
        "trio": trio,
        "ssl": ssl,
        "uuid": uuid,
        "TextIO": typing.TextIO,
    }
    private = set()
    for where, function in _annotated_callables():
        if where in BUILT_BY_THE_LIBRARY:
            continue
        hints = typing.get_type_hints(function, globalns=namespace)
        for hint in hints.values():
            for cls in _classes_in(hint):
                module_path = cls.__module__.split(".")
                if module_path[0] == "trioproto" and any(p.startswith("_") for p in module_path):
                    private.add(f"{cls.__qualname__} (in {where})")
    assert not private, sorted(private)


def test_testing_objects_claim_the_testing_module() -> None:
    for name in trioproto.testing.__all__:
        assert getattr(trioproto.testing, name).__module__ == "trioproto.testing", name


def test_testing_exports() -> None:
    assert set(trioproto.testing.__all__) == {
        "TestClient",
        "memory_websocket_pair",
        "open_test_client",
        "open_test_server",
    }


def test_metrics_exports() -> None:
    assert set(trioproto.metrics.__all__) == {
        "DEFAULT_METRICS_PATH",
        "MetricSource",
        "ServerCollector",
        "add_metrics_route",
        "server_metrics",
    }
    assert trioproto.metrics.ServerCollector.__module__ == "trioproto.metrics"


def test_version() -> None:
    assert trioproto.__version__.count(".") == 2
