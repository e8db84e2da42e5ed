"""A :class:`~trioproto._backplane.Backplane` over Redis or Valkey pub/sub, through ``coredis``.

``coredis`` runs natively on trio (it is built on anyio). It is an optional dependency
(``pip install 'trioproto[redis]'``), imported when a :class:`RedisBackplane` is created.

Theory of operation
-------------------
Channels (``{prefix}`` is ``channel_prefix``, ``trioproto:`` by default; named by
:mod:`trioproto._redis_channels`):

- ``{prefix}topic:{topic}`` carries PUBLISH envelopes. A node subscribes to it only while its
  hub has a local subscriber to ``topic`` (the hub counts; :meth:`RedisBackplane.subscribe` and
  :meth:`~RedisBackplane.unsubscribe` follow its first and last subscriber).
- ``{prefix}broadcast`` and ``{prefix}direct`` carry BROADCAST and SEND_TO envelopes; every
  node is always subscribed to both.

Each envelope travels in the compact versioned form of :mod:`trioproto._envelope_codec` and
carries its origin node, so a node drops its own envelopes (the hub already delivered them
locally). Redis keeps the order of messages from one connection to one channel, so the order
per publisher and topic holds; delivery across nodes is *at most once* (a message published
while a node is disconnected never reaches it).

:meth:`RedisBackplane.run` holds two connections, one to publish and one subscribed (opened by
:mod:`trioproto._redis_connection`), and a *receive loop* moving messages into a bounded trio
memory channel, from which a delivery task calls the hub; envelopes beyond ``max_pending`` there
are dropped and counted. coredis buffers what it reads from the socket without a bound, so the
receive loop also watches coredis' backlog: past ``max_pending`` it counts the backlog as dropped
and reconnects, which frees those buffers, rather than let a slow node grow without limit. Both
loops and their counters live in :mod:`trioproto._redis_receiver`.

Faults: when the subscribed connection fails (Redis restarted, the connection killed), the
backplane marks itself disconnected, logs one warning for the outage, and reconnects with a
backoff from 50 ms to 1 s, subscribing again to the fixed channels and every wanted topic.
While disconnected, :meth:`~RedisBackplane.publish` raises
:class:`~trioproto._backplane.BackplaneUnavailable` at once (counted, not logged per message).
The reconnection is ours rather than coredis' own retry policy, so that "connected" is known
(for statistics and fail-fast publishes) and so that wanted topics are re-applied exactly.
"""

from __future__ import annotations

import logging
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import trio

from ._backplane import BackplaneStatistics, BackplaneUnavailable, Envelope
from ._envelope_codec import encode_envelope
from ._redis_channels import RedisChannels
from ._redis_connection import import_coredis, lost_connection, open_connection
from ._redis_receiver import RedisReceiver

if TYPE_CHECKING:
    import coredis
    from coredis.patterns.pubsub import PubSub

__all__ = ["RedisBackplane", "RedisBackplaneStatistics"]

logger = logging.getLogger("trioproto.backplane")

_SCHEMES = ("redis", "rediss", "unix")
_FIRST_BACKOFF = 0.05
_MAX_BACKOFF = 1.0


@dataclass(frozen=True, slots=True)
class RedisBackplaneStatistics(BackplaneStatistics):
    """:class:`~trioproto._backplane.BackplaneStatistics` plus ``rejected``: envelopes from
    Redis this node could not read (another wire version, or not an envelope at all)."""

    rejected: int


