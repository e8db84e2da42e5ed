"""The public surface: everything in __all__ exists once, nothing private leaks."""

from __future__ import annotations

import trioproto
import trioproto.testing


def test_all_is_complete_and_unique() -> None:
    assert len(trioproto.__all__) == len(set(trioproto.__all__))
    public = {name for name in vars(trioproto) if not name.startswith("_")}
    submodules = {"testing"}
    assert public - submodules == set(trioproto.__all__)


def test_public_objects_claim_the_public_module() -> None:
    for name in trioproto.__all__:
        obj = getattr(trioproto, name)
        if hasattr(obj, "__qualname__"):
            assert obj.__module__ == "trioproto", name


def test_testing_exports() -> None:
    assert set(trioproto.testing.__all__) == {
        "TestClient",
        "memory_websocket_pair",
        "open_test_client",
        "open_test_server",
    }


def test_version() -> None:
    assert trioproto.__version__.count(".") == 2
