"""Helpers to test WebSocket handlers, shipped like :mod:`trio.testing`."""

from ._client import TestClient as TestClient
from ._client import open_test_client as open_test_client
from ._client import open_test_server as open_test_server
from ._pair import memory_websocket_pair as memory_websocket_pair

__all__ = ["TestClient", "memory_websocket_pair", "open_test_client", "open_test_server"]

# As in trioproto/__init__.py: public objects name their public module.
for _name in __all__:
    globals()[_name].__module__ = __name__
del _name