class RedisBackplane:
    """Hub messages between nodes through Redis/Valkey pub/sub (Redis >= 7 or Valkey).

    Args:
        url: ``redis://[user:password@]host[:port][/db]``, ``rediss://`` for TLS, or
            ``unix:///path/to/redis.sock``.
        channel_prefix: prefix of every channel name, to share one Redis between applications.
        max_pending: envelopes from other nodes held while the hub catches up; more are dropped
            (counted in ``statistics().dropped``).
        publish_timeout: seconds a publish may take before it fails with
            :class:`~trioproto._backplane.BackplaneUnavailable`.
        connect_timeout: seconds to establish a connection to Redis.

    Raises:
        ValueError: ``url`` is not a Redis URL.
        ModuleNotFoundError: ``coredis`` is not installed (``pip install 'trioproto[redis]'``).
    """

    def __init__(
        self,
        url: str,
        *,
        channel_prefix: str = "trioproto:",
        max_pending: int = 10_000,
        publish_timeout: float = 1.0,
        connect_timeout: float = 2.0,
    ) -> None:
        _check_url(url)
        if max_pending < 1:
            raise ValueError(f"max_pending must be at least 1, got {max_pending}")
        import_coredis()  # fails here, with the extra to install, rather than in run()
        self.url = url
        self.channel_prefix = channel_prefix
        self._publish_timeout = publish_timeout
        self._connect_timeout = connect_timeout
        self._channels = RedisChannels(channel_prefix)
        self._receiver = RedisReceiver(max_pending)
        #: Topics the hub wants (first local subscriber came, last did not leave yet).
        self._wanted: set[str] = set()
        self._wanted_changed = trio.Event()
        #: The client to publish with while connected; ``None`` while not.
        self._client: coredis.Redis[bytes] | None = None
        self._node_id = ""
        self._connections = 0  # successful connections so far (the first, then reconnections)
        self._published = self._publish_failures = self._outages = 0

    # ------------------------------------------------------------ the seam

    async def run(
        self,
        node_id: str,
        deliver: Callable[[Envelope], None],
        *,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Connect, report ready, then receive and deliver until cancelled (see module doc).

        Raises:
            BackplaneUnavailable: Redis cannot be reached at start-up (one-line message).
        """
        self._node_id = node_id
        to_deliver, pending = trio.open_memory_channel[Envelope](self._receiver.max_pending)
        unreachable: BackplaneUnavailable | None = None
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._receiver.deliver, pending, deliver)
            try:
                await self._connect_and_receive(to_deliver, task_status)
            except Exception as exc:
                if not lost_connection(exc):
                    raise
                if self._connections == 0:
                    unreachable = BackplaneUnavailable(
                        f"cannot reach Redis at {self.url}: {_reason(exc)}"
                    )
                    nursery.cancel_scope.cancel()
                else:
                    self._begin_outage(exc)
            if unreachable is None:
                await self._stay_connected(to_deliver)
        if unreachable is not None:
            raise unreachable

    async def publish(self, envelope: Envelope) -> None:
        """Send ``envelope`` to the other nodes; fails fast while Redis is unreachable.

        Raises:
            BackplaneUnavailable: not connected now, or the publish failed or timed out.
        """
        client = self._client
        if client is None:
            self._publish_failures += 1
            raise BackplaneUnavailable(f"not connected to Redis at {self.url}")
        data = encode_envelope(envelope)
        try:
            with trio.fail_after(self._publish_timeout):
                await client.publish(self._channels.for_envelope(envelope), data)
        except Exception as exc:
            if not isinstance(exc, trio.TooSlowError) and not lost_connection(exc):
                raise
            self._publish_failures += 1
            raise BackplaneUnavailable(
                f"publishing to Redis at {self.url} failed: {_reason(exc)}"
            ) from None
        self._published += 1

    def subscribe(self, topic: str) -> None:
        """The hub's first local subscriber of ``topic`` came: receive its envelopes."""
        self._wanted.add(topic)
        self._wanted_changed.set()

    def unsubscribe(self, topic: str) -> None:
        """The hub's last local subscriber of ``topic`` left: stop receiving its envelopes."""
        self._wanted.discard(topic)
        self._wanted_changed.set()

    def statistics(self) -> RedisBackplaneStatistics:
        """Counters, and whether the backplane is connected to Redis now."""
        return RedisBackplaneStatistics(
            connected=self._client is not None,
            published=self._published,
            received=self._receiver.received,
            publish_failures=self._publish_failures,
            dropped=self._receiver.dropped,
            outages=self._outages,
            rejected=self._receiver.rejected,
        )

    # ----------------------------------------------------------- internals

    async def _stay_connected(self, to_deliver: trio.MemorySendChannel[Envelope]) -> None:
        """After an outage: reconnect with backoff, forever; each new outage logged once."""
        backoff = _FIRST_BACKOFF
        while True:
            await trio.sleep(backoff)
            connections = self._connections
            try:
                await self._connect_and_receive(to_deliver, None)
            except Exception as exc:
                if not lost_connection(exc):
                    raise
                if self._connections > connections:  # connected, then lost again
                    self._begin_outage(exc)
                    backoff = _FIRST_BACKOFF
                else:
                    backoff = min(backoff * 2, _MAX_BACKOFF)

    def _begin_outage(self, exc: BaseException) -> None:
        self._outages += 1
        logger.warning(
            "lost the connection to Redis at %s (%s); reconnecting, and hub messages to other "
            "nodes fail until then",
            self.url,
            _reason(exc),
        )

    async def _connect_and_receive(
        self,
        to_deliver: trio.MemorySendChannel[Envelope],
        task_status: trio.TaskStatus[None] | None,
    ) -> None:
        """One connection's life: subscribe, mark connected, receive until it fails."""
        try:
            await self._serve_connection(to_deliver, task_status)
        except BaseExceptionGroup as group:
            cancelled, rest = group.split(trio.Cancelled)
            if cancelled is not None and rest is not None and lost_connection(rest):
                # coredis' clean-up after a cancellation writes to a connection that the same
                # cancellation closed already: only the cancellation matters.
                raise cancelled from None
            raise

    async def _serve_connection(
        self,
        to_deliver: trio.MemorySendChannel[Envelope],
        task_status: trio.TaskStatus[None] | None,
    ) -> None:
        connection = open_connection(
            self.url, connect_timeout=self._connect_timeout, channels=self._channels.fixed
        )
        async with connection as (client, pubsub):
            applied = set(self._wanted)
            self._wanted_changed = trio.Event()
            await _apply(pubsub, [self._channels.topic(topic) for topic in applied], [])
            if self._connections:
                logger.warning("reconnected to Redis at %s", self.url)
            self._connections += 1
            self._client = client
            if task_status is not None:
                task_status.started()
            try:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._follow_wanted_topics, pubsub, applied)
                    await self._receiver.receive(pubsub, self._node_id, to_deliver)
            except BaseException:
                self._client = None
                raise

    async def _follow_wanted_topics(self, pubsub: PubSub[bytes], applied: set[str]) -> None:
        """Subscribe and unsubscribe as the hub's wanted topics change."""
        while True:
            await self._wanted_changed.wait()
            self._wanted_changed = trio.Event()
            wanted = set(self._wanted)
            added = [self._channels.topic(topic) for topic in wanted - applied]
            removed = [self._channels.topic(topic) for topic in applied - wanted]
            await _apply(pubsub, added, removed)
            applied.clear()
            applied.update(wanted)


