"""Shared fixtures. trio mode is on for every test (pyproject.toml), so ``async def`` tests run
under trio and can take pytest-trio's ``nursery`` and ``autojump_clock`` fixtures. Shared
helpers are in ``helpers.py``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import trio

import trioproto
from helpers import StartServer


@pytest.fixture
async def start_server(nursery: trio.Nursery) -> AsyncIterator[StartServer]:
    """Start a server on 127.0.0.1:0 in the test's nursery; closed at teardown."""
    servers: list[trioproto.WebSocketServer] = []

    async def start(app: Any, **kwargs: Any) -> trioproto.WebSocketServer:
        kwargs.setdefault("host", "127.0.0.1")
        server: trioproto.WebSocketServer = await nursery.start(
            lambda task_status: trioproto.serve(app, 0, task_status=task_status, **kwargs)
        )
        servers.append(server)
        return server

    yield start
    for server in servers:
        await server.aclose()
