"""One connection to a real valkey-server/redis-server, and what counts as losing it."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator

import anyio
import pytest
import trio
from coredis import exceptions as coredis_errors
from redis_process import RedisProcess, free_port, redis_server

from trioproto._redis_connection import import_coredis, lost_connection, open_connection


@pytest.fixture
async def redis() -> AsyncIterator[RedisProcess]:
    async with redis_server() as server:
        yield server


async def test_the_pubsub_is_subscribed_to_the_channels_until_the_block_ends(
    redis: RedisProcess,
) -> None:
    connection = open_connection(redis.url, connect_timeout=2, channels=["one", "two"])
    async with connection as (client, pubsub):
        assert [await redis.subscribers(name) for name in ("one", "two", "three")] == [1, 1, 0]
        assert await client.publish("two", b"\x00hello") == 1
        with trio.fail_after(5):
            message = await anext(aiter(pubsub))  # not a subscribe confirmation
        assert (message["type"], message["channel"], message["data"]) == (
            "message",
            b"two",
            b"\x00hello",
        )
    with trio.fail_after(5):
        while await redis.subscribers("one"):  # noqa: ASYNC110 (state in Redis)
            await trio.sleep(0.02)


async def test_nothing_listening_fails_at_once_with_a_lost_connection() -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"

    async def connect() -> None:
        async with open_connection(url, connect_timeout=2, channels=["one"]):
            pytest.fail("connected to nothing")

    # trio's own error, from the plain probe: coredis did not start connecting.
    with trio.fail_after(1), pytest.raises(OSError, match="attempts to connect") as info:
        await connect()
    assert lost_connection(info.value)


async def test_a_killed_subscribed_connection_ends_the_block_with_a_lost_connection(
    redis: RedisProcess,
) -> None:
    async def kill_while_receiving() -> None:
        async with open_connection(redis.url, connect_timeout=2, channels=["one"]) as (_, pubsub):
            assert await redis.command("CLIENT", "KILL", "TYPE", "pubsub") == b":1"
            async for message in pubsub:
                pytest.fail(f"received {message!r} on a killed connection")

    with trio.fail_after(5), pytest.raises(BaseExceptionGroup) as info:
        await kill_while_receiving()
    assert lost_connection(info.value)


@pytest.mark.parametrize(
    ("error", "lost"),
    [
        (ConnectionRefusedError(), True),
        (TimeoutError(), True),
        (trio.TooSlowError(), True),
        (ExceptionGroup("tasks", [OSError(), ExceptionGroup("inner", [TimeoutError()])]), True),
        (ValueError("a bug"), False),
        (ExceptionGroup("tasks", [OSError(), ValueError("a bug")]), False),
    ],
)
def test_lost_connection_means_every_error_says_so(error: BaseException, lost: bool) -> None:
    assert lost_connection(error) is lost


def test_coredis_errors_and_closed_anyio_streams_are_lost_connections() -> None:
    assert lost_connection(coredis_errors.ConnectionError("gone"))
    assert lost_connection(anyio.ClosedResourceError())
    assert lost_connection(anyio.BrokenResourceError())
    assert not lost_connection(coredis_errors.ResponseError("WRONGTYPE"))


def test_missing_coredis_says_which_extra_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    assert import_coredis() is sys.modules["coredis"]
    monkeypatch.setitem(sys.modules, "coredis", None)  # as if it were not installed
    with pytest.raises(ModuleNotFoundError, match=r"pip install 'trioproto\[redis\]'"):
        import_coredis()