async def _apply(pubsub: PubSub[bytes], added: list[str], removed: list[str]) -> None:
    if added:
        await pubsub.subscribe(*added)
    if removed:
        await pubsub.unsubscribe(*removed)


def _reason(exc: BaseException) -> str:
    """A one-line reason from an exception, looking inside single-exception groups."""
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    text = str(exc).splitlines()[0] if str(exc) else ""
    return text or type(exc).__name__


def _check_url(url: str) -> None:
    """Raise ``ValueError`` with a specific message unless ``url`` is a Redis URL."""
    usage = "expected redis://host[:port][/db], rediss://... or unix:///path"
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in _SCHEMES:
        raise ValueError(f"invalid Redis URL {url!r}: {usage}")
    if parts.scheme == "unix":
        if not parts.path:
            raise ValueError(f"invalid Redis URL {url!r}: no socket path; {usage}")
        return
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"invalid Redis URL {url!r}: the port is not a number") from None
    if not parts.hostname:
        raise ValueError(f"invalid Redis URL {url!r}: no host; {usage}")
    if port == 0:
        raise ValueError(f"invalid Redis URL {url!r}: port 0")
    database = parts.path.lstrip("/")
    if database and not database.isdigit():
        raise ValueError(f"invalid Redis URL {url!r}: the database {database!r} is not a number")
