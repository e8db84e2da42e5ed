"""Helpers to test WebSocket handlers, shipped like :mod:`trio.testing`."""

from ._pair import memory_websocket_pair as memory_websocket_pair

__all__ = ["memory_websocket_pair"]
